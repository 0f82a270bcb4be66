"""Online garbage collection: what no tag reaches is removed once older than the grace period,
while everything reachable (through tags, indexes and referrers) and everything recent stays;
``artreg registry gc`` runs against a live server's data directory; ``verify`` stays clean."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from artreg.digest import Digest
from artreg.localregistry import start_in_thread
from artreg.localregistry.fsstore import CollectionRunning, FilesystemStore
from tests.localregistry.client import OCI_INDEX, OCI_MANIFEST, SpecClient, sha256
from tests.registries import RunningRegistry


def gc_cli(data: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "artreg", "registry", "gc", "--data-dir", str(data), *extra],
        capture_output=True,
        text=True,
        timeout=60,
    )


def age(root: Path, seconds: float = 7200) -> None:
    """Make every file of the store look ``seconds`` old (as if pushed long ago)."""
    past = time.time() - seconds
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, (past, past))


def blob_file(data: Path, digest: str) -> Path:
    d = Digest.parse(digest)
    return data / "blobs" / d.algorithm / d.hex[:2] / d.hex


def test_collects_only_unreferenced_content_under_a_live_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with start_in_thread(data) as server:
        client = SpecClient(RunningRegistry("embedded", server.host, data))
        _, digest = client.push_image("ns/gone", "v1", [b"only here", b"shared"])
        keep_body, keep = client.push_image("ns/kept", "v1", [b"shared", b"kept layer"])
        assert client.http.delete(f"/v2/ns/gone/manifests/{digest}").status_code == 202

        fresh = gc_cli(data)  # default grace (1h): everything is too recent to go
        assert fresh.returncode == 0, fresh.stderr
        assert "0 blob(s), 0 manifest(s), 0 upload(s); freed 0 bytes" in fresh.stdout

        dry = gc_cli(data, "--grace", "0", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert f"would remove {sha256(b'only here')}" in dry.stdout
        assert blob_file(data, sha256(b"only here")).is_file()  # a dry run changes nothing

        done = gc_cli(data, "--grace", "0")  # next to the running server
        assert done.returncode == 0, done.stderr
        removed = {
            line.split()[1] for line in done.stdout.splitlines() if line.startswith("removed sha")
        }
        assert removed == {sha256(b"only here"), digest}
        for live in (sha256(b"shared"), sha256(b"kept layer"), sha256(b"{}"), keep):
            assert blob_file(data, live).is_file(), live
        # the deleted image's blob links went too: its repository no longer serves them
        assert client.http.head(f"/v2/ns/gone/blobs/{sha256(b'shared')}").status_code == 404
        # a repository left with nothing leaves the catalog too
        assert client.http.get("/v2/_catalog").json()["repositories"] == ["ns/kept"]
        assert client.http.get("/v2/ns/gone/tags/list").status_code == 404
        assert client.get_manifest("ns/kept", "v1").content == keep_body
        assert client.http.get(f"/v2/ns/kept/blobs/{sha256(b'shared')}").content == b"shared"
        client.close()
        assert FilesystemStore(data, exclusive=False).verify() == []
    assert gc_cli(data, "--grace", "0").stdout.startswith("0 blob(s)")  # idempotent


def test_marks_through_indexes_and_referrers_and_sweeps_untagged(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with start_in_thread(data) as server:
        client = SpecClient(RunningRegistry("embedded", server.host, data))
        child = client.image_manifest("ns/app", [b"amd64 layer"])
        assert client.put_manifest("ns/app", sha256(child), child).status_code == 201
        index = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [
                    {"mediaType": OCI_MANIFEST, "digest": sha256(child), "size": len(child)}
                ],
            }
        ).encode()
        assert client.put_manifest("ns/app", "v1", index, OCI_INDEX).status_code == 201
        signature = client.image_manifest(
            "ns/app",
            [b"signature"],
            config=b'{"sig":1}',
            subject={"mediaType": OCI_INDEX, "digest": sha256(index), "size": len(index)},
        )
        assert client.put_manifest("ns/app", sha256(signature), signature).status_code == 201
        untagged = client.image_manifest("ns/app", [b"pushed by digest only"])
        assert client.put_manifest("ns/app", sha256(untagged), untagged).status_code == 201
        orphan = client.image_manifest(
            "ns/app",
            [b"orphan signature"],
            subject={"mediaType": OCI_MANIFEST, "digest": sha256(untagged), "size": 1},
        )
        assert client.put_manifest("ns/app", sha256(orphan), orphan).status_code == 201

        age(data)
        recent = client.image_manifest("ns/app", [b"just pushed, not yet tagged"])
        report = server.store.collect_garbage(grace=600)  # type: ignore[attr-defined]
        assert sorted(report.manifests) == sorted(
            [f"ns/app@{sha256(untagged)}", f"ns/app@{sha256(orphan)}"]
        )
        assert sorted(report.removed) == sorted(
            [
                sha256(untagged),
                sha256(orphan),
                sha256(b"pushed by digest only"),
                sha256(b"orphan signature"),
            ]
        )
        # reachable through the tag, the index and the referrers API
        for ref in ("v1", sha256(child), sha256(signature)):
            assert client.get_manifest("ns/app", ref).status_code == 200, ref
        referrers = client.http.get(f"/v2/ns/app/referrers/{sha256(index)}").json()
        assert [m["digest"] for m in referrers["manifests"]] == [sha256(signature)]
        assert client.http.get(f"/v2/ns/app/referrers/{sha256(untagged)}").json()["manifests"] == []
        assert client.get_manifest("ns/app", sha256(untagged)).status_code == 404
        # blobs uploaded within the grace period stay: the push in flight completes
        assert client.put_manifest("ns/app", "v2", recent).status_code == 201
        client.close()
        assert server.store.verify() == []  # type: ignore[attr-defined]


def test_a_blob_asked_for_is_kept_for_its_manifest(tmp_path: Path) -> None:
    """A pusher that finds a blob present (HEAD) and skips uploading it can still store its
    manifest after a collection, though the blob was unreferenced and old."""
    data = tmp_path / "data"
    with start_in_thread(data) as server:
        client = SpecClient(RunningRegistry("embedded", server.host, data))
        body, digest = client.push_image("ns/re", "v1", [b"layer again"])
        assert client.http.delete(f"/v2/ns/re/manifests/{digest}").status_code == 202
        age(data)
        assert client.http.head(f"/v2/ns/re/blobs/{sha256(b'layer again')}").status_code == 200
        assert client.http.head(f"/v2/ns/re/blobs/{sha256(b'{}')}").status_code == 200
        report = server.store.collect_garbage(grace=600)  # type: ignore[attr-defined]
        assert sha256(b"layer again") not in report.removed
        assert client.put_manifest("ns/re", "v1", body).status_code == 201
        client.close()


def test_abandoned_uploads_are_purged(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with start_in_thread(data) as server:
        client = SpecClient(RunningRegistry("embedded", server.host, data))
        old = client.start_upload("ns/up")
        assert client.http.patch(client.at(old), content=b"partial").status_code == 202
        age(data / "uploads", 3 * 3600)
        live = client.start_upload("ns/up")
        report = server.store.collect_garbage(grace=0, upload_max_age=3600)  # type: ignore[attr-defined]
        assert report.uploads == [f"ns/up/{old.rstrip('/').rsplit('/', 1)[1]}"]
        r = client.http.put(client.at(old, digest=sha256(b"partial")), content=b"")
        assert r.status_code == 404
        assert r.json()["errors"][0]["code"] == "BLOB_UPLOAD_UNKNOWN"
        r = client.http.put(client.at(live, digest=sha256(b"whole")), content=b"whole")
        assert r.status_code == 201
        client.close()


def test_one_collection_at_a_time(tmp_path: Path) -> None:
    import fcntl

    store = FilesystemStore(tmp_path / "s")
    fd = os.open(store.root / ".gc.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        try:
            store.collect_garbage(grace=0)
        except CollectionRunning as exc:
            assert "already running" in str(exc)
        else:
            raise AssertionError("a second collection ran")
        busy = gc_cli(tmp_path / "s")
        assert busy.returncode == 2
        assert "already running" in busy.stderr
    finally:
        os.close(fd)
        store.close()


def test_scheduled_collection_and_metrics(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with start_in_thread(data, gc_interval=0.2, gc_grace=1) as server:
        client = SpecClient(RunningRegistry("embedded", server.host, data))
        _, digest = client.push_image("ns/sched", "v1", [b"doomed"])
        assert client.http.delete(f"/v2/ns/sched/manifests/{digest}").status_code == 202
        deadline = time.monotonic() + 20
        while blob_file(data, sha256(b"doomed")).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not blob_file(data, sha256(b"doomed")).exists()
        text = httpx.get(f"{server.url}/metrics").text
        runs = [
            line for line in text.splitlines() if line.startswith("artreg_registry_gc_runs_total")
        ]
        assert len(runs) == 1 and float(runs[0].split()[1]) >= 1
        freed = [
            line
            for line in text.splitlines()
            if line.startswith("artreg_registry_gc_freed_bytes_total")
        ]
        assert float(freed[0].split()[1]) >= len(b"doomed")
        client.close()


def test_refuses_a_directory_that_is_not_a_registry(tmp_path: Path) -> None:
    result = gc_cli(tmp_path / "nothing")
    assert result.returncode == 2
    assert "not a registry data directory" in result.stderr


def test_bad_durations_are_usage_errors(tmp_path: Path) -> None:
    FilesystemStore(tmp_path / "s").close()
    result = gc_cli(tmp_path / "s", "--grace", "soon")
    assert result.returncode == 2
    assert "invalid duration 'soon'" in result.stderr


def test_verify_command(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with start_in_thread(data) as server:
        client = SpecClient(RunningRegistry("embedded", server.host, data))
        client.push_image("ns/v", "v1", [b"checked"])
        client.close()
        live = subprocess.run(
            [sys.executable, "-m", "artreg", "registry", "verify", "--data-dir", str(data)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert live.returncode == 0, live.stdout + live.stderr  # fine next to a live server
        assert "1 repositories checked, 0 problem(s)" in live.stdout
    layer = Digest.parse(sha256(b"checked"))
    (data / "blobs" / "sha256" / layer.hex[:2] / layer.hex).write_bytes(b"bit rot")
    damaged = subprocess.run(
        [sys.executable, "-m", "artreg", "registry", "verify", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert damaged.returncode == 1
    assert f"blob {layer} hashes to" in damaged.stdout
    # one problem, the damaged layer, named with what it hashes to now (sha256 of b"bit rot")
    assert damaged.stdout.splitlines() == [
        f"blob {layer} hashes to "
        "sha256:28d39a93160599ba951ef3430709d416c9ff1e7812c55088fc0c4ece31efac0e",
        "1 repositories checked, 1 problem(s)",
    ]


def test_forgotten_repositories_leave_nested_ones_and_can_be_pushed_again(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with start_in_thread(data) as server:
        client = SpecClient(RunningRegistry("embedded", server.host, data))
        _, parent = client.push_image("team/app", "v1", [b"parent layer"])
        child_body, _ = client.push_image("team/app/child", "v1", [b"child layer"])
        assert client.http.delete(f"/v2/team/app/manifests/{parent}").status_code == 202
        report = server.store.collect_garbage(grace=0)  # type: ignore[attr-defined]
        assert f"team/app@{parent}" not in report.manifests  # deleted by the client already
        assert client.http.get("/v2/_catalog").json()["repositories"] == ["team/app/child"]
        assert client.get_manifest("team/app/child", "v1").content == child_body
        again, _ = client.push_image("team/app", "v2", [b"parent layer"])
        assert client.get_manifest("team/app", "v2").content == again
        assert client.http.get("/v2/_catalog").json()["repositories"] == [
            "team/app",
            "team/app/child",
        ]
        client.close()
        assert server.store.verify() == []  # type: ignore[attr-defined]
