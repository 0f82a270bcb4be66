"""The WebSocket transport: JSON-RPC messages in, replies out, as each call finishes.

- Each message runs as its own task, so many calls are in flight per connection and replies are
  sent as they finish (matched by ``id``); at most ``max_in_flight`` per connection (beyond
  that the server stops reading until one finishes).
- ``GET /healthz`` on the same port answers over plain HTTP (``200 ok``; ``503`` while draining).
- With a token (``ARTREG_RPC_TOKEN``) the handshake needs ``Authorization: Bearer <token>``, else
  ``401`` and no connection; without one the server only listens on loopback, and a public bind
  needs a token of at least 32 characters. Failed tries are throttled per client address (429
  with ``Retry-After``) and logged once per address per minute.
- The listener rules every artreg server shares (:mod:`artreg.serving`): on loopback, only a
  loopback ``Host`` (or an ``allowed_hosts`` name); a handshake carrying an ``Origin`` only
  from a loopback origin or one in ``allowed_origins`` (so a web page cannot drive a local
  sidecar); handshake size and time limits; connections capped per client address.
- Replies and notifications are written with backpressure, and at most ``max_queued_bytes`` of
  them may wait for one connection (and ``max_queued_total`` for all): a client that stops
  reading is disconnected instead of making the server hold its replies.
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

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from artreg.errors import RemoteServiceUnavailable
from artreg.hosts import is_loopback
from artreg.serving import (
    AuthThrottle,
    ByteBudget,
    FailureLimiter,
    HostRules,
    Limits,
    LogOnce,
    TooManyAttempts,
    escape,
    register_secret,
)
from artreg.serving.wsserver import guarded_connection
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
#: Shortest token accepted for a bind other than loopback.
MIN_PUBLIC_TOKEN_LENGTH: Final = 32
#: Messages received but not yet read by the server, per connection (websockets' max_queue).
_RECEIVE_QUEUE: Final = 2


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
    #: Names clients may use in ``Host`` besides loopback ones.
    allowed_hosts: tuple[str, ...] = ()
    #: Bytes of replies and notifications that may wait for one slow reader, and for all.
    max_queued_bytes: int = 8 << 20
    max_queued_total: int = 32 << 20
    #: Handshake size and time, connections per address (see :class:`artreg.serving.Limits`).
    limits: Limits = field(default_factory=lambda: Limits(max_connections_per_address=32))
    #: Seconds a call may run (a transfer: may go without progress) before TIMEOUT; None: no limit.
    call_timeout: float | None = DEFAULT_CALL_TIMEOUT

    def check(self) -> None:
        """Refuse configurations that are unsafe or meaningless."""
        if not is_loopback(self.host):
            if not self.token:
                raise RpcConfigError(
                    f"refusing to listen on {self.host!r} without a token: set {TOKEN_ENV} "
                    "or listen on a loopback address such as 127.0.0.1"
                )
            if len(self.token) < MIN_PUBLIC_TOKEN_LENGTH:
                raise RpcConfigError(
                    f"refusing to listen on {self.host!r} with a token of {len(self.token)} "
                    f"characters: {TOKEN_ENV} must be at least {MIN_PUBLIC_TOKEN_LENGTH} "
                    "(for instance: openssl rand -hex 32)"
                )
        if self.max_message_size < 1024:
            raise RpcConfigError("max_message_size must be at least 1024 bytes")
        if self.max_in_flight < 1:
            raise RpcConfigError("max_in_flight must be at least 1")
        if self.max_queued_bytes < 2 * self.max_message_size:
            raise RpcConfigError("max_queued_bytes must be at least twice max_message_size")

    def rules(self) -> HostRules:
        """The Host/Origin rules of this listener."""
        return HostRules.for_listener(self.host, self.allowed_hosts, self.allowed_origins)


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
        register_secret(config.token)
        self._rules = config.rules()
        self._throttle = AuthThrottle(per_address=FailureLimiter(burst=10, refill_seconds=6.0))
        self._log_refusal = LogOnce(60.0)
        self._queued_total = ByteBudget(config.max_queued_total)

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
            max_queue=_RECEIVE_QUEUE,
            open_timeout=cfg.limits.header_timeout,
            create_connection=guarded_connection(cfg.limits),
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

    @property
    def draining(self) -> bool:
        """True once :meth:`shutdown` has begun: no new connections or requests are taken."""
        return self._draining

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
        if not self._rules.host_allowed(request.headers.get("Host")):
            self._refused(connection, "Host not allowed", request.headers.get("Host"))
            return connection.respond(HTTPStatus.FORBIDDEN, "Host not allowed on this listener\n")
        path = request.path.split("?", 1)[0]
        if path == "/healthz":
            if self._draining:
                return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "draining\n")
            return connection.respond(HTTPStatus.OK, "ok\n")
        if path != "/":
            return connection.respond(HTTPStatus.NOT_FOUND, "not found: the RPC endpoint is /\n")
        if self._expected_auth is not None:
            refusal = self._authenticate(connection, request)
            if refusal is not None:
                return refusal
        origin = request.headers.get("Origin")
        if not self._rules.origin_allowed(origin):
            self._refused(connection, "origin not allowed", origin)
            return connection.respond(HTTPStatus.FORBIDDEN, "origin not allowed\n")
        return None

    def _authenticate(self, connection: ServerConnection, request: Request) -> Response | None:
        """None when the handshake carries the token; else the 401 (or, for an address that
        failed too often, the 429) to answer."""
        assert self._expected_auth is not None
        address = _address(connection)
        try:
            self._throttle.charge(address)
        except TooManyAttempts as exc:
            self._refused(connection, "too many failed tries")
            response = connection.respond(
                HTTPStatus.TOO_MANY_REQUESTS, "too many failed authentication attempts\n"
            )
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        given = request.headers.get("Authorization", "").encode()
        if hmac.compare_digest(given, self._expected_auth):
            self._throttle.refund(address)
            return None
        self._refused(connection, "bad or missing token")
        response = connection.respond(HTTPStatus.UNAUTHORIZED, "missing or invalid bearer token\n")
        response.headers["WWW-Authenticate"] = 'Bearer realm="artreg"'
        return response

    def _refused(self, connection: ServerConnection, why: str, value: str | None = None) -> None:
        """Log a refused handshake, once per address and reason per minute."""
        address = _address(connection)
        first, suppressed = self._log_refusal(f"{address} {why}")
        if first:
            more = f" ({suppressed} more since the last report)" if suppressed else ""
            shown = f" {escape(value)!s}" if value is not None else ""
            log.warning("refused a connection from %s: %s%s%s", escape(address), why, shown, more)

    # -- WebSocket --------------------------------------------------------------------------------

    async def _connection(self, ws: ServerConnection) -> None:
        slots = asyncio.Semaphore(self.config.max_in_flight)
        mine: set[asyncio.Task[None]] = set()
        outbox = _Outbox(ws, self.config.max_queued_bytes, self._queued_total)
        session = Session(outbox.send)
        SESSION.set(session)  # the calls' tasks inherit it: progress and cancellation
        try:
            while True:
                await outbox.room.wait()  # backpressure: read no more while replies pile up
                await slots.acquire()
                try:
                    message = await ws.recv(decode=False)
                except ConnectionClosed:
                    slots.release()
                    break
                task = asyncio.create_task(self._answer(outbox, message, slots))
                self._tasks.add(task)
                mine.add(task)
                task.add_done_callback(self._tasks.discard)
                task.add_done_callback(mine.discard)
        finally:
            await session.close()  # the peer left: its transfers stop
            if mine:  # let its other calls finish (their replies go nowhere)
                await asyncio.wait(set(mine))

    async def _answer(self, outbox: _Outbox, message: bytes, slots: asyncio.Semaphore) -> None:
        try:
            reply = await self.dispatcher.handle(message)
            if reply is not None:
                await outbox.send(reply)
        except ConnectionClosed:
            log.debug("the peer left before its reply was sent")
        except Exception:
            log.exception("answering a message failed")
        finally:
            slots.release()


class _Outbox:
    """What waits to be written to one connection. ``send`` writes with backpressure (it
    returns once the transport's buffer is back under its low-water mark), and ``room`` is clear
    while half of ``limit`` waits, so the connection's next messages are not read; past
    ``limit`` bytes waiting for this connection, or when the server-wide ``budget`` is spent,
    the client is not reading: the connection is dropped and the message with it."""

    def __init__(self, ws: ServerConnection, limit: int, budget: ByteBudget) -> None:
        self.ws = ws
        self.limit = limit
        self.budget = budget
        self.queued = 0
        self.dropped = False
        self.room = asyncio.Event()
        self.room.set()

    async def send(self, data: bytes) -> None:
        size = len(data)
        if self.dropped:
            raise ConnectionClosed(None, None)
        if self.queued + size > self.limit or not self.budget.take(size):
            self._drop(size)
            raise ConnectionClosed(None, None)
        self.queued += size
        if self.queued >= self.limit // 2:
            self.room.clear()
        try:
            await self.ws.send(data, text=True)
        finally:
            self.queued -= size
            self.budget.give_back(size)
            if self.queued < self.limit // 2:
                self.room.set()

    def _drop(self, size: int) -> None:
        self.dropped = True
        self.room.set()  # the reader finds the connection closed and ends
        log.warning(
            "closing the connection from %s: it does not read its replies "
            "(%d bytes waiting, %d more to send)",
            escape(_address(self.ws)),
            self.queued,
            size,
        )
        self.ws.transport.abort()  # a close handshake would wait on the same full buffer


def _address(connection: ServerConnection) -> str:
    try:
        return str(connection.remote_address[0])
    except (TypeError, IndexError):
        return "?"


def parse_origins(value: str | None) -> tuple[str, ...]:
    """``ARTREG_RPC_ALLOWED_ORIGINS`` (comma-separated) as a tuple."""
    return tuple(o.strip() for o in (value or "").split(",") if o.strip())
