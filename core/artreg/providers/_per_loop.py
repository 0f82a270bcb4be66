"""Objects that belong to one event loop, for providers the loader caches across loops.

An ``httpx.AsyncClient`` (and anything holding one) is bound to the event loop it first ran in;
the loader hands the same provider instance to every ``asyncio.run`` of a process (one per CLI
call, one per test), so providers keep one such object per loop and make a new one when the
running loop changes. An object of a loop that has since closed is dropped, not closed: its
connections died with its loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
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


class PerLoop(Generic[T]):
    """One ``T`` per event loop, made by ``factory`` on first use in that loop."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._value: T | None = None
        self._loop: object = None

    def get(self) -> T:
        loop = current_loop()
        if self._value is None or loop is not self._loop:
            self._value = self._factory()
            self._loop = loop
        return self._value

    def take(self) -> T | None:
        """The current loop's object (None if there is none), forgotten here: the caller
        closes it."""
        value, self._value = self._value, None
        if value is not None and self._loop is not current_loop():
            return None
        return value


class PerLoopClient:
    """An ``httpx.AsyncClient`` per event loop; or, when one is given, that client always
    (whoever passes a client owns it and its loop)."""

    def __init__(
        self,
        factory: Callable[[], httpx.AsyncClient],
        given: httpx.AsyncClient | None = None,
    ) -> None:
        self._given = given
        self._clients = PerLoop(factory)

    def get(self) -> httpx.AsyncClient:
        return self._given if self._given is not None else self._clients.get()

    async def aclose(self) -> None:
        """Close the client this object made for the running loop (a given one stays open)."""
        client = self._clients.take()
        if client is not None:
            await client.aclose()
