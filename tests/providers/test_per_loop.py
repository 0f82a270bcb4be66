"""Objects kept per event loop (providers/_per_loop.py): made once per loop, and closed inside
their own loop when ``asyncio.run`` shuts it down, so a cached provider used by several
``asyncio.run`` calls leaves no connection open behind it."""

from __future__ import annotations

import asyncio

import httpx

from artreg.providers._per_loop import PerLoop, PerLoopClient


def test_each_loop_gets_its_own_client_and_closes_it_at_shutdown() -> None:
    made: list[httpx.AsyncClient] = []

    def factory() -> httpx.AsyncClient:
        made.append(httpx.AsyncClient())
        return made[-1]

    clients = PerLoopClient(factory)

    async def use() -> tuple[httpx.AsyncClient, bool]:
        client = clients.get()
        assert clients.get() is client  # one per loop
        return client, client.is_closed

    first, open_during_first = asyncio.run(use())
    second, open_during_second = asyncio.run(use())
    assert first is not second
    assert (open_during_first, open_during_second) == (False, False)
    assert [client.is_closed for client in made] == [True, True]


def test_a_value_taken_by_its_caller_is_not_closed_again() -> None:
    closed: list[str] = []

    async def close(value: str) -> None:
        closed.append(value)

    names = iter(["first", "second"])
    per_loop = PerLoop(lambda: next(names), close=close)

    async def take_it() -> str | None:
        per_loop.get()
        return per_loop.take()

    async def keep_it() -> str:
        return per_loop.get()

    assert asyncio.run(take_it()) == "first"
    assert asyncio.run(keep_it()) == "second"
    assert closed == ["second"]


def test_without_a_close_nothing_is_registered_with_the_loop() -> None:
    per_loop: PerLoop[list[int]] = PerLoop(list)

    async def use() -> int:
        per_loop.get().append(1)
        return len(asyncio.get_running_loop()._asyncgens)  # type: ignore[attr-defined]

    assert asyncio.run(use()) == 0
