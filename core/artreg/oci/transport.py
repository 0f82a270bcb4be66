"""One registry's HTTP transport: base URL, authentication (challenge → token → retry; a 401
refreshes provider credentials once), and retries with backoff for idempotent requests."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping
from typing import Any, Final, TypeAlias, TypedDict
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from artreg.errors import AuthenticationError, InvalidInput
from artreg.oci.auth import (
    Anonymous,
    Auth,
    Basic,
    BearerToken,
    Challenge,
    CredentialCache,
    CredentialsProvider,
    TokenCache,
    parse_challenges,
)
from artreg.oci.errors import RegistryStatusError, connection_error, status_error
from artreg.oci.reference import is_loopback_host
from artreg.oci.retry import RetryPolicy, parse_retry_after
from artreg.types import ArtifactRegistryPermissions

__all__ = ["Body", "BodyFactory", "Subject", "Transport", "base_url_for"]

log = logging.getLogger("artreg.oci")

#: A callable that opens the same body again (so a request can be retried).
BodyFactory: TypeAlias = Callable[[], AsyncIterator[bytes]]
Body: TypeAlias = bytes | BodyFactory | AsyncIterable[bytes] | None

#: httpcore reads HTTP/1.1 bodies 64 KiB at a time, which caps a download near 150 MB/s in
#: Python; 1 MiB reads reach several hundred MB/s. Reads return at most this much, so raising it
#: changes nothing else (it is a class attribute: other httpx users in the process share it).
_READ_SIZE: Final = 1024 * 1024
if getattr(httpcore.AsyncHTTP11Connection, "READ_NUM_BYTES", _READ_SIZE) < _READ_SIZE:
    httpcore.AsyncHTTP11Connection.READ_NUM_BYTES = _READ_SIZE

_IDEMPOTENT: Final = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
USER_AGENT: Final = "artreg/0.1 (python-httpx)"


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
    scheme = "http" if insecure or is_loopback_host(host) else "https"
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
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.base_url = base_url_for(host, insecure=insecure)
        self.registry = urlsplit(self.base_url).netloc
        base = httpx.URL(self.base_url)
        self._origin = (base.scheme, base.netloc.lower())
        self.retry = retry or RetryPolicy()
        self._static: Auth | None
        self._creds: CredentialCache | None
        if credentials is None or isinstance(credentials, (Anonymous, Basic, BearerToken)):
            self._static = credentials or Anonymous()
            self._creds = None
        else:
            self._static = None
            self._creds = CredentialCache(credentials)
        self._tokens = TokenCache()
        self._challenge: Challenge | None = None
        self._token_locks: dict[str, asyncio.Lock] = {}
        self.sleep = sleep
        self._http = httpx.AsyncClient(
            transport=transport,
            verify=not insecure,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            headers={"User-Agent": USER_AGENT},
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def __repr__(self) -> str:
        return f"Transport({self.base_url!r})"

    def forget_tokens(self) -> None:
        """Drop every cached bearer token (the next request fetches fresh ones)."""
        self._tokens = TokenCache()

    def url(self, path_or_url: str) -> str:
        """An absolute URL: paths resolve against the base URL (Location headers may be either)."""
        return urljoin(self.base_url + "/", path_or_url)

    # -- auth ------------------------------------------------------------------------------------

    async def _credentials(self, repository: str, push: bool) -> Auth:
        if self._creds is None:
            assert self._static is not None
            return self._static
        perms = ArtifactRegistryPermissions.PUSH_PULL if push else ArtifactRegistryPermissions.PULL
        return await self._creds.get(repository, perms)

    def _invalidate_credentials(self, repository: str, push: bool) -> bool:
        if self._creds is None:
            return False
        perms = ArtifactRegistryPermissions.PUSH_PULL if push else ArtifactRegistryPermissions.PULL
        self._creds.invalidate(repository, perms)
        return True

    async def _authorization(
        self,
        repository: str,
        push: bool,
        scopes: tuple[str, ...],
        operation: str,
        hint_scope: str | None = None,
    ) -> str | None:
        auth = await self._credentials(repository, push)
        if isinstance(auth, BearerToken):
            return auth.header()
        challenge = self._challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            return auth.header() if isinstance(auth, Basic) else None
        if challenge.scheme != "bearer" or not challenge.realm:
            return None
        key = " ".join(scopes)
        token = self._tokens.get(self.registry, key)
        if token is None:
            lock = self._token_locks.setdefault(key, asyncio.Lock())
            async with lock:
                token = self._tokens.get(self.registry, key)
                if token is None:
                    token = await self._fetch_token(challenge, scopes, auth, operation, hint_scope)
        return f"Bearer {token}"

    async def _fetch_token(
        self,
        challenge: Challenge,
        scopes: tuple[str, ...],
        auth: Auth,
        operation: str,
        extra: str | None,
    ) -> str:
        wanted = list(scopes)
        if extra:
            wanted += [s for s in extra.split(" ") if s and s not in wanted]
        params: list[tuple[str, str | int | float | bool | None]] = []
        if challenge.params.get("service"):
            params.append(("service", challenge.params["service"]))
        params += [("scope", s) for s in wanted]
        headers = {"Authorization": auth.header()} if isinstance(auth, Basic) else {}
        realm = challenge.realm
        realm_parts = urlsplit(realm)
        if realm_parts.scheme not in ("http", "https") or not realm_parts.netloc:
            # A registry that only accepts a static bearer token (no token service) names a
            # plain realm; there is nothing to fetch, the caller must bring the token.
            raise AuthenticationError(
                operation_context=operation,
                details=f"the registry wants a bearer token and names no token endpoint (realm {realm!r})",
                hint="configure a bearer token for this registry",
            )
        if (
            realm_parts.scheme == "http"
            and not is_loopback_host(realm_parts.netloc)
            and not self.base_url.startswith("http://")
        ):
            raise AuthenticationError(
                operation_context=operation,
                details="refusing a plain-HTTP token realm for an HTTPS registry",
            )
        response: httpx.Response | None = None
        for attempt in range(1, self.retry.max_attempts + 1):
            try:
                response = await self._http.get(
                    realm, params=httpx.QueryParams(params), headers=headers
                )
            except httpx.TransportError as exc:
                if attempt >= self.retry.max_attempts:
                    raise connection_error(exc, operation=f"{operation} (token request)") from None
                await self.sleep(self.retry.backoff(attempt))
                continue
            if response.status_code in self.retry.statuses and attempt < self.retry.max_attempts:
                await self.sleep(
                    self.retry.backoff(
                        attempt, parse_retry_after(response.headers.get("retry-after"))
                    )
                )
                continue
            break
        assert response is not None
        if response.status_code != 200:
            raise AuthenticationError(
                operation_context=operation,
                details=f"token endpoint answered {response.status_code}",
            ) from RegistryStatusError(
                response.status_code, (), "GET", urlsplit(realm).path, "token request refused"
            )
        try:
            data = json.loads(response.content)
            token = data.get("token") or data.get("access_token")
            expires_in = float(data.get("expires_in") or 60)
        except (ValueError, AttributeError, TypeError):
            token = None
            expires_in = 60.0
        if not isinstance(token, str) or not token:
            raise AuthenticationError(
                operation_context=operation, details="token endpoint returned no token"
            )
        self._tokens.put(self.registry, " ".join(scopes), token, expires_in)
        return token

    # -- requests --------------------------------------------------------------------------------

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
    ) -> httpx.Response:
        """Send a request; return the response whatever its status, except that retryable
        statuses and transport errors that outlast the retry policy raise typed errors.
        With ``stream=True`` the caller must ``aclose()`` the response."""
        if scopes is None:
            scopes = (
                (f"repository:{repository}:{'pull,push' if push else 'pull'}",)
                if repository
                else ()
            )
        scope_tuple = tuple(scopes)
        replayable = (
            body is None
            or isinstance(body, bytes)
            or (callable(body) and not isinstance(body, AsyncIterable))
        )
        retryable = (method in _IDEMPOTENT if idempotent is None else idempotent) and replayable
        policy = self.retry
        started = time.monotonic()
        attempt = 0
        auth_rounds = 0
        hint_scope: str | None = None
        refreshed = False
        learned = False
        absolute: str | httpx.URL = self.url(url)
        if params:
            # httpx replaces a URL's query with ``params``: merge so a Location's state survives.
            absolute = httpx.URL(absolute).copy_merge_params(dict(params))
        # Credentials go only to the registry itself, never to another host a Location names.
        target = httpx.URL(absolute)
        same_origin = (target.scheme, target.netloc.lower()) == self._origin
        while True:
            attempt += 1
            request_headers = dict(headers or {})
            authorization: str | None = None
            if same_origin:
                try:
                    authorization = await self._authorization(
                        repository, push, scope_tuple, operation, hint_scope
                    )
                except AuthenticationError:
                    # The token endpoint refused provider credentials: they may have expired.
                    if refreshed or not self._invalidate_credentials(repository, push):
                        raise
                    refreshed = True
                    authorization = await self._authorization(
                        repository, push, scope_tuple, operation, hint_scope
                    )
            if authorization:
                request_headers["Authorization"] = authorization
            content: Any
            if body is None or isinstance(body, bytes):
                content = body
            elif callable(body) and not isinstance(body, AsyncIterable):
                content = body()
            else:
                content = body
            request = self._http.build_request(
                method,
                absolute,
                headers=request_headers,
                content=content,
            )
            try:
                response = await self._http.send(
                    request, stream=True, follow_redirects=follow_redirects
                )
            except httpx.TransportError as exc:
                delay = policy.backoff(attempt)
                if (
                    retryable
                    and attempt < policy.max_attempts
                    and time.monotonic() - started + delay <= policy.total_seconds
                ):
                    log.debug("%s: %s, retrying in %.2fs", operation, type(exc).__name__, delay)
                    await self.sleep(delay)
                    continue
                raise connection_error(exc, operation=operation) from None
            status = response.status_code
            if status == 401 and replayable and same_origin and auth_rounds < 3:
                challenges = parse_challenges(response.headers.get("www-authenticate", ""))
                chosen = next((c for c in challenges if c.scheme == "bearer"), None) or next(
                    (c for c in challenges if c.scheme == "basic"), None
                )
                self._tokens.invalidate(self.registry, " ".join(scope_tuple))
                retry_auth = False
                if (
                    chosen is not None
                    and not learned
                    and (authorization is None or not _same(chosen, self._challenge))
                ):
                    learned = True
                    # First contact, or the registry moved: now we know how to authenticate.
                    self._challenge = Challenge(
                        chosen.scheme, {k: v for k, v in chosen.params.items() if k != "scope"}
                    )
                    retry_auth = True
                elif authorization is not None and not refreshed:
                    # Credentials were presented and refused: a token or provider credentials
                    # may have expired; get fresh ones once.
                    self._invalidate_credentials(repository, push)
                    refreshed = True
                    retry_auth = True
                if retry_auth:
                    # A scope the registry asked for in this challenge is requested too.
                    hint_scope = chosen.params.get("scope") if chosen is not None else None
                    auth_rounds += 1
                    attempt -= 1
                    await response.aclose()
                    continue
            if status in policy.statuses:
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                delay = policy.backoff(attempt, retry_after)
                if (
                    retryable
                    and attempt < policy.max_attempts
                    and time.monotonic() - started + delay <= policy.total_seconds
                ):
                    await response.aclose()
                    log.debug(
                        "%s: registry answered %s, retrying in %.2fs", operation, status, delay
                    )
                    await self.sleep(delay)
                    continue
                body_bytes = await _read_limited(response)
                raise status_error(
                    response,
                    body_bytes,
                    operation=operation,
                    resource_type=resource_type,
                    resource_name=resource_name,
                )
            if not stream:
                try:
                    await response.aread()
                except httpx.TransportError as exc:
                    await response.aclose()
                    delay = policy.backoff(attempt)
                    if (
                        retryable
                        and attempt < policy.max_attempts
                        and time.monotonic() - started + delay <= policy.total_seconds
                    ):
                        await self.sleep(delay)
                        continue
                    raise connection_error(exc, operation=operation) from None
            return response


def _same(a: Challenge, b: Challenge | None) -> bool:
    return b is not None and (a.scheme, a.realm, a.params.get("service")) == (
        b.scheme,
        b.realm,
        b.params.get("service"),
    )


async def _read_limited(response: httpx.Response, limit: int = 64 * 1024) -> bytes:
    """At most ``limit`` bytes of an error body; the response is closed."""
    data = bytearray()
    try:
        async for chunk in response.aiter_bytes():
            data += chunk
            if len(data) >= limit:
                break
    except httpx.HTTPError:
        pass
    finally:
        await response.aclose()
    return bytes(data[:limit])


class Subject(TypedDict):
    """What a request is about, named alike to :meth:`Transport.request` and :func:`error_for`
    (pass it as ``**subject``)."""

    operation: str
    resource_type: str
    resource_name: str


def error_for(
    response: httpx.Response, *, operation: str, resource_type: str, resource_name: str
) -> Exception:
    """The typed error for a fully read (non-streamed) response."""
    body = response.content if response.is_closed else b""
    return status_error(
        response,
        body,
        operation=operation,
        resource_type=resource_type,
        resource_name=resource_name,
    )


async def error_for_stream(
    response: httpx.Response, *, operation: str, resource_type: str, resource_name: str
) -> Exception:
    """The typed error for a streamed response (reads a bounded part of its body, closes it)."""
    body = await _read_limited(response)
    return status_error(
        response,
        body,
        operation=operation,
        resource_type=resource_type,
        resource_name=resource_name,
    )
