"""Pieces every benchmark shares: random data, servers started as processes, peak memory."""

from __future__ import annotations

import compileall
import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

MIB = 1024 * 1024
#: The interpreter (and so the virtualenv) running the benchmark runs artreg too.
BIN = Path(sys.executable).parent


def compile_artreg() -> None:
    """Byte-compile artreg's own modules, as installing a package does: a checkout run with
    ``PYTHONDONTWRITEBYTECODE`` set would otherwise compile them from source in every ``artreg``
    process, and a start-up figure would measure the compiler. (``make venv`` compiles the
    dependencies.)"""
    import artreg

    compileall.compile_dir(Path(artreg.__file__).parent, quiet=1)


def random_file(path: Path, size: int) -> str:
    """Write ``size`` incompressible bytes to ``path``; return their ``sha256:`` digest."""
    h = hashlib.sha256()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        left = size
        while left:
            piece = os.urandom(min(4 * MIB, left))
            fh.write(piece)
            h.update(piece)
            left -= len(piece)
    return f"sha256:{h.hexdigest()}"


def put_blob(blobs: Path, data: bytes) -> str:
    """Store ``data`` in a layout's ``blobs/sha256`` directory; return its ``sha256:`` digest."""
    hexdigest = hashlib.sha256(data).hexdigest()
    (blobs / hexdigest).write_bytes(data)
    return f"sha256:{hexdigest}"


def write_image(path: Path, config: bytes, layers: list[dict[str, object]], tag: str) -> None:
    """Finish the OCI layout at ``path`` whose layer blobs are in place: store ``config`` and a
    manifest of it and ``layers``, and tag that manifest ``tag`` in ``index.json``."""
    blobs = path / "blobs" / "sha256"
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": put_blob(blobs, config),
                "size": len(config),
            },
            "layers": layers,
        }
    ).encode()
    digest = put_blob(blobs, manifest)
    (path / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (path / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": digest,
                        "size": len(manifest),
                        "annotations": {"org.opencontainers.image.ref.name": tag},
                    }
                ],
            }
        )
    )


def skopeo(*args: str, env: dict[str, str] | None = None) -> float:
    """Run ``skopeo --insecure-policy ARGS`` (output captured, failure raised); return seconds."""
    started = time.perf_counter()
    subprocess.run(["skopeo", "--insecure-policy", *args], check=True, capture_output=True, env=env)
    return time.perf_counter() - started


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(
    url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0, what: str = "server"
) -> None:
    """Return once ``url`` answers 200; exit if ``proc`` (named ``what``) ends or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as reply:
            if reply.status == 200:
                return
        time.sleep(0.05)
    raise SystemExit(f"{url} did not come up")


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident memory so far (``VmHWM``), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds ``pid`` has used (0 for None)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop(proc: subprocess.Popen[bytes], timeout: float = 15) -> int:
    """SIGTERM, then SIGKILL after ``timeout`` s; the exit status (-9 when it had to be killed)."""
    proc.terminate()
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return -9


def serve_argv(data_dir: Path) -> list[str]:
    """``artreg serve`` with the sidecar and the embedded registry on free ports, warnings only."""
    return [
        str(BIN / "artreg"),
        "serve",
        "--rpc-port",
        "0",
        "--registry-port",
        "0",
        "--data-dir",
        str(data_dir),
        "--log-level",
        "warning",
    ]


def start_ready(
    argv: list[str], ready: re.Pattern[str], log: Path, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], re.Match[str]]:
    """Start a server whose first stdout line ``ready`` matches (stderr to ``log``); return it and
    the match. A different first line kills it and exits with the line and the log's end."""
    with log.open("wb") as err:
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=err)
    assert proc.stdout is not None
    line = proc.stdout.readline().decode().strip()
    match = ready.match(line)
    if match is None:
        proc.kill()
        raise SystemExit(f"{argv[0]} did not start: {line!r}\n{log.read_text()[-2000:]}")
    return proc, match


_LISTENING = re.compile(r"listening on (http://\S+)")


@contextlib.contextmanager
def embedded_server(work: Path, timeout: float = 30.0) -> Iterator[tuple[str, int]]:
    """``python -m artreg.localregistry`` on a free port, up within ``timeout`` seconds; yields
    (base URL, pid)."""
    work.mkdir(parents=True, exist_ok=True)
    log = work / "embedded.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "artreg.localregistry",
                "--port",
                "0",
                "--data-dir",
                str(work / "data"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        deadline = time.monotonic() + timeout
        while (match := _LISTENING.search(log.read_text(errors="replace"))) is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"embedded registry did not start: {log.read_text()[-2000:]}")
            time.sleep(0.02)
        base = match.group(1)
        wait_up(f"{base}/v2/", proc, timeout)
        yield base, proc.pid
    finally:
        stop(proc)


@contextlib.contextmanager
def distribution_server(work: Path, timeout: float = 30.0) -> Iterator[tuple[str, int]]:
    """Debian's ``docker-registry`` with a config of our own, up within ``timeout`` seconds;
    yields (base URL, pid)."""
    binary = shutil.which("docker-registry")
    if binary is None:
        raise SystemExit("docker-registry is not installed (make system-deps)")
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = work / "distribution.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {work / 'data'}\n"
        "  delete:\n    enabled: true\n"
        "  maintenance:\n    uploadpurging:\n      enabled: false\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    proc = subprocess.Popen(
        [binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_up(f"{base}/v2/", proc, timeout)
        yield base, proc.pid
    finally:
        stop(proc)
