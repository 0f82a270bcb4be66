"""``artreg serve``: the embedded registry and the JSON-RPC sidecar in one process. (``artreg rpc
serve``, the sidecar alone, is :mod:`artreg_rpc.cli`'s; it is wired in here.)

Both print one machine-readable line on stdout as soon as they listen, then flush it::

    artreg: rpc=ws://127.0.0.1:7450 registry=127.0.0.1:5000

(``rpc serve`` prints only the ``rpc=`` field). Port 0 means any free port; the line gives the
ports actually bound. SIGTERM or Ctrl-C stops accepting, finishes the calls in flight (bounded by
``--shutdown-timeout``) and exits 0.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import shutil
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from artreg.binding import binding_env_var_name, bindings_from_env
from artreg.cli import app
from artreg.cli.errors import ExitCode, register_secret
from artreg_rpc.cli import (
    DEFAULT_RPC_PORT,
    CallTimeoutOption,
    HostOption,
    LogLevelOption,
    MaxInFlightOption,
    MaxMessageOption,
    ShutdownTimeoutOption,
    ready_line,
    rpc_app,
    run_sidecar,
    say,
    setup_logging,
)

if TYPE_CHECKING:
    import uvicorn

__all__ = ["DEFAULT_REGISTRY_PORT", "DEFAULT_RPC_PORT", "ready_line"]

DEFAULT_REGISTRY_PORT: Final = 5000
#: The binding ``artreg serve`` adds when the environment configures none.
DEFAULT_BINDING_NAME: Final = "artifacts"

# The sidecar's command group and options belong to artreg_rpc; the command line only wires them.
app.add_typer(rpc_app, name="rpc")

def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "artreg"


def _signal_free_server(config: uvicorn.Config) -> uvicorn.Server:
    """A uvicorn server without its own signal handlers: the sidecar's runner owns SIGTERM and
    SIGINT, so the registry stops only after the sidecar has drained the calls that may need it."""
    import uvicorn

    class SignalFreeServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return SignalFreeServer(config)


@dataclass(frozen=True, slots=True)
class RegistryOptions:
    """``artreg serve``'s options for its embedded registry."""

    htpasswd: Path | None = None
    token_file: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    gc_interval: float | None = 3600.0
    metrics: bool | None = None


#: The user name the sidecar presents with its own token to the embedded registry.
SERVICE_USER: Final = "artreg"


class _EmbeddedRegistry:
    """The embedded registry, served on the sidecar's own event loop: one thread for both
    servers, so a call never waits for the other thread to hand over the GIL.

    With credentials configured, the sidecar's default binding authenticates with a random
    token made at start-up (:attr:`service_password`) that only this process knows."""

    def __init__(
        self,
        directory: Path,
        host: str,
        port: int,
        shutdown_timeout: float,
        options: RegistryOptions | None = None,
    ) -> None:
        import secrets

        from artreg.localregistry import FilesystemStore, RegistryConfig, create_app, is_loopback
        from artreg.localregistry.gc import Scheduler
        from artreg.localregistry.server import DEFAULT_GC_GRACE, token_realm
        from artreg.serving import HostRules
        from artreg.serving.httpserver import uvicorn_config
        from artreg.serving.listen import bind_socket

        options = options or RegistryOptions()
        config = RegistryConfig(
            host=host,
            htpasswd=options.htpasswd,
            token_file=options.token_file,
            tls_cert=options.tls_cert,
            tls_key=options.tls_key,
        )
        service_password = secrets.token_urlsafe(32)
        auth = config.authenticator(service_token=service_password, option_prefix="registry-")
        self.service_password = service_password if auth is not None else None
        tls = config.tls_files()
        self.scheme = config.scheme
        self._sock = bind_socket(host, port)
        self._store = FilesystemStore(directory)
        bound_host, bound_port = self._sock.getsockname()[:2]
        app = create_app(
            self._store,
            auth,
            token_realm=token_realm(self.scheme, host, bound_port),
            metrics=is_loopback(host) if options.metrics is None else options.metrics,
        )
        tls_options: dict[str, Any] = (
            {"ssl_certfile": tls[0], "ssl_keyfile": tls[1]} if tls else {}
        )
        server_config: uvicorn.Config = uvicorn_config(
            app, rules=HostRules.for_listener(host), **tls_options
        )
        self._server = _signal_free_server(server_config)
        self._shutdown_timeout = shutdown_timeout
        self._gc = (
            Scheduler(
                self._store,
                interval=options.gc_interval,
                grace=DEFAULT_GC_GRACE,
                upload_max_age=self._store.upload_expiry,
                on_report=app.metrics.collected if app.metrics is not None else None,
            )
            if options.gc_interval
            else None
        )
        self.address = (
            f"[{bound_host}]:{bound_port}" if ":" in bound_host else f"{bound_host}:{bound_port}"
        )

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[None]:
        """Serve while the block runs; on exit, stop, giving requests under way (an upload, say)
        the shutdown timeout to finish before their connections are dropped."""
        import asyncio

        task = asyncio.create_task(self._server.serve(sockets=[self._sock]))
        while not self._server.started:
            if task.done():
                task.result()  # raises what stopped it
                raise RuntimeError("the embedded registry stopped during start-up")
            await asyncio.sleep(0.005)
        if self._gc is not None:
            self._gc.start()
        try:
            yield
        finally:
            if self._gc is not None:
                await asyncio.to_thread(self._gc.stop)
            self._server.should_exit = True
            try:
                await asyncio.wait_for(asyncio.shield(task), self._shutdown_timeout)
            except TimeoutError:
                logging.getLogger("artreg.localregistry").warning(
                    "dropping registry requests still running after %.1fs", self._shutdown_timeout
                )
                self._server.force_exit = True
                await task

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()
        self._store.close()


def _artreg_command() -> str:
    """How to type this very ``artreg`` in another terminal opened in the same directory:
    ``artreg`` when that is what the shell finds, else its path (``.venv/bin/artreg`` from the
    repository root after ``make run``)."""
    running = Path(sys.argv[0]).resolve()
    found = shutil.which("artreg")
    if (found and Path(found).resolve() == running) or running.name != "artreg":
        return "artreg"
    try:
        return str(running.relative_to(Path.cwd()))
    except ValueError:
        return str(Path(sys.argv[0]).absolute())


def _next_steps(registry_address: str, binding: str) -> list[str]:
    """The banner's lines for a newcomer: push, then try the CLI in a second terminal."""
    artreg = _artreg_command()
    target = f"{registry_address}/{DEFAULT_BINDING_NAME}/my-app:latest"
    variable = binding_env_var_name(DEFAULT_BINDING_NAME)
    return [
        f"push:     {artreg} push LAYOUT_DIR {target}",
        f"          skopeo copy --dest-tls-verify=false oci:LAYOUT_DIR:TAG docker://{target}",
        "next:     in another terminal, in this directory:",
        f"          export {variable}={shlex.quote(binding)}",
        f"          {artreg} repo create my-app",
    ]


def _binding_json(
    registry_url: str, data_dir: Path, username: str | None = None, password: str | None = None
) -> str:
    doc: dict[str, Any] = {"service": "local", "registryUrl": registry_url, "dataDir": str(data_dir)}
    if username is not None and password is not None:
        doc.update(username=username, password=password)
    return json.dumps(doc, separators=(",", ":"))


@app.command("serve")
def serve(
    host: HostOption = "127.0.0.1",
    rpc_port: Annotated[
        int,
        typer.Option(
            "--rpc-port", min=0, max=65535, help="The sidecar's port; 0 picks a free one."
        ),
    ] = DEFAULT_RPC_PORT,
    registry_port: Annotated[
        int,
        typer.Option(
            "--registry-port",
            min=0,
            max=65535,
            help="The embedded registry's port; 0 picks a free one.",
        ),
    ] = DEFAULT_REGISTRY_PORT,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            envvar="ARTREG_DATA_DIR",
            help="Where the embedded registry keeps blobs and manifests. "
            "Default: $XDG_DATA_HOME/artreg, else ~/.local/share/artreg.",
            show_default=False,
        ),
    ] = None,
    max_message_size: MaxMessageOption = 1 << 20,
    max_in_flight: MaxInFlightOption = 1024,
    shutdown_timeout: ShutdownTimeoutOption = 10.0,
    call_timeout: CallTimeoutOption = None,
    log_level: LogLevelOption = "info",
    registry_htpasswd: Annotated[
        Path | None,
        typer.Option(
            "--registry-htpasswd",
            help="htpasswd file (bcrypt, htpasswd -B) the embedded registry requires.",
        ),
    ] = None,
    registry_token_file: Annotated[
        Path | None,
        typer.Option(
            "--registry-token-file",
            help="File holding a static bearer token the embedded registry accepts.",
        ),
    ] = None,
    registry_tls_cert: Annotated[
        Path | None,
        typer.Option("--registry-tls-cert", help="PEM certificate (chain): serve HTTPS."),
    ] = None,
    registry_tls_key: Annotated[
        Path | None,
        typer.Option("--registry-tls-key", help="PEM private key of --registry-tls-cert."),
    ] = None,
    registry_gc_interval: Annotated[
        str,
        typer.Option(
            "--registry-gc-interval",
            help="Online garbage collection of the embedded registry this often "
            "(30s, 15m, 1h…); 0 turns it off.",
        ),
    ] = "1h",
    registry_metrics: Annotated[
        bool | None,
        typer.Option(
            "--registry-metrics/--no-registry-metrics",
            help="Serve Prometheus metrics at the registry's /metrics. "
            "Default: on for a loopback bind, off otherwise.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run artreg: the embedded OCI registry and the JSON-RPC sidecar in one process.

    With no ALIEN_{NAME}_BINDING in the environment, the sidecar serves a `local` binding named `artifacts` backed by the embedded registry.

    Bound to anything but loopback, the registry needs --registry-htpasswd and/or --registry-token-file; the default binding then authenticates with a token only this process knows.

    Once listening it prints `artreg: rpc=ws://HOST:PORT registry=HOST:PORT` (one line, for scripts), then the RPC URL, the registry address and the binding JSON. SIGTERM or Ctrl-C finishes the calls in flight and exits 0.
    """
    setup_logging(log_level)
    directory = (data_dir or _default_data_dir()).expanduser().resolve()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        sys.stderr.write(f"error: cannot use --data-dir {directory}: {exc.strerror or exc}\n")
        raise typer.Exit(ExitCode.USAGE) from None
    env = dict(os.environ)
    from artreg.localregistry import RegistryConfigError
    from artreg.localregistry.config import parse_duration

    try:
        gc_interval = parse_duration(registry_gc_interval)
    except ValueError as exc:
        sys.stderr.write(f"error: --registry-gc-interval: {exc}\n")
        raise typer.Exit(ExitCode.USAGE) from None
    options = RegistryOptions(
        htpasswd=registry_htpasswd,
        token_file=registry_token_file,
        tls_cert=registry_tls_cert,
        tls_key=registry_tls_key,
        gc_interval=gc_interval,
        metrics=registry_metrics,
    )
    try:
        registry = _EmbeddedRegistry(directory, host, registry_port, shutdown_timeout, options)
    except (OSError, RegistryConfigError) as exc:
        sys.stderr.write(f"error: cannot start the registry on {host}:{registry_port}: {exc}\n")
        raise typer.Exit(ExitCode.USAGE) from None
    registry_address = registry.address
    try:
        shown: dict[str, Any] = {}
        if not bindings_from_env(env):
            url = registry_address if registry.scheme == "http" else f"https://{registry_address}"
            if registry.service_password is not None:
                register_secret(registry.service_password)
                env[binding_env_var_name(DEFAULT_BINDING_NAME)] = _binding_json(
                    url, directory, SERVICE_USER, registry.service_password
                )
                # what a user copies needs credentials of their own
                shown[DEFAULT_BINDING_NAME] = _binding_json(url, directory, "USER", "PASSWORD")
            else:
                binding = _binding_json(url, directory)
                env[binding_env_var_name(DEFAULT_BINDING_NAME)] = binding
                shown[DEFAULT_BINDING_NAME] = binding

        def ready(url: str) -> None:
            say(ready_line(url, registry_address))
            say(f"rpc:      {url}")
            say(f"registry: {registry.scheme}://{registry_address}  (data in {directory})")
            for name, raw in shown.items():
                say(f"binding:  {binding_env_var_name(name)}={raw}")
                for line in _next_steps(registry_address, raw):
                    say(line)
            if not shown:
                # The bindings come from the environment: `artifacts` is not served, so there is
                # no push hint to give for it.
                say(
                    f"bindings: {', '.join(sorted(bindings_from_env(env)))} (from the environment)"
                )

        run_sidecar(
            host=host,
            port=rpc_port,
            env=env,
            max_message_size=max_message_size,
            max_in_flight=max_in_flight,
            shutdown_timeout=shutdown_timeout,
            call_timeout=call_timeout,
            on_ready=ready,
            around=registry.serving(),
        )
    finally:
        registry.close()
