"""Large plain-HTTP response bodies, received on a worker thread.

httpx hands a body over through h11, which copies every byte three times while holding the GIL
(into its receive buffer, out of it, and into the event's bytes); for a blob of many MiB from a
registry spoken to over plain HTTP (loopback, ``--insecure``) that is what bounds a pull. For
such a GET, :func:`send` speaks to the server with the standard library's ``http.client`` on a
worker thread instead, where receiving a MiB at a time releases the GIL, and returns an ordinary
``httpx.Response`` whose body yields what the thread received. The layers above (authentication,
retries, error mapping, resuming) see no difference; failures are httpx's exception types.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import socket
import threading
from collections.abc import AsyncIterator
from typing import Final

import httpx

__all__ = ["BULK_MIN_SIZE", "send"]

#: Bodies of at least this many bytes are worth a thread of their own.
BULK_MIN_SIZE: Final = 8 * 1024 * 1024
#: Bytes per read on the thread (and per chunk handed to the event loop).
_READ_SIZE: Final = 1024 * 1024
#: Chunks received ahead of the consumer (memory per download: this many MiB).
_AHEAD: Final = 4


class _Done:
    """The end of the body (after the last chunk)."""


async def send(request: httpx.Request, *, timeouts: httpx.Timeout) -> httpx.Response:
    """Send ``request`` (a bodiless plain-HTTP request) on a worker thread; the response's
    status and headers are read when this returns, its body streams (``aclose()`` it)."""
    body = _ThreadedBody(request, timeouts)
    status, headers = await body.start()
    return httpx.Response(status, headers=headers, stream=body, request=request)


class _ThreadedBody(httpx.AsyncByteStream):
    """One request on its own connection and thread; the body arrives through a bounded queue."""

    def __init__(self, request: httpx.Request, timeout: httpx.Timeout) -> None:
        self._request = request
        self._timeout = timeout
        self._loop = asyncio.get_running_loop()
        self._head: asyncio.Future[tuple[int, list[tuple[str, str]]]] = self._loop.create_future()
        self._chunks: asyncio.Queue[bytes | _Done | BaseException] = asyncio.Queue()
        self._room = threading.Semaphore(_AHEAD)
        self._closed = threading.Event()
        self._sock: socket.socket | None = None
        self._thread = threading.Thread(target=self._run, name="artreg-bulk", daemon=True)

    async def start(self) -> tuple[int, list[tuple[str, str]]]:
        self._thread.start()
        try:
            return await self._head
        except BaseException:
            await self.aclose()
            raise

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            item = await self._chunks.get()
            self._room.release()
            if isinstance(item, _Done):
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    async def aclose(self) -> None:
        self._closed.set()
        self._room.release()  # a thread waiting for room wakes and sees it is closed
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # a thread blocked in recv returns at once

    # -- the worker thread -----------------------------------------------------------------------

    def _run(self) -> None:
        connection: http.client.HTTPConnection | None = None
        try:
            connection, response = self._exchange()
            self._to_loop(self._set_head, response.status, response.getheaders())
            self._stream(response)
        except BaseException as exc:
            self._to_loop(self._fail, self._translated(exc))
        finally:
            if connection is not None:
                connection.close()

    def _exchange(self) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        url = self._request.url
        connection = http.client.HTTPConnection(
            url.host, url.port or 80, timeout=self._timeout.connect
        )
        connection.connect()
        self._sock = connection.sock
        if self._closed.is_set():
            raise ConnectionAbortedError("closed before the request was sent")
        connection.sock.settimeout(self._timeout.read)
        connection.putrequest(
            self._request.method,
            url.raw_path.decode("ascii"),
            skip_host=True,
            skip_accept_encoding=True,
        )
        for name, value in self._request.headers.multi_items():
            connection.putheader(name, value)  # httpx's own headers, Host included
        connection.endheaders()
        return connection, connection.getresponse()

    def _stream(self, response: http.client.HTTPResponse) -> None:
        while not self._closed.is_set():
            self._room.acquire()
            if self._closed.is_set():
                return
            data = response.read(_READ_SIZE)
            if not data:
                if response.length:  # bytes the Content-Length promised that never came
                    raise http.client.IncompleteRead(b"", response.length)
                self._to_loop(self._chunks.put_nowait, _Done())
                return
            self._to_loop(self._chunks.put_nowait, data)

    def _to_loop(self, fn: object, *args: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is listening
            self._loop.call_soon_threadsafe(fn, *args)  # type: ignore[arg-type]

    def _set_head(self, status: int, headers: list[tuple[str, str]]) -> None:
        if not self._head.done():
            self._head.set_result((status, headers))

    def _fail(self, exc: BaseException) -> None:
        if not self._head.done():
            self._head.set_exception(exc)
        else:
            self._chunks.put_nowait(exc)

    def _translated(self, exc: BaseException) -> BaseException:
        """httpx's exception for what went wrong, so retries and resuming treat it as theirs."""
        request = self._request
        if self._closed.is_set():
            return httpx.ReadError("the download was closed", request=request)
        if not self._head.done():
            if isinstance(exc, TimeoutError):
                return httpx.ConnectTimeout(str(exc) or "timed out", request=request)
            if isinstance(exc, OSError) and self._sock is None:
                return httpx.ConnectError(str(exc), request=request)
        if isinstance(exc, TimeoutError):
            return httpx.ReadTimeout(str(exc) or "timed out", request=request)
        if isinstance(exc, (OSError, http.client.HTTPException)):
            return httpx.ReadError(f"{type(exc).__name__}: {exc}", request=request)
        return exc
