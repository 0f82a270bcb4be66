"""The transport around the calls: bearer-token auth on the handshake, loopback-only without a
token, browser origins, GET /healthz, and graceful shutdown of an in-process server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from artreg_rpc import Dispatcher, RegistryPool, RpcServer, ServerConfig
from artreg_rpc.errors import RpcConfigError
from tests.rpc.client import RpcFailure, rpc_client, until
from tests.rpc.conftest import BINDING, SLOW_BINDING, start_sidecar
from tests.rpc.slowproxy import SlowProxy

TOKEN = "s3cret-token-for-tests-0123456789abcdef"


@pytest.fixture
async def guarded(rpc_env: dict[str, str]) -> AsyncIterator[RpcServer]:
    server = await start_sidecar(rpc_env, token=TOKEN)
    yield server
    await server.shutdown(timeout=2)


async def test_token_accepted(guarded: RpcServer) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with rpc_client(guarded.url, additional_headers=headers) as rpc:
        assert (
            await rpc.call("upstreamRepositoryPrefix", bindingName=BINDING) == "artifacts/default"
        )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
    ],
    ids=["missing", "wrong", "longer", "basic", "bare"],
)
async def test_token_refused(guarded: RpcServer, headers: dict[str, str]) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(guarded.url, additional_headers=headers):
            pass
    response = refused.value.response
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert TOKEN.encode() not in response.body


async def test_healthz_needs_no_token(guarded: RpcServer) -> None:
    async with httpx.AsyncClient() as http:
        reply = await http.get(f"http://127.0.0.1:{guarded.port}/healthz")
    assert (reply.status_code, reply.text) == (200, "ok\n")


async def test_other_paths_are_not_found(sidecar: RpcServer) -> None:
    async with httpx.AsyncClient() as http:
        reply = await http.get(f"http://127.0.0.1:{sidecar.port}/metrics")
    assert reply.status_code == 404
    with pytest.raises(InvalidStatus) as refused:
        async with connect(sidecar.url + "/rpc"):
            pass
    assert refused.value.response.status_code == 404


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.com"])
def test_no_token_no_public_address(host: str) -> None:
    with pytest.raises(RpcConfigError, match="refusing to listen"):
        RpcServer(Dispatcher(RegistryPool({})), ServerConfig(host=host, port=0))


def test_public_address_allowed_with_a_token() -> None:
    ServerConfig(host="0.0.0.0", port=0, token=TOKEN).check()
    assert "s3cret" not in repr(ServerConfig(token=TOKEN))


#: Origins a prefix, suffix or substring match would let through; each must be refused.
HOSTILE_ORIGINS = (
    "https://evil.example",
    "https://app.example.evil.com",
    "http://localhost.evil.com",
    "http://127.0.0.1.nip.io",
    "null",
    "file://",
)


async def _discover_with_origin(url: str, origin: str) -> dict[str, object]:
    async with connect(url, origin=origin) as ws:  # type: ignore[arg-type]
        await ws.send('{"jsonrpc":"2.0","method":"rpc.discover","id":1}')
        reply = json.loads(await ws.recv())
    assert isinstance(reply, dict)
    return reply


async def _refused_status(url: str, origin: str) -> int:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, origin=origin):  # type: ignore[arg-type]
            pass
    return refused.value.response.status_code


async def test_browser_origins(sidecar: RpcServer) -> None:
    reply = await _discover_with_origin(sidecar.url, "http://localhost:3000")
    assert reply["id"] == 1 and reply["result"]["openrpc"] == "1.3.2"  # type: ignore[index]
    for origin in HOSTILE_ORIGINS:
        assert await _refused_status(sidecar.url, origin) == 403, origin


async def test_allowed_origin_list(rpc_env: dict[str, str]) -> None:
    server = await start_sidecar(rpc_env, allowed_origins=("https://app.example",))
    try:
        reply = await _discover_with_origin(server.url, "https://app.example")
        assert reply["id"] == 1 and "result" in reply
        for origin in HOSTILE_ORIGINS:
            assert await _refused_status(server.url, origin) == 403, origin
    finally:
        await server.shutdown(timeout=2)


async def test_shutdown_finishes_calls_in_flight(
    rpc_env: dict[str, str], slow_proxy: SlowProxy
) -> None:
    server = await start_sidecar(rpc_env)
    port = server.port
    async with rpc_client(server.url) as rpc:
        slow = asyncio.create_task(
            rpc.call(
                "headBlob", bindingName=SLOW_BINDING, repoName="slow/x", digest="sha256:" + "c" * 64
            )
        )
        # running, not merely received: a call whose task has not started yet when shutdown
        # begins is refused like a new one
        await until(lambda: slow_proxy.holding > 0)
        stopping = asyncio.create_task(server.shutdown(timeout=10))
        await until(lambda: server.draining)
        # while draining: no new connections, and new requests are refused
        with pytest.raises((OSError, InvalidStatus)):
            async with connect(f"ws://127.0.0.1:{port}", open_timeout=2):
                pass
        with pytest.raises(RpcFailure) as refused:
            await rpc.call("upstreamRepositoryPrefix", bindingName=BINDING)
        assert refused.value.data["code"] == "REMOTE_SERVICE_UNAVAILABLE"
        assert refused.value.data["retryable"] is True
        assert await slow is None  # the call in flight got its answer
        await stopping
        with pytest.raises((ConnectionClosed, ConnectionError)):
            await rpc.call("upstreamRepositoryPrefix", bindingName=BINDING)
    assert rpc.ws.close_code == 1001


async def test_shutdown_is_bounded(rpc_env: dict[str, str], slow_proxy: SlowProxy) -> None:
    server = await start_sidecar(rpc_env)
    async with rpc_client(server.url) as rpc:
        slow = asyncio.create_task(
            rpc.call(
                "headBlob", bindingName=SLOW_BINDING, repoName="slow/x", digest="sha256:" + "d" * 64
            )
        )
        await until(lambda: slow_proxy.holding > 0)  # the call is running (see above)
        await server.shutdown(timeout=0.1)  # gives up on the call and closes
        with pytest.raises((ConnectionClosed, ConnectionError)):
            await slow


async def test_a_peer_that_stops_answering_pings_is_dropped(rpc_env: dict[str, str]) -> None:
    """Keepalive: a client that completes the handshake and then never answers a ping (here a
    raw socket) is disconnected after ping_interval + ping_timeout; answering clients stay."""
    server = await start_sidecar(rpc_env, ping_interval=0.2, ping_timeout=0.3)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        await writer.drain()
        assert (await reader.readline()).startswith(b"HTTP/1.1 101")
        async with rpc_client(server.url) as rpc:  # a live client: its pings get answered
            seen = b""
            async with asyncio.timeout(10):
                while chunk := await reader.read(4096):  # pings, then a close frame, then EOF
                    seen += chunk
            assert b"\x89" in seen  # at least one ping frame (opcode 0x9) arrived
            assert await rpc.call("upstreamRepositoryPrefix", bindingName=BINDING)
        writer.close()
    finally:
        await server.shutdown(timeout=2)
