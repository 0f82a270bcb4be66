"""Garbage collection: blobs no repository refers to any more are removed, shared and live
ones stay, and it refuses to run under a live server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from artreg.digest import Digest
from artreg.localregistry import start_in_thread
from artreg.localregistry.fsstore import FilesystemStore
from tests.localregistry.client import SpecClient, sha256
from tests.registries import RunningRegistry


def gc_cli(data: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "artreg", "registry", "gc", "--data-dir", str(data), *extra],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_collects_only_unreferenced_blobs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with start_in_thread(data) as server:
        client = SpecClient(RunningRegistry("embedded", server.host, data))
        body, digest = client.push_image("ns/gone", "v1", [b"only here", b"shared"])
        keep_body, keep = client.push_image("ns/kept", "v1", [b"shared", b"kept layer"])
        client.http.delete(f"/v2/ns/gone/manifests/{digest}")
        for layer in (b"{}", b"only here", b"shared"):
            assert client.http.delete(f"/v2/ns/gone/blobs/{sha256(layer)}").status_code == 202
        client.close()
        running = gc_cli(data)
        assert running.returncode == 2
        assert "in use" in running.stderr

    dry = gc_cli(data, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"would remove {sha256(b'only here')}" in dry.stdout
    store = FilesystemStore(data)
    assert store.blob_exists(Digest.parse(sha256(b"only here")))  # dry run changed nothing
    store.close()

    done = gc_cli(data)
    assert done.returncode == 0, done.stderr
    removed = {line.split()[1] for line in done.stdout.splitlines() if line.startswith("removed")}
    assert removed == {sha256(b"only here"), digest}
    store = FilesystemStore(data)
    for live in (sha256(b"shared"), sha256(b"kept layer"), sha256(b"{}"), keep):
        assert store.blob_exists(Digest.parse(live)), live
    assert store.verify() == []
    assert store.collect_garbage().removed == []  # idempotent
    store.close()

    with start_in_thread(data) as server:
        client = SpecClient(RunningRegistry("embedded", server.host, data))
        assert client.get_manifest("ns/kept", "v1").content == keep_body
        assert client.http.head(f"/v2/ns/kept/blobs/{sha256(b'shared')}").status_code == 200
        client.close()
    assert body  # pushed once, now collected


def test_refuses_a_directory_that_is_not_a_registry(tmp_path: Path) -> None:
    result = gc_cli(tmp_path / "nothing")
    assert result.returncode == 2
    assert "not a registry data directory" in result.stderr


def test_verify_command(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with start_in_thread(data) as server:
        client = SpecClient(RunningRegistry("embedded", server.host, data))
        _, digest = client.push_image("ns/v", "v1", [b"checked"])
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
    assert digest
