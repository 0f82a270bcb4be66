"""The ASGI layer every artreg HTTP listener wraps its application in.

For each HTTP request, before the application sees it: the client address is settled
(``X-Forwarded-For`` only from trusted proxies, see :mod:`.forwarded`), then the Host/Origin
rules (:mod:`.hosts`) are applied — a refused request gets a 403 with an OCI error body
(``DENIED``) and its connection is closed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any, Final, Protocol

from .forwarded import ForwardedAllow
from .hosts import HostRules
from .logs import escape

__all__ = [
    "DISTRIBUTION_HEADERS",
    "ASGIApp",
    "ListenerGuard",
    "ResponseState",
    "oci_error_body",
    "respond",
    "respond_json",
    "start_response",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("artreg.serving")

#: Sent with every response of a distribution-API listener (the registry and the proxy).
DISTRIBUTION_HEADERS: Final = (("docker-distribution-api-version", "registry/2.0"),)


class ResponseState(Protocol):
    """What the response writers need of a request: its method, and the status and byte count
    they record (``status`` stays 0 until the response has started)."""

    method: str
    status: int
    sent: int

    @property
    def send(self) -> Send: ...


async def start_response(
    req: ResponseState, status: int, headers: Sequence[tuple[str, str]]
) -> None:
    """Send the response head: ``headers`` after :data:`DISTRIBUTION_HEADERS`."""
    req.status = status
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in [*DISTRIBUTION_HEADERS, *headers]]
    await req.send({"type": "http.response.start", "status": status, "headers": raw})


async def respond(
    req: ResponseState,
    status: int,
    headers: Sequence[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> None:
    """A whole response: ``Content-Length`` added unless given, no body for HEAD."""
    hdrs = list(headers or [])
    if not any(k == "content-length" for k, _ in hdrs):
        hdrs.append(("content-length", str(len(body))))
    await start_response(req, status, hdrs)
    payload = b"" if req.method == "HEAD" else body
    req.sent += len(payload)
    await req.send({"type": "http.response.body", "body": payload})


async def respond_json(
    req: ResponseState,
    status: int,
    doc: Any,
    headers: Sequence[tuple[str, str]] | None = None,
    content_type: str = "application/json",
) -> None:
    """``doc`` as a compact JSON response."""
    body = json.dumps(doc, separators=(",", ":")).encode()
    await respond(req, status, [("content-type", content_type), *(headers or [])], body)


def oci_error_body(code: str, message: str) -> bytes:
    """A distribution-spec error document with one entry."""
    return json.dumps({"errors": [{"code": code, "message": message, "detail": {}}]}).encode()


class ListenerGuard:
    """Wraps an ASGI app with the client-address and Host/Origin rules."""

    def __init__(
        self, app: ASGIApp, rules: HostRules, forwarded: ForwardedAllow | None = None
    ) -> None:
        self.app = app
        self.rules = rules
        self.forwarded = forwarded or ForwardedAllow()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host: str | None = None
        origin: str | None = None
        forwarded_for: list[str] = []
        for raw_name, raw_value in scope.get("headers", []):
            name = raw_name.decode("latin-1").lower()
            if name == "host":
                host = raw_value.decode("latin-1")
            elif name == "origin":
                origin = raw_value.decode("latin-1")
            elif name == "x-forwarded-for":
                forwarded_for.append(raw_value.decode("latin-1"))
        client = scope.get("client")
        if client and self.forwarded.enabled:
            address = self.forwarded.client(client[0], forwarded_for)
            if address != client[0]:
                scope["client"] = (address, 0)
        reason = self.rules.refusal(scope["method"], host, origin)
        if reason is None:
            await self.app(scope, receive, send)
            return
        peer = scope.get("client")
        log.warning(
            "refused %s %s from %s: %s (Host %s, Origin %s)",
            escape(scope["method"]),
            escape(scope.get("path", "")),
            escape(peer[0] if peer else "-"),
            reason,
            escape(host if host is not None else "-"),
            escape(origin if origin is not None else "-"),
        )
        body = oci_error_body("DENIED", reason)
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
