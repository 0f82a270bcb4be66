"""Running the registry: in the foreground (:func:`serve`) or in a background thread of the
current process (:func:`start_in_thread`)."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypedDict, Unpack

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


class ListenerOptions(TypedDict, total=False):
    """Options :func:`serve` and :func:`start_in_thread` share, each optional.

    ``tls_cert`` and ``tls_key`` serve HTTPS. ``allowed_hosts``/``allowed_origins`` extend the
    Host/Origin rules; ``forwarded_allow_ips`` names the proxies whose ``X-Forwarded-For`` is
    believed; ``limits`` bounds headers, bodies, timeouts and connections (see
    :mod:`artreg.serving`). ``gc_grace`` (default one hour) spares from garbage collection what
    changed that recently; ``upload_max_age`` (default seven days; None: never) purges uploads
    idle that long. ``metrics`` serves ``/metrics`` (default: on loopback only). ``realm`` is
    the token endpoint URL clients are sent to (default: this listener's address).
    """

    tls_cert: str | os.PathLike[str] | None
    tls_key: str | os.PathLike[str] | None
    allowed_hosts: Iterable[str]
    allowed_origins: Iterable[str]
    forwarded_allow_ips: Iterable[str] | str | None
    limits: Limits | None
    gc_grace: float
    upload_max_age: float | None
    metrics: bool | None
    realm: str | None


class ServeOptions(ListenerOptions, total=False):
    """:func:`serve`'s options besides those of :class:`ListenerOptions`.

    ``htpasswd`` and ``token_file`` are the credentials. ``sock`` is a listening socket to serve
    on instead of binding ``host:port`` (one a parent process bound); ``stop_when`` a blocking
    call, run on a daemon thread, whose return stops the server as SIGTERM does;
    ``service_token`` a bearer token accepted besides the configured credentials (when there
    are any), for a supervising process's own client.
    """

    htpasswd: str | os.PathLike[str] | None
    token_file: str | os.PathLike[str] | None
    sock: socket.socket | None
    stop_when: Callable[[], object] | None
    service_token: str | None


def _refuse_unknown(function: str, options: Mapping[str, object], known: frozenset[str]) -> None:
    """The TypeError Python raises for a misspelt keyword, which ``**options`` would swallow."""
    for key in options:
        if key not in known:
            raise TypeError(f"{function}() got an unexpected keyword argument {key!r}")


def _listener(host: str, options: ListenerOptions) -> Listener:
    return Listener(
        host,
        allowed_hosts=options.get("allowed_hosts", ()),
        allowed_origins=options.get("allowed_origins", ()),
        forwarded_allow_ips=options.get("forwarded_allow_ips"),
        limits=options.get("limits"),
    )


def _registry_app(
    store: Store,
    auth: Authenticator | None,
    scheme: str,
    host: str,
    port: int,
    options: ListenerOptions,
) -> RegistryApp:
    """The registry application, its token realm and metrics settled from ``options``."""
    metrics = options.get("metrics")
    return create_app(
        store,
        auth,
        token_realm=options.get("realm") or token_realm(scheme, host, port),
        metrics=is_loopback(host) if metrics is None else metrics,
    )


def _gc_scheduler(
    store: Store, app: RegistryApp, interval: float | None, options: ListenerOptions
) -> Scheduler | None:
    return _scheduler(
        store,
        app,
        interval,
        options.get("gc_grace", DEFAULT_GC_GRACE),
        options.get("upload_max_age", DEFAULT_UPLOAD_MAX_AGE),
    )


def serve(
    host: str = "127.0.0.1",
    port: int = 5000,
    data_dir: str | os.PathLike[str] = ".artreg-data",
    *,
    on_ready: Any = None,
    gc_interval: float | None = DEFAULT_GC_INTERVAL,
    **options: Unpack[ServeOptions],
) -> None:
    """Run the registry in the foreground until SIGINT or SIGTERM.

    Raises :class:`RegistryConfigError` for a non-loopback ``host`` without credentials, or
    for half a TLS configuration. ``on_ready(url)`` is called once the socket is listening.
    Garbage collection runs every ``gc_interval`` seconds (None or 0: never). The other
    options are those of :class:`ListenerOptions` and :class:`ServeOptions`.
    """
    _refuse_unknown("serve", options, ServeOptions.__optional_keys__)
    config = RegistryConfig(
        host=host,
        port=port,
        data_dir=Path(data_dir),
        htpasswd=_path(options.get("htpasswd")),
        token_file=_path(options.get("token_file")),
        tls_cert=_path(options.get("tls_cert")),
        tls_key=_path(options.get("tls_key")),
    )
    auth = config.authenticator(service_token=options.get("service_token"))
    tls = config.tls_files()
    listener = _listener(host, options)
    store = FilesystemStore(
        data_dir, upload_expiry=options.get("upload_max_age", DEFAULT_UPLOAD_MAX_AGE)
    )
    sock = options.get("sock")
    try:
        sock = sock if sock is not None else _bind(host, port)
    except OSError:
        store.close()
        raise
    bound_port = sock.getsockname()[1]
    app = _registry_app(store, auth, config.scheme, host, bound_port, options)
    server = _ForegroundServer(_uvicorn_config(app, listener, **_tls_options(tls)))
    stop_when = options.get("stop_when")
    if stop_when is not None:

        def watch() -> None:
            stop_when()
            server.should_exit = True

        threading.Thread(target=watch, name="artreg-registry-stop", daemon=True).start()
    url = f"{config.scheme}://{_host_for_url(host)}:{bound_port}"
    log.info("artreg registry listening on %s (data in %s)", url, store.root)
    scheduler = _gc_scheduler(store, app, gc_interval, options)
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
        self.port = serving.port
        self.host = serving.address

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
    startup_timeout: float = 10.0,
    gc_interval: float | None = None,
    **options: Unpack[ListenerOptions],
) -> ThreadedRegistry:
    """Start the registry on a uvicorn server in a daemon thread and return once it accepts
    connections. ``port=0`` picks a free port. Without ``store``, a :class:`FilesystemStore`
    on ``data_dir``, or a :class:`MemoryStore` when ``data_dir`` is None. With ``tls_cert``
    and ``tls_key`` it serves HTTPS (``url`` says so). ``middleware``
    wraps the ASGI app (fault injection in tests, for instance). The store is closed (its
    data directory released) when the registry stops. The other options are those of
    :class:`ListenerOptions`, as for :func:`serve`, but collection is off unless
    ``gc_interval`` is given."""
    _refuse_unknown("start_in_thread", options, ListenerOptions.__optional_keys__)
    if auth is None and not is_loopback(host):
        raise RegistryConfigError(f"refusing to listen on {host} without credentials")
    tls_config = RegistryConfig(
        host=host, tls_cert=_path(options.get("tls_cert")), tls_key=_path(options.get("tls_key"))
    )
    tls = tls_config.tls_files()
    listener = _listener(host, options)
    sock = _bind(host, port)
    try:
        store = store if store is not None else _store_for(data_dir)
    except BaseException:
        sock.close()
        raise
    app = _registry_app(store, auth, tls_config.scheme, host, sock.getsockname()[1], options)
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
    scheduler = _gc_scheduler(store, app, gc_interval, options)
    return ThreadedRegistry(serving, store, tls_config.scheme, scheduler)


#: Alias of :func:`start_in_thread`.
serve_in_thread = start_in_thread

__all__ = [
    "Listener",
    "ListenerOptions",
    "RegistryConfigError",
    "ServeOptions",
    "ThreadedRegistry",
    "serve",
    "serve_in_thread",
    "start_in_thread",
]
