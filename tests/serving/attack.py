"""Helpers for reproducing attacks over loopback: raw sockets, servers in their own process,
and memory read from /proc."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ARTREG = [sys.executable, "-m", "artreg"]


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc/PID/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def peak_rss_bytes(pid: int) -> int:
    """Peak resident set size of a process (VmHWM), from /proc/PID/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def receive(
    sock: socket.socket,
    complete: Callable[[bytes], bool] | None = None,
    limit: int | None = None,
) -> bytes:
    """What the server sends until the server closes (or resets) the connection, the read
    times out, ``complete`` (if given) holds for all of it so far, or ``limit`` bytes have
    come."""
    chunks: list[bytes] = []
    total = 0
    while limit is None or total < limit:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if complete is not None and complete(b"".join(chunks)):
            break
    return b"".join(chunks)


def read_reply(sock: socket.socket, limit: int = 1 << 20) -> bytes:
    """Everything the server sends until it closes (or resets) the connection."""
    return receive(sock, limit=limit)


def read_head(sock: socket.socket) -> bytes:
    """The status line and headers of a reply (the connection may stay open after them)."""
    return receive(sock, lambda data: b"\r\n\r\n" in data)


def status_of(reply: bytes) -> int | None:
    match = re.match(rb"HTTP/1\.[01] (\d{3})", reply)
    return int(match[1]) if match else None


@dataclass
class ServerProcess:
    proc: subprocess.Popen[str]
    url: str
    stderr_lines: list[str]

    @property
    def host(self) -> str:
        return self.url.split("://", 1)[1]

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.host.rsplit(":", 1)
        return host.strip("[]"), int(port)

    def connect(self, timeout: float = 10.0) -> socket.socket:
        return socket.create_connection(self.address, timeout=timeout)

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)  # type: ignore[arg-type]

    @property
    def stderr(self) -> str:
        return "".join(self.stderr_lines)


@contextlib.contextmanager
def registry_process(
    data_dir: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[ServerProcess]:
    """``artreg registry serve --port 0`` in its own process, stopped by PID at the end."""
    with server_process(
        [*ARTREG, "registry", "serve", "--port", "0", "--data-dir", str(data_dir), *args],
        {**os.environ, **(env or {})},
        ready=r"listening on (\S+)",
        stop_timeout=10,
    ) as server:
        yield server


@contextlib.contextmanager
def sidecar_process(*args: str, env: dict[str, str] | None = None) -> Iterator[ServerProcess]:
    """``artreg rpc serve --port 0`` (no binding: rpc.discover needs none) in its own process,
    stopped by PID at the end."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("ALIEN_", "ARTREG_"))}
    with server_process(
        [*ARTREG, "rpc", "serve", "--port", "0", *args],
        {**environ, **(env or {})},
        ready=r"rpc=(ws://\S+)",
        stop_timeout=15,
    ) as server:
        yield server


@contextlib.contextmanager
def server_process(
    command: list[str], env: dict[str, str], *, ready: str, stop_timeout: float
) -> Iterator[ServerProcess]:
    """``command`` in its own process, its URL the first group of ``ready`` in its first line
    of output; its stderr is collected as it comes. At the end it gets SIGTERM, and is killed
    if it has not exited ``stop_timeout`` seconds later."""
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    stderr_lines: list[str] = []
    threading.Thread(
        target=lambda: stderr_lines.extend(iter(proc.stderr.readline, "")),  # type: ignore[union-attr]
        daemon=True,
    ).start()
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(ready, line)
        assert match, f"no ready line: {line!r} {''.join(stderr_lines)}"
        yield ServerProcess(proc, match[1], stderr_lines)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
    """Poll ``predicate`` until it holds (True) or ``timeout`` passes (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
