"""Process exit statuses of the ``artreg`` commands: one table (:data:`EXIT_CLASSES`) from which
the lookup by error code, every command's ``--help`` epilog and the documentation's table are all
generated (docs-site page ``getting-started/cli.md``)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

__all__ = ["BY_CODE", "EXIT_CLASSES", "ExitClass", "ExitCode", "epilog"]


class ExitCode(enum.IntEnum):
    """Process exit status per class of error."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    NOT_FOUND = 3
    AUTH = 4
    UNSUPPORTED = 5
    REMOTE = 6
    INTERRUPTED = 130


@dataclass(frozen=True)
class ExitClass:
    """One exit status: what it means, and the error codes that end a command with it."""

    status: ExitCode
    label: str
    codes: tuple[str, ...] = ()
    #: What else ends with this status (besides the codes).
    also: str = ""


#: Every exit status in order, with the error codes that map to it.
EXIT_CLASSES: Final[tuple[ExitClass, ...]] = (
    ExitClass(ExitCode.OK, "ok"),
    ExitClass(
        ExitCode.INTERNAL,
        "internal error",
        ("BINDINGS_ERROR",),
        also="anything unexpected; BINDINGS_ERROR takes the class of its cause",
    ),
    ExitClass(
        ExitCode.USAGE,
        "usage",
        (
            "INVALID_INPUT",
            "BINDING_NOT_CONFIGURED",
            "BINDING_CONFIG_INVALID",
            "CLIENT_CONFIG_INVALID",
        ),
        also="bad arguments",
    ),
    ExitClass(ExitCode.NOT_FOUND, "not found", ("RESOURCE_NOT_FOUND", "REMOTE_RESOURCE_NOT_FOUND")),
    ExitClass(ExitCode.AUTH, "auth", ("AUTHENTICATION_ERROR", "REMOTE_ACCESS_DENIED")),
    ExitClass(
        ExitCode.UNSUPPORTED, "unsupported", ("OPERATION_NOT_SUPPORTED", "FEATURE_NOT_ENABLED")
    ),
    ExitClass(
        ExitCode.REMOTE,
        "remote failure",
        (
            "CLOUD_PLATFORM_ERROR",
            "REMOTE_SERVICE_UNAVAILABLE",
            "TIMEOUT",
            "RATE_LIMIT_EXCEEDED",
            "QUOTA_EXCEEDED",
            "REMOTE_RESOURCE_CONFLICT",
            "UNEXPECTED_RESPONSE_FORMAT",
            "BINDING_SETUP_FAILED",
        ),
    ),
    ExitClass(ExitCode.INTERRUPTED, "interrupted", also="Ctrl-C"),
)

#: The exit status for each error code.
BY_CODE: Final[Mapping[str, ExitCode]] = MappingProxyType(
    {code: cls.status for cls in EXIT_CLASSES for code in cls.codes}
)


def epilog() -> str:
    """The exit-code table as plain text, as shown at the end of every command's ``--help``."""
    lines = ["Exit codes (errors print one line on stderr; --debug adds the cause chain):"]
    for cls in EXIT_CLASSES:
        if cls.status is ExitCode.INTERNAL:
            detail = f" ({cls.also})"
        else:
            detail = ", ".join(filter(None, (cls.also, *cls.codes)))
            detail = f": {detail}" if detail else ""
        lines.append(f"  {int(cls.status)}  {cls.label}{detail}")
    return "\n".join(lines)
