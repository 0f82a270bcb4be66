"""Push then pull one large blob with skopeo to artreg's embedded registry and to the CNCF
distribution registry (Debian's ``docker-registry``) in the same run.

Prints MB/s for push and pull on both, the embedded/distribution ratio, and the embedded
server's peak RSS (``VmHWM`` of the server process). Usage::

    python bench/registry_throughput.py [--size MIB] [--repeat N]

The layer is a tar of random bytes wrapped in stored (level 0) gzip, so skopeo sends it as is
instead of compressing it on the way: the figures measure the registries, not zlib.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

MIB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.05)
    raise SystemExit(f"{url} did not come up")


class _Random:
    """A file-like source of ``size`` random bytes."""

    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, n: int = MIB) -> bytes:
        n = min(n if n > 0 else MIB, self.left)
        self.left -= n
        return os.urandom(n)


def build_layout(root: Path, size: int) -> None:
    """An OCI layout tagged ``bench`` whose single layer carries ``size`` random bytes."""
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')

    def put(path: Path) -> tuple[str, int]:
        h = hashlib.sha256()
        with path.open("rb") as f:
            while chunk := f.read(4 * MIB):
                h.update(chunk)
        digest = h.hexdigest()
        path.rename(blobs / digest)
        return f"sha256:{digest}", (blobs / digest).stat().st_size

    tmp = root / "layer.tmp"
    diff = hashlib.sha256()

    class Tee:
        def __init__(self, raw: gzip.GzipFile) -> None:
            self.raw = raw

        def write(self, data: bytes) -> int:
            diff.update(data)
            return self.raw.write(data)

    with (
        tmp.open("wb") as out,
        gzip.GzipFile(fileobj=out, mode="wb", compresslevel=0) as gz,
        tarfile.open(fileobj=Tee(gz), mode="w|") as tar,  # type: ignore[call-overload]
    ):
        info = tarfile.TarInfo("payload.bin")
        info.size = size
        tar.addfile(info, _Random(size))  # type: ignore[arg-type]
    layer_digest, layer_size = put(tmp)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff.hexdigest()}"]},
    }
    tmp.write_bytes(json.dumps(config).encode())
    config_digest, config_size = put(tmp)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config_size,
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": layer_digest,
                "size": layer_size,
            }
        ],
    }
    tmp.write_bytes(json.dumps(manifest).encode())
    manifest_digest, manifest_size = put(tmp)
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest,
                "size": manifest_size,
                "annotations": {"org.opencontainers.image.ref.name": "bench"},
            }
        ],
    }
    (root / "index.json").write_text(json.dumps(index))


@contextlib.contextmanager
def embedded(work: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    data = work / f"embedded-data-{port}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "artreg.localregistry",
            "--port",
            str(port),
            "--data-dir",
            str(data),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_up(f"http://127.0.0.1:{port}/v2/", proc)
        yield f"127.0.0.1:{port}", proc
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.contextmanager
def distribution(work: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    binary = shutil.which("docker-registry")
    if binary is None:
        raise SystemExit("docker-registry is not installed (make system-deps)")
    port = free_port()
    data = work / f"distribution-data-{port}"
    config = work / "distribution.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {data}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    proc = subprocess.Popen(
        [binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_up(f"http://127.0.0.1:{port}/v2/", proc)
        yield f"127.0.0.1:{port}", proc
    finally:
        proc.terminate()
        proc.wait(10)


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def skopeo(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run(["skopeo", "--insecure-policy", *args], check=True, capture_output=True)
    return time.perf_counter() - started


def measure(host: str, layout: Path, work: Path, run: int) -> tuple[float, float]:
    ref = f"docker://{host}/bench/blob:run{run}"
    push = skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:bench", ref)
    out = work / f"pulled-{host.replace(':', '-')}-{run}"
    pull = skopeo("copy", "--src-tls-verify=false", ref, f"oci:{out}:bench")
    shutil.rmtree(out)
    return push, pull


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="blob size in MiB (default 256)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per registry; best is kept")
    args = parser.parse_args()
    if shutil.which("skopeo") is None:
        raise SystemExit("skopeo is not installed (make system-deps)")
    size = args.size * MIB
    with tempfile.TemporaryDirectory(prefix="artreg-bench-") as tmp:
        work = Path(tmp)
        layout = work / "layout"
        print(f"building a {args.size} MiB layer...", flush=True)
        build_layout(layout, size)
        runs: dict[str, list[tuple[float, float]]] = {"embedded": [], "distribution": []}
        rss: dict[str, float] = {"embedded": 0.0, "distribution": 0.0}
        # A fresh server (new port, empty store) per run, so neither the registry nor skopeo's
        # blob-info cache can skip an upload; registries alternate to share any machine noise.
        for i in range(args.repeat):
            for kind, server in (("embedded", embedded), ("distribution", distribution)):
                with server(work) as (host, proc):
                    runs[kind].append(measure(host, layout, work, i))
                    rss[kind] = max(rss[kind], peak_rss_mib(proc.pid))
                for data in work.glob(f"{kind}-data-*"):
                    shutil.rmtree(data)
        results = {k: (min(r[0] for r in v), min(r[1] for r in v)) for k, v in runs.items()}
        mb = size / 1e6
        print(f"blob size: {args.size} MiB, best of {args.repeat} skopeo copies")
        print(f"{'registry':<14}{'push MB/s':>12}{'pull MB/s':>12}{'peak RSS MiB':>15}")
        for kind, (push, pull) in results.items():
            print(f"{kind:<14}{mb / push:>12.1f}{mb / pull:>12.1f}{rss[kind]:>15.1f}")
        e, d = results["embedded"], results["distribution"]
        print(f"ratio embedded/distribution: push {d[0] / e[0]:.2f}, pull {d[1] / e[1]:.2f}")
        print(f"embedded server peak RSS: {rss['embedded']:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
