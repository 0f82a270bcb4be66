"""A small JSON-RPC client over a real WebSocket, for the sidecar's tests: replies are matched
to calls by id, so many calls can be in flight on one connection."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed


class RpcFailure(Exception):
    """An error reply: ``error`` is the JSON-RPC error object."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.error = error

    @property
    def code(self) -> int:
        return int(self.error["code"])

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = self.error["data"]
        return data


class RpcClient:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[Any, asyncio.Future[dict[str, Any]]] = {}
        self.unmatched: asyncio.Queue[Any] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                reply = json.loads(message)
                fut = self._pending.pop(reply.get("id"), None) if isinstance(reply, dict) else None
                if fut is None:
                    await self.unmatched.put(reply)
                else:
                    fut.set_result(reply)
        except ConnectionClosed:
            pass
        finally:
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("connection closed"))

    async def request(self, method: str, params: Any = None, *, id_: Any = None) -> dict[str, Any]:
        """Send one request; the whole reply object."""
        id_ = next(self._ids) if id_ is None else id_
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": id_}
        if params is not None:
            message["params"] = params
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[id_] = fut
        await self.ws.send(json.dumps(message))
        return await fut

    async def call(self, method: str, **params: Any) -> Any:
        """The result of ``artifactRegistry.<method>`` (or any full name), or RpcFailure."""
        name = method if "." in method else f"artifactRegistry.{method}"
        reply = await self.request(name, params)
        if "error" in reply:
            raise RpcFailure(reply["error"])
        return reply["result"]

    async def notify(self, method: str, **params: Any) -> None:
        await self.ws.send(json.dumps({"jsonrpc": "2.0", "method": method, "params": params}))

    async def close(self) -> None:
        await self.ws.close()
        await self._reader


@asynccontextmanager
async def rpc_client(url: str, **kwargs: Any) -> AsyncIterator[RpcClient]:
    async with connect(url, max_size=None, **kwargs) as ws:
        client = RpcClient(ws)
        try:
            yield client
        finally:
            await client.close()


async def until(predicate: Callable[[], bool], limit: float = 10.0) -> None:
    """Wait until ``predicate()`` holds (polling), or fail after ``limit`` seconds."""
    async with asyncio.timeout(limit):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
