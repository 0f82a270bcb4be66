"""Pieces every benchmark shares: random data, servers started as processes, peak memory."""

from __future__ import annotations

import compileall
import contextlib
import hashlib
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
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


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


_LISTENING = re.compile(r"listening on (http://\S+)")


@contextlib.contextmanager
def embedded_server(work: Path) -> Iterator[tuple[str, int]]:
    """``python -m artreg.localregistry`` on a free port; yields (base URL, pid)."""
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
        deadline = time.monotonic() + 30
        while (match := _LISTENING.search(log.read_text(errors="replace"))) is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"embedded registry did not start: {log.read_text()[-2000:]}")
            time.sleep(0.02)
        base = match.group(1)
        wait_up(f"{base}/v2/", proc)
        yield base, proc.pid
    finally:
        _stop(proc)


@contextlib.contextmanager
def distribution_server(work: Path) -> Iterator[tuple[str, int]]:
    """Debian's ``docker-registry`` with a config of our own; yields (base URL, pid)."""
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
        wait_up(f"{base}/v2/", proc)
        yield base, proc.pid
    finally:
        _stop(proc)
