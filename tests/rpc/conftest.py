"""Fixtures for the sidecar's tests: a real distribution registry (one per module), a slow proxy
in front of it, and the sidecar itself listening on a free loopback port in the test's loop."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from artreg_rpc import Dispatcher, RegistryPool, RpcServer, ServerConfig
from tests.registries import RunningRegistry, distribution_registry
from tests.rpc.slowproxy import SlowProxy

#: The binding the tests call, and one behind a registry that answers slowly.
BINDING = "artifacts"
SLOW_BINDING = "slow"
SLOW_DELAY = 1.5


def local_binding(address: str) -> str:
    return json.dumps({"service": "local", "registryUrl": address, "dataDir": None})


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    with distribution_registry(tmp_path_factory.mktemp("distribution")) as reg:
        yield reg


@pytest.fixture
async def slow_proxy(registry: RunningRegistry) -> AsyncIterator[SlowProxy]:
    proxy = SlowProxy(registry.host, SLOW_DELAY)
    proxy.address = await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()


@pytest.fixture
def rpc_env(registry: RunningRegistry, slow_proxy: SlowProxy) -> dict[str, str]:
    return {
        "ALIEN_ARTIFACTS_BINDING": local_binding(registry.host),
        "ALIEN_SLOW_BINDING": local_binding(slow_proxy.address),
    }


async def start_sidecar(
    env: dict[str, str], *, batch_concurrency: int = 64, **config: Any
) -> RpcServer:
    cfg = ServerConfig(port=0, **config)
    dispatcher = Dispatcher(
        RegistryPool(env),
        max_message_size=cfg.max_message_size,
        batch_concurrency=batch_concurrency,
    )
    server = RpcServer(dispatcher, cfg)
    await server.start()
    return server


@pytest.fixture
async def sidecar(rpc_env: dict[str, str]) -> AsyncIterator[RpcServer]:
    server = await start_sidecar(rpc_env)
    try:
        yield server
    finally:
        await server.shutdown(timeout=5)


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]
