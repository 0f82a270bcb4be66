"""Real OCI registries for tests: Debian's CNCF distribution registry run as a process, and
artreg's embedded registry served in-process.

Use the fixtures from ``tests/conftest.py``; each yields a :class:`RunningRegistry`.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.peers import require_binary


@dataclass
class RunningRegistry:
    """A registry listening on loopback. ``host`` is ``127.0.0.1:PORT`` (no scheme)."""

    kind: str
    host: str
    data_dir: Path
    pid: int | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{self.host}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_http(url: str, timeout: float = 20.0, ok: tuple[int, ...] = (200, 401)) -> None:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code in ok:
                return
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up: {last}")


@contextlib.contextmanager
def distribution_registry(
    tmp: Path, *, auth_yaml: str = "", extra_yaml: str = ""
) -> Iterator[RunningRegistry]:
    """Run ``docker-registry serve`` with a config of our own on a free loopback port."""
    binary = require_binary("docker-registry")
    port = free_port()
    data = tmp / "distribution-data"
    data.mkdir(parents=True, exist_ok=True)
    config = tmp / "distribution.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: error\n  accesslog:\n    disabled: true\n"
        "storage:\n"
        f"  filesystem:\n    rootdirectory: {data}\n"
        "  delete:\n    enabled: true\n"
        "  maintenance:\n    uploadpurging:\n      enabled: false\n"
        "http:\n"
        f"  addr: 127.0.0.1:{port}\n"
        f"{auth_yaml}{extra_yaml}"
    )
    log = (tmp / "distribution.log").open("wb")
    proc = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/v2/")
        yield RunningRegistry("distribution", f"127.0.0.1:{port}", data, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@contextlib.contextmanager
def embedded_registry(
    tmp: Path, *, auth: object = None, memory: bool = False
) -> Iterator[RunningRegistry]:
    """artreg's embedded registry on a free loopback port, served by uvicorn in a thread of the
    test process. ``auth`` is an ``artreg.localregistry.Authenticator``; ``memory=True`` uses
    the in-memory store. ``extra["server"]`` is the ``ThreadedRegistry`` (``.store``, ``.stop()``)."""
    from artreg.localregistry import Authenticator, start_in_thread

    data = tmp / "embedded-data"
    assert auth is None or isinstance(auth, Authenticator)
    server = start_in_thread(None if memory else data, auth=auth)
    try:
        yield RunningRegistry("embedded", server.host, data, None, {"server": server})
    finally:
        server.stop()
