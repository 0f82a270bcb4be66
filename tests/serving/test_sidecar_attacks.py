"""Attacks on the JSON-RPC sidecar, reproduced against a real ``artreg rpc serve`` process over
loopback: amplification through batches, a client that never reads its replies, deep JSON,
handshake abuse and token guessing — each with its bounded answer, the process's memory read
from /proc, and a valid client served meanwhile."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.serving.attack import (
    ARTREG,
    peak_rss_bytes,
    read_head,
    read_reply,
    rss_bytes,
    sidecar_process,
    status_of,
    wait_for,
)

MiB = 1 << 20
TOKEN = "t0ken-" + "x" * 40


def _batch(n: int, method: str = "rpc.discover") -> str:
    entries = [{"jsonrpc": "2.0", "method": method, "id": i} for i in range(n)]
    return json.dumps(entries, separators=(",", ":"))


async def _discover(url: str, **kwargs: Any) -> dict[str, Any]:
    async with connect(url, max_size=None, **kwargs) as ws:
        await ws.send(json.dumps({"jsonrpc": "2.0", "method": "rpc.discover", "id": 1}))
        reply: dict[str, Any] = json.loads(await ws.recv())
        return reply


async def _silent(url: str) -> ClientConnection:
    """A client that stops reading: websockets pauses the socket once one message is queued."""
    return await connect(url, max_size=None, max_queue=1, ping_interval=None)


def test_a_huge_batch_gets_one_small_error(tmp_path: object) -> None:
    async def attack(url: str) -> None:
        async with connect(url, max_size=None) as ws:
            payload = _batch(19_000)
            assert 0.8 * MiB < len(payload) < MiB
            await ws.send(payload)
            reply = json.loads(await ws.recv())
            assert reply["error"]["code"] == -32600
            assert "exceeds the limit of 100" in reply["error"]["data"]["message"] + json.dumps(
                reply["error"]["data"]
            )
            assert reply["id"] is None
            await ws.send(_batch(100))
            replies = json.loads(await ws.recv())
            assert len(replies) == 100 and all("result" in r for r in replies)

    with sidecar_process() as server:
        asyncio.run(attack(server.url))


def test_clients_that_never_read_are_disconnected_and_memory_stays_bounded() -> None:
    async def attack(url: str, pid: int, server_log: Any) -> None:
        silent = [await _silent(url) for _ in range(2)]
        # the reported attack: 4 batches of ~20,000 rpc.discover (just under 1 MiB) on each of
        # 2 connections
        for ws in silent:
            for _ in range(4):
                await ws.send(_batch(19_000))
        # then the largest batches allowed (about 1.4 MB of reply each), never read
        big = _batch(100)
        with_room = 0
        for _ in range(40):
            for ws in silent:
                try:
                    await ws.send(big)
                    with_room += 1
                except ConnectionClosed:
                    pass
        assert await asyncio.to_thread(
            wait_for, lambda: server_log().count("does not read its replies") >= 2
        )
        reply = await _discover(url)  # a valid client is served meanwhile
        assert reply["result"]["openrpc"]
        assert rss_bytes(pid) < 200 * MiB
        assert peak_rss_bytes(pid) < 200 * MiB
        for ws in silent:
            ws.transport.abort()

    with sidecar_process() as server:
        asyncio.run(attack(server.url, server.proc.pid, lambda: server.stderr))


def test_a_reply_over_the_size_limit_becomes_errors_for_the_entries_past_it() -> None:
    from artreg_rpc.dispatch import Dispatcher
    from artreg_rpc.registries import RegistryPool

    dispatcher = Dispatcher(RegistryPool({}), max_reply_size=64 * 1024)

    async def run() -> list[dict[str, Any]]:
        encoded = await dispatcher.handle(_batch(20))
        assert encoded is not None
        assert len(encoded) < 64 * 1024
        return list(json.loads(encoded))

    replies = asyncio.run(run())
    assert len(replies) == 20
    answered = [r for r in replies if "result" in r]
    refused = [r for r in replies if "error" in r]
    assert answered and refused
    assert sorted(r["id"] for r in replies) == list(range(20))
    assert all(r["error"]["code"] == -32600 for r in refused)


@pytest.mark.parametrize("depth", [10_000, 100_000])
def test_deeply_nested_params_get_an_invalid_request_reply(depth: int) -> None:
    async def attack(url: str) -> None:
        async with connect(url, max_size=None) as ws:
            nested = "[" * depth + "]" * depth
            await ws.send(
                '{"jsonrpc":"2.0","method":"artifactRegistry.getRepository",'
                '"params":{"bindingName":"x","repoId":' + nested + '},"id":7}'
            )
            reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
            assert reply["error"]["code"] == -32600
            assert "nested deeper than 64" in json.dumps(reply["error"])
            reply = json.loads(
                await ws.send(json.dumps({"jsonrpc": "2.0", "method": "rpc.discover", "id": 8}))
                or await ws.recv()
            )
            assert reply["id"] == 8 and "result" in reply

    with sidecar_process() as server:
        asyncio.run(attack(server.url))


def test_handshake_limits_host_rule_and_connection_cap() -> None:
    with sidecar_process() as server:
        host, port = server.address

        def handshake(extra: bytes = b"", host_header: bytes = b"localhost") -> bytes:
            with socket.create_connection((host, port), timeout=20) as sock:
                sock.sendall(
                    b"GET / HTTP/1.1\r\nHost: " + host_header + b"\r\nUpgrade: websocket\r\n"
                    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    b"Sec-WebSocket-Version: 13\r\n" + extra + b"\r\n"
                )
                return read_head(sock)

        assert status_of(handshake()) == 101
        assert status_of(handshake(host_header=b"evil.example")) == 403
        assert status_of(handshake(b"Origin: https://evil.example\r\n")) == 403
        padding = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"p" * 4000) for i in range(30))
        assert status_of(handshake(padding)) in (431, None)
        # a connection that never finishes its handshake is closed (websockets' open_timeout)
        held = []
        try:
            for _ in range(32):
                sock = socket.create_connection((host, port), timeout=20)
                sock.sendall(b"GET / HTTP/1.1\r\n")
                held.append(sock)
            with socket.create_connection((host, port), timeout=20) as extra:
                assert status_of(read_reply(extra)) == 503
        finally:
            for sock in held:
                sock.close()
        assert wait_for(lambda: _served(server.url))


def _served(url: str) -> bool:
    try:
        return "result" in asyncio.run(_discover(url))
    except (OSError, InvalidStatus):
        return False


def test_token_guessing_is_throttled_and_logged_once_per_address() -> None:
    async def attack(url: str) -> list[int]:
        statuses = []
        for n in range(40):
            try:
                async with connect(url, additional_headers={"Authorization": f"Bearer guess{n}"}):
                    statuses.append(101)
            except InvalidStatus as exc:
                statuses.append(exc.response.status_code)
                if exc.response.status_code == 429:
                    assert int(exc.response.headers["Retry-After"]) >= 1
        return statuses

    with sidecar_process(env={"ARTREG_RPC_TOKEN": TOKEN}) as server:
        statuses = asyncio.run(attack(server.url))
        assert statuses[:10] == [401] * 10
        assert statuses[10:] == [429] * 30
        # the right token from another address is served while this one is throttled
        reply = asyncio.run(
            _discover(
                server.url.replace("127.0.0.1", "127.0.0.1"),
                additional_headers={"Authorization": f"Bearer {TOKEN}"},
                host="127.0.0.1",
                local_addr=("127.0.0.2", 0),
            )
        )
        assert "result" in reply
        logged = server.stderr
        assert logged.count("bad or missing token") == 1
        assert logged.count("too many failed tries") == 1
        assert TOKEN not in logged


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_a_public_bind_refuses_a_short_token(host: str) -> None:
    result = subprocess.run(
        [*ARTREG, "rpc", "serve", "--host", host, "--port", "0"],
        env={"ARTREG_RPC_TOKEN": "x" * 31, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "at least 32" in result.stderr
    assert "x" * 31 not in result.stderr
