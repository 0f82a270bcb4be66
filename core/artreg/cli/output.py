"""Rendering command results: JSON for scripts, rich tables for people.

``--output`` chooses; without it the output is a table when stdout is a terminal and JSON when it
is not (a pipe or a file), so ``artreg repo get x | jq .uri`` works without flags. JSON is the wire
shape (camelCase keys, ``null`` kept), indented, one document per command, on stdout. Tables go to
stdout too; progress and diagnostics go to stderr.
"""

from __future__ import annotations

import enum
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from artreg.types import to_builtins

if TYPE_CHECKING:  # rich is imported when something is printed, not at start-up
    from rich.console import Console, RenderableType
    from rich.table import Table

__all__ = [
    "OutputFormat",
    "emit",
    "emit_json",
    "env_flag",
    "is_tty",
    "key_value_table",
    "list_table",
    "reader_gone",
    "resolve_output",
    "stderr_console",
    "stdout_console",
]


class OutputFormat(enum.StrEnum):
    """What ``--output`` accepts."""

    JSON = "json"
    TABLE = "table"


def is_tty(stream: Any) -> bool:
    """True when ``stream`` is an interactive terminal."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def resolve_output(choice: OutputFormat | None) -> OutputFormat:
    """The explicit choice, else TABLE on a terminal and JSON otherwise."""
    if choice is not None:
        return choice
    return OutputFormat.TABLE if is_tty(sys.stdout) else OutputFormat.JSON


def _console(stream: Any) -> Console:
    from rich.console import Console

    # NO_COLOR and TERM=dumb are honoured by rich itself
    return Console(
        file=stream,
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=False,
        width=None if is_tty(stream) else 200,
    )


def stdout_console() -> Console:
    return _console(sys.stdout)


def stderr_console() -> Console:
    return _console(sys.stderr)


def emit_json(value: Any) -> None:
    """Write ``value`` (a wire struct or plain JSON data) as indented JSON and a newline."""
    import msgspec

    data = msgspec.json.encode(to_builtins(value))
    text = msgspec.json.format(data, indent=2)
    out = sys.stdout.buffer if hasattr(sys.stdout, "buffer") else None
    if out is not None:
        sys.stdout.flush()
        out.write(text + b"\n")
        out.flush()
    else:  # pragma: no cover - stdout replaced by a text-only stream
        sys.stdout.write(text.decode() + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value) if value else "-"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items())
    return str(value)


def key_value_table(rows: Mapping[str, Any], *, title: str | None = None) -> Table:
    """A two-column table of field names and values."""
    from rich.table import Table

    table = Table(title=title, show_header=False, box=None, pad_edge=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in rows.items():
        table.add_row(key, _cell(value))
    return table


def list_table(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str | None = None
) -> Table:
    """A table with a header row."""
    from rich.table import Table

    table = Table(title=title, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(v) for v in row))
    return table


def emit(
    value: Any,
    output: OutputFormat,
    table: Callable[[], RenderableType] | None = None,
) -> None:
    """Print a result: ``value`` as JSON, or what ``table()`` builds as a table (a key/value
    table of ``value``'s fields when no builder is given). A reader that went away (``| head``)
    ends the command quietly."""
    try:
        if output is OutputFormat.JSON:
            emit_json(value)
            return
        console = stdout_console()
        if table is not None:
            rendered = table()
        else:
            data = to_builtins(value)
            rendered = key_value_table(data) if isinstance(data, Mapping) else _cell(data)
        console.print(rendered)
        sys.stdout.flush()
    except BrokenPipeError:
        reader_gone()


def reader_gone() -> NoReturn:
    """stdout's reader closed the pipe: send what is left to /dev/null and exit 0."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    raise SystemExit(0)


def env_flag(name: str) -> bool:
    """True when an environment variable is set to a true-looking value."""
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}
