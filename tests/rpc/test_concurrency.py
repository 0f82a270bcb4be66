"""Many calls in flight on one connection, answered as they finish and matched by id."""

from __future__ import annotations

import asyncio
import contextlib
import json

from websockets.asyncio.client import connect

from artreg_rpc import RpcServer
from tests.rpc.client import rpc_client, until
from tests.rpc.conftest import BINDING, SLOW_BINDING, start_sidecar
from tests.rpc.slowproxy import SlowProxy


async def test_200_concurrent_calls_on_one_connection(sidecar: RpcServer) -> None:
    async with rpc_client(sidecar.url) as rpc:
        await rpc.call("createRepository", bindingName=BINDING, repoName="busy")

        async def one(i: int) -> None:
            if i % 4 == 0:
                repo = await rpc.call("getRepository", bindingName=BINDING, repoId="artifacts/busy")
                assert repo["name"] == "artifacts/busy"
            elif i % 4 == 1:
                head = await rpc.call(
                    "headManifest",
                    bindingName=BINDING,
                    repoName="artifacts/busy",
                    reference="latest",
                )
                assert head["digest"].startswith("sha256:")
            elif i % 4 == 2:
                creds = await rpc.call(
                    "generateCredentials",
                    bindingName=BINDING,
                    repoId=f"artifacts/r{i}",
                    permissions="pull",
                )
                assert creds["authMethod"] == "basic"
            else:
                created = await rpc.call("createRepository", bindingName=BINDING, repoName=f"c{i}")
                assert created["name"] == f"artifacts/c{i}"

        await asyncio.gather(*(one(i) for i in range(200)))
        assert rpc.unmatched.empty()


async def test_replies_come_as_calls_finish(sidecar: RpcServer, slow_proxy: SlowProxy) -> None:
    """A fast call sent after a slow one is answered first, on the same connection."""
    async with rpc_client(sidecar.url) as rpc:
        order: list[str] = []

        async def slow() -> None:
            with contextlib.suppress(Exception):
                await rpc.call("getRepository", bindingName=SLOW_BINDING, repoId="slow/none")
            order.append("slow")

        async def fast() -> None:
            # sent once the slow call is being held on its way to the registry
            await until(lambda: slow_proxy.holding > 0)
            await rpc.call("upstreamRepositoryPrefix", bindingName=BINDING)
            order.append("fast")

        await asyncio.gather(slow(), fast())
        assert order == ["fast", "slow"]


async def test_batch_entries_run_concurrently(sidecar: RpcServer, slow_proxy: SlowProxy) -> None:
    """The slow registry sees the three calls of one batch at the same time."""
    batch = [
        {
            "jsonrpc": "2.0",
            "method": "artifactRegistry.headBlob",
            "params": {
                "bindingName": SLOW_BINDING,
                "repoName": "slow/x",
                "digest": "sha256:" + "a" * 64,
            },
            "id": i,
        }
        for i in range(3)
    ]
    async with connect(sidecar.url) as ws:
        await ws.send(json.dumps(batch))
        replies = json.loads(await ws.recv())
    assert sorted(r["id"] for r in replies) == [0, 1, 2]
    assert all(r["result"] is None for r in replies)
    assert slow_proxy.max_holding == 3


async def test_in_flight_limit_applies_backpressure(
    rpc_env: dict[str, str], slow_proxy: SlowProxy
) -> None:
    """With max_in_flight=2, a third call waits for a slot instead of failing."""
    server = await start_sidecar(rpc_env, max_in_flight=2)
    try:
        async with rpc_client(server.url) as rpc:
            calls = [
                rpc.call(
                    "headBlob",
                    bindingName=SLOW_BINDING,
                    repoName="slow/x",
                    digest="sha256:" + "b" * 64,
                )
                for _ in range(3)
            ]
            assert await asyncio.gather(*calls) == [None, None, None]
        assert slow_proxy.max_holding == 2
    finally:
        await server.shutdown(timeout=5)


async def test_batch_concurrency_is_bounded(rpc_env: dict[str, str], slow_proxy: SlowProxy) -> None:
    """A large batch cannot start unbounded work: entries beyond the bound wait their turn."""
    server = await start_sidecar(rpc_env, batch_concurrency=2)
    batch = [
        {
            "jsonrpc": "2.0",
            "method": "artifactRegistry.headBlob",
            "params": {
                "bindingName": SLOW_BINDING,
                "repoName": "slow/x",
                "digest": "sha256:" + "f" * 64,
            },
            "id": i,
        }
        for i in range(3)
    ]
    try:
        async with connect(server.url) as ws:
            await ws.send(json.dumps(batch))
            replies = json.loads(await ws.recv())
    finally:
        await server.shutdown(timeout=5)
    assert sorted(r["id"] for r in replies) == [0, 1, 2]
    assert slow_proxy.max_holding == 2
