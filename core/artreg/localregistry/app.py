"""The registry as a raw ASGI application (OCI distribution spec v1.1).

Raw ASGI rather than a framework: blob bodies are the hot path, and here each received chunk
goes straight into a buffer that a worker thread writes and hashes while the next chunk arrives,
and downloads read the next megabyte from disk while the current one is being sent — no per-chunk
request/response objects, no extra copies.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar
from urllib.parse import parse_qs, quote

from artreg.digest import ALGORITHMS, Digest, DigestError
from artreg.serving.asgi import respond, respond_json, start_response
from artreg.serving.logs import escape

from .apierrors import RegistryHTTPError
from .auth import Authenticator, TooManyAttempts
from .manifests import MAX_MANIFEST_SIZE, OCI_INDEX, ManifestInvalid, parse_manifest
from .metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .metrics import METRICS_PATH, RegistryMetrics
from .names import is_valid_name, is_valid_tag
from .store import (
    BlobReader,
    ContentMissing,
    DigestMismatch,
    Store,
    StoredManifest,
    UploadSession,
    UploadUnknown,
)
from .tokens import Grant

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[str, str]]
T = TypeVar("T")

log = logging.getLogger("artreg.localregistry")

#: Size of the buffers written to and read from disk.
IO_CHUNK: Final = 1 << 20
DEFAULT_CATALOG_PAGE: Final = 1000
#: Past this much unread request body, an error reply closes the connection instead.
MAX_DRAIN: Final = 4 << 20
#: Most ``?tag=`` parameters one manifest push may carry (the spec asks for at least 10).
MAX_TAG_PARAMS: Final = 100

_ROUTES: Final = [
    ("tags", re.compile(r"^/v2/(?P<name>.+)/tags/list\Z")),
    ("manifest", re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<ref>[^/]+)\Z")),
    ("uploads", re.compile(r"^/v2/(?P<name>.+)/blobs/uploads/?\Z")),
    ("upload", re.compile(r"^/v2/(?P<name>.+)/blobs/uploads/(?P<uuid>[^/]+)\Z")),
    ("blob", re.compile(r"^/v2/(?P<name>.+)/blobs/(?P<digest>[^/]+)\Z")),
    ("referrers", re.compile(r"^/v2/(?P<name>.+)/referrers/(?P<digest>[^/]+)\Z")),
]
_CONTENT_RANGE: Final = re.compile(r"^(?:bytes[ =])?(\d+)-(\d+)(?:/(?:\d+|\*))?\Z")
_RANGE: Final = re.compile(r"^bytes=(\d*)-(\d*)\Z")
#: Where the token endpoint lives (advertised in Bearer challenges).
TOKEN_PATH: Final = "/v2/token"
#: Largest token request form read (POST /v2/token).
MAX_TOKEN_FORM: Final = 64 * 1024


class ClientDisconnected(Exception):
    """The client went away before its request body was complete."""


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    receive: Receive
    send: Send
    scheme: str = "http"
    client: str = "-"
    status: int = 0
    sent: int = 0
    received: int = 0
    body_done: bool = False
    #: The route's name, a bounded label for metrics.
    route: str = "other"
    params: dict[str, str] = field(default_factory=dict)

    async def recv(self) -> Message:
        """The next request message; remembers when the body has been read to its end."""
        message = await self.receive()
        if message["type"] == "http.disconnect":
            self.body_done = True
            raise ClientDisconnected
        if not message.get("more_body"):
            self.body_done = True
        self.received += len(message.get("body", b""))
        return message

    def arg(self, key: str) -> str | None:
        values = self.query.get(key)
        return values[0] if values else None

    def args(self, key: str) -> list[str]:
        """Every value of a repeatable query parameter, in order."""
        return self.query.get(key, [])


def _digest(value: str | None, *, code: str = "DIGEST_INVALID") -> Digest:
    if value is None:
        raise RegistryHTTPError(code, "digest parameter is required")
    try:
        return Digest.parse(value)
    except DigestError as exc:
        raise RegistryHTTPError(code, str(exc), detail={"digest": value}) from None


class RegistryApp:
    """The ASGI callable. Use :func:`create_app`."""

    def __init__(
        self,
        store: Store,
        auth: Authenticator | None = None,
        *,
        token_realm: str | None = None,
        metrics: bool = False,
    ) -> None:
        self.store = store
        self.auth = auth
        #: The token endpoint's URL in Bearer challenges: configuration, never the Host header.
        self.token_realm = token_realm
        self.metrics = RegistryMetrics(store) if metrics else None
        self._upload_locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}

    # -- ASGI entry ------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
        }
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        req = Request(
            scope["method"],
            scope["path"],
            query,
            headers,
            receive,
            send,
            scope.get("scheme", "http"),
            scope["client"][0] if scope.get("client") else "-",
        )
        started = time.perf_counter()
        try:
            await self._dispatch(req)
        except RegistryHTTPError as exc:
            await self._send_error(req, exc)
        except ClientDisconnected:
            req.status = req.status or 499
        except Exception:
            log.exception("internal error handling %s %s", req.method, req.path)
            if req.status:
                raise  # mid-response: let the server abort the connection
            await self._send_error(
                req, RegistryHTTPError("UNKNOWN", "internal server error", status=500)
            )
        finally:
            if self.metrics is not None:
                self.metrics.observe(
                    req.method,
                    req.route,
                    req.status,
                    time.perf_counter() - started,
                    req.received,
                    req.sent,
                )
            client = scope.get("client")
            log.info(
                '%s "%s %s" %d %d %.1fms',
                escape(client[0] if client else "-"),
                escape(req.method),
                escape(req.path),
                req.status,
                req.sent,
                (time.perf_counter() - started) * 1000,
            )

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.store.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- responses -------------------------------------------------------------------------

    async def _send_error(self, req: Request, exc: RegistryHTTPError) -> None:
        if req.status:  # headers already sent; nothing more can be said
            return
        headers = list(exc.headers)
        try:
            if not await self._drain(req):
                headers.append(("connection", "close"))
        except ClientDisconnected:
            return
        await respond_json(req, exc.status, exc.body(), headers)

    async def _drain(self, req: Request, limit: int = MAX_DRAIN) -> bool:
        """Read and drop up to ``limit`` bytes of what is left of the request body, so the
        connection stays usable; False when more is left (the connection is then closed)."""
        dropped = 0
        while not req.body_done:
            if dropped > limit:
                return False
            dropped += len((await req.recv()).get("body", b""))
        return True

    # -- dispatch --------------------------------------------------------------------------

    def _challenge(self, req: Request) -> RegistryHTTPError:
        assert self.auth is not None
        return RegistryHTTPError(
            "UNAUTHORIZED",
            headers=[("www-authenticate", c) for c in self.auth.challenges(self.token_realm)],
        )

    async def _authenticated(
        self, req: Request, check: Callable[[str | None, str | None], Awaitable[T]]
    ) -> T:
        """``check(authorization, client)``; a throttled client gets 429 with Retry-After."""
        try:
            return await check(req.headers.get("authorization"), req.client)
        except TooManyAttempts as exc:
            raise RegistryHTTPError.too_many_attempts(exc.retry_after) from None

    async def _token(self, req: Request) -> None:
        """Docker's token flow (the token spec's GET with Basic auth, and its OAuth2 POST form
        with the password and refresh-token grants): credentials in, a bearer token out."""
        if self.auth is None:
            raise RegistryHTTPError("UNSUPPORTED", "no token service: authentication is off")
        if req.method == "GET":
            offline = (req.arg("offline_token") or "").lower() == "true"
            issue = functools.partial(self.auth.issue_token, offline=offline)
            grant = await self._authenticated(req, issue)
        elif req.method == "POST":
            grant = await self._token_grant(req, await self._token_form(req))
        else:
            raise RegistryHTTPError(
                "UNSUPPORTED",
                f"{req.method} is not supported by the token endpoint: use GET or POST",
                headers=[("allow", "GET, POST")],
            )
        if grant is None:
            raise RegistryHTTPError(
                "UNAUTHORIZED",
                headers=[("www-authenticate", c) for c in self.auth.challenges(None)],
            )
        doc: dict[str, Any] = {
            "token": grant.access_token,
            "access_token": grant.access_token,
            "expires_in": grant.expires_in,
            "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        scope = req.arg("scope")
        if scope:
            doc["scope"] = scope
        if grant.refresh_token is not None:
            doc["refresh_token"] = grant.refresh_token
        await respond_json(req, 200, doc, [("cache-control", "no-store"), ("pragma", "no-cache")])

    async def _token_form(self, req: Request) -> dict[str, str]:
        content_type = req.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            raise RegistryHTTPError(
                "UNSUPPORTED",
                "the token endpoint takes an application/x-www-form-urlencoded form",
                status=400,
            )
        body = await self._read_small_body(req, MAX_TOKEN_FORM, "the token request form")
        try:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise RegistryHTTPError("UNSUPPORTED", "the form is not UTF-8", status=400) from None
        fields = {k: v[0] for k, v in form.items() if v}
        if "scope" in fields:
            req.query.setdefault("scope", [fields["scope"]])
        return fields

    async def _token_grant(self, req: Request, form: dict[str, str]) -> Grant | None:
        assert self.auth is not None
        grant_type = form.get("grant_type")
        offline = form.get("access_type") == "offline"
        if grant_type == "password":
            username, password = form.get("username", ""), form.get("password", "")
            grant_password = self.auth.grant_password

            async def check(_: str | None, address: str | None) -> Grant | None:
                return await grant_password(username, password, offline=offline, address=address)

            return await self._authenticated(req, check)
        if grant_type == "refresh_token":
            return self.auth.grant_refresh(form.get("refresh_token", ""))
        raise RegistryHTTPError(
            "UNSUPPORTED",
            "grant_type must be password or refresh_token",
            status=400,
            detail={"grant_type": grant_type},
        )

    async def _metrics(self, req: Request) -> None:
        assert self.metrics is not None
        if req.method not in ("GET", "HEAD"):
            raise RegistryHTTPError("UNSUPPORTED", headers=[("allow", "GET, HEAD")])
        body = await asyncio.to_thread(self.metrics.render)
        await respond(req, 200, [("content-type", METRICS_CONTENT_TYPE)], body)

    async def _dispatch(self, req: Request) -> None:
        if req.path == TOKEN_PATH:
            req.route = "token"
            await self._token(req)
            return
        if self.auth is not None and not await self._authenticated(req, self.auth.verify):
            raise self._challenge(req)
        if req.path == METRICS_PATH and self.metrics is not None:
            req.route = "metrics"
            await self._metrics(req)
            return
        if req.path in ("/v2", "/v2/"):
            req.route = "base"
            if req.method not in ("GET", "HEAD"):
                raise RegistryHTTPError("UNSUPPORTED", f"{req.method} /v2/ is not supported")
            await respond_json(req, 200, {})
            return
        if req.path == "/v2/_catalog":
            req.route = "catalog"
            if req.method != "GET":
                raise RegistryHTTPError("UNSUPPORTED")
            await self._catalog(req)
            return
        for route, pattern in _ROUTES:
            match = pattern.match(req.path)
            if match is None:
                continue
            req.params = match.groupdict()
            req.route = route
            name = req.params["name"]
            if not is_valid_name(name):
                raise RegistryHTTPError(
                    "NAME_INVALID", f"invalid repository name {name!r}", detail={"name": name}
                )
            handler = getattr(self, f"_{route}_{req.method.lower()}", None)
            if handler is None:
                raise RegistryHTTPError("UNSUPPORTED", f"{req.method} is not supported here")
            await handler(req, name)
            return
        await respond(
            req,
            404,
            [("content-type", "application/json")],
            json.dumps(RegistryHTTPError("NOT_FOUND", "no such route", status=404).body()).encode(),
        )

    # -- catalog and tags ------------------------------------------------------------------

    def _page_size(self, req: Request, default: int | None) -> int | None:
        raw = req.arg("n")
        if raw is None or raw == "":
            return default
        if not raw.isdigit():
            raise RegistryHTTPError("PAGINATION_NUMBER_INVALID", detail={"n": raw})
        return int(raw)

    def _paginate(
        self, req: Request, items: list[str], default: int | None, base: str
    ) -> tuple[list[str], Headers]:
        n = self._page_size(req, default)
        last = req.arg("last")
        if last:
            items = [i for i in items if i > last]
        if n is None or len(items) <= n:
            return items, []
        page = items[:n]
        link = f'<{base}?last={quote(page[-1], safe="")}&n={n}>; rel="next"' if page else ""
        return page, [("link", link)] if link else []

    async def _catalog(self, req: Request) -> None:
        repos = await asyncio.to_thread(self.store.repositories)
        page, headers = self._paginate(req, repos, DEFAULT_CATALOG_PAGE, "/v2/_catalog")
        await respond_json(req, 200, {"repositories": page}, headers)

    async def _tags_get(self, req: Request, name: str) -> None:
        def load() -> list[str] | None:
            if not self.store.repository_exists(name):
                return None
            return self.store.tags(name)

        tags = await asyncio.to_thread(load)
        if tags is None:
            raise RegistryHTTPError("NAME_UNKNOWN", detail={"name": name})
        page, headers = self._paginate(req, tags, None, f"/v2/{name}/tags/list")
        await respond_json(req, 200, {"name": name, "tags": page}, headers)

    # -- blobs -----------------------------------------------------------------------------

    async def _blob_head(self, req: Request, name: str) -> None:
        await self._blob_get(req, name)

    async def _blob_get(self, req: Request, name: str) -> None:
        digest = _digest(req.params["digest"])
        # A HEAD is a pusher asking whether to upload: keep the blob for the manifest to come.
        keep = req.method == "HEAD"
        reader = await asyncio.to_thread(self.store.open_blob, name, digest, keep=keep)
        if reader is None:
            raise RegistryHTTPError("BLOB_UNKNOWN", detail={"digest": str(digest)})
        try:
            size = reader.size
            start, end = 0, size - 1
            status = 200
            headers: Headers = [
                ("content-type", "application/octet-stream"),
                ("docker-content-digest", str(digest)),
                ("accept-ranges", "bytes"),
                ("etag", f'"{digest}"'),
                ("cache-control", "max-age=31536000"),
            ]
            wanted = _parse_range(req.headers.get("range"), size)
            if isinstance(wanted, str):
                raise RegistryHTTPError(
                    "RANGE_INVALID",
                    "requested range not satisfiable",
                    status=416,
                    headers=[("content-range", f"bytes */{size}")],
                )
            if wanted is not None:
                start, end = wanted
                status = 206
                headers.append(("content-range", f"bytes {start}-{end}/{size}"))
            length = end - start + 1 if size else 0
            headers.append(("content-length", str(length)))
            await start_response(req, status, headers)
            if req.method == "HEAD" or length == 0:
                await req.send({"type": "http.response.body", "body": b""})
                return
            await self._stream_file(req, reader, start, length)
        finally:
            reader.close()

    async def _stream_file(self, req: Request, reader: BlobReader, start: int, length: int) -> None:
        loop = asyncio.get_running_loop()
        offset, remaining = start, length
        pending = loop.run_in_executor(None, reader.read_at, offset, min(IO_CHUNK, remaining))
        while remaining > 0:
            data = await pending
            if not data:
                raise RuntimeError("blob is shorter than its recorded size")
            offset += len(data)
            remaining -= len(data)
            if remaining > 0:
                pending = loop.run_in_executor(
                    None, reader.read_at, offset, min(IO_CHUNK, remaining)
                )
            await req.send({"type": "http.response.body", "body": data, "more_body": remaining > 0})
            req.sent += len(data)

    async def _blob_delete(self, req: Request, name: str) -> None:
        digest = _digest(req.params["digest"])
        if not await asyncio.to_thread(self.store.delete_blob, name, digest):
            raise RegistryHTTPError("BLOB_UNKNOWN", detail={"digest": str(digest)})
        await respond(req, 202, [("docker-content-digest", str(digest))])

    # -- uploads ---------------------------------------------------------------------------

    def _upload_headers(self, name: str, session: UploadSession) -> Headers:
        end = max(session.size - 1, 0)
        return [
            ("location", f"/v2/{name}/blobs/uploads/{session.uuid}"),
            ("docker-upload-uuid", session.uuid),
            ("range", f"0-{end}"),
        ]

    async def _uploads_post(self, req: Request, name: str) -> None:
        mount = req.arg("mount")
        if mount is not None and await self._mount(name, _digest(mount), req.arg("from")):
            await respond(req, 201, self._blob_created(name, _digest(mount)))
            return
        raw_digest = req.arg("digest")
        digest = _digest(raw_digest) if raw_digest is not None else None
        algorithm = req.arg("digest-algorithm") or (digest.algorithm if digest else "sha256")
        if algorithm not in ALGORITHMS:
            raise RegistryHTTPError(
                "DIGEST_INVALID",
                f"unsupported digest algorithm {algorithm!r}",
                detail={"digest-algorithm": algorithm},
            )
        session = await asyncio.to_thread(self.store.create_upload, name, algorithm)
        if digest is None:
            await respond(req, 202, self._upload_headers(name, session))
            return
        try:  # monolithic upload: the whole blob in this request
            await self._finish(req, name, session, digest)
        except ClientDisconnected:
            await asyncio.to_thread(session.cancel)
            raise
        finally:
            await asyncio.to_thread(session.close)

    async def _mount(self, name: str, digest: Digest, source: str | None) -> bool:
        """Link ``digest`` from ``source`` into ``name``. Without ``source`` (automatic content
        discovery), from any repository holding it: every client that passes authentication
        may read every repository, so any holder is one the client may read."""
        if source is not None and (not source or not is_valid_name(source)):
            return False
        return await asyncio.to_thread(self.store.mount_blob, name, digest, source)

    def _blob_created(self, name: str, digest: Digest) -> Headers:
        return [("location", f"/v2/{name}/blobs/{digest}"), ("docker-content-digest", str(digest))]

    @contextlib.asynccontextmanager
    async def _exclusive(self, uuid: str) -> AsyncIterator[None]:
        """Serialise requests on one upload session; the lock lives while someone holds it."""
        entry = self._upload_locks.get(uuid)
        if entry is None:
            entry = self._upload_locks[uuid] = (asyncio.Lock(), [0])
        lock, users = entry
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                self._upload_locks.pop(uuid, None)

    async def _session(self, req: Request, name: str) -> UploadSession:
        uuid = req.params["uuid"]
        try:
            return await asyncio.to_thread(self.store.get_upload, name, uuid)
        except UploadUnknown:
            raise RegistryHTTPError("BLOB_UPLOAD_UNKNOWN", detail={"uuid": uuid}) from None

    # Each request on a session holds its lock from lookup to reply, so it never sees a chunk
    # still in flight, nor a session another request is finishing or cancelling.

    async def _upload_get(self, req: Request, name: str) -> None:
        async with self._exclusive(req.params["uuid"]):
            session = await self._session(req, name)
            headers = self._upload_headers(name, session)
        await respond(req, 204, headers)

    async def _upload_delete(self, req: Request, name: str) -> None:
        async with self._exclusive(req.params["uuid"]):
            session = await self._session(req, name)
            await asyncio.to_thread(session.cancel)
        await respond(req, 204)

    def _check_content_range(self, req: Request, session: UploadSession) -> int | None:
        """Validate ``Content-Range`` against the session; return the expected chunk length."""
        raw = req.headers.get("content-range")
        length_header = req.headers.get("content-length")
        if raw is None:
            return None
        match = _CONTENT_RANGE.match(raw.strip())
        if match is None:
            raise RegistryHTTPError(
                "BLOB_UPLOAD_INVALID",
                f"malformed Content-Range {raw!r}",
                status=416,
                headers=self._upload_headers(req.params["name"], session),
            )
        start, end = int(match[1]), int(match[2])
        if start != session.size or end < start:
            raise RegistryHTTPError(
                "BLOB_UPLOAD_INVALID",
                f"Content-Range {raw!r} does not continue the upload at offset {session.size}",
                status=416,
                headers=self._upload_headers(req.params["name"], session),
            )
        expected = end - start + 1
        if length_header is not None and length_header.isdigit() and int(length_header) != expected:
            raise RegistryHTTPError(
                "SIZE_INVALID",
                f"Content-Length {length_header} does not match Content-Range {raw!r}",
            )
        return expected

    async def _upload_patch(self, req: Request, name: str) -> None:
        async with self._exclusive(req.params["uuid"]):
            session = await self._session(req, name)
            try:
                expected = self._check_content_range(req, session)
                await self._receive_chunk(req, session, expected)
            finally:
                await asyncio.to_thread(session.close)
            headers = self._upload_headers(name, session)
        await respond(req, 202, headers)

    async def _upload_put(self, req: Request, name: str) -> None:
        async with self._exclusive(req.params["uuid"]):
            session = await self._session(req, name)
            try:
                digest = _digest(req.arg("digest"))
                await self._finish(req, name, session, digest)
            finally:
                await asyncio.to_thread(session.close)

    async def _finish(
        self, req: Request, name: str, session: UploadSession, digest: Digest
    ) -> None:
        """Receive the final (possibly empty) chunk, verify and commit."""
        expected = self._check_content_range(req, session)
        await self._receive_chunk(req, session, expected)
        try:
            await asyncio.to_thread(session.commit, digest)
        except DigestMismatch as exc:
            await asyncio.to_thread(session.cancel)
            raise RegistryHTTPError(
                "DIGEST_INVALID",
                detail={"expected": str(exc.expected), "actual": str(exc.actual)},
            ) from None
        await respond(req, 201, self._blob_created(name, digest))

    async def _receive_chunk(
        self, req: Request, session: UploadSession, expected: int | None
    ) -> None:
        """Append the request body to the session, writing and hashing in a worker thread
        while the next buffer fills. On a short body or a disconnect the session is rolled
        back to where it was before this request."""
        loop = asyncio.get_running_loop()
        checkpoint = await asyncio.to_thread(session.checkpoint)
        pending: asyncio.Future[None] | None = None
        parts: list[bytes] = []
        buffered = 0
        received = 0
        try:
            while True:
                message = await req.recv()
                body = message.get("body", b"")
                if body:
                    parts.append(body)
                    buffered += len(body)
                    received += len(body)
                more = bool(message.get("more_body"))
                if buffered >= IO_CHUNK or (not more and buffered):
                    data = parts[0] if len(parts) == 1 else b"".join(parts)
                    parts, buffered = [], 0
                    if pending is not None:
                        await pending
                    pending = loop.run_in_executor(None, session.write, data)
                if not more:
                    break
            if pending is not None:
                await pending
                pending = None
            if expected is not None and received != expected:
                raise RegistryHTTPError(
                    "SIZE_INVALID",
                    f"received {received} bytes, Content-Range announced {expected}",
                )
        except BaseException:
            if pending is not None:
                await asyncio.shield(pending)
            await asyncio.to_thread(session.rollback, checkpoint)
            raise

    # -- manifests -------------------------------------------------------------------------

    async def _resolve(self, name: str, ref: str) -> Digest | None:
        if ":" in ref:
            digest = _digest(ref)
            return (
                digest if await asyncio.to_thread(self.store.has_manifest, name, digest) else None
            )
        if not is_valid_tag(ref):
            return None  # no manifest can have that tag: unknown, as distribution answers
        return await asyncio.to_thread(self.store.resolve_tag, name, ref)

    async def _manifest_head(self, req: Request, name: str) -> None:
        await self._manifest_get(req, name)

    async def _manifest_get(self, req: Request, name: str) -> None:
        ref = req.params["ref"]
        digest = await self._resolve(name, ref)
        stored = None
        if digest is not None:
            stored = await asyncio.to_thread(self.store.get_manifest, name, digest)
        if stored is None:
            raise RegistryHTTPError("MANIFEST_UNKNOWN", detail={"name": name, "reference": ref})
        await respond(
            req,
            200,
            [
                ("content-type", stored.media_type),
                ("docker-content-digest", str(stored.digest)),
                ("etag", f'"{stored.digest}"'),
            ],
            stored.body,
        )

    async def _read_small_body(self, req: Request, limit: int, what: str = "manifest") -> bytes:
        declared = req.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise RegistryHTTPError(
                "SIZE_INVALID", f"{what} is larger than {limit} bytes", status=413
            )
        parts: list[bytes] = []
        total = 0
        while True:
            message = await req.recv()
            body = message.get("body", b"")
            total += len(body)
            if total > limit:
                raise RegistryHTTPError(
                    "SIZE_INVALID", f"{what} is larger than {limit} bytes", status=413
                )
            parts.append(body)
            if not message.get("more_body"):
                return b"".join(parts)

    def _put_tags(self, req: Request, ref: str) -> tuple[list[str], list[str]]:
        """The tags a manifest push sets (its reference, when a tag, then each ``?tag=``) and
        those given as ``?tag=`` (to echo in ``OCI-Tag``)."""
        params = req.args("tag")
        if len(params) > MAX_TAG_PARAMS:
            raise RegistryHTTPError(
                "TAG_INVALID",
                f"at most {MAX_TAG_PARAMS} tag parameters per request",
                status=414,
            )
        tags = [] if ":" in ref else [ref]
        for tag in [*tags, *params]:
            if not is_valid_tag(tag):
                raise RegistryHTTPError(
                    "MANIFEST_INVALID", f"invalid tag {tag!r}", detail={"tag": tag}
                )
        return list(dict.fromkeys([*tags, *params])), list(dict.fromkeys(params))

    async def _manifest_put(self, req: Request, name: str) -> None:
        ref = req.params["ref"]
        ref_digest = _digest(ref) if ":" in ref else None
        tags, tag_params = self._put_tags(req, ref)
        body = await self._read_small_body(req, MAX_MANIFEST_SIZE)
        digest = Digest.of(body, ref_digest.algorithm if ref_digest else "sha256")
        if ref_digest is not None and digest != ref_digest:
            raise RegistryHTTPError(
                "DIGEST_INVALID",
                "manifest digest does not match the reference",
                detail={"reference": str(ref_digest), "actual": str(digest)},
            )
        try:
            parsed = parse_manifest(body, req.headers.get("content-type"))
        except ManifestInvalid as exc:
            raise RegistryHTTPError("MANIFEST_INVALID", str(exc)) from None

        subject = parsed.subject.digest if parsed.subject else None
        try:
            # Sparse manifests are refused: every blob and child must be in the repository.
            await asyncio.to_thread(
                self.store.put_manifest,
                name,
                StoredManifest(body, parsed.media_type, digest),
                tags=tags,
                subject=subject,
                referrer=parsed.referrer_descriptor(digest, len(body)) if subject else None,
                blobs=parsed.required_blobs(),
                children=[child.digest for child in parsed.manifests],
            )
        except ContentMissing as exc:
            raise RegistryHTTPError(
                "MANIFEST_BLOB_UNKNOWN", detail={"digest": str(exc.digest)}
            ) from None
        headers = [
            ("location", f"/v2/{name}/manifests/{digest}"),
            ("docker-content-digest", str(digest)),
        ]
        headers.extend(("oci-tag", tag) for tag in tag_params)
        if parsed.subject is not None:
            headers.append(("oci-subject", str(parsed.subject.digest)))
        await respond(req, 201, headers)

    async def _manifest_delete(self, req: Request, name: str) -> None:
        ref = req.params["ref"]
        if ":" in ref:
            digest = _digest(ref)
            deleted = await asyncio.to_thread(self.store.delete_manifest, name, digest)
        elif is_valid_tag(ref):
            deleted = await asyncio.to_thread(self.store.delete_tag, name, ref)
        else:
            deleted = False  # no manifest can have that tag
        if not deleted:
            raise RegistryHTTPError("MANIFEST_UNKNOWN", detail={"name": name, "reference": ref})
        await respond(req, 202)

    # -- referrers -------------------------------------------------------------------------

    async def _referrers_get(self, req: Request, name: str) -> None:
        subject = _digest(req.params["digest"])
        entries = await asyncio.to_thread(self.store.referrers, name, subject)
        headers: Headers = []
        wanted = req.arg("artifactType")
        if wanted:
            entries = [e for e in entries if e.get("artifactType") == wanted]
            headers.append(("oci-filters-applied", "artifactType"))
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
        await respond_json(req, 200, index, headers, content_type=OCI_INDEX)


def _parse_range(value: str | None, size: int) -> tuple[int, int] | str | None:
    """A single ``bytes=`` range → (start, end); "unsatisfiable"; None to send everything."""
    if not value:
        return None
    match = _RANGE.match(value.strip())
    if match is None:
        return None  # multiple or unknown ranges: answer with the whole blob
    first, last = match[1], match[2]
    if first == "" and last == "":
        return None
    if first == "":
        suffix = int(last)
        if suffix == 0 or size == 0:
            return "unsatisfiable"
        return max(size - suffix, 0), size - 1
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if start >= size or (last != "" and int(last) < start):
        return "unsatisfiable"
    return start, end


def create_app(
    store: Store,
    auth: Authenticator | None = None,
    *,
    token_realm: str | None = None,
    metrics: bool = False,
) -> RegistryApp:
    """The registry as an ASGI application over ``store``, optionally requiring ``auth``.
    ``token_realm`` is the token endpoint's URL advertised in Bearer challenges (without it,
    clients are asked for Basic credentials); ``metrics`` serves ``/metrics``."""
    return RegistryApp(store, auth, token_realm=token_realm, metrics=metrics)
