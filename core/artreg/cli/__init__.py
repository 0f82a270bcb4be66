"""The ``artreg`` command line (typer + rich). Each command group lives in its own module and
is registered on :data:`app` below.

Start-up is part of every small command, so modules here import the heavy parts (the OCI client
and httpx, rich, the cloud SDKs, uvicorn) inside the functions that use them, and help is plain
text: typer's rich help alone imports markdown, syntax and traceback renderers (~0.1 s).
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup


class _PanelGroup(TyperGroup):
    """Plain-text help that still lists the commands under their help panels; parameters
    coerced without pydantic where typer's result is plain (:mod:`artreg.cli.coercion`)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        # here rather than in __init__: typer appends its completion options after that
        from artreg.cli.coercion import install

        install(self, ctx)
        return super().parse_args(ctx, args)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        sections: dict[str, list[tuple[str, Any]]] = {"Commands": []}
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                panel = getattr(command, "rich_help_panel", None) or "Commands"
                sections.setdefault(panel, []).append((name, command))
        width = max((len(name) for rows in sections.values() for name, _ in rows), default=0)
        limit = formatter.width - 6 - width
        for title, rows in sections.items():
            if rows:
                with formatter.section(title):
                    formatter.write_dl([(n, c.get_short_help_str(limit)) for n, c in rows])


app = typer.Typer(
    name="artreg",
    help="One interface to container registries: ECR, Artifact Registry, ACR and any OCI registry.",
    cls=_PanelGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
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
from artreg.cli import proxy  # noqa: E402, F401
from artreg.cli import serve  # noqa: E402, F401
from artreg.cli import transfer  # noqa: E402, F401
