"""The ``artreg`` command line (typer + rich). Each command group lives in its own module and
is registered on :data:`app` below."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="artreg",
    help="One interface to container registries: ECR, Artifact Registry, ACR and any OCI registry.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# Command modules register themselves on `app` when imported (one import line each, below).


def main() -> None:
    """Entry point of the ``artreg`` console script."""
    app()


from artreg.cli import repo  # noqa: E402, F401, I001
from artreg.cli import creds  # noqa: E402, F401
from artreg.cli import access  # noqa: E402, F401
from artreg.cli import endpoint  # noqa: E402, F401
from artreg.cli import images  # noqa: E402, F401
from artreg.cli import registry  # noqa: E402, F401
from artreg.cli import serve  # noqa: E402, F401
from artreg.cli import transfer  # noqa: E402, F401
