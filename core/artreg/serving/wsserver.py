"""The WebSocket listener's share of the limits (the JSON-RPC sidecar, on ``websockets``).

``websockets`` bounds a handshake's lines (8 KiB) and header count (128) and times the whole
handshake out (``open_timeout``), but not the total header size, and it counts no connections.
:func:`guarded_connection` builds a ``ServerConnection`` class for ``serve(create_connection=)``
that adds the per-address and total connection caps (503) and the total size of the handshake
request (431), the same :class:`~.limits.Limits` the HTTP listeners apply.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

from websockets.asyncio.server import ServerConnection
from websockets.protocol import State

from .limits import ConnectionCap, Limits
from .logs import escape

__all__ = ["GuardedServerConnection", "guarded_connection"]

log = logging.getLogger("artreg.serving")

_REASONS = {431: b"Request Header Fields Too Large", 503: b"Service Unavailable"}


class GuardedServerConnection(ServerConnection):
    """A ``ServerConnection`` counted against :attr:`cap`, whose handshake may not exceed
    ``limits.max_header_bytes``. Subclasses made by :func:`guarded_connection` set both."""

    limits: ClassVar[Limits]
    cap: ClassVar[ConnectionCap]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._counted: str | None = None
        self._handshake_bytes = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if peer else "-"
        refusal = self.cap.acquire(address)
        if refusal is not None:
            log.warning("refused a connection from %s: %s", escape(address), refusal)
            self._refuse(503, refusal)
            return
        self._counted = address

    def connection_lost(self, exc: Exception | None) -> None:
        if self._counted is not None:
            self.cap.release(self._counted)
            self._counted = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._counted is None:
            return  # refused: nothing more is read
        if self.protocol.state is State.CONNECTING:
            self._handshake_bytes += len(data)
            if self._handshake_bytes > self.limits.max_header_bytes:
                self._refuse(431, f"request headers exceed {self.limits.max_header_bytes} bytes")
                return
        super().data_received(data)

    def _refuse(self, status: int, message: str) -> None:
        body = message.encode() + b"\n"
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
            % (status, _REASONS[status])
            + b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body)
            + body
        )
        if self._counted is not None:
            self.cap.release(self._counted)
            self._counted = None
        self.transport.close()


def guarded_connection(
    limits: Limits, cap: ConnectionCap | None = None
) -> type[GuardedServerConnection]:
    """A connection class for ``websockets.asyncio.server.serve(create_connection=...)``."""
    return type(
        "GuardedServerConnection",
        (GuardedServerConnection,),
        {"limits": limits, "cap": cap or ConnectionCap(limits)},
    )
