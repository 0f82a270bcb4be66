"""Forwarding one request to the upstream registry, bodies streamed both ways.

The request body goes upstream chunk by chunk as the client sends it, and the answer goes back
chunk by chunk as the upstream sends it (``send`` waits while the client is slow, so a 1 GiB
blob never sits in memory). Only the request headers the distribution API needs are forwarded;
hop-by-hop response headers are dropped. When the request has no body to replay, an upstream 401
with a Bearer challenge is answered once with Docker's token flow, and a 401/403 that remains is
retried once with freshly minted credentials.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Final

import httpx

from artreg.types import ArtifactRegistryPermissions

from .routing import Route
from .upstream import CredentialCache

__all__ = ["ClientGone", "Exchange", "Forwarder", "UpstreamFailed"]

log = logging.getLogger("artreg.proxy")

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]

#: Request headers sent upstream (alien's list, plus the encodings the client accepts).
FORWARDED_REQUEST_HEADERS: Final = frozenset(
    {
        "content-type",
        "content-length",
        "content-range",
        "accept",
        "accept-encoding",
        "range",
        "if-match",
        "if-none-match",
        "if-modified-since",
        "if-unmodified-since",
    }
)
#: Response headers never copied back (RFC 9110 §7.6.1, plus what the proxy decides itself).
DROPPED_RESPONSE_HEADERS: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "www-authenticate",
        "location",
        "date",
        "server",
        "docker-distribution-api-version",
    }
)
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})


#: Bytes read ahead of the side that writes: reading one socket while writing the other keeps
#: both busy, and memory per transfer stays bounded (READ_AHEAD plus one batch in flight).
READ_AHEAD: Final = 2 << 20
#: Bytes handed on at once (see read_ahead).
BATCH: Final = 1 << 20


class UpstreamFailed(Exception):
    """The upstream could not be reached or broke off before answering."""


class ClientGone(Exception):
    """The client went away before its request body was complete."""


@dataclass(slots=True)
class Exchange:
    """An upstream answer whose body is still to be streamed (close it when done)."""

    response: httpx.Response
    url: str

    @property
    def status(self) -> int:
        return self.response.status_code

    def headers(self) -> list[tuple[str, str]]:
        return [
            (k.lower(), v)
            for k, v in self.response.headers.multi_items()
            if k.lower() not in DROPPED_RESPONSE_HEADERS
        ]

    async def _raw(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.response.aiter_raw():
                yield chunk
        except httpx.HTTPError as exc:
            raise UpstreamFailed(type(exc).__name__) from None

    def body(self) -> AsyncIterator[bytes]:
        """The response body, read ahead of the client (see read_ahead)."""
        return read_ahead(self._raw())

    async def aclose(self) -> None:
        await self.response.aclose()


def upstream_url(route: Route, raw_path: str, query: str) -> str:
    """``{endpoint}{path}?{query}``; a push path ending in ``/blobs/uploads`` gets its slash back
    (ECR refuses the slashless form)."""
    if raw_path.endswith("/blobs/uploads"):
        raw_path += "/"
    return f"{route.endpoint}{raw_path}" + (f"?{query}" if query else "")


def forwards_body(method: str, headers: Mapping[str, str]) -> bool:
    """True when the request has a body to stream upstream."""
    if method not in _BODY_METHODS:
        return False
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return True
    length = headers.get("content-length", "0").strip()
    return not length.isdigit() or int(length) > 0


async def _request_body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body"):
            return


class _Buffer:
    """Chunks between a producer task and a consumer, bounded in bytes."""

    def __init__(self, limit: int, batch: int) -> None:
        self.limit = limit
        self.batch = batch
        self.parts: list[bytes] = []
        self.size = 0
        self.done = False
        self.error: BaseException | None = None
        self.ready = asyncio.Event()  # a batch (or the end) is waiting
        self.room = asyncio.Event()  # below the limit: the producer may add
        self.room.set()

    async def put(self, chunk: bytes) -> None:
        while self.size >= self.limit:
            self.room.clear()
            await self.room.wait()
        self.parts.append(chunk)
        self.size += len(chunk)
        if self.size >= self.batch:
            self.ready.set()

    def finish(self, error: BaseException | None = None) -> None:
        self.done = True
        self.error = error
        self.ready.set()

    def take(self) -> bytes:
        parts, self.parts, self.size = self.parts, [], 0
        if not self.done:
            self.ready.clear()
        self.room.set()
        return parts[0] if len(parts) == 1 else b"".join(parts)


async def read_ahead(
    source: AsyncIterator[bytes], limit: int = READ_AHEAD, batch: int = BATCH
) -> AsyncIterator[bytes]:
    """``source``'s chunks, read by a task of their own up to ``limit`` bytes ahead of the
    consumer, and handed on joined into pieces of at least ``batch`` bytes (the last may be
    smaller): both sockets stay busy, and the receiving end gets fewer, fuller writes."""
    buffer = _Buffer(limit, batch)

    async def pump() -> None:
        try:
            async for chunk in source:
                await buffer.put(chunk)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            buffer.finish(exc)
            return
        buffer.finish()

    task = asyncio.ensure_future(pump())
    try:
        while True:
            await buffer.ready.wait()
            done, error = buffer.done, buffer.error
            data = buffer.take()
            if error is not None:
                raise error
            if data:
                yield data
            if done:
                return
    finally:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


class Forwarder:
    """Sends requests upstream through one pooled ``httpx.AsyncClient``."""

    def __init__(self, client: httpx.AsyncClient, credentials: CredentialCache) -> None:
        self.client = client
        self.credentials = credentials

    async def forward(
        self,
        route: Route,
        repository: str,
        method: str,
        url: str,
        headers: dict[str, str],
        receive: Receive,
    ) -> Exchange:
        """Send the request upstream with injected credentials and return the answer with its
        body unread. Raises UpstreamFailed, ClientGone or upstream.MintFailed."""
        permission = (
            ArtifactRegistryPermissions.PULL
            if method in ("GET", "HEAD")
            else ArtifactRegistryPermissions.PUSH_PULL
        )
        has_body = forwards_body(method, headers)
        sent = {k: v for k, v in headers.items() if k in FORWARDED_REQUEST_HEADERS}
        # httpx would otherwise ask for gzip and decode it; bytes must pass through untouched
        sent.setdefault("accept-encoding", "identity")
        if not has_body:
            sent.pop("content-length", None)
            if method in _BODY_METHODS:
                sent["content-length"] = "0"
        key = (route.endpoint, repository, permission)
        fresh = exchanged = False
        auth = await self.credentials.authorization(
            route.registry, route.endpoint, repository, permission
        )
        while True:
            response = await self._send(route, method, url, sent, auth, receive, has_body)
            if response.status_code not in (401, 403) or has_body:
                return Exchange(response, url)
            challenge = response.headers.get("www-authenticate", "")
            if response.status_code == 401 and not exchanged and "bearer" in challenge.lower():
                # Docker's token flow: trade what was sent for a bearer token, once
                exchanged = True
                token = await self.credentials.exchange(
                    self.client, key, challenge, auth, route.binding
                )
                if token is not None:
                    await response.aclose()
                    auth = token
                    continue
            if fresh:
                return Exchange(response, url)
            # the cached credentials may have been revoked: mint new ones, once
            await response.aclose()
            fresh, exchanged = True, False
            auth = await self.credentials.authorization(
                route.registry, route.endpoint, repository, permission, fresh=True
            )

    async def _send(
        self,
        route: Route,
        method: str,
        url: str,
        sent: dict[str, str],
        auth: str | None,
        receive: Receive,
        has_body: bool,
    ) -> httpx.Response:
        request_headers = dict(sent)
        if auth is not None:
            request_headers["authorization"] = auth
        content = read_ahead(_request_body(receive)) if has_body else None
        request = self.client.build_request(method, url, headers=request_headers, content=content)
        try:
            return await self.client.send(request, stream=True)
        except ClientGone:
            raise
        except httpx.HTTPError as exc:
            log.warning(
                "upstream %s for binding %r failed: %s",
                route.endpoint,
                route.binding,
                type(exc).__name__,
            )
            raise UpstreamFailed(type(exc).__name__) from None
