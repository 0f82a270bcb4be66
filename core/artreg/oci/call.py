"""One registry request as the transport's layers see it: what to send, what it is about, and
whether it may be sent again. Layers pass it down, each adding what it owns."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeAlias, TypeGuard

import httpx

__all__ = ["Body", "BodyFactory", "Call", "Layer"]

#: A callable that opens the same body again (so a request can be retried).
BodyFactory: TypeAlias = Callable[[], AsyncIterator[bytes]]
Body: TypeAlias = bytes | BodyFactory | AsyncIterable[bytes] | None


@dataclass(frozen=True)
class Call:
    """A request and its subject (``operation``, ``resource_type``, ``resource_name`` name it in
    errors). ``repository``/``push``/``scopes`` say which credentials and token it needs."""

    method: str
    url: httpx.URL
    operation: str
    resource_type: str
    resource_name: str
    headers: dict[str, str] = field(default_factory=dict)
    body: Body = None
    repository: str = ""
    push: bool = False
    scopes: tuple[str, ...] = ()
    #: Leave the body unread for the caller (who must ``aclose()`` the response).
    stream: bool = False
    #: The retry layer may send it again (idempotent, and the body can be reopened).
    retryable: bool = False
    #: Credentials may go with it: the URL is the registry's own origin.
    same_origin: bool = False
    follow_redirects: bool = False
    #: A large body the caller will stream: over plain HTTP it is received on a worker thread
    #: (see :mod:`artreg.oci.bulk`).
    bulk: bool = False
    #: Set by the authentication layer.
    authorization: str | None = None

    @property
    def replayable(self) -> bool:
        """The body can be sent again (absent, bytes, or a factory that reopens it)."""
        body = self.body
        return body is None or isinstance(body, bytes) or _is_factory(body)

    def content(self) -> Any:
        """The body to send this time (a factory is called for a fresh stream)."""
        body = self.body
        return body() if _is_factory(body) else body

    def authorized(self, authorization: str | None) -> Call:
        return replace(self, authorization=authorization)


def _is_factory(body: Body) -> TypeGuard[BodyFactory]:
    return callable(body) and not isinstance(body, AsyncIterable)


class Layer(Protocol):
    """One stage of the transport (ggcr's ``http.RoundTripper``): sends a call, perhaps by
    sending it to the next stage more than once."""

    async def send(self, call: Call) -> httpx.Response: ...
