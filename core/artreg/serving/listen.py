"""Opening a listening socket and running uvicorn in the foreground or on a thread, for every
listener.

The socket is bound before uvicorn starts (so ``port=0`` can be reported before serving), and a
foreground server returns normally after SIGINT/SIGTERM, so a command exits 0 when asked to
stop (uvicorn would re-raise the signal once it has shut down).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path
from types import FrameType

import uvicorn

__all__ = [
    "ForegroundServer",
    "ServerStartError",
    "ServerThread",
    "bind_socket",
    "host_for_url",
    "tls_files",
]


def bind_socket(host: str, port: int) -> socket.socket:
    """A non-blocking TCP socket listening on ``host:port`` (IPv6 when the host has a colon,
    brackets allowed); closed again if binding or listening fails."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def tls_files(
    cert: Path | None, key: Path | None, error: type[Exception] = ValueError
) -> tuple[str, str] | None:
    """The certificate chain and key files to serve TLS with, checked; None for plain HTTP.
    ``error`` (the caller's configuration error) when only one is given or one is missing."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise error("TLS needs both --tls-cert and --tls-key")
    for path in (cert, key):
        if not path.is_file():
            raise error(f"TLS file {path} does not exist")
    return str(cert), str(key)


def host_for_url(host: str) -> str:
    """``host`` as it goes into a URL: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


class ForegroundServer(uvicorn.Server):
    """Stops gracefully on SIGINT/SIGTERM and then returns normally."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()


class ServerStartError(Exception):
    """A :class:`ServerThread` did not come up: ``cause`` is what the server raised (None when
    it exited silently or ``timed_out``)."""

    def __init__(self, cause: BaseException | None, *, timed_out: bool) -> None:
        super().__init__(cause if cause is not None else "timed out" if timed_out else "exited")
        self.cause = cause
        self.timed_out = timed_out


class ServerThread:
    """A uvicorn server serving an already bound socket from a daemon thread of this process;
    ``address`` is the socket's ``HOST:PORT`` as it goes into a URL."""

    def __init__(self, server: uvicorn.Server, sock: socket.socket, *, name: str) -> None:
        self.server = server
        self.sock = sock
        bound = sock.getsockname()
        self.port: int = bound[1]
        self.address = f"{host_for_url(bound[0])}:{self.port}"
        self._errors: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        except BaseException as exc:  # reported by start()
            self._errors.append(exc)

    def start(self, timeout: float) -> None:
        """Start serving and return once the server accepts connections. When it fails or does
        not start within ``timeout`` seconds, it is told to exit, the socket is closed and
        :class:`ServerStartError` raised."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            failed = bool(self._errors) or not self._thread.is_alive()
            if failed or time.monotonic() > deadline:
                self.server.should_exit = True
                self._thread.join(timeout)
                self.sock.close()
                cause = self._errors[0] if self._errors else None
                raise ServerStartError(cause, timed_out=not failed)
            time.sleep(0.005)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving (forcefully when a graceful stop takes longer than ``timeout``) and
        close the socket; idempotent."""
        self.server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self.server.force_exit = True
            self._thread.join(timeout)
        with contextlib.suppress(OSError):
            self.sock.close()
