"""Running the registry: in the foreground (:func:`serve`) or in a background thread of the
current process (:func:`start_in_thread`)."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import uvicorn

from artreg.serving import ForwardedAllow, HostRules, Limits
from artreg.serving.httpserver import uvicorn_config
from artreg.serving.listen import ForegroundServer as _ForegroundServer
from artreg.serving.listen import ServerStartError, ServerThread
from artreg.serving.listen import bind_socket as _bind
from artreg.serving.listen import host_for_url as _host_for_url

from .app import TOKEN_PATH, RegistryApp, create_app
from .auth import Authenticator
from .config import RegistryConfig, RegistryConfigError, is_loopback
from .fsstore import FilesystemStore
from .gc import Scheduler
from .memstore import MemoryStore
from .store import Store

#: Defaults of ``artreg registry serve``'s garbage collection options.
DEFAULT_GC_INTERVAL = 3600.0
DEFAULT_GC_GRACE = 3600.0
DEFAULT_UPLOAD_MAX_AGE = 7 * 24 * 3600.0

log = logging.getLogger("artreg.localregistry")


def _uvicorn_config(app: Any, listener: Listener, **extra: Any) -> uvicorn.Config:
    return uvicorn_config(
        app,
        rules=listener.rules,
        limits=listener.limits,
        forwarded=listener.forwarded,
        loop="uvloop",
        **extra,
    )


class Listener:
    """What a listener on ``host`` enforces besides credentials: the Host/Origin rules (with
    the names and browser origins the operator allows), the limits, and the proxies whose
    ``X-Forwarded-For`` is believed."""

    def __init__(
        self,
        host: str,
        *,
        allowed_hosts: Iterable[str] = (),
        allowed_origins: Iterable[str] = (),
        forwarded_allow_ips: Iterable[str] | str | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.rules = HostRules.for_listener(host, allowed_hosts, allowed_origins)
        self.limits = limits or Limits()
        try:
            self.forwarded = ForwardedAllow.parse(forwarded_allow_ips)
        except ValueError as exc:
            raise RegistryConfigError(str(exc)) from None


def _store_for(data_dir: str | os.PathLike[str] | None) -> Store:
    return FilesystemStore(data_dir) if data_dir is not None else MemoryStore()


def _scheduler(
    store: Store,
    app: RegistryApp,
    interval: float | None,
    grace: float,
    upload_max_age: float | None,
) -> Scheduler | None:
    """Garbage collection every ``interval`` seconds (None or 0: never), counted in the
    app's metrics."""
    if not interval or not isinstance(store, FilesystemStore):
        return None
    metrics = app.metrics
    scheduler = Scheduler(
        store,
        interval=interval,
        grace=grace,
        upload_max_age=upload_max_age,
        on_report=metrics.collected if metrics is not None else None,
    )
    scheduler.start()
    return scheduler


def token_realm(scheme: str, host: str, port: int) -> str:
    """The token endpoint's URL on the listener ``host:port``."""
    return f"{scheme}://{_host_for_url(host)}:{port}{TOKEN_PATH}"


def serve(
    host: str = "127.0.0.1",
    port: int = 5000,
    data_dir: str | os.PathLike[str] = ".artreg-data",
    *,
    htpasswd: str | os.PathLike[str] | None = None,
    token_file: str | os.PathLike[str] | None = None,
    tls_cert: str | os.PathLike[str] | None = None,
    tls_key: str | os.PathLike[str] | None = None,
    on_ready: Any = None,
    allowed_hosts: Iterable[str] = (),
    allowed_origins: Iterable[str] = (),
    forwarded_allow_ips: Iterable[str] | str | None = None,
    limits: Limits | None = None,
    gc_interval: float | None = DEFAULT_GC_INTERVAL,
    gc_grace: float = DEFAULT_GC_GRACE,
    upload_max_age: float | None = DEFAULT_UPLOAD_MAX_AGE,
    metrics: bool | None = None,
    realm: str | None = None,
    sock: socket.socket | None = None,
    stop_when: Callable[[], object] | None = None,
    service_token: str | None = None,
) -> None:
    """Run the registry in the foreground until SIGINT or SIGTERM.

    Raises :class:`RegistryConfigError` for a non-loopback ``host`` without credentials, or
    for half a TLS configuration. ``on_ready(url)`` is called once the socket is listening.
    ``allowed_hosts``/``allowed_origins`` extend the Host/Origin rules; ``forwarded_allow_ips``
    names the proxies whose ``X-Forwarded-For`` is believed (see :mod:`artreg.serving`).
    Garbage collection runs every ``gc_interval`` seconds (None or 0: never), sparing what
    changed in the last ``gc_grace`` seconds and purging uploads idle for ``upload_max_age``.
    ``metrics`` serves ``/metrics`` (default: on loopback only). ``realm`` is the token
    endpoint URL clients are sent to (default: this listener's address).
    ``sock`` is a listening socket to serve on instead of binding ``host:port`` (one a parent
    process bound); ``stop_when`` a blocking call, run on a daemon thread, whose return stops
    the server as SIGTERM does; ``service_token`` a bearer token accepted besides the
    configured credentials (when there are any), for a supervising process's own client.
    """
    config = RegistryConfig(
        host=host,
        port=port,
        data_dir=Path(data_dir),
        htpasswd=_path(htpasswd),
        token_file=_path(token_file),
        tls_cert=_path(tls_cert),
        tls_key=_path(tls_key),
    )
    auth = config.authenticator(service_token=service_token)
    tls = config.tls_files()
    listener = Listener(
        host,
        allowed_hosts=allowed_hosts,
        allowed_origins=allowed_origins,
        forwarded_allow_ips=forwarded_allow_ips,
        limits=limits,
    )
    store = FilesystemStore(data_dir, upload_expiry=upload_max_age)
    try:
        sock = sock if sock is not None else _bind(host, port)
    except OSError:
        store.close()
        raise
    bound_port = sock.getsockname()[1]
    app = create_app(
        store,
        auth,
        token_realm=realm or token_realm(config.scheme, host, bound_port),
        metrics=is_loopback(host) if metrics is None else metrics,
    )
    server = _ForegroundServer(_uvicorn_config(app, listener, **_tls_options(tls)))
    if stop_when is not None:

        def watch() -> None:
            stop_when()
            server.should_exit = True

        threading.Thread(target=watch, name="artreg-registry-stop", daemon=True).start()
    url = f"{config.scheme}://{_host_for_url(host)}:{bound_port}"
    log.info("artreg registry listening on %s (data in %s)", url, store.root)
    scheduler = _scheduler(store, app, gc_interval, gc_grace, upload_max_age)
    if on_ready is not None:
        on_ready(url)
    try:
        server.run(sockets=[sock])
    finally:
        if scheduler is not None:
            scheduler.stop()
        sock.close()
        store.close()


def _path(value: str | os.PathLike[str] | None) -> Path | None:
    return Path(value) if value is not None else None


def _tls_options(tls: tuple[str, str] | None) -> dict[str, Any]:
    return {"ssl_certfile": tls[0], "ssl_keyfile": tls[1]} if tls else {}


class ThreadedRegistry:
    """A registry serving from a thread of this process. ``host`` is ``HOST:PORT``."""

    def __init__(
        self,
        serving: ServerThread,
        store: Store,
        scheme: str = "http",
        scheduler: Scheduler | None = None,
    ) -> None:
        self.scheme = scheme
        self._serving = serving
        self.store = store
        self.gc = scheduler
        sock = serving.sock
        bound = sock.getsockname()
        self.port: int = bound[1]
        self.host = f"{_host_for_url(bound[0])}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    @property
    def address(self) -> str:
        """Same as :attr:`host` (``HOST:PORT``), the form image references use."""
        return self.host

    def __repr__(self) -> str:
        return f"ThreadedRegistry(url={self.url!r})"

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread; idempotent."""
        if self.gc is not None:
            self.gc.stop()
        self._serving.stop(timeout)

    def __enter__(self) -> ThreadedRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_in_thread(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    store: Store | None = None,
    auth: Authenticator | None = None,
    middleware: Callable[[RegistryApp], Any] | None = None,
    tls_cert: str | os.PathLike[str] | None = None,
    tls_key: str | os.PathLike[str] | None = None,
    startup_timeout: float = 10.0,
    allowed_hosts: Iterable[str] = (),
    allowed_origins: Iterable[str] = (),
    forwarded_allow_ips: Iterable[str] | str | None = None,
    limits: Limits | None = None,
    gc_interval: float | None = None,
    gc_grace: float = DEFAULT_GC_GRACE,
    upload_max_age: float | None = DEFAULT_UPLOAD_MAX_AGE,
    metrics: bool | None = None,
    realm: str | None = None,
) -> ThreadedRegistry:
    """Start the registry on a uvicorn server in a daemon thread and return once it accepts
    connections. ``port=0`` picks a free port. Without ``store``, a :class:`FilesystemStore`
    on ``data_dir``, or a :class:`MemoryStore` when ``data_dir`` is None. With ``tls_cert``
    and ``tls_key`` it serves HTTPS (``url`` says so). ``middleware``
    wraps the ASGI app (fault injection in tests, for instance). The store is closed (its
    data directory released) when the registry stops. The listener, garbage collection,
    metrics and realm options are those of :func:`serve`, but collection is off unless
    ``gc_interval`` is given."""
    if auth is None and not is_loopback(host):
        raise RegistryConfigError(f"refusing to listen on {host} without credentials")
    tls_config = RegistryConfig(host=host, tls_cert=_path(tls_cert), tls_key=_path(tls_key))
    tls = tls_config.tls_files()
    listener = Listener(
        host,
        allowed_hosts=allowed_hosts,
        allowed_origins=allowed_origins,
        forwarded_allow_ips=forwarded_allow_ips,
        limits=limits,
    )
    sock = _bind(host, port)
    try:
        store = store if store is not None else _store_for(data_dir)
    except BaseException:
        sock.close()
        raise
    app = create_app(
        store,
        auth,
        token_realm=realm or token_realm(tls_config.scheme, host, sock.getsockname()[1]),
        metrics=is_loopback(host) if metrics is None else metrics,
    )
    server = uvicorn.Server(
        _uvicorn_config(middleware(app) if middleware else app, listener, **_tls_options(tls))
    )
    serving = ServerThread(server, sock, name=f"artreg-registry-{port}")
    try:
        serving.start(startup_timeout)
    except ServerStartError as exc:
        store.close()
        if exc.timed_out:
            raise RuntimeError("registry did not start in time") from None
        raise RuntimeError(f"registry failed to start: {exc.cause or 'exited'}") from None
    scheduler = _scheduler(store, app, gc_interval, gc_grace, upload_max_age)
    return ThreadedRegistry(serving, store, tls_config.scheme, scheduler)


#: Alias of :func:`start_in_thread`.
serve_in_thread = start_in_thread

__all__ = [
    "Listener",
    "RegistryConfigError",
    "ThreadedRegistry",
    "serve",
    "serve_in_thread",
    "start_in_thread",
]
