"""What every command shares: the ``--binding``, ``--output`` and ``--debug`` options, loading the
binding's registry, and running a command's coroutine with errors turned into exit codes.

The binding is ``--binding NAME``, else the ``ARTREG_BINDING`` environment variable, else
``artifacts`` (the name alien's manager looks for first). Bindings are read from
``ALIEN_{NAME}_BINDING`` environment variables exactly as :func:`artreg.load_artifact_registry`
reads them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Final, TypeVar

import typer

from artreg.binding import binding_env_var_name, bindings_from_env
from artreg.cli.errors import EXIT_CODES_EPILOG, ExitCode, report_error
from artreg.cli.output import OutputFormat, resolve_output
from artreg.errors import ArtregError, BindingNotConfigured
from artreg.loader import load_artifact_registry
from artreg.registry import ArtifactRegistry

__all__ = [
    "BINDING_ENV",
    "DEFAULT_BINDING",
    "EPILOG",
    "BindingOption",
    "Common",
    "DebugOption",
    "ForwardedAllowIpsOption",
    "OutputOption",
    "TlsCertOption",
    "TlsKeyOption",
    "open_registry",
    "run",
    "run_on_registry",
]

T = TypeVar("T")

BINDING_ENV: Final = "ARTREG_BINDING"
DEFAULT_BINDING: Final = "artifacts"

#: Every command's epilog; click keeps a paragraph after a ``\b`` line as written (no rewrap).
EPILOG: Final = "\b\n" + EXIT_CODES_EPILOG

BindingOption = Annotated[
    str,
    typer.Option(
        "--binding",
        "-b",
        envvar=BINDING_ENV,
        show_envvar=True,
        metavar="NAME",
        help="The binding to use, read from the ALIEN_{NAME}_BINDING environment variable.",
    ),
]

OutputOption = Annotated[
    OutputFormat | None,
    typer.Option(
        "--output",
        "-o",
        case_sensitive=False,
        show_default=False,
        help="json or table. Default: table on a terminal, json when stdout is a pipe or file.",
    ),
]

#: The listener options the embedded registry and the proxy share.
TlsCertOption = Annotated[
    Path | None,
    typer.Option("--tls-cert", help="PEM certificate (chain) to serve HTTPS with."),
]
TlsKeyOption = Annotated[
    Path | None, typer.Option("--tls-key", help="PEM private key of --tls-cert.")
]
ForwardedAllowIpsOption = Annotated[
    str | None,
    typer.Option(
        "--forwarded-allow-ips",
        envvar="FORWARDED_ALLOW_IPS",
        help="Comma-separated addresses or networks of reverse proxies whose "
        "X-Forwarded-For is believed ('*': any). Default: none.",
    ),
]

DebugOption = Annotated[
    bool,
    typer.Option(
        "--debug",
        envvar="ARTREG_DEBUG",
        help="On failure, also print the error's cause chain (secrets are never shown).",
    ),
]


@dataclass(frozen=True)
class Common:
    """The resolved shared options of one command invocation."""

    binding: str
    output: OutputFormat
    debug: bool

    @classmethod
    def of(cls, binding: str, output: OutputFormat | None, debug: bool) -> Common:
        return cls(binding=binding or DEFAULT_BINDING, output=resolve_output(output), debug=debug)


@contextlib.asynccontextmanager
async def open_registry(binding: str) -> AsyncIterator[ArtifactRegistry]:
    """The binding's registry, closed when the block ends."""
    try:
        registry = load_artifact_registry(binding)
    except BindingNotConfigured as exc:
        if exc.hint is None:
            exc.hint = _not_configured_hint(binding)
        raise
    try:
        yield registry
    finally:
        with contextlib.suppress(Exception):
            await registry.aclose()


def _not_configured_hint(binding: str) -> str:
    configured = sorted(bindings_from_env())
    if configured:
        return f"configured bindings: {', '.join(configured)}; choose one with --binding or {BINDING_ENV}"
    return (
        f"set {binding_env_var_name(binding)} to the binding's JSON, e.g. "
        '{"service":"local","registryUrl":"127.0.0.1:5000","dataDir":null} '
        "(`artreg serve` prints one)"
    )


def run(common: Common, action: Callable[[], Awaitable[T]]) -> T:
    """Run a command's coroutine. An error prints one line (plus the cause chain with
    ``--debug``) and exits with the code of its class."""
    import asyncio  # not at start-up: --help and usage errors never need it

    from artreg.eventloop import loop_factory

    try:
        # uvloop when installed: its socket reads cost a fraction of the selector loop's, which
        # shows in pulls (a blob arrives in 64 KiB reads)
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            return runner.run(_as_coroutine(action))
    except (typer.Exit, typer.Abort):
        raise
    except KeyboardInterrupt as exc:
        raise typer.Exit(report_error(exc, debug=False)) from None
    except ArtregError as exc:
        raise typer.Exit(report_error(exc, debug=common.debug)) from None
    except Exception as exc:
        code = report_error(exc, debug=common.debug)
        raise typer.Exit(code or int(ExitCode.INTERNAL)) from None


def run_on_registry(common: Common, call: Callable[[ArtifactRegistry], Awaitable[T]]) -> T:
    """:func:`run` ``call`` on the binding's registry, opened for it and closed after."""

    async def action() -> T:
        async with open_registry(common.binding) as registry:
            return await call(registry)

    return run(common, action)


async def _as_coroutine(action: Callable[[], Awaitable[T]]) -> T:
    return await action()
