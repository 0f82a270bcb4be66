"""The bad-input corpus: each message gets the documented error (standard JSON-RPC code, data in
artreg's error shape) and the connection keeps serving afterwards."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosedError

from artreg_rpc import RpcServer
from tests.rpc.conftest import BINDING, start_sidecar

GOOD = {
    "jsonrpc": "2.0",
    "method": "artifactRegistry.upstreamRepositoryPrefix",
    "params": {"bindingName": BINDING},
    "id": "good",
}


async def exchange(ws: ClientConnection, message: str | bytes, *, text: bool = True) -> Any:
    if isinstance(message, bytes) and text:
        await ws.send(message, text=True)
    else:
        await ws.send(message)
    return json.loads(await ws.recv())


async def still_serving(ws: ClientConnection) -> None:
    reply = await exchange(ws, json.dumps(GOOD))
    assert reply == {"jsonrpc": "2.0", "result": "artifacts/default", "id": "good"}


def assert_error(reply: Any, code: int, data_code: str, id_: Any = None) -> dict[str, Any]:
    assert reply["jsonrpc"] == "2.0"
    assert reply["id"] == id_
    assert set(reply) == {"jsonrpc", "error", "id"}
    error = reply["error"]
    assert error["code"] == code
    data: dict[str, Any] = error["data"]
    assert data["code"] == data_code
    assert {"code", "message", "retryable", "internal"} <= set(data)
    assert data["internal"] is False
    assert "Traceback" not in json.dumps(reply)
    return data


CORPUS: list[tuple[str, str | bytes, int, str, str | None]] = [
    ("malformed JSON", '{"jsonrpc": "2.0", "method": ', -32700, "INVALID_INPUT", None),
    ("not JSON at all", "hello", -32700, "INVALID_INPUT", None),
    (
        "invalid UTF-8",
        b'{"jsonrpc":"2.0","method":"\xff\xfe","id":1}',
        -32700,
        "INVALID_INPUT",
        None,
    ),
    ("a bare number", "42", -32600, "INVALID_INPUT", None),
    (
        "wrong jsonrpc version",
        '{"jsonrpc":"1.0","method":"rpc.discover","id":7}',
        -32600,
        "INVALID_INPUT",
        "jsonrpc",
    ),
    (
        "method not a string",
        '{"jsonrpc":"2.0","method":5,"id":7}',
        -32600,
        "INVALID_INPUT",
        "method",
    ),
    (
        "params a scalar",
        '{"jsonrpc":"2.0","method":"rpc.discover","params":3,"id":7}',
        -32600,
        "INVALID_INPUT",
        "params",
    ),
    ("empty batch", "[]", -32600, "INVALID_INPUT", None),
]


@pytest.mark.parametrize(
    ("name", "message", "code", "data_code", "field"), CORPUS, ids=[c[0] for c in CORPUS]
)
async def test_malformed_messages(
    sidecar: RpcServer,
    name: str,
    message: str | bytes,
    code: int,
    data_code: str,
    field: str | None,
) -> None:
    async with connect(sidecar.url) as ws:
        reply = await exchange(ws, message)
        expected_id = 7 if field in {"jsonrpc", "method", "params"} else None
        data = assert_error(reply, code, data_code, expected_id)
        assert data["context"].get("field_name") == field
        await still_serving(ws)


async def test_invalid_utf8_in_a_binary_frame(sidecar: RpcServer) -> None:
    async with connect(sidecar.url) as ws:
        reply = await exchange(ws, b'{"jsonrpc":"2.0","method":"\xc3\x28"}', text=False)
        data = assert_error(reply, -32700, "INVALID_INPUT")
        assert "UTF-8" in data["message"]
        await still_serving(ws)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"bindingName": 7, "repoId": "x"}, "bindingName"),
        ({"bindingName": BINDING}, "repoId"),
        ({"bindingName": BINDING, "repoId": "x", "extra": 1}, "extra"),
        ({"bindingName": BINDING, "repoId": "x", "permissions": "root"}, "permissions"),
        (
            {"bindingName": BINDING, "repoId": "x", "permissions": "pull", "ttlSeconds": -5},
            "ttlSeconds",
        ),
        (
            {"bindingName": BINDING, "repoId": "x", "permissions": "pull", "ttlSeconds": "60"},
            "ttlSeconds",
        ),
        (
            {"bindingName": BINDING, "repoId": "x", "permissions": "pull", "ttlSeconds": 1.5},
            "ttlSeconds",
        ),
    ],
)
async def test_wrong_types_name_the_field(
    sidecar: RpcServer, params: dict[str, Any], field: str
) -> None:
    message = {
        "jsonrpc": "2.0",
        "method": "artifactRegistry.generateCredentials",
        "params": params,
        "id": 3,
    }
    async with connect(sidecar.url) as ws:
        data = assert_error(await exchange(ws, json.dumps(message)), -32602, "INVALID_INPUT", 3)
        assert data["context"]["field_name"] == field
        assert data["context"]["operation_context"] == "artifactRegistry.generateCredentials"
        assert data["httpStatusCode"] == 400
        await still_serving(ws)


async def test_nested_field_and_bad_union_tag(sidecar: RpcServer) -> None:
    access = {
        "type": "aws",
        "accountIds": [123],
        "regions": [],
        "roleArns": [],
        "allowedServiceTypes": [],
    }
    base = {"bindingName": BINDING, "repoId": "artifacts/x"}
    async with connect(sidecar.url) as ws:
        for acc, field in ((access, "access.accountIds[0]"), ({"type": "azure"}, "access.type")):
            message = {
                "jsonrpc": "2.0",
                "method": "artifactRegistry.addCrossAccountAccess",
                "params": {**base, "access": acc},
                "id": 1,
            }
            data = assert_error(await exchange(ws, json.dumps(message)), -32602, "INVALID_INPUT", 1)
            assert data["context"]["field_name"] == field
        await still_serving(ws)


async def test_positional_params_are_invalid(sidecar: RpcServer) -> None:
    message = {
        "jsonrpc": "2.0",
        "method": "artifactRegistry.getRepository",
        "params": [BINDING, "artifacts/x"],
        "id": 9,
    }
    async with connect(sidecar.url) as ws:
        assert_error(await exchange(ws, json.dumps(message)), -32602, "INVALID_INPUT", 9)
        await still_serving(ws)


async def test_unknown_method(sidecar: RpcServer) -> None:
    async with connect(sidecar.url) as ws:
        reply = await exchange(
            ws, '{"jsonrpc":"2.0","method":"artifactRegistry.dropTables","id":"m"}'
        )
        data = assert_error(reply, -32601, "OPERATION_NOT_SUPPORTED", "m")
        assert data["context"]["operation"] == "artifactRegistry.dropTables"
        await still_serving(ws)


async def test_unknown_binding(sidecar: RpcServer) -> None:
    message = {
        "jsonrpc": "2.0",
        "method": "artifactRegistry.getRepository",
        "params": {"bindingName": "nope", "repoId": "x"},
        "id": 5,
    }
    async with connect(sidecar.url) as ws:
        reply = await exchange(ws, json.dumps(message))
        data = assert_error(reply, -32000, "BINDING_NOT_CONFIGURED", 5)
        assert data["context"] == {"binding_name": "nope", "env_var": "ALIEN_NOPE_BINDING"}
        assert reply["error"]["message"] == data["message"]
        await still_serving(ws)


async def test_invalid_binding_config(rpc_env: dict[str, str]) -> None:
    env = {
        **rpc_env,
        "ALIEN_BROKEN_BINDING": '{"service": "local", "registryUrl": {"secretRef": '
        '{"name": "n", "key": "k"}}, "dataDir": null}',
    }
    server = await start_sidecar(env)
    try:
        message = {
            "jsonrpc": "2.0",
            "method": "artifactRegistry.getRepository",
            "params": {"bindingName": "broken", "repoId": "x"},
            "id": 1,
        }
        async with connect(server.url) as ws:
            data = assert_error(
                await exchange(ws, json.dumps(message)), -32000, "BINDING_CONFIG_INVALID", 1
            )
            assert data["source"]["code"] == "BINDING_CONFIG_INVALID"
    finally:
        await server.shutdown(timeout=2)


async def test_oversize_message_gets_an_error_and_the_connection_stays(
    rpc_env: dict[str, str],
) -> None:
    server = await start_sidecar(rpc_env, max_message_size=4096)
    try:
        async with connect(server.url) as ws:
            big = json.dumps({**GOOD, "params": {"bindingName": "x" * 10_000}})
            data = assert_error(await exchange(ws, big), -32600, "INVALID_INPUT")
            assert "exceeds the limit of 4096 bytes" in data["message"]
            await still_serving(ws)
    finally:
        await server.shutdown(timeout=2)


async def test_huge_frame_closes_only_that_connection(rpc_env: dict[str, str]) -> None:
    """Frames over the transport ceiling (8x the limit) are refused with 1009 (message too big)."""
    server = await start_sidecar(rpc_env, max_message_size=4096)
    try:
        async with connect(server.url) as ws:
            await ws.send("x" * (4096 * 8 + 1))
            with pytest.raises(ConnectionClosedError):
                await ws.recv()
            assert ws.close_code == 1009
        async with connect(server.url) as ws:
            await still_serving(ws)
    finally:
        await server.shutdown(timeout=2)


async def test_batch_mixing_good_and_bad(sidecar: RpcServer) -> None:
    batch = [
        GOOD,
        {"jsonrpc": "2.0", "method": "artifactRegistry.nope", "id": "unknown"},
        {
            "jsonrpc": "2.0",
            "method": "artifactRegistry.getRepository",
            "params": {"bindingName": BINDING, "repoId": 1},
            "id": "types",
        },
        {
            "jsonrpc": "2.0",
            "method": "artifactRegistry.getRepository",
            "params": {"bindingName": "nobody", "repoId": "r"},
            "id": "binding",
        },
        17,
        {
            "jsonrpc": "2.0",
            "method": "artifactRegistry.upstreamRepositoryPrefix",
            "params": {"bindingName": BINDING},
        },  # a notification: no reply
        {
            "jsonrpc": "2.0",
            "method": "artifactRegistry.registryEndpoint",
            "params": {"bindingName": BINDING},
            "id": "endpoint",
        },
    ]
    async with connect(sidecar.url) as ws:
        replies = await exchange(ws, json.dumps(batch))
        assert isinstance(replies, list) and len(replies) == 6
        by_id = {r["id"]: r for r in replies if r["id"] is not None}
        assert by_id["good"]["result"] == "artifacts/default"
        assert by_id["endpoint"]["result"].startswith("http://127.0.0.1:")
        assert_error(by_id["unknown"], -32601, "OPERATION_NOT_SUPPORTED", "unknown")
        assert_error(by_id["types"], -32602, "INVALID_INPUT", "types")
        assert_error(by_id["binding"], -32000, "BINDING_NOT_CONFIGURED", "binding")
        (invalid,) = [r for r in replies if r["id"] is None]
        assert_error(invalid, -32600, "INVALID_INPUT")
        await still_serving(ws)


async def test_batch_of_notifications_gets_no_reply(sidecar: RpcServer) -> None:
    note = {
        "jsonrpc": "2.0",
        "method": "artifactRegistry.createRepository",
        "params": {"bindingName": BINDING, "repoName": "from-notification"},
    }
    async with connect(sidecar.url) as ws:
        await ws.send(json.dumps([note, note]))
        await ws.send(json.dumps(note))
        # the next reply is the next request's: nothing came back for the notifications
        get = {
            "jsonrpc": "2.0",
            "method": "artifactRegistry.getRepository",
            "params": {"bindingName": BINDING, "repoId": "artifacts/from-notification"},
            "id": 1,
        }
        for _ in range(50):  # the notifications ran (in their own tasks): the repository appears
            reply = await exchange(ws, json.dumps(get))
            if "result" in reply:
                break
        assert reply["result"]["name"] == "artifacts/from-notification"
