"""Blobs stream through the server: its peak memory does not follow the blob's size.

Resource bound, not a timing: a server process moves a 64 MiB blob in and out (chunked,
monolithic and ranged) and its peak RSS (VmHWM) must stay well below the blob's size plus the
interpreter's baseline."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.localregistry.client import SpecClient
from tests.registries import RunningRegistry, free_port, wait_http

SIZE = 64 * 1024 * 1024


def vm_hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningRegistry]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "artreg.localregistry",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/v2/")
        yield RunningRegistry("embedded", f"127.0.0.1:{port}", tmp_path / "data", proc.pid)
    finally:
        proc.kill()
        proc.wait(10)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_peak_memory_independent_of_blob_size(server: RunningRegistry) -> None:
    assert server.pid is not None
    client = SpecClient(server)
    baseline = vm_hwm_mib(server.pid)
    blob = os.urandom(SIZE)
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()

    def body() -> Iterator[bytes]:
        view = memoryview(blob)
        for i in range(0, SIZE, 256 * 1024):
            yield bytes(view[i : i + 256 * 1024])

    # a single streamed request (chunked transfer encoding) and a monolithic one
    r = client.http.patch(client.at(client.start_upload("ns/big")), content=body())
    assert r.status_code == 202
    assert client.http.put(client.at(r.headers["location"], digest=digest)).status_code == 201
    r = client.http.post("/v2/ns/mono/blobs/uploads/", params={"digest": digest}, content=body())
    assert r.status_code == 201

    hasher = hashlib.sha256()
    with client.http.stream("GET", f"/v2/ns/big/blobs/{digest}") as resp:
        for chunk in resp.iter_bytes(1024 * 1024):
            hasher.update(chunk)
    assert hasher.hexdigest() == digest.split(":")[1]
    ranged = client.http.get(
        f"/v2/ns/mono/blobs/{digest}", headers={"Range": f"bytes={SIZE - 10}-"}
    )
    assert ranged.content == blob[-10:]

    peak = vm_hwm_mib(server.pid)
    growth = peak - baseline
    print(f"baseline {baseline:.1f} MiB, peak {peak:.1f} MiB")
    assert growth < 32, f"peak RSS grew by {growth:.1f} MiB moving a 64 MiB blob"
