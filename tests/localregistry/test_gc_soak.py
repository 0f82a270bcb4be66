"""Garbage collection under load, and killed in the middle.

The soak: several clients push (asking for each blob first, as real clients do, and mounting
shared layers without ``from``), tag, delete and pull while the server collects garbage every
half second. No push may fail, every image still tagged must pull byte-identical throughout
and at the end, ``verify`` must be clean, and after a final collection the disk holds exactly
the live set.

The crash: ``artreg registry gc`` is SIGKILLed while it sweeps; the store still verifies and
serves everything still referenced, and the next collection finishes the job.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from artreg.localregistry import start_in_thread
from artreg.localregistry.fsstore import FilesystemStore
from tests.localregistry.client import ACCEPT_ALL, OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, sha256

#: How long the clients push and delete while collections run.
SOAK_SECONDS = 8.0
CLIENTS = 4
SHARED_LAYERS = [f"shared layer {i} ".encode() * 200 for i in range(6)]


@dataclass
class Pushed:
    manifest: bytes
    blobs: dict[str, bytes]


@dataclass
class Client:
    number: int
    url: str
    rng: random.Random
    tagged: dict[str, Pushed] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    pushes: int = 0
    deletes: int = 0
    pulls: int = 0

    @property
    def repo(self) -> str:
        return f"soak/client{self.number}"

    def upload(self, http: httpx.Client, data: bytes) -> str:
        digest = sha256(data)
        head = http.head(f"/v2/{self.repo}/blobs/{digest}")
        if head.status_code == 200:
            return digest
        if data in SHARED_LAYERS:  # automatic mount from whichever repository has it
            mounted = http.post(f"/v2/{self.repo}/blobs/uploads/", params={"mount": digest})
            if mounted.status_code == 201:
                return digest
            location = mounted.headers["location"]
        else:
            location = http.post(f"/v2/{self.repo}/blobs/uploads/").headers["location"]
        put = http.put(location, params={"digest": digest}, content=data)
        if put.status_code != 201:
            self.failures.append(f"blob upload {put.status_code} {put.text}")
        return digest

    def push(self, http: httpx.Client, tag: str) -> None:
        config = json.dumps({"client": self.number, "tag": tag}).encode()
        own = f"client {self.number} {tag} {self.rng.random()}".encode() * 50
        layers = [own, *self.rng.sample(SHARED_LAYERS, 2)]
        blobs = {self.upload(http, b): b for b in [config, *layers]}
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": sha256(config), "size": len(config)},
                "layers": [
                    {"mediaType": OCI_LAYER, "digest": sha256(b), "size": len(b)} for b in layers
                ],
            }
        ).encode()
        r = http.put(
            f"/v2/{self.repo}/manifests/{tag}",
            content=manifest,
            headers={"Content-Type": OCI_MANIFEST},
        )
        if r.status_code != 201:
            self.failures.append(f"manifest push {tag}: {r.status_code} {r.text}")
            return
        self.tagged[tag] = Pushed(manifest, blobs)
        self.pushes += 1

    def delete(self, http: httpx.Client) -> None:
        tag = self.rng.choice(sorted(self.tagged))
        pushed = self.tagged.pop(tag)
        if self.rng.random() < 0.5:
            r = http.delete(f"/v2/{self.repo}/manifests/{tag}")
        else:
            r = http.delete(f"/v2/{self.repo}/manifests/{sha256(pushed.manifest)}")
        if r.status_code != 202:
            self.failures.append(f"delete {tag}: {r.status_code}")
        self.deletes += 1

    def pull(self, http: httpx.Client, tag: str) -> None:
        pushed = self.tagged[tag]
        got = http.get(f"/v2/{self.repo}/manifests/{tag}", headers=ACCEPT_ALL)
        if got.content != pushed.manifest:
            self.failures.append(f"pull {tag}: manifest {got.status_code}")
            return
        for digest, data in pushed.blobs.items():
            blob = http.get(f"/v2/{self.repo}/blobs/{digest}")
            if blob.content != data:
                self.failures.append(f"pull {tag}: blob {digest} {blob.status_code}")
        self.pulls += 1

    def run(self, until: float) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as http:
            counter = 0
            while time.monotonic() < until:
                counter += 1
                self.push(http, f"t{counter}")
                if len(self.tagged) > 3:
                    self.delete(http)
                if self.tagged:
                    self.pull(http, self.rng.choice(sorted(self.tagged)))


def blob_bytes(data: Path) -> int:
    return sum(p.stat().st_size for p in (data / "blobs").rglob("*") if p.is_file())


def test_soak_push_tag_delete_pull_while_collecting(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with start_in_thread(data, gc_interval=0.5, gc_grace=2.0) as server:
        clients = [Client(i, server.url, random.Random(i)) for i in range(CLIENTS)]
        until = time.monotonic() + SOAK_SECONDS
        threads = [threading.Thread(target=c.run, args=(until,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert [f for c in clients for f in c.failures] == []
        assert all(c.pushes > 3 and c.deletes > 0 and c.pulls > 0 for c in clients)
        metrics = httpx.get(f"{server.url}/metrics").text
        runs = next(
            line
            for line in metrics.splitlines()
            if line.startswith("artreg_registry_gc_runs_total")
        )
        assert float(runs.split()[1]) >= 3  # collections really ran during the load
        print(
            f"soak: {sum(c.pushes for c in clients)} pushes, "
            f"{sum(c.deletes for c in clients)} deletes, {sum(c.pulls for c in clients)} pulls, "
            f"{runs.split()[1]} collections"
        )

        store = server.store
        assert isinstance(store, FilesystemStore)
        assert server.gc is not None
        server.gc.stop()  # the scheduled rounds end; one last collection of our own
        report = store.collect_garbage(grace=0)  # nobody pushes now: take everything dead
        assert report.freed_bytes > 0 or report.removed == []
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for client in clients:
                for tag in sorted(client.tagged):
                    client.pull(http, tag)
        assert [f for c in clients for f in c.failures] == []
        assert store.verify() == []

        live: dict[str, int] = {}
        for client in clients:
            for pushed in client.tagged.values():
                live[sha256(pushed.manifest)] = len(pushed.manifest)
                live.update({d: len(b) for d, b in pushed.blobs.items()})
        assert blob_bytes(data) == sum(live.values())  # disk back to exactly the live set
        assert store.stored_bytes() == sum(live.values())
        assert list((data / "uploads").iterdir()) == []


# -- SIGKILL in the middle of a collection --------------------------------------------------


def garbage(data: Path, count: int) -> list[str]:
    """Blobs linked into a repository no manifest refers to, written straight into the
    documented layout and made old."""
    digests = []
    past = time.time() - 7200
    for i in range(count):
        body = f"garbage {i} {time.time_ns()}".encode()
        hexd = hashlib.sha256(body).hexdigest()
        blob = data / "blobs" / "sha256" / hexd[:2] / hexd
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(body)
        link = data / "repositories" / "junk" / "heap" / "_layers" / "sha256" / hexd
        link.parent.mkdir(parents=True, exist_ok=True)
        link.write_bytes(b"")
        for path in (blob, link):
            os.utime(path, (past, past))
        digests.append(f"sha256:{hexd}")
    return digests


def remaining(data: Path, digests: list[str]) -> int:
    """Files (content and links) of ``digests`` still on disk."""
    files = 0
    for d in digests:
        files += (data / "blobs" / "sha256" / d[7:9] / d[7:]).exists()
        files += (data / "repositories" / "junk" / "heap" / "_layers" / "sha256" / d[7:]).exists()
    return files


@pytest.mark.slow
def test_sigkill_mid_collection_leaves_a_consistent_store(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with start_in_thread(data) as server:
        http = httpx.Client(base_url=server.url, timeout=30)
        layer = b"a live layer" * 100
        digest = sha256(layer)
        loc = http.post("/v2/live/app/blobs/uploads/").headers["location"]
        assert http.put(loc, params={"digest": digest}, content=layer).status_code == 201
        config = b"{}"
        loc = http.post("/v2/live/app/blobs/uploads/").headers["location"]
        assert http.put(loc, params={"digest": sha256(config)}, content=config).status_code == 201
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": sha256(config), "size": 2},
                "layers": [{"mediaType": OCI_LAYER, "digest": digest, "size": len(layer)}],
            }
        ).encode()
        r = http.put(
            "/v2/live/app/manifests/v1", content=manifest, headers={"Content-Type": OCI_MANIFEST}
        )
        assert r.status_code == 201

        junk = garbage(data, 600)
        killed_mid_sweep = 0
        delay = 0.3
        for _ in range(12):
            if remaining(data, junk) == 0:
                junk = garbage(data, 600)
            before = remaining(data, junk)
            proc = subprocess.Popen(
                [sys.executable, "-m", "artreg", "registry", "gc", "--data-dir", str(data),
                 "--grace", "60"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            after = remaining(data, junk)
            if 0 < after < before:
                killed_mid_sweep += 1
                delay += 0.05
            elif after == before:
                delay += 0.15  # still starting up: kill later
            else:
                delay = max(0.05, delay - 0.1)  # it finished: kill sooner
            # whatever the moment: consistent, and the live image whole
            assert FilesystemStore(data, exclusive=False).verify() == [], after
            assert http.get("/v2/live/app/manifests/v1", headers=ACCEPT_ALL).content == manifest
            assert http.get(f"/v2/live/app/blobs/{digest}").content == layer
            if killed_mid_sweep >= 2:
                break
        assert killed_mid_sweep >= 1
        done = subprocess.run(
            [sys.executable, "-m", "artreg", "registry", "gc", "--data-dir", str(data),
             "--grace", "60"],
            capture_output=True,
            text=True,
            timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert remaining(data, junk) == 0
        assert FilesystemStore(data, exclusive=False).verify() == []
        assert http.get(f"/v2/live/app/blobs/{digest}").content == layer
        http.close()
