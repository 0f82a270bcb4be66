"""``artreg rpc serve`` (also ``python -m artreg_rpc``): the sidecar alone, over the bindings in
the environment; and what ``artreg serve`` shares with it (options, logging, the ready line,
running the sidecar). The command line wires :data:`rpc_app` in; nothing here imports the CLI.

Once listening it prints one machine-readable line on stdout, then flushes it::

    artreg: rpc=ws://127.0.0.1:7450

Port 0 means any free port; the line gives the port actually bound. SIGTERM or Ctrl-C stops
accepting, finishes the calls in flight (bounded by ``--shutdown-timeout``) and exits 0.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Annotated, Final

import typer

from artreg.binding import bindings_from_env
from artreg.exitcodes import ExitCode
from artreg.serving.redact import register_secret

__all__ = [
    "DEFAULT_RPC_PORT",
    "main",
    "ready_line",
    "rpc_app",
    "run_sidecar",
    "say",
    "setup_logging",
]

DEFAULT_RPC_PORT: Final = 7450

rpc_app = typer.Typer(
    name="rpc",
    help="The JSON-RPC 2.0 sidecar over WebSocket.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

HostOption = Annotated[
    str,
    typer.Option(
        "--host",
        envvar="ARTREG_HOST",
        help="Address to listen on. Anything but loopback needs ARTREG_RPC_TOKEN.",
    ),
]
MaxMessageOption = Annotated[
    int,
    typer.Option(
        "--max-message-size",
        min=1024,
        help="Largest request in bytes; larger ones get an INVALID_REQUEST reply "
        "(frames over 8x this close the connection with 1009).",
    ),
]
ShutdownTimeoutOption = Annotated[
    float,
    typer.Option(
        "--shutdown-timeout",
        min=0.0,
        help="On SIGTERM, seconds to wait for calls in flight before cancelling them.",
    ),
]
MaxInFlightOption = Annotated[
    int,
    typer.Option(
        "--max-in-flight",
        min=1,
        help="Calls running at once per connection; beyond that the server reads no further "
        "messages from it until one finishes.",
    ),
]
CallTimeoutOption = Annotated[
    float | None,
    typer.Option(
        "--call-timeout",
        min=0.0,
        envvar="ARTREG_RPC_CALL_TIMEOUT",
        help="Seconds a call may run before it fails with TIMEOUT (a transfer: seconds "
        "without progress); 0: no limit.  [default: 25]",
        show_default=False,
    ),
]
LogLevelOption = Annotated[
    str,
    typer.Option("--log-level", envvar="ARTREG_LOG_LEVEL", help="debug, info, warning or error."),
]


def ready_line(rpc_url: str, registry: str | None = None) -> str:
    """The machine-readable line printed once listening."""
    line = f"artreg: rpc={rpc_url}"
    return f"{line} registry={registry}" if registry else line


def setup_logging(level: str) -> None:
    """Every log line (third-party loggers' included, at any level) escaped and redacted."""
    from artreg.serving.logs import QUIET_LOGGERS, configure_logging

    register_secret(os.environ.get("ARTREG_RPC_TOKEN"))
    # uvicorn logs its start-up and shutdown chatter at INFO under "uvicorn.error"
    configure_logging(level, quiet=(*QUIET_LOGGERS, "uvicorn.error"))


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def run_sidecar(
    *,
    host: str,
    port: int,
    env: dict[str, str],
    max_message_size: int,
    max_in_flight: int,
    shutdown_timeout: float,
    call_timeout: float | None,
    on_ready: Callable[[str], None],
    around: AbstractAsyncContextManager[object] | None = None,
) -> None:
    from artreg_rpc.errors import RpcConfigError
    from artreg_rpc.runner import config_from_env, run

    try:
        config = config_from_env(
            env,
            host=host,
            port=port,
            max_message_size=max_message_size,
            max_in_flight=max_in_flight,
            shutdown_timeout=shutdown_timeout,
        )
        if call_timeout is not None:
            config.call_timeout = call_timeout or None
        config.check()
    except RpcConfigError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise typer.Exit(ExitCode.USAGE) from None
    try:
        run(config, env, on_ready=lambda server: on_ready(server.url), around=around)
    except OSError as exc:
        sys.stderr.write(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}\n")
        raise typer.Exit(ExitCode.USAGE) from None


@rpc_app.command("serve")
def rpc_serve(
    host: HostOption = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(
            "--port", "--rpc-port", min=0, max=65535, help="TCP port; 0 picks a free one."
        ),
    ] = DEFAULT_RPC_PORT,
    max_message_size: MaxMessageOption = 1 << 20,
    max_in_flight: MaxInFlightOption = 1024,
    shutdown_timeout: ShutdownTimeoutOption = 10.0,
    call_timeout: CallTimeoutOption = None,
    log_level: LogLevelOption = "info",
) -> None:
    """Run the JSON-RPC sidecar alone, serving the bindings in the environment (ALIEN_{NAME}_BINDING).

    Prints `artreg: rpc=ws://HOST:PORT` once listening. SIGTERM or Ctrl-C finishes the calls in flight and exits 0.
    """
    setup_logging(log_level)
    env = dict(os.environ)
    names = sorted(bindings_from_env(env))
    if not names:
        logging.getLogger("artreg_rpc").warning(
            "no binding is configured (ALIEN_{NAME}_BINDING); every call will fail "
            "with BINDING_NOT_CONFIGURED"
        )

    def ready(url: str) -> None:
        say(ready_line(url))
        say(f"bindings: {', '.join(names) or '(none)'}")

    run_sidecar(
        host=host,
        port=port,
        env=env,
        max_message_size=max_message_size,
        max_in_flight=max_in_flight,
        shutdown_timeout=shutdown_timeout,
        call_timeout=call_timeout,
        on_ready=ready,
    )


def main() -> None:
    """``python -m artreg_rpc [OPTIONS]``: ``artreg rpc serve`` under its own name."""
    command = typer.main.get_command(rpc_app)
    command(["serve", *sys.argv[1:]], prog_name="python -m artreg_rpc")
