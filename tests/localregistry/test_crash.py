"""Crash safety: ``artreg registry serve`` is SIGKILLed in the middle of a large chunked upload
and restarted on the same data directory."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from artreg.digest import Digest
from artreg.localregistry import FilesystemStore
from tests.localregistry.client import SpecClient
from tests.registries import RunningRegistry, free_port, wait_http

CHUNK = 4 * 1024 * 1024
SIZE = 48 * 1024 * 1024


class Server:
    """``python -m artreg registry serve`` as a child process."""

    def __init__(self, data: Path, log: Path) -> None:
        self.data = data
        self.port = free_port()
        self.log = log.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "artreg",
                "registry",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(data),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_http(f"http://127.0.0.1:{self.port}/v2/")
        self.registry = RunningRegistry("embedded", f"127.0.0.1:{self.port}", data, self.proc.pid)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.log.close()

    def terminate(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        code = self.proc.wait(10)
        self.log.close()
        return code


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        if server.proc.poll() is None:
            server.kill()


def payload() -> bytes:
    block = hashlib.sha256(b"seed").digest() * (CHUNK // 32)
    return b"".join(bytes([i]) + block[1:] for i in range(SIZE // CHUNK))


def test_sigkill_mid_upload_then_restart(tmp_path: Path, servers: list[Server]) -> None:
    data_dir = tmp_path / "data"
    log = tmp_path / "server.log"
    first = Server(data_dir, log)
    servers.append(first)
    client = SpecClient(first.registry)
    blob = payload()
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()

    # a first chunk lands completely
    location = client.start_upload("ns/big")
    r = client.http.patch(
        client.at(location), content=blob[:CHUNK], headers={"Content-Range": f"0-{CHUNK - 1}"}
    )
    assert r.status_code == 202
    location = r.headers["location"]

    # the second request streams the rest; the server dies half-way through it
    killed = threading.Event()

    def body() -> Iterator[bytes]:
        for i, offset in enumerate(range(CHUNK, SIZE, CHUNK)):
            if i == 5:
                first.kill()
                killed.set()
            yield blob[offset : offset + CHUNK]

    with pytest.raises(httpx.TransportError):
        client.http.patch(client.at(location), content=body())
    assert killed.is_set()
    client.close()

    # the store on disk is consistent and holds no trace of the blob
    store = FilesystemStore(data_dir)
    assert store.verify() == []
    assert not store.blob_exists(Digest.parse(digest))
    assert store.repositories() == []
    store.close()

    second = Server(data_dir, log)
    servers.append(second)
    client = SpecClient(second.registry)
    assert client.http.head(f"/v2/ns/big/blobs/{digest}").status_code == 404

    # the interrupted session survived the restart; it holds at least the first chunk
    status = client.http.get(client.at(location))
    assert status.status_code == 204
    persisted = int(status.headers["range"].split("-")[1]) + 1
    assert CHUNK <= persisted <= SIZE
    uploaded = client.http.get(client.at(location))
    assert uploaded.status_code == 204

    # a fresh upload of the same blob succeeds and reads back intact
    fresh = client.start_upload("ns/big")
    for offset in range(0, SIZE, CHUNK):
        r = client.http.patch(
            client.at(fresh),
            content=blob[offset : offset + CHUNK],
            headers={"Content-Range": f"{offset}-{offset + CHUNK - 1}"},
        )
        assert r.status_code == 202
        fresh = r.headers["location"]
    r = client.http.put(client.at(fresh, digest=digest))
    assert r.status_code == 201
    head = client.http.head(f"/v2/ns/big/blobs/{digest}")
    assert head.headers["content-length"] == str(SIZE)
    hasher = hashlib.sha256()
    with client.http.stream("GET", f"/v2/ns/big/blobs/{digest}") as resp:
        for chunk in resp.iter_bytes():
            hasher.update(chunk)
    assert "sha256:" + hasher.hexdigest() == digest

    # the old session can still be finished too: its rebuilt hash checks the resumed bytes
    r = client.http.patch(
        client.at(location),
        content=blob[persisted:],
        headers={"Content-Range": f"{persisted}-{SIZE - 1}"},
    )
    assert r.status_code == 202
    assert client.http.put(client.at(r.headers["location"], digest=digest)).status_code == 201
    client.close()
    assert second.terminate() == 0

    store = FilesystemStore(data_dir)
    assert store.verify() == []
    assert store.repositories() == ["ns/big"]
    assert list((data_dir / "uploads").iterdir()) == []
    store.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_cleanly(tmp_path: Path, servers: list[Server], sig: int) -> None:
    server = Server(tmp_path / "data", tmp_path / "server.log")
    servers.append(server)
    SpecClient(server.registry).push_blob("ns/r", b"kept")
    assert server.terminate(sig) == 0
    output = (tmp_path / "server.log").read_text()
    assert '"GET /v2/" 200' in output  # one line per request
    assert "Finished server process" in output


def test_second_server_on_same_data_dir_refuses(tmp_path: Path, servers: list[Server]) -> None:
    servers.append(Server(tmp_path / "data", tmp_path / "server.log"))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "artreg",
            "registry",
            "serve",
            "--port",
            str(free_port()),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "in use by another registry process" in proc.stderr
