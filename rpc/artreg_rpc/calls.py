"""Calls in flight on one connection: progress notifications tied to a call, cancellation by the
client, and the server-side time limit of every call.

- A method marked ``progress`` sends ``{"jsonrpc": "2.0", "method": "$/progress", "params":
  TransferProgress}`` notifications whose ``id`` is the request's id and whose ``seq`` counts up
  from 1; all of them are sent before the call's reply. Byte-count updates are dropped while
  the client is not reading (a bounded queue); a blob's final status never is.
- ``$/cancelRequest`` with ``{"id": ...}`` cancels that call: its task is cancelled (uploads stop,
  temporary files are removed), then it answers with a non-retryable ``CANCELLED`` error.
- When the connection closes, its cancellable calls are cancelled (nobody waits for them).
- Every call is bounded by the sidecar's call timeout (TIMEOUT when it runs out); for a transfer
  the limit is on silence: each progress update starts it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from typing import Any, Final, TypeVar

import msgspec

from artreg.errors import ArtregError, Timeout
from artreg.imageops import TransferUpdate
from artreg.rpcspec import PROGRESS_NOTIFICATION, RpcMethod
from artreg.types import TransferProgress, TransferStatus

__all__ = [
    "DEFAULT_CALL_TIMEOUT",
    "REQUEST_ID",
    "SESSION",
    "CallCancelled",
    "Session",
    "cancelled_error",
    "run_call",
]

log = logging.getLogger("artreg_rpc")

T = TypeVar("T")

#: Seconds a call may run (a transfer: may go without progress) before it ends with TIMEOUT.
#: Below the TypeScript client's default 30 s, so the sidecar's answer, which names the cause,
#: arrives before the client gives up.
DEFAULT_CALL_TIMEOUT: Final = 25.0
#: Byte-count updates waiting to be sent beyond this are dropped (final statuses never are).
MAX_QUEUED_UPDATES: Final = 64

#: The connection's session (set by the server for each connection; None: no notifications).
SESSION: ContextVar[Session | None] = ContextVar("artreg_rpc_session", default=None)
#: The id of the request being answered (None for notifications).
REQUEST_ID: ContextVar[Any] = ContextVar("artreg_rpc_request_id", default=None)

_encoder: Final = msgspec.json.Encoder()


class CallCancelled(ArtregError):
    """The client cancelled the call (only the sidecar raises it; not retryable: asked for)."""

    code = "CANCELLED"
    http_status = 499
    retryable = False
    internal = False
    fields = ("operation",)
    template = "{operation}: cancelled by the client"


def cancelled_error(method: str) -> CallCancelled:
    """The answer of a call the client cancelled with ``$/cancelRequest``."""
    return CallCancelled(operation=method)


class Session:
    """One connection's notification queue and cancellable calls. ``send`` writes one message."""

    def __init__(self, send: Callable[[bytes], Awaitable[None]]) -> None:
        self._send = send
        self._queue: deque[tuple[bytes, bool]] = deque()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._sender: asyncio.Task[None] | None = None
        self._running: dict[Any, asyncio.Task[Any]] = {}
        self._closed = False

    # -- notifications ----------------------------------------------------------------------------

    def notify(self, method: str, params: Any, *, droppable: bool = False) -> None:
        """Queue a notification; ``droppable`` ones are dropped while too many wait."""
        if self._closed:
            return
        if droppable and sum(1 for _, d in self._queue if d) >= MAX_QUEUED_UPDATES:
            return
        message = _encoder.encode({"jsonrpc": "2.0", "method": method, "params": params})
        self._queue.append((message, droppable))
        self._idle.clear()
        self._wakeup.set()
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                message, _ = self._queue.popleft()
                try:
                    await self._send(message)
                except Exception:  # the peer left: nothing more will be delivered
                    self._queue.clear()
                    self._closed = True
                    log.debug("a notification could not be sent; the peer left")
            self._idle.set()

    async def flush(self) -> None:
        """Wait until every queued notification is sent (so the reply comes after them)."""
        if not self._closed:
            await self._idle.wait()

    def progress_sink(
        self, request_id: Any, on_update: Callable[[], None]
    ) -> Callable[[TransferUpdate], None]:
        """A progress sink sending ``$/progress`` for the call ``request_id``."""
        seq = 0

        def sink(update: TransferUpdate) -> None:
            nonlocal seq
            droppable = update.status is TransferStatus.TRANSFERRING
            if droppable and sum(1 for _, d in self._queue if d) >= MAX_QUEUED_UPDATES:
                return  # the client is not reading: skip byte counts, keep seq contiguous
            seq += 1
            on_update()
            self.notify(
                PROGRESS_NOTIFICATION,
                TransferProgress(
                    id=request_id,
                    seq=seq,
                    target=update.target,
                    digest=update.digest,
                    status=update.status,
                    done=update.done,
                    total=update.total,
                    bytes_done=update.bytes_done,
                    bytes_total=update.bytes_total,
                    blobs_done=update.blobs_done,
                    blobs_total=update.blobs_total,
                ),
                droppable=droppable,
            )

        return sink

    # -- cancellation -----------------------------------------------------------------------------

    async def run(self, request_id: Any, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` as a task ``$/cancelRequest`` can cancel."""
        task = asyncio.get_running_loop().create_task(coro)
        self._running[request_id] = task
        try:
            return await task
        finally:
            if self._running.get(request_id) is task:
                del self._running[request_id]

    def cancel(self, request_id: Any) -> bool:
        """Cancel the call ``request_id``; False when no such call is running."""
        task = self._running.get(request_id)
        if task is None or task.done():
            return False
        task.cancel()
        return True

    async def close(self) -> None:
        """Cancel the cancellable calls still running and stop sending notifications."""
        self._closed = True
        running = list(self._running.values())
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender


async def run_call(
    spec: RpcMethod,
    call: Callable[[Callable[[TransferUpdate], None] | None], Coroutine[Any, Any, T]],
    limit_seconds: float | None,
) -> T:
    """Run one method call under the time limit, with progress and cancellation when the method
    streams progress and the connection has a session. Raises TIMEOUT when the limit runs out;
    a cancelled call raises :func:`cancelled_error`."""
    session = SESSION.get()
    request_id = REQUEST_ID.get()
    streams = spec.progress and session is not None and request_id is not None
    limit = asyncio.timeout(limit_seconds)

    def touch() -> None:
        if limit_seconds is not None:
            limit.reschedule(asyncio.get_running_loop().time() + limit_seconds)

    try:
        async with limit:
            if not streams:
                return await call(None)
            assert session is not None
            try:
                return await session.run(request_id, call(session.progress_sink(request_id, touch)))
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # we are cancelled ourselves (shutdown or our own time limit)
                raise cancelled_error(spec.rpc_name) from None
            finally:
                await session.flush()
    except TimeoutError:
        if not limit.expired():
            raise
        raise Timeout(
            operation_context=spec.rpc_name,
            details=f"no answer within {limit_seconds:g} s"
            + (" of silence" if streams else "")
            + " (the sidecar's call timeout, --call-timeout)",
        ) from None
