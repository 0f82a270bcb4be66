"""Opening a listening socket and running uvicorn in the foreground, for every listener.

The socket is bound before uvicorn starts (so ``port=0`` can be reported before serving), and a
foreground server returns normally after SIGINT/SIGTERM, so a command exits 0 when asked to
stop (uvicorn would re-raise the signal once it has shut down).
"""

from __future__ import annotations

import socket
from types import FrameType

import uvicorn

__all__ = ["ForegroundServer", "bind_socket", "host_for_url"]


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


def host_for_url(host: str) -> str:
    """``host`` as it goes into a URL: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


class ForegroundServer(uvicorn.Server):
    """Stops gracefully on SIGINT/SIGTERM and then returns normally."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()
