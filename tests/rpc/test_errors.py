"""artreg errors map to -32000 with their data; internal ones and unexpected exceptions are
sanitised on the wire and logged in full on the server."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import pytest

from artreg.loader import load_artifact_registry
from artreg.registry import ArtifactRegistry
from artreg.types import RepositoryResponse
from artreg_rpc import Dispatcher, RegistryPool, RpcServer, ServerConfig
from tests.registries import free_port
from tests.rpc.client import RpcFailure, rpc_client
from tests.rpc.conftest import local_binding, start_sidecar

SECRET = "hunter2-very-secret-token"


async def test_internal_artreg_error_is_sanitised_and_keeps_its_public_cause(
    rpc_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """The provider's internal wrapper is hidden; the registry being down, which explains it,
    reaches the client as ``source``, naming the host."""
    port = free_port()
    env = {**rpc_env, "ALIEN_DOWN_BINDING": local_binding(f"127.0.0.1:{port}")}
    server = await start_sidecar(env)
    try:
        with caplog.at_level(logging.ERROR, logger="artreg_rpc"):
            async with rpc_client(server.url) as rpc:
                with pytest.raises(RpcFailure) as failure:
                    await rpc.call("createRepository", bindingName="down", repoName="app")
                # the server keeps serving
                assert await rpc.call("upstreamRepositoryPrefix", bindingName="down")
    finally:
        await server.shutdown(timeout=2)
    error = failure.value.error
    assert error["code"] == -32000
    assert error["message"] == "Internal error"
    source = error["data"].pop("source")
    assert error["data"] == {
        "code": "BINDINGS_ERROR",
        "message": "Internal error",
        "retryable": True,
        "internal": True,
        "httpStatusCode": 500,
    }
    assert source["code"] == "REMOTE_SERVICE_UNAVAILABLE"
    assert source["internal"] is False
    assert source["retryable"] is True
    assert f"connection to 127.0.0.1:{port} failed: ConnectError" in source["message"]
    assert source["context"]["details"] == f"connection to 127.0.0.1:{port} failed: ConnectError"
    assert "source" not in source  # the httpx exception under it is internal: left out
    logged = "\n".join(r.getMessage() + str(r.exc_info) for r in caplog.records)
    assert "Failed to push config blob" in logged


class ExplodingRegistry(ArtifactRegistry):
    """A registry whose every call raises a plain exception carrying a secret."""

    async def create_repository(self, repo_name: str) -> RepositoryResponse:
        raise RuntimeError(f"connection string password={SECRET}")

    get_repository = create_repository  # type: ignore[assignment]
    add_cross_account_access = create_repository  # type: ignore[assignment]
    remove_cross_account_access = create_repository  # type: ignore[assignment]
    get_cross_account_access = create_repository  # type: ignore[assignment]
    generate_credentials = create_repository  # type: ignore[assignment]
    delete_repository = create_repository  # type: ignore[assignment]


def exploding_loader(name: str, env: Mapping[str, str]) -> ArtifactRegistry:
    if name == "boom":
        return ExplodingRegistry()
    return load_artifact_registry(name, env)


async def test_unexpected_exception_is_sanitised(
    rpc_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    env = {**rpc_env, "ALIEN_BOOM_BINDING": local_binding("127.0.0.1:1")}
    server = RpcServer(Dispatcher(RegistryPool(env, exploding_loader)), ServerConfig(port=0))
    await server.start()
    try:
        with caplog.at_level(logging.ERROR, logger="artreg_rpc"):
            async with rpc_client(server.url) as rpc:
                reply = await rpc.request(
                    "artifactRegistry.createRepository", {"bindingName": "boom", "repoName": "a"}
                )
                assert await rpc.call("upstreamRepositoryPrefix", bindingName="artifacts")
    finally:
        await server.shutdown(timeout=2)
    assert reply["error"]["code"] == -32603
    assert reply["error"]["message"] == "Internal error"
    assert reply["error"]["data"]["code"] == "BINDINGS_ERROR"
    assert reply["error"]["data"]["internal"] is True
    assert SECRET not in json.dumps(reply)
    assert "RuntimeError" not in json.dumps(reply)
    assert any(r.exc_info and SECRET in str(r.exc_info[1]) for r in caplog.records)


async def test_internal_causes_of_a_public_error_are_sanitised(sidecar: RpcServer) -> None:
    """A public error keeps its own message and context; an internal cause in its source chain
    shows only its code and flags (the registry's raw reply stays in the server log)."""
    async with rpc_client(sidecar.url) as rpc:
        with pytest.raises(RpcFailure) as failure:
            await rpc.call("getRepository", bindingName="artifacts", repoId="artifacts/absent")
    data = failure.value.data
    assert data["code"] == "RESOURCE_NOT_FOUND"
    chain = []
    node: dict[str, Any] | None = data
    while node is not None:
        chain.append(node)
        node = node.get("source")
    assert len(chain) >= 2
    for entry in chain:
        if entry["internal"]:
            assert entry["message"] == "Internal error"
            assert "context" not in entry and "source" not in entry
    assert "MANIFEST_UNKNOWN" not in json.dumps(data)
