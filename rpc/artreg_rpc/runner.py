"""Running the sidecar as a process: signals, readiness, graceful exit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager

from artreg.eventloop import loop_factory
from artreg_rpc.calls import DEFAULT_CALL_TIMEOUT
from artreg_rpc.dispatch import Dispatcher
from artreg_rpc.errors import RpcConfigError
from artreg_rpc.registries import RegistryPool
from artreg_rpc.server import TOKEN_ENV, RpcServer, ServerConfig, parse_origins

__all__ = [
    "CALL_TIMEOUT_ENV",
    "HOSTS_ENV",
    "ORIGINS_ENV",
    "config_from_env",
    "loop_factory",
    "parse_call_timeout",
    "run",
    "serve",
]

log = logging.getLogger("artreg_rpc")

#: Extra browser origins allowed to connect, comma-separated (``*``: any).
ORIGINS_ENV = "ARTREG_RPC_ALLOWED_ORIGINS"
#: Extra names clients may use in ``Host`` on a loopback bind, comma-separated.
HOSTS_ENV = "ARTREG_RPC_ALLOWED_HOSTS"
#: Seconds a call may run before TIMEOUT (``0``: no limit), when ``--call-timeout`` is not given.
CALL_TIMEOUT_ENV = "ARTREG_RPC_CALL_TIMEOUT"


def config_from_env(env: Mapping[str, str], **overrides: object) -> ServerConfig:
    """A :class:`ServerConfig` with the token and allowed origins read from ``env``."""
    config = ServerConfig(
        token=env.get(TOKEN_ENV) or None,
        allowed_origins=parse_origins(env.get(ORIGINS_ENV)),
        allowed_hosts=parse_origins(env.get(HOSTS_ENV)),
        call_timeout=parse_call_timeout(env.get(CALL_TIMEOUT_ENV)),
    )
    for key, value in overrides.items():
        if value is not None:
            setattr(config, key, value)
    return config


async def serve(
    config: ServerConfig,
    env: Mapping[str, str],
    *,
    on_ready: Callable[[RpcServer], None] | None = None,
    stop: asyncio.Event | None = None,
    around: AbstractAsyncContextManager[object] | None = None,
) -> None:
    """Serve the bindings in ``env`` until SIGTERM/SIGINT (or ``stop``), then drain and return.

    ``around`` (e.g. the embedded registry) is entered on the same loop before the sidecar
    starts listening and exited after it has drained."""
    async with around if around is not None else contextlib.nullcontext():
        await _serve(config, env, on_ready, stop)


async def _serve(
    config: ServerConfig,
    env: Mapping[str, str],
    on_ready: Callable[[RpcServer], None] | None,
    stop: asyncio.Event | None,
) -> None:
    dispatcher = Dispatcher(
        RegistryPool(env),
        max_message_size=config.max_message_size,
        call_timeout=config.call_timeout,
    )
    server = RpcServer(dispatcher, config)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # not the main thread, or no signals here
            pass
    try:
        await server.start()
        if on_ready is not None:
            on_ready(server)
        await stop.wait()
        log.info("shutting down")
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await server.shutdown()


def parse_call_timeout(value: str | None) -> float | None:
    """``ARTREG_RPC_CALL_TIMEOUT``: seconds (``0``: no limit; unset: the default)."""
    if value is None or not value.strip():
        return DEFAULT_CALL_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        raise RpcConfigError(
            f"{CALL_TIMEOUT_ENV} must be a number of seconds, not {value!r}"
        ) from None
    if seconds < 0 or seconds != seconds:
        raise RpcConfigError(f"{CALL_TIMEOUT_ENV} must be 0 (no limit) or a positive number")
    return seconds or None


def run(
    config: ServerConfig,
    env: Mapping[str, str] | None = None,
    *,
    on_ready: Callable[[RpcServer], None] | None = None,
    around: AbstractAsyncContextManager[object] | None = None,
) -> None:
    """Blocking :func:`serve` on a fresh event loop (uvloop's when installed; ``env`` defaults
    to the process's)."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        environ = dict(os.environ if env is None else env)
        runner.run(serve(config, environ, on_ready=on_ready, around=around))
