"""Objects that belong to one event loop, for providers the loader caches across loops.

An ``httpx.AsyncClient`` (and anything holding one) is bound to the event loop it first ran in;
the loader hands the same provider instance to every ``asyncio.run`` of a process (one per CLI
call, one per test), so providers keep one such object per loop and make a new one when the
running loop changes.

An object with a ``close`` is closed inside its own loop when that loop shuts down the way
``asyncio.run`` does it (``shutdown_asyncgens``): a started async generator registered with the
loop runs the close in its ``finally``. Without it, a client replaced by the next loop's would
keep its pooled sockets open until the garbage collector found it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Generic, TypeVar

import httpx

__all__ = ["PerLoop", "PerLoopClient", "current_loop"]

T = TypeVar("T")


def current_loop() -> object:
    """The running event loop, or None outside one."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class _Owned(Generic[T]):
    """An object and whether this module still has to close it."""

    def __init__(self, value: T) -> None:
        self.value = value
        self.ours = True


async def _close_at_loop_shutdown(
    owned: _Owned[T], close: Callable[[T], Awaitable[None]], guards: set[object]
) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        guards.discard(owned)
        if owned.ours:
            owned.ours = False
            await close(owned.value)


class PerLoop(Generic[T]):
    """One ``T`` per event loop, made by ``factory`` on first use in that loop; with ``close``,
    closed in that loop when it shuts down (unless :meth:`take` handed it to a caller)."""

    def __init__(
        self, factory: Callable[[], T], close: Callable[[T], Awaitable[None]] | None = None
    ) -> None:
        self._factory = factory
        self._close = close
        self._owned: _Owned[T] | None = None
        self._loop: object = None
        # The loop keeps its async generators in a WeakSet: these strong references keep each
        # closer alive until its loop shuts down.
        self._guards: set[object] = set()

    def get(self) -> T:
        loop = current_loop()
        if self._owned is None or loop is not self._loop:
            self._owned = _Owned(self._factory())
            self._loop = loop
            if loop is not None and self._close is not None:
                self._close_with_loop(self._owned, self._close)
        return self._owned.value

    def _close_with_loop(self, owned: _Owned[T], close: Callable[[T], Awaitable[None]]) -> None:
        closer = _close_at_loop_shutdown(owned, close, self._guards)
        first = closer.asend(None)  # registers the generator with the running loop
        try:
            first.send(None)  # runs it to its yield, no await before it
        except StopIteration:
            self._guards.add(closer)

    def take(self) -> T | None:
        """The current loop's object (None if there is none), forgotten here: the caller
        closes it."""
        owned, self._owned = self._owned, None
        if owned is None or self._loop is not current_loop():
            return None
        owned.ours = False
        return owned.value


class PerLoopClient:
    """An ``httpx.AsyncClient`` per event loop; or, when one is given, that client always
    (whoever passes a client owns it and its loop)."""

    def __init__(
        self,
        factory: Callable[[], httpx.AsyncClient],
        given: httpx.AsyncClient | None = None,
    ) -> None:
        self._given = given
        self._clients = PerLoop(factory, close=lambda client: client.aclose())

    def get(self) -> httpx.AsyncClient:
        return self._given if self._given is not None else self._clients.get()

    async def aclose(self) -> None:
        """Close the client this object made for the running loop (a given one stays open)."""
        client = self._clients.take()
        if client is not None:
            await client.aclose()
