"""Ordered background work for streams: hashing and file writes run in one worker thread per
stream, in order, while the event loop receives the next chunk (hashlib and file writes release
the GIL). At most ``depth`` calls are in flight, so memory stays bounded."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["OrderedWorker"]


class OrderedWorker:
    """Run calls in submission order on a private thread; ``await drain()`` before using results."""

    def __init__(self, depth: int = 4) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="artreg-stream")
        self._pending: deque[asyncio.Future[Any]] = deque()
        self._depth = depth

    async def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue ``fn(*args)``; waits only when ``depth`` calls are already pending."""
        loop = asyncio.get_running_loop()
        self._pending.append(loop.run_in_executor(self._executor, fn, *args))
        while len(self._pending) > self._depth:
            await self._pending.popleft()

    async def drain(self) -> None:
        """Wait for every queued call (re-raising the first failure)."""
        while self._pending:
            await self._pending.popleft()

    async def aclose(self) -> None:
        """Finish pending calls (ignoring their errors) and stop the thread."""
        while self._pending:
            try:
                await self._pending.popleft()
            except Exception:  # noqa: S112 - already failing; just let the thread finish
                continue
        self._executor.shutdown(wait=False)
