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


def read_reply(sock: socket.socket, limit: int = 1 << 20) -> bytes:
    """Everything the server sends until it closes (or resets) the connection."""
    chunks: list[bytes] = []
    total = 0
    while total < limit:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def read_head(sock: socket.socket) -> bytes:
    """The status line and headers of a reply (the connection may stay open after them)."""
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        data += chunk
    return data


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
    proc = subprocess.Popen(
        [*ARTREG, "registry", "serve", "--port", "0", "--data-dir", str(data_dir), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    stderr_lines: list[str] = []
    threading.Thread(
        target=lambda: stderr_lines.extend(iter(proc.stderr.readline, "")),  # type: ignore[union-attr]
        daemon=True,
    ).start()
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"listening on (\S+)", line)
        assert match, f"no ready line: {line!r} {''.join(stderr_lines)}"
        yield ServerProcess(proc, match[1], stderr_lines)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.contextmanager
def sidecar_process(*args: str, env: dict[str, str] | None = None) -> Iterator[ServerProcess]:
    """``artreg rpc serve --port 0`` (no binding: rpc.discover needs none) in its own process,
    stopped by PID at the end."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("ALIEN_", "ARTREG_"))}
    proc = subprocess.Popen(
        [*ARTREG, "rpc", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**environ, **(env or {})},
    )
    stderr_lines: list[str] = []
    threading.Thread(
        target=lambda: stderr_lines.extend(iter(proc.stderr.readline, "")),  # type: ignore[union-attr]
        daemon=True,
    ).start()
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"rpc=(ws://\S+)", line)
        assert match, f"no ready line: {line!r} {''.join(stderr_lines)}"
        yield ServerProcess(proc, match[1], stderr_lines)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
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
