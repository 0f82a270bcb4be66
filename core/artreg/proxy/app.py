"""The proxy as a raw ASGI application.

Routes: ``/healthz``; ``/v2/`` (version check, authenticated); ``/v2/token`` (the token
endpoint, GET with Basic auth or POST form); ``/v2/_catalog``; ``/v2/{repo}/…`` forwarded to the
binding that owns ``repo``; ``/artifacts-uploads/…`` (GAR's upload sessions, signed). One
access-log line per request on the ``artreg.proxy.access`` logger.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qs, parse_qsl, quote, urlencode

import httpx

from artreg.errors import ArtregError
from artreg.localregistry.apierrors import RegistryHTTPError
from artreg.serving.asgi import respond, respond_json, start_response
from artreg.serving.limits import Limits
from artreg.serving.logs import escape
from artreg.serving.ratelimit import TooManyAttempts

from .auth import SERVICE, Caller, ClientAuth
from .catalog import merged_catalog
from .forward import (
    ClientGone,
    Exchange,
    Forwarder,
    UpstreamFailed,
    forwards_body,
    upstream_url,
)
from .location import (
    SessionSignatureError,
    UploadSigner,
    is_upload_session,
    proxy_base,
    rewrite_location,
    split_signature,
)
from .routing import Route, RoutingTable, parse_path
from .tokens import parse_scopes
from .upstream import CredentialCache, MintFailed
from .users import Action

__all__ = ["ProxyApp"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[str, str]]

log = logging.getLogger("artreg.proxy")
access_log = logging.getLogger("artreg.proxy.access")

TOKEN_PATH: Final = "/v2/token"
#: A token request's form body is small; anything bigger is refused.
MAX_FORM: Final = 64 * 1024
#: Blob download URLs are asked for with this lifetime (ECR decides its own).
DOWNLOAD_URL_TTL: Final = 600
_SIGNED_METHODS: Final = frozenset({"GET", "PUT", "PATCH", "DELETE"})
#: The upstream pool: at most as many connections as an artreg listener serves from one client
#: address (more would be refused with 503 by an embedded registry upstream); requests beyond
#: wait for a free connection (the pool timeout).
UPSTREAM_POOL: Final = httpx.Limits(
    max_connections=Limits().max_connections_per_address, max_keepalive_connections=64
)


@dataclass(slots=True)
class _Request:
    method: str
    path: str
    raw_path: str
    query: str
    headers: dict[str, str]
    receive: Receive
    send: Send
    scheme: str
    client: str | None
    base: str = ""
    user: str = "-"
    repository: str = "-"
    status: int = 0
    upstream_status: int | None = None
    sent: int = 0
    #: True once the request body has been read to its end (or there was none).
    body_read: bool = False

    async def read(self) -> Message:
        """The next request message, noting when the body is complete."""
        message = await self.receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            self.body_read = True
        return message


class ProxyApp:
    """The ASGI callable; :func:`artreg.proxy.build_app` builds it from a configuration."""

    def __init__(
        self,
        routes: RoutingTable,
        auth: ClientAuth,
        signer: UploadSigner,
        *,
        redirect_blobs: bool = False,
        public_url: str | None = None,
        client: Callable[[], httpx.AsyncClient] | None = None,
        credentials: CredentialCache | None = None,
    ) -> None:
        self.routes = routes
        self.auth = auth
        self.signer = signer
        self.redirect_blobs = redirect_blobs
        self.public_url = public_url.rstrip("/") if public_url else None
        self.credentials = credentials or CredentialCache()
        self._client_factory = client or default_client
        self._forwarder: Forwarder | None = None

    # -- ASGI entry ------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers: dict[str, str] = {}
        for k, v in scope.get("headers", []):
            name = k.decode("latin-1").lower()
            value = v.decode("latin-1")
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        client = scope.get("client")
        raw_path = scope.get("raw_path") or scope["path"].encode()
        req = _Request(
            method=scope["method"],
            path=scope["path"],
            raw_path=raw_path.decode("latin-1"),
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            receive=receive,
            send=send,
            scheme=scope.get("scheme", "http"),
            client=client[0] if client else None,
        )
        server = scope.get("server")
        fallback = f"{server[0]}:{server[1]}" if server else "localhost"
        req.base = self.public_url or proxy_base(headers, req.scheme, fallback)
        started = time.perf_counter()
        try:
            await self._dispatch(req)
        except RegistryHTTPError as exc:
            await self._error(req, exc)
        except ClientGone:
            req.status = 499  # nginx's "client closed request", whether or not a reply began
        except UpstreamFailed as exc:
            # The upstream broke off mid-body: the reply has begun, so the client can only be
            # told by a truncated body (the server closes the unfinished response).
            log.warning("upstream broke off %s %s: %s", req.method, escape(req.path), exc)
        except Exception:
            log.exception("internal error handling %s %s", req.method, escape(req.path))
            if req.status:
                raise  # mid-response: let the server abort the connection
            await self._error(req, RegistryHTTPError("UNKNOWN", "internal error", status=500))
        finally:
            access_log.info(
                '%s user=%s "%s %s" repo=%s status=%d upstream=%s bytes=%d %.1fms',
                req.client or "-",
                escape(req.user),
                req.method,
                escape(req.path),
                escape(req.repository),
                req.status,
                req.upstream_status if req.upstream_status is not None else "-",
                req.sent,
                (time.perf_counter() - started) * 1000,
            )

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self._warm_up()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _warm_up(self) -> None:
        """Pay before the first request what it would otherwise wait for: the upstream pool
        with its TLS context, and the import of anyio's asyncio backend (httpcore's), which
        takes a few hundred milliseconds on a cold interpreter."""
        import anyio.lowlevel

        _ = self.forwarder
        await anyio.lowlevel.checkpoint()

    @property
    def forwarder(self) -> Forwarder:
        # Created on first use: the client must belong to the serving event loop.
        if self._forwarder is None:
            self._forwarder = Forwarder(self._client_factory(), self.credentials)
        return self._forwarder

    async def aclose(self) -> None:
        """Close the upstream connection pool and the bindings' clients."""
        if self._forwarder is not None:
            await self._forwarder.client.aclose()
            self._forwarder = None
        for registry in {id(r.registry): r.registry for r in self.routes}.values():
            try:
                await registry.aclose()
            except Exception:  # closing is best effort; the process is stopping
                log.debug("closing binding %r failed", registry.binding_name, exc_info=True)

    # -- responses -------------------------------------------------------------------------

    async def _error(self, req: _Request, exc: RegistryHTTPError) -> None:
        if req.status:
            return  # the response has started; nothing more can be said
        await respond_json(req, exc.status, exc.body(), exc.headers)

    def _challenge(self, req: _Request, scope: str | None = None, error: str | None = None) -> str:
        value = f'Bearer realm="{req.base}{TOKEN_PATH}",service="{SERVICE}"'
        if scope:
            value += f',scope="{scope}"'
        if error:
            value += f',error="{error}"'
        return value

    def _unauthorized(self, req: _Request, scope: str | None = None) -> RegistryHTTPError:
        challenge = self._challenge(req, scope, "insufficient_scope" if scope else None)
        return RegistryHTTPError(
            "UNAUTHORIZED",
            "authentication required",
            headers=[("www-authenticate", challenge)],
        )

    # -- routing ---------------------------------------------------------------------------

    async def _dispatch(self, req: _Request) -> None:
        path = req.path
        if path == "/healthz":
            await respond_json(req, 200, {"status": "ok"})
            return
        if path == TOKEN_PATH:
            await self._token(req)
            return
        if path in ("/v2", "/v2/"):
            await self._caller(req)
            await respond_json(req, 200, {})
            return
        if path == "/v2/_catalog":
            await self._catalog(req)
            return
        if path.startswith("/v2/"):
            await self._repository_request(req, path[len("/v2/") :])
            return
        if path.startswith("/artifacts-uploads/"):
            await self._signed_session(req, None)
            return
        raise RegistryHTTPError("NAME_UNKNOWN", "no such route", status=404)

    async def _caller(
        self, req: _Request, scope: str | None = None, *, basic: bool = False
    ) -> Caller:
        caller = await self._auth_header(req, req.headers.get("authorization"))
        if caller is None:
            challenge = f'Basic realm="{SERVICE}"' if basic else self._challenge(req, scope)
            raise RegistryHTTPError(
                "UNAUTHORIZED", "authentication required", headers=[("www-authenticate", challenge)]
            )
        req.user = caller.name
        return caller

    async def _authorize(self, req: _Request, repository: str, action: Action) -> None:
        actions = "pull" if action == "pull" else "pull,push"
        scope = f"repository:{repository}:{actions}"
        caller = await self._caller(req, scope)
        decision = self.auth.decide(caller, action, repository)
        if decision.allowed:
            return
        if decision.status == 401:
            raise self._unauthorized(req, scope)
        raise RegistryHTTPError(
            "DENIED",
            f"{caller.name} may not {action} {repository}",
            detail={"repository": repository, "action": action},
        )

    def _route(self, repository: str) -> Route:
        route = self.routes.resolve(repository)
        if route is None:
            raise RegistryHTTPError(
                "NAME_UNKNOWN",
                f"no binding serves repository {repository}",
                detail={"name": repository},
            )
        if not route.endpoint:
            raise RegistryHTTPError(
                "UNKNOWN", f"binding {route.binding} has no registry endpoint", status=500
            )
        return route

    async def _repository_request(self, req: _Request, rest: str) -> None:
        parsed = parse_path(rest)
        if parsed is None:
            raise RegistryHTTPError("NAME_UNKNOWN", "no such route", status=404)
        repository, kind, _ = parsed
        req.repository = repository
        signature, query = split_signature(req.query)
        if signature and kind == "uploads":
            await self._signed_session(req, repository)
            return
        action: Action = "pull" if req.method in ("GET", "HEAD") else "push"
        await self._authorize(req, repository, action)
        route = self._route(repository)
        if kind == "uploads" and req.method == "POST":
            query = await self._checked_mount(req, route, query)
        redirect = kind == "blobs" and req.method == "GET" and self.redirect_blobs
        if redirect and await self._redirect_blob(req, route, repository, parsed[2]):
            return
        await self._forward(req, route, repository, upstream_url(route, req.raw_path, query))

    async def _checked_mount(self, req: _Request, route: Route, query: str) -> str:
        """A cross-repository mount is kept only when the caller may pull the source and the
        same binding serves it; otherwise the upload starts plainly (the spec allows a 202).
        A mount without ``from`` (the registry picks any repository holding the blob) is never
        passed on: the upstream would search with the binding's rights, not the caller's."""
        pairs = parse_qsl(query, keep_blank_values=True)
        if not any(k == "mount" for k, _ in pairs):
            return query
        source = next((v for k, v in pairs if k == "from"), None)
        caller_ok = False
        if source is None:
            return urlencode([(k, v) for k, v in pairs if k != "mount"], quote_via=quote)
        try:
            await self._authorize(req, source, "pull")
            caller_ok = self.routes.resolve(source) is route
        except RegistryHTTPError:
            caller_ok = False
        if caller_ok:
            return query
        return urlencode([(k, v) for k, v in pairs if k not in ("from", "mount")], quote_via=quote)

    async def _signed_session(self, req: _Request, repository: str | None) -> None:
        """An upload-session request that carries the proxy's signature: allowed on the
        signature alone (for clients that drop Authorization on the Location)."""
        signature, query = split_signature(req.query)
        try:
            signed_repo = self.signer.verify(req.raw_path, signature)
        except SessionSignatureError as exc:
            raise RegistryHTTPError(
                "DENIED", "invalid upload session authorization", detail={"reason": str(exc)}
            ) from None
        if req.method not in _SIGNED_METHODS or (
            repository is not None and repository != signed_repo
        ):
            raise RegistryHTTPError("DENIED", "invalid upload session authorization")
        req.repository = signed_repo
        if req.user == "-":
            req.user = "(signed session)"
        route = self._route(signed_repo)
        await self._forward(req, route, signed_repo, upstream_url(route, req.raw_path, query))

    async def _redirect_blob(
        self, req: _Request, route: Route, repository: str, digest: str
    ) -> bool:
        try:
            url = await route.registry.generate_blob_download_url(
                repository, digest, DOWNLOAD_URL_TTL
            )
        except ArtregError as exc:
            log.debug("no download URL from %r (%s); streaming", route.binding, exc.code)
            return False
        if not url:
            return False
        await respond(req, 307, [("location", url), ("docker-content-digest", digest)])
        return True

    # -- forwarding ------------------------------------------------------------------------

    async def _forward(self, req: _Request, route: Route, repository: str, url: str) -> None:
        try:
            exchange = await self.forwarder.forward(
                route, repository, req.method, url, req.headers, req.read
            )
            if not forwards_body(req.method, req.headers):
                req.body_read = True
        except MintFailed as exc:
            raise RegistryHTTPError(
                "UNAVAILABLE",
                f"could not mint upstream credentials through binding {exc.binding}",
                detail={"binding": exc.binding, "code": exc.code},
                status=502,
            ) from None
        except UpstreamFailed:
            raise RegistryHTTPError(
                "UNAVAILABLE",
                f"upstream request failed (binding {route.binding})",
                detail={"binding": route.binding},
                status=502,
            ) from None
        try:
            await self._relay(req, route, repository, exchange)
        finally:
            await exchange.aclose()

    async def _relay(
        self, req: _Request, route: Route, repository: str, exchange: Exchange
    ) -> None:
        req.upstream_status = exchange.status
        headers = exchange.headers()
        location = exchange.response.headers.get("location")
        if location:
            target, ours = rewrite_location(location, route.endpoint, req.base)
            if ours and is_upload_session(target.split("?", 1)[0].removeprefix(req.base)):
                target = self.signer.sign(target, repository)
            headers.append(("location", target))
        if exchange.status == 401:
            headers.append(("www-authenticate", self._challenge(req)))
        await start_response(req, exchange.status, headers)
        if req.method != "HEAD":
            await self._stream_body(req, exchange)
        await req.send({"type": "http.response.body", "body": b""})

    async def _stream_body(self, req: _Request, exchange: Exchange) -> None:
        """Copy the upstream body to the client, and stop (closing the upstream response) as
        soon as the client goes away, instead of reading the rest of a large blob for nobody."""

        async def copy() -> None:
            async for chunk in exchange.body():
                req.sent += len(chunk)
                await req.send({"type": "http.response.body", "body": chunk, "more_body": True})

        if not req.body_read:
            await copy()  # receive() still belongs to the request body
            return
        copying = asyncio.ensure_future(copy())
        gone = asyncio.ensure_future(_disconnected(req.receive))
        try:
            await asyncio.wait({copying, gone}, return_when=asyncio.FIRST_COMPLETED)
            if not copying.done():
                raise ClientGone
            copying.result()
        finally:
            copying.cancel()
            gone.cancel()
            await asyncio.gather(copying, gone, return_exceptions=True)

    # -- token endpoint --------------------------------------------------------------------

    async def _token(self, req: _Request) -> None:
        if req.method == "GET":
            params = parse_qs(req.query, keep_blank_values=True)
            caller = await self._caller(req, basic=True)
            if caller.claims is not None:
                # a token must not mint its own successor forever: log in again, or refresh
                raise RegistryHTTPError(
                    "UNAUTHORIZED",
                    "the token endpoint takes Basic credentials or a refresh token",
                    headers=[("www-authenticate", f'Basic realm="{SERVICE}"')],
                )
        elif req.method == "POST":
            params = await self._form(req)
            caller = await self._grant(req, params)
        else:
            raise RegistryHTTPError(
                "UNSUPPORTED", "the token endpoint takes GET or POST", status=405
            )
        user = caller.user
        offline = (params.get("offline_token") or params.get("access_type") or [""])[0]
        if user is None:  # no users file: anonymous tokens would mean nothing
            doc: dict[str, Any] = {"token": "anonymous", "access_token": "anonymous"}
            await respond_json(req, 200, doc)
            return
        granted = self.auth.grant(user, parse_scopes(params.get("scope", [])))
        token, ttl = self.auth.tokens.issue(user.name, granted)
        doc = {
            "token": token,
            "access_token": token,
            "expires_in": ttl,
            "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        if offline in ("true", "offline") or params.get("grant_type") == ["refresh_token"]:
            doc["refresh_token"], _ = self.auth.tokens.issue(user.name, refresh=True)
        await respond_json(req, 200, doc, [("cache-control", "no-store")])

    async def _form(self, req: _Request) -> dict[str, list[str]]:
        body = b""
        while True:
            message = await req.receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            body += message.get("body", b"")
            if len(body) > MAX_FORM:
                raise RegistryHTTPError("SIZE_INVALID", "token request too large", status=413)
            if not message.get("more_body"):
                break
        try:
            return parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise RegistryHTTPError(
                "UNSUPPORTED", "token request is not UTF-8", status=400
            ) from None

    async def _grant(self, req: _Request, form: dict[str, list[str]]) -> Caller:
        """The caller of a POST token request: ``grant_type=password`` (username, password) or
        ``grant_type=refresh_token``."""
        grant = (form.get("grant_type") or [""])[0]
        if grant == "password":
            name = (form.get("username") or [""])[0]
            password = (form.get("password") or [""])[0]
            raw = f"{name}:{password}".encode()
            header = "Basic " + base64.b64encode(raw).decode()
            caller = await self._auth_header(req, header)
        elif grant == "refresh_token":
            token = (form.get("refresh_token") or [""])[0]
            claims = self.auth.tokens.verify(token) if self.auth.users is not None else None
            user = self.auth.users.get(claims.subject) if claims and self.auth.users else None
            caller = (
                Caller(user.name, user) if user is not None and claims and claims.refresh else None
            )
        else:
            raise RegistryHTTPError(
                "UNSUPPORTED", "grant_type must be password or refresh_token", status=400
            )
        if caller is None:
            raise RegistryHTTPError("UNAUTHORIZED", "invalid credentials")
        req.user = caller.name
        return caller

    async def _auth_header(self, req: _Request, header: str | None) -> Caller | None:
        """The caller ``header`` authenticates (None: anonymous or refused); a throttled client
        gets 429 with Retry-After."""
        try:
            return await self.auth.authenticate(header, req.client)
        except TooManyAttempts as exc:
            raise RegistryHTTPError.too_many_attempts(exc.retry_after) from None

    # -- catalog ---------------------------------------------------------------------------

    async def _catalog(self, req: _Request) -> None:
        caller = await self._caller(req, "registry:catalog:*")
        if self.auth.enabled:
            user = caller.user
            claims = caller.claims
            if user is None or not user.may_list():
                raise RegistryHTTPError("DENIED", "catalog access denied")
            if claims is not None and not any(
                a.type == "registry" and a.name == "catalog" for a in claims.access
            ):
                raise self._unauthorized(req, "registry:catalog:*")
        params = parse_qs(req.query)
        names = await merged_catalog(self.forwarder, self.routes, caller)
        last = (params.get("last") or [""])[0]
        if last:
            names = [n for n in names if n > last]
        n_value = (params.get("n") or [""])[0]
        headers: Headers = []
        if n_value:
            if not n_value.isdigit():
                raise RegistryHTTPError("PAGINATION_NUMBER_INVALID")
            count = int(n_value)
            if len(names) > count:
                names = names[:count]
                if names:
                    headers.append(
                        ("link", f'</v2/_catalog?n={count}&last={quote(names[-1])}>; rel="next"')
                    )
        await respond_json(req, 200, {"repositories": names}, headers)


async def _disconnected(receive: Receive) -> None:
    """Return once the client has disconnected (the request body has been read already)."""
    while (await receive())["type"] != "http.disconnect":
        pass


def default_client() -> httpx.AsyncClient:
    """The pooled upstream client: no decoding, no redirects followed, generous transfer
    timeouts (a slow client's upload is slow upstream too)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(connect=15.0, read=300.0, write=300.0, pool=30.0),
        limits=UPSTREAM_POOL,
        follow_redirects=False,
        headers={"user-agent": "artreg-proxy"},
    )
