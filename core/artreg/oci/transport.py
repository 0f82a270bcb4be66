"""One registry's HTTP transport, layered the way go-containerregistry stacks its round-trippers:

    Transport.request → AuthLayer (challenge → token; oci/authenticate.py)
                      → RetryLayer (backoff, Retry-After; oci/retry.py)
                      → _HttpLayer (httpx, streaming; large plain-HTTP bodies on a thread,
                                    oci/bulk.py)

Token requests go through a retry layer of their own, without authentication."""

from __future__ import annotations

import asyncio
import functools
import os
import ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, Final, TypedDict
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from artreg.errors import ClientConfigInvalid, InvalidInput
from artreg.hosts import is_loopback
from artreg.oci.auth import Auth, CredentialsProvider
from artreg.oci.authenticate import AuthLayer
from artreg.oci.bulk import send as send_bulk
from artreg.oci.call import Body, BodyFactory, Call
from artreg.oci.errors import error_for, error_for_stream
from artreg.oci.retry import RetryLayer, RetryPolicy

__all__ = [
    "Body",
    "BodyFactory",
    "Subject",
    "Transport",
    "base_url_for",
    "error_for",
    "error_for_stream",
    "trusted_ssl_context",
]

#: httpcore reads HTTP/1.1 bodies 64 KiB at a time, which caps a download near 150 MB/s in
#: Python; 1 MiB reads reach several hundred MB/s. Reads return at most this much, so raising it
#: changes nothing else (it is a class attribute: other httpx users in the process share it).
_READ_SIZE: Final = 1024 * 1024
if getattr(httpcore.AsyncHTTP11Connection, "READ_NUM_BYTES", _READ_SIZE) < _READ_SIZE:
    httpcore.AsyncHTTP11Connection.READ_NUM_BYTES = _READ_SIZE

_IDEMPOTENT: Final = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
USER_AGENT: Final = "artreg/0.1 (python-httpx)"


def trusted_ssl_context() -> ssl.SSLContext:
    """What HTTPS registries are verified against: the CA file ``SSL_CERT_FILE`` names (or the
    directory ``SSL_CERT_DIR`` names), else certifi's bundle, the way skopeo and crane trust a
    registry with a certificate of its own. One context per setting, shared by every client.
    A setting that cannot be loaded raises :class:`~artreg.errors.ClientConfigInvalid`."""
    cafile = os.environ.get("SSL_CERT_FILE") or ""
    capath = "" if cafile else os.environ.get("SSL_CERT_DIR") or ""
    try:
        return _ssl_context(cafile, capath)
    except (OSError, ssl.SSLError) as exc:
        variable, value = ("SSL_CERT_FILE", cafile) if cafile else ("SSL_CERT_DIR", capath)
        raise ClientConfigInvalid(
            platform="tls",
            message=f"{variable} names {value!r}, which cannot be loaded as CA certificates: "
            f"{exc.strerror or exc}",
        ) from None


@functools.lru_cache(maxsize=4)
def _ssl_context(cafile: str, capath: str) -> ssl.SSLContext:
    del cafile, capath  # the cache key: httpx reads the same variables
    return httpx.create_ssl_context(trust_env=True)


def _verify_for(base_url: str, insecure: bool) -> ssl.SSLContext | bool:
    """The client's ``verify``: the environment's CA settings (its proxies and .netrc stay
    ignored). For a registry spoken to over plain HTTP, CA settings that cannot be loaded do not
    stop the work: only HTTPS redirects (public object stores) would need them, and httpx's
    default bundle verifies those."""
    if insecure:
        return False
    try:
        return trusted_ssl_context()
    except ClientConfigInvalid:
        if base_url.startswith("https://"):
            raise
        return True


def base_url_for(host: str, *, insecure: bool = False) -> str:
    """``https://host`` — or ``http://host`` for loopback, for ``insecure``, or when ``host``
    already says ``http://``. A URL's path, query and trailing slash are dropped."""
    if "://" in host:
        parts = urlsplit(host)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidInput(
                operation_context="Configure registry client",
                details=f"registry URL must be http:// or https://, got scheme {parts.scheme!r}",
                field_name="host",
            )
        return f"{parts.scheme}://{parts.netloc}"
    host = host.rstrip("/")
    if not host or "/" in host:
        raise InvalidInput(
            operation_context="Configure registry client",
            details=f"invalid registry host {host!r}",
            field_name="host",
        )
    scheme = "http" if insecure or is_loopback(host) else "https"
    return f"{scheme}://{host}"


class Transport:
    """Requests to one registry, authenticated and retried. Owns its httpx client unless given one."""

    def __init__(
        self,
        host: str,
        *,
        credentials: Auth | CredentialsProvider | None = None,
        insecure: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        max_connections: int = 32,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.base_url = base_url_for(host, insecure=insecure)
        self.registry = urlsplit(self.base_url).netloc
        base = httpx.URL(self.base_url)
        self._origin = (base.scheme, base.netloc.lower())
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self._http = httpx.AsyncClient(
            transport=transport,
            verify=_verify_for(self.base_url, insecure),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            headers={"User-Agent": USER_AGENT},
            trust_env=False,
        )
        # a transport given by the caller carries every request (tests, an embedding proxy)
        http = _HttpLayer(self._http, bulk=transport is None)
        self._auth = AuthLayer(
            RetryLayer(http, self.retry, self._sleep),
            RetryLayer(http, self.retry, self._sleep),
            base_url=self.base_url,
            credentials=credentials,
        )

    async def _sleep(self, seconds: float) -> None:
        await self.sleep(seconds)  # looked up per call: tests replace ``sleep`` on the instance

    async def aclose(self) -> None:
        await self._http.aclose()

    def __repr__(self) -> str:
        return f"Transport({self.base_url!r})"

    def forget_tokens(self) -> None:
        """Drop every cached bearer token (the next request fetches fresh ones)."""
        self._auth.forget_tokens()

    def url(self, path_or_url: str) -> str:
        """An absolute URL: paths resolve against the base URL (Location headers may be either)."""
        return urljoin(self.base_url + "/", path_or_url)

    async def request(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        resource_type: str,
        resource_name: str,
        repository: str = "",
        push: bool = False,
        scopes: Iterable[str] | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        body: Body = None,
        stream: bool = False,
        idempotent: bool | None = None,
        follow_redirects: bool = False,
        bulk: bool = False,
    ) -> httpx.Response:
        """Send a request; return the response whatever its status, except that retryable
        statuses and transport errors that outlast the retry policy raise typed errors.
        With ``stream=True`` the caller must ``aclose()`` the response; ``bulk=True`` says its
        body is large (many MiB), so over plain HTTP it is received on a worker thread."""
        target = httpx.URL(self.url(url))
        if params:
            # httpx replaces a URL's query with ``params``: merge so a Location's state survives.
            target = target.copy_merge_params(dict(params))
        if scopes is None:
            scopes = (
                (f"repository:{repository}:{'pull,push' if push else 'pull'}",)
                if repository
                else ()
            )
        call = Call(
            method,
            target,
            operation=operation,
            resource_type=resource_type,
            resource_name=resource_name,
            headers=dict(headers or {}),
            body=body,
            repository=repository,
            push=push,
            scopes=tuple(scopes),
            stream=stream,
            follow_redirects=follow_redirects,
            bulk=bulk and stream and method == "GET",
            # Credentials go only to the registry itself, never to another host a Location names.
            same_origin=(target.scheme, target.netloc.lower()) == self._origin,
        )
        idempotent = method in _IDEMPOTENT if idempotent is None else idempotent
        return await self._auth.send(replace(call, retryable=idempotent and call.replayable))


class _HttpLayer:
    """The bottom layer: one HTTP exchange through the shared httpx client, body streamed; with
    ``bulk``, a large plain-HTTP body on a connection and thread of its own (oci/bulk.py)."""

    def __init__(self, http: httpx.AsyncClient, *, bulk: bool) -> None:
        self._http = http
        self._bulk = bulk

    async def send(self, call: Call) -> httpx.Response:
        headers = call.headers
        if call.authorization:
            headers = {**headers, "Authorization": call.authorization}
        request = self._http.build_request(
            call.method, call.url, headers=headers, content=call.content()
        )
        if self._bulk and call.bulk and request.url.scheme == "http":
            response = await send_bulk(request, timeouts=self._http.timeout)
            if not (call.follow_redirects and response.has_redirect_location):
                return response
            await response.aclose()  # httpx follows the redirect (and drops credentials)
        return await self._http.send(request, stream=True, follow_redirects=call.follow_redirects)


class Subject(TypedDict):
    """What a request is about, named alike to :meth:`Transport.request` and :func:`error_for`
    (pass it as ``**subject``)."""

    operation: str
    resource_type: str
    resource_name: str
