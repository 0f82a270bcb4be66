"""uvicorn, bounded: the HTTP server every artreg HTTP listener runs on.

uvicorn's own knobs do not cover what a hostile client can do: with httptools (the parser
``uvicorn[standard]`` installs, and the one used here) there is no limit on the request line or
headers (``h11_max_incomplete_event_size`` applies to h11 only), ``timeout_keep_alive`` only
starts after a first response (a connection that never finishes its headers is held forever),
and ``limit_concurrency`` counts connections of every client together. The protocol class
built here adds, per connection:

- a cap on open connections, in all and per client address (503, closed);
- a limit on the bytes of each request's line and headers (431, closed) — counted as they
  arrive, so a 256 MiB header is refused after the first ``max_header_bytes``;
- a header-read timeout from the connection or a request's first byte to the end of its
  headers (408, closed); idle keep-alive connections close after ``keepalive_timeout``;
- a body that stops arriving (no byte for ``body_idle_timeout`` while the server is ready to read)
  closes the connection (the application sees the client disconnect).

:func:`uvicorn_config` wires it with :class:`~.asgi.ListenerGuard` (client address and
Host/Origin rules), turns off uvicorn's own ``X-Forwarded-For`` handling (it trusts loopback
by default) and WebSocket upgrades.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .asgi import ASGIApp, ListenerGuard
from .forwarded import ForwardedAllow
from .hosts import HostRules
from .limits import ConnectionCap, Limits
from .logs import escape

__all__ = ["guarded_protocol", "uvicorn_config"]

log = logging.getLogger("artreg.serving")

_REASONS = {
    408: b"Request Timeout",
    431: b"Request Header Fields Too Large",
    503: b"Service Unavailable",
}


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with connection caps, a header size limit and a header
    timeout. Subclasses made by :func:`guarded_protocol` set ``limits`` and ``cap``."""

    limits: ClassVar[Limits]
    cap: ClassVar[ConnectionCap]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._peer: str | None = None
        self._awaiting_headers = True
        self._header_bytes = 0
        self._header_timer: asyncio.TimerHandle | None = None
        self._refused = False
        self._body_timer: asyncio.TimerHandle | None = None

    # -- connection ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        peer = self.client[0] if self.client else "-"
        refusal = self.cap.acquire(peer)
        if refusal is not None:
            log.warning("refused a connection from %s: %s", escape(peer), refusal)
            self._refuse(503, refusal)
            return
        self._peer = peer
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        self._cancel_body_timer()
        if self._peer is not None:
            self.cap.release(self._peer)
            self._peer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused or self.transport.is_closing():
            return
        if self._awaiting_headers:
            self._header_bytes += len(data)
            if self._header_timer is None:
                self._arm_header_timer()
        elif self._body_timer is not None:
            self._arm_body_timer()  # a byte arrived: the body is moving
        super().data_received(data)
        if (
            self._awaiting_headers
            and self._header_bytes > self.limits.max_header_bytes
            and not self.transport.is_closing()
        ):
            self._refuse(431, f"request headers exceed {self.limits.max_header_bytes} bytes")

    # -- parser callbacks ----------------------------------------------------------------

    def on_message_begin(self) -> None:
        if not self._refused:
            super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        if not self._refused:
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._refused:
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        self._awaiting_headers = False
        self._header_bytes = 0
        self._cancel_header_timer()
        # exact size (the streaming count above may see a whole request in one read)
        size = len(self.url) + sum(len(n) + len(v) + 4 for n, v in self.headers)
        if size > self.limits.max_header_bytes:
            self._refuse(431, f"request headers exceed {self.limits.max_header_bytes} bytes")
            return
        super().on_headers_complete()
        self._arm_body_timer()  # cancelled at the message's end (at once for a bodiless GET)

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._cancel_body_timer()
        super().on_message_complete()
        self._awaiting_headers = True  # what comes next is the next request's headers

    # -- helpers -------------------------------------------------------------------------

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.limits.header_timeout, self._header_timeout)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _arm_body_timer(self) -> None:
        self._cancel_body_timer()
        self._body_timer = self.loop.call_later(self.limits.body_idle_timeout, self._body_timeout)

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _body_timeout(self) -> None:
        self._body_timer = None
        if self.transport.is_closing() or self._awaiting_headers:
            return
        waiting_for_us = (self.flow is not None and self.flow.read_paused) or (
            self.cycle is not None and self.cycle.waiting_for_100_continue  # no "100 Continue" yet
        )
        if waiting_for_us:
            self._arm_body_timer()  # the app has not asked for the body: not the client's fault
            return
        log.warning(
            "closing a connection from %s: its request body stalled", escape(self._peer or "-")
        )
        self.transport.close()

    def _header_timeout(self) -> None:
        self._header_timer = None
        if self._awaiting_headers and not self.transport.is_closing():
            if self._header_bytes:
                self._refuse(408, "request headers not received in time")
            else:
                self.transport.close()  # nothing was asked: just hang up

    def _refuse(self, status: int, message: str) -> None:
        self._refused = True
        self._cancel_header_timer()
        body = message.encode() + b"\n"
        head = b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"Error"))
        self.transport.write(
            head
            + b"content-type: text/plain; charset=utf-8\r\n"
            + b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body)
            + body
        )
        self.transport.close()


def guarded_protocol(limits: Limits, cap: ConnectionCap | None = None) -> type[HttpToolsProtocol]:
    """A protocol class for ``uvicorn.Config(http=...)`` enforcing ``limits``."""
    return type(
        "GuardedHttpToolsProtocol",
        (GuardedHttpToolsProtocol,),
        {"limits": limits, "cap": cap or ConnectionCap(limits)},
    )


def uvicorn_config(
    app: ASGIApp,
    *,
    rules: HostRules,
    limits: Limits | None = None,
    forwarded: ForwardedAllow | None = None,
    **extra: Any,
) -> uvicorn.Config:
    """A ``uvicorn.Config`` serving ``app`` behind the listener guard with ``limits``.
    ``extra`` passes other uvicorn settings (TLS files, the event loop)."""
    limits = limits or Limits()
    settings: dict[str, Any] = {
        "lifespan": "on",
        "access_log": False,  # artreg's apps log one line per request themselves
        "log_config": None,
        "server_header": False,
        "date_header": True,
        **extra,
    }
    return uvicorn.Config(
        ListenerGuard(app, rules, forwarded),
        http=guarded_protocol(limits),
        ws="none",
        proxy_headers=False,  # the guard reads X-Forwarded-For, from allowed proxies only
        timeout_keep_alive=int(limits.keepalive_timeout),
        h11_max_incomplete_event_size=limits.max_header_bytes,
        **settings,
    )
