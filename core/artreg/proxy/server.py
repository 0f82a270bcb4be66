"""Running the proxy: in the foreground (:func:`serve`) or on a thread of this process
(:func:`start_in_thread`, also a context manager), on the same uvicorn stack as the embedded
registry, behind the shared listener layer (limits, timeouts, Host/Origin rules)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import uvicorn

from artreg.serving.allocator import tune_for_streaming
from artreg.serving.forwarded import ForwardedAllow
from artreg.serving.hosts import HostRules
from artreg.serving.httpserver import uvicorn_config
from artreg.serving.listen import (
    ForegroundServer,
    ServerStartError,
    ServerThread,
    bind_socket,
    host_for_url,
)

from .app import ProxyApp
from .config import ProxyConfig, ProxyConfigError, build_app

__all__ = ["ThreadedProxy", "serve", "start_in_thread"]

log = logging.getLogger("artreg.proxy")


def _uvicorn(app: ProxyApp, config: ProxyConfig) -> uvicorn.Config:
    tls = config.tls_files()
    try:
        forwarded = ForwardedAllow.parse(config.forwarded_allow_ips)
    except ValueError as exc:
        raise ProxyConfigError(str(exc)) from None
    extra: dict[str, Any] = {"ssl_certfile": tls[0], "ssl_keyfile": tls[1]} if tls else {}
    return uvicorn_config(
        app,
        rules=HostRules.for_listener(config.host, config.allowed_hosts),
        limits=config.limits,
        forwarded=forwarded,
        loop="uvloop",
        **extra,
    )


def serve(config: ProxyConfig, on_ready: Callable[[str], Any] | None = None) -> None:
    """Run the proxy in the foreground until SIGINT or SIGTERM. Raises
    :class:`ProxyConfigError` for settings it refuses. ``on_ready(url)`` is called once the
    socket listens. The process's allocator is tuned for relaying blobs (it is the proxy's
    own process)."""
    app = build_app(config)
    tune_for_streaming()
    uv = _uvicorn(app, config)
    sock = bind_socket(config.host, config.port)
    url = f"{config.scheme}://{host_for_url(config.host)}:{sock.getsockname()[1]}"
    log.info("artreg proxy listening on %s", url)
    if on_ready is not None:
        on_ready(url)
    try:
        ForegroundServer(uv).run(sockets=[sock])
    finally:
        sock.close()


class ThreadedProxy:
    """A proxy serving from a thread of this process; ``address`` is ``HOST:PORT``."""

    def __init__(self, app: ProxyApp, serving: ServerThread, scheme: str) -> None:
        self.app = app
        self.scheme = scheme
        self._serving = serving
        self.port = serving.port
        self.address = serving.address

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.address}"

    def __repr__(self) -> str:
        return f"ThreadedProxy(url={self.url!r})"

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread; idempotent."""
        self._serving.stop(timeout)

    def __enter__(self) -> ThreadedProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_in_thread(
    config: ProxyConfig, *, app: ProxyApp | None = None, startup_timeout: float = 10.0
) -> ThreadedProxy:
    """Start the proxy on a daemon thread and return once it accepts connections (``port=0``
    picks a free port). Use the result as a context manager to stop it. ``app`` serves an
    application built beforehand instead of the one ``config`` describes (the listener
    settings still come from ``config``)."""
    app = app if app is not None else build_app(config)
    server = uvicorn.Server(_uvicorn(app, config))
    serving = ServerThread(server, bind_socket(config.host, config.port), name="artreg-proxy")
    try:
        serving.start(startup_timeout)
    except ServerStartError as exc:
        reason = exc.cause if exc.cause is not None else "did not start in time"
        raise RuntimeError(f"proxy failed to start: {reason}") from None
    return ThreadedProxy(app, serving, config.scheme)
