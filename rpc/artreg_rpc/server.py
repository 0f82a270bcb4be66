"""The WebSocket transport: JSON-RPC messages in, replies out, as each call finishes.

- Each message runs as its own task, so many calls are in flight per connection and replies are
  sent as they finish (matched by ``id``); at most ``max_in_flight`` per connection (beyond
  that the server stops reading until one finishes).
- ``GET /healthz`` on the same port answers over plain HTTP (``200 ok``; ``503`` while draining).
- With a token (``ARTREG_RPC_TOKEN``) the handshake needs ``Authorization: Bearer <token>``, else
  ``401`` and no connection; without one the server only listens on loopback.
- Browsers: a handshake carrying an ``Origin`` is accepted only from a loopback origin or one
  listed in ``allowed_origins`` (so a web page cannot drive a local sidecar).
- :meth:`RpcServer.shutdown` stops accepting, answers new requests with a retryable
  REMOTE_SERVICE_UNAVAILABLE, waits (bounded) for the calls in flight, then closes with 1001.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Final
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from artreg.errors import RemoteServiceUnavailable
from artreg.hosts import is_loopback
from artreg_rpc.calls import DEFAULT_CALL_TIMEOUT, SESSION, Session
from artreg_rpc.dispatch import DEFAULT_MAX_MESSAGE_SIZE, Dispatcher
from artreg_rpc.errors import RpcConfigError

__all__ = [
    "DEFAULT_PORT",
    "TOKEN_ENV",
    "RpcServer",
    "ServerConfig",
    "parse_origins",
]

log = logging.getLogger("artreg_rpc")

#: The sidecar's default TCP port.
DEFAULT_PORT: Final = 7450
#: The environment variable holding the bearer token clients must present.
TOKEN_ENV: Final = "ARTREG_RPC_TOKEN"
#: Frames larger than ``max_message_size`` times this close the connection (1009).
TRANSPORT_CEILING_FACTOR: Final = 8


@dataclass
class ServerConfig:
    """How the sidecar listens. ``port=0`` picks a free port (see :attr:`RpcServer.port`)."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    token: str | None = field(default=None, repr=False)
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    max_in_flight: int = 1024
    ping_interval: float | None = 20.0
    ping_timeout: float | None = 20.0
    shutdown_timeout: float = 10.0
    allowed_origins: tuple[str, ...] = ()
    #: Seconds a call may run (a transfer: may go without progress) before TIMEOUT; None: no limit.
    call_timeout: float | None = DEFAULT_CALL_TIMEOUT

    def check(self) -> None:
        """Refuse configurations that are unsafe or meaningless."""
        if not self.token and not is_loopback(self.host):
            raise RpcConfigError(
                f"refusing to listen on {self.host!r} without a token: set {TOKEN_ENV} "
                "or listen on a loopback address such as 127.0.0.1"
            )
        if self.max_message_size < 1024:
            raise RpcConfigError("max_message_size must be at least 1024 bytes")
        if self.max_in_flight < 1:
            raise RpcConfigError("max_in_flight must be at least 1")


def _loopback_origin(origin: str) -> bool:
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and is_loopback(parts.hostname or "")


class RpcServer:
    """The sidecar's WebSocket server around a :class:`Dispatcher`."""

    def __init__(self, dispatcher: Dispatcher, config: ServerConfig) -> None:
        config.check()
        self.dispatcher = dispatcher
        self.config = config
        self._server: Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._draining = False
        self._expected_auth = f"Bearer {config.token}".encode() if config.token else None

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen; :attr:`port` is the bound port afterwards."""
        cfg = self.config
        self._server = await serve(
            self._connection,
            cfg.host,
            cfg.port,
            process_request=self._process_request,
            max_size=cfg.max_message_size * TRANSPORT_CEILING_FACTOR,
            ping_interval=cfg.ping_interval,
            ping_timeout=cfg.ping_timeout,
            compression=None,
            server_header=None,
        )
        log.info("artreg RPC listening on %s", self.url)

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        for sock in self._server.sockets:
            port: int = sock.getsockname()[1]
            return port
        raise RuntimeError("the server has no socket")

    @property
    def url(self) -> str:
        host = self.config.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"ws://{host}:{self.port}"

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def shutdown(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Stop accepting, refuse new requests, wait up to ``timeout`` for the calls in flight,
        close every connection with 1001 and release the registries."""
        timeout = self.config.shutdown_timeout if timeout is None else timeout
        server = self._server
        if server is None:
            return
        self._draining = True
        self.dispatcher.refusal = RemoteServiceUnavailable(
            operation_context="artreg RPC", details="the server is shutting down"
        )
        server.server.close()  # stop accepting; open connections stay for now
        deadline = time.monotonic() + timeout
        pending = set(self._tasks)
        if pending:
            log.info("waiting for %d call(s) in flight", len(pending))
            _, pending = await asyncio.wait(pending, timeout=timeout)
        for task in pending:
            log.warning("cancelling a call still running after %.1fs", timeout)
            task.cancel()
        server.close(close_connections=True, reason="server shutting down")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), max(1.0, deadline - time.monotonic()))
        await self.dispatcher.aclose()
        self._server = None
        log.info("artreg RPC stopped")

    # -- HTTP: health, auth, origin ---------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path == "/healthz":
            if self._draining:
                return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "draining\n")
            return connection.respond(HTTPStatus.OK, "ok\n")
        if path != "/":
            return connection.respond(HTTPStatus.NOT_FOUND, "not found: the RPC endpoint is /\n")
        if self._expected_auth is not None:
            given = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, self._expected_auth):
                log.warning("refused a connection from %s: bad or missing token", _peer(connection))
                response = connection.respond(
                    HTTPStatus.UNAUTHORIZED, "missing or invalid bearer token\n"
                )
                response.headers["WWW-Authenticate"] = 'Bearer realm="artreg"'
                return response
        origin = request.headers.get("Origin")
        if origin is not None and not self._origin_allowed(origin):
            log.warning("refused a connection from origin %r", origin)
            return connection.respond(HTTPStatus.FORBIDDEN, "origin not allowed\n")
        return None

    def _origin_allowed(self, origin: str) -> bool:
        allowed = self.config.allowed_origins
        return "*" in allowed or origin in allowed or _loopback_origin(origin)

    # -- WebSocket --------------------------------------------------------------------------------

    async def _connection(self, ws: ServerConnection) -> None:
        slots = asyncio.Semaphore(self.config.max_in_flight)
        mine: set[asyncio.Task[None]] = set()
        session = Session(lambda message: ws.send(message, text=True))
        SESSION.set(session)  # the calls' tasks inherit it: progress and cancellation
        try:
            while True:
                await slots.acquire()
                try:
                    message = await ws.recv(decode=False)
                except ConnectionClosed:
                    slots.release()
                    break
                task = asyncio.create_task(self._answer(ws, message, slots))
                self._tasks.add(task)
                mine.add(task)
                task.add_done_callback(self._tasks.discard)
                task.add_done_callback(mine.discard)
        finally:
            await session.close()  # the peer left: its transfers stop
            if mine:  # let its other calls finish (their replies go nowhere)
                await asyncio.wait(set(mine))

    async def _answer(self, ws: ServerConnection, message: bytes, slots: asyncio.Semaphore) -> None:
        try:
            reply = await self.dispatcher.handle(message)
            if reply is not None:
                await ws.send(reply, text=True)
        except ConnectionClosed:
            log.debug("the peer left before its reply was sent")
        except Exception:
            log.exception("answering a message failed")
        finally:
            slots.release()


def _peer(connection: ServerConnection) -> str:
    try:
        host, port, *_ = connection.remote_address
    except (TypeError, ValueError):
        return "?"
    return f"{host}:{port}"


def parse_origins(value: str | None) -> tuple[str, ...]:
    """``ARTREG_RPC_ALLOWED_ORIGINS`` (comma-separated) as a tuple."""
    return tuple(o.strip() for o in (value or "").split(",") if o.strip())
