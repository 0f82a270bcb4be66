"""``artreg serve``: the embedded registry and the JSON-RPC sidecar from one command. (``artreg rpc
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
from collections.abc import AsyncIterator
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
    pass

__all__ = ["DEFAULT_REGISTRY_PORT", "DEFAULT_RPC_PORT", "ready_line"]

DEFAULT_REGISTRY_PORT: Final = 5000
#: Seconds the embedded registry's process has to come up.
_REGISTRY_START_TIMEOUT: Final = 60.0
#: The binding ``artreg serve`` adds when the environment configures none.
DEFAULT_BINDING_NAME: Final = "artifacts"

# The sidecar's command group and options belong to artreg_rpc; the command line only wires them.
app.add_typer(rpc_app, name="rpc")


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "artreg"


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
    """The embedded registry in a child process of its own (``python -m artreg.localregistry``
    serving a socket bound here): the sidecar and the registry each get an interpreter and a
    GIL, so under load neither waits for the other (one shared event loop, or two threads of one
    interpreter, serialise them). The child has its own process group, so Ctrl-C at the terminal
    reaches only this process, which stops the child (SIGTERM: it finishes the requests under
    way) after the sidecar has drained the calls that may need it; the child also stops by
    itself when this process is gone, even killed with SIGKILL.

    With credentials configured, the sidecar's default binding authenticates with a random
    token made at start-up (:attr:`service_password`) that only this process and the child know."""

    def __init__(
        self,
        directory: Path,
        host: str,
        port: int,
        shutdown_timeout: float,
        options: RegistryOptions | None = None,
        log_level: str = "info",
    ) -> None:
        import secrets
        import select
        import subprocess

        from artreg.localregistry import RegistryConfig, RegistryConfigError
        from artreg.localregistry.__main__ import SERVICE_TOKEN_ENV
        from artreg.serving.listen import bind_socket

        options = options or RegistryOptions()
        config = RegistryConfig(
            host=host,
            htpasswd=options.htpasswd,
            token_file=options.token_file,
            tls_cert=options.tls_cert,
            tls_key=options.tls_key,
        )
        # checked here, so a bad option is reported in this command's terms
        service_password = secrets.token_urlsafe(32)
        auth = config.authenticator(service_token=service_password, option_prefix="registry-")
        self.service_password = service_password if auth is not None else None
        config.tls_files()
        self.scheme = config.scheme
        self._shutdown_timeout = shutdown_timeout
        sock = bind_socket(host, port)
        bound_host, bound_port = sock.getsockname()[:2]
        self.address = (
            f"[{bound_host}]:{bound_port}" if ":" in bound_host else f"{bound_host}:{bound_port}"
        )
        argv = [
            sys.executable,
            "-m",
            "artreg.localregistry",
            "--host",
            host,
            "--port",
            str(bound_port),
            "--data-dir",
            str(directory),
            "--fd",
            str(sock.fileno()),
            "--log-level",
            log_level,
            "--gc-interval",
            str(options.gc_interval or 0),
        ]
        for flag, path in (
            ("--htpasswd", options.htpasswd),
            ("--token-file", options.token_file),
            ("--tls-cert", options.tls_cert),
            ("--tls-key", options.tls_key),
        ):
            if path is not None:
                argv += [flag, str(path)]
        if options.metrics is not None:
            argv.append("--metrics" if options.metrics else "--no-metrics")
        env = dict(os.environ)
        if self.service_password is not None:
            env[SERVICE_TOKEN_ENV] = self.service_password
        try:
            self._proc = subprocess.Popen(
                argv,
                env=env,
                pass_fds=(sock.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                # its own process group (not session: that would put it in another scheduler
                # autogroup, which on a busy machine costs it CPU against its own sidecar)
                process_group=0,
            )
        finally:
            sock.close()  # the child serves it; this process has no use for its copy
        assert self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], _REGISTRY_START_TIMEOUT)
        line = self._proc.stdout.readline() if ready else b""
        if not line.startswith(b"ready "):
            self.close()
            status = self._proc.returncode
            raise RegistryConfigError(
                "the registry process did not start"
                + (f" (exit status {status})" if status is not None else "")
            )

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[None]:
        """Keep the registry up while the block runs; on exit, stop it (see :meth:`close`)."""
        import asyncio

        try:
            yield
        finally:
            await asyncio.to_thread(self.close)

    def close(self) -> None:
        """Stop the child: SIGTERM (it finishes the requests under way, given the shutdown
        timeout, and exits), SIGKILL past the timeout; idempotent."""
        import subprocess

        if self._proc.poll() is None:
            self._proc.terminate()
        try:
            self._proc.wait(self._shutdown_timeout + 5)
        except subprocess.TimeoutExpired:
            logging.getLogger("artreg.localregistry").warning(
                "dropping registry requests still running after %.1fs", self._shutdown_timeout
            )
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()


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
    doc: dict[str, Any] = {
        "service": "local",
        "registryUrl": registry_url,
        "dataDir": str(data_dir),
    }
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
    """Run artreg: the embedded OCI registry and the JSON-RPC sidecar, from one command.

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
        registry = _EmbeddedRegistry(
            directory, host, registry_port, shutdown_timeout, options, log_level
        )
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
                say(f"bindings: {', '.join(sorted(bindings_from_env(env)))} (from the environment)")

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
