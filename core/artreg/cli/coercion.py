"""Typer's parameter coercion without pydantic for the value types artreg's commands take.

typer (0.29) turns each command-line value into its annotated type through a pydantic
``TypeAdapter`` built per parameter when the command runs: importing pydantic and building the
adapters costs ~0.2 s of CPU, about ten times the rest of a small command's work. The common
cases — ``str``, ``int`` within ``min``/``max``, ``pathlib.Path``, ``list[str]`` and enums — have
the same result computed directly here (paths and choices by typer's own pydantic-free helpers).
A value these rules don't accept, and any other type, goes to typer's own adapter, so what a
user sees on bad input (the message, the exit status) is typer's, unchanged.

This relies on typer's internal coercion hook (``_TyperParameter._runtime_param``); when a
typer release changes it, :func:`install` leaves the parameters alone and typer's default
applies (slower, same behaviour).
"""

from __future__ import annotations

import contextlib
import enum
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin

try:
    from typer._coercion import RuntimeParam, build_runtime_param
    from typer._param_types import coerce_cli_choice, coerce_cli_path
    from typer.core import _TyperParameter
except ImportError:  # pragma: no cover - another typer layout: typer's default coercion
    RuntimeParam = None  # type: ignore[assignment,misc]

__all__ = ["install"]

_INT = re.compile(r"[+-]?[0-9]+\Z")


if RuntimeParam is not None:

    @dataclass(frozen=True)
    class _Direct(RuntimeParam):
        """Coerces the common cases itself; anything else goes to typer's adapter."""

        _fallback: list[Any] = field(default_factory=list, compare=False, repr=False)

        def _typer(self, value: Any, param: Any, ctx: Any) -> Any:
            if not self._fallback:
                self._fallback.append(build_runtime_param(param.type_descriptor))
            return self._fallback[0]._coerce_value(value, param=param, ctx=ctx)

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            direct = _direct(self.annotation, self.parameter_info, value, param, ctx)
            return direct if direct is not _UNDECIDED else self._typer(value, param, ctx)


_UNDECIDED = object()


def _direct(annotation: Any, info: Any, value: Any, param: Any, ctx: Any) -> Any:
    """typer's result for ``value``, or ``_UNDECIDED`` to let typer's adapter decide."""
    if info.parser is not None:  # a parser of the command's own: typer calls it
        return _UNDECIDED
    if annotation is str and isinstance(value, str):
        return value
    if annotation is int and not info.clamp:
        number = _as_int(value)
        if (
            number is not None
            and (info.min is None or number >= info.min)
            and (info.max is None or number <= info.max)
        ):
            return number
    elif get_origin(annotation) is list and get_args(annotation) == (str,):
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            return list(value)
    elif annotation is Path and info.path_type in (None, Path) and isinstance(value, str):
        # typer's own checks (exists, readable, ...) on the Path pydantic would have made
        with contextlib.suppress(Exception):  # typer's adapter reports it its way
            return coerce_cli_path(Path(value), info, path_type=Path, param=param, ctx=ctx)
    elif isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        with contextlib.suppress(Exception):  # typer's adapter reports it its way
            return coerce_cli_choice(
                value, choices=list(annotation), case_sensitive=info.case_sensitive, ctx=ctx
            )
    return _UNDECIDED


def _as_int(value: Any) -> int | None:
    if type(value) is int:
        return value
    if isinstance(value, str) and _INT.match(value):
        return int(value)
    return None


def install(command: Any, ctx: Any) -> None:
    """Give the parameters of ``command`` and of its subcommands (their help options too, which
    click makes per context) the direct coercion."""
    if RuntimeParam is None:
        return
    for sub in getattr(command, "commands", {}).values():
        install(sub, ctx)
    for param in command.get_params(ctx):
        if not isinstance(param, _TyperParameter) or param.__dict__.get("_runtime_param"):
            continue
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is None or descriptor.file_annotation is not None:
            continue
        param._runtime_param = _Direct(
            parameter_info=descriptor.parameter_info, annotation=descriptor.annotation
        )
