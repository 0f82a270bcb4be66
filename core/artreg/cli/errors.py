"""How the command line reports failures: one line on stderr (code, message and hint) and an exit
code per class of error, the same for every command (the table: :data:`artreg.exitcodes.EXIT_CLASSES`,
shown by every ``--help`` and on the docs-site page ``getting-started/cli.md``).

``--debug`` adds the cause chain (the ``source`` entries of :meth:`ArtregError.to_dict`), one
indented line per cause. Every line printed passes through :func:`redact`, which removes the
secrets this process has seen and anything shaped like a credential.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from typing import IO, Any, Final

from artreg.errors import ArtregError
from artreg.exitcodes import BY_CODE, ExitCode, epilog
from artreg.serving.redact import redact, register_secret

__all__ = [
    "EXIT_CODES_EPILOG",
    "ExitCode",
    "exit_code_for",
    "format_error",
    "format_error_chain",
    "redact",
    "register_secret",
    "report_error",
]


_BY_CODE: Final = BY_CODE

#: The exit-code table, as shown at the end of every command's ``--help``.
EXIT_CODES_EPILOG: Final = epilog()


def exit_code_for(error: BaseException) -> ExitCode:
    """The exit status for an error: by its code for artreg errors, INTERNAL otherwise."""
    if isinstance(error, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    if isinstance(error, ArtregError):
        code = _BY_CODE.get(error.code, _by_status(error.http_status_code))
        if code is ExitCode.INTERNAL:
            cause = _classified_cause(error)
            if cause is not None:
                return _BY_CODE.get(cause.code, _by_status(cause.http_status_code))
        return code
    return ExitCode.INTERNAL


def _classified_cause(error: BaseException) -> ArtregError | None:
    """For a generic error (BINDINGS_ERROR), the first cause of a more telling class, e.g. the
    REMOTE_SERVICE_UNAVAILABLE behind "Failed to push config blob"."""
    seen = 0
    current = error.__cause__ or error.__context__
    while current is not None and seen < 32:
        if isinstance(current, ArtregError):
            code = _BY_CODE.get(current.code, _by_status(current.http_status_code))
            if code is not ExitCode.INTERNAL:
                return current
        current = current.__cause__ or current.__context__
        seen += 1
    return None


def _by_status(status: int | None) -> ExitCode:
    """Codes this version does not know (e.g. received over the wire), classed by HTTP status."""
    if status is None:
        return ExitCode.INTERNAL
    if status == 404:
        return ExitCode.NOT_FOUND
    if status in (401, 403):
        return ExitCode.AUTH
    if status == 501:
        return ExitCode.UNSUPPORTED
    if 400 <= status < 500 and status not in (408, 409, 429):
        return ExitCode.USAGE
    if status >= 500 or status in (408, 409, 429):
        return ExitCode.REMOTE
    return ExitCode.INTERNAL


# -- secrets ---------------------------------------------------------------------------------------
# One redaction rule for every line artreg prints or logs: it lives in artreg.serving.redact.

# -- rendering -------------------------------------------------------------------------------------


def format_error(error: BaseException) -> str:
    """The one line shown for an error: ``error: CODE: message (hint: …)``."""
    if isinstance(error, ArtregError):
        line = f"error: {error.code}: {error.message}"
        if _BY_CODE.get(error.code) is ExitCode.INTERNAL:
            cause = _classified_cause(error)
            if cause is not None:
                line += f" (cause: {cause.code}: {cause.message})"
        if error.hint:
            line += f" (hint: {error.hint})"
    elif isinstance(error, KeyboardInterrupt):
        line = "error: interrupted"
    else:
        detail = str(error)
        line = f"error: INTERNAL_ERROR: {type(error).__name__}" + (f": {detail}" if detail else "")
    return redact(" ".join(line.split()))


def _chain(data: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    source = data.get("source")
    depth = 0
    while isinstance(source, Mapping) and depth < 32:
        yield source
        source = source.get("source")
        depth += 1


def format_error_chain(error: BaseException) -> list[str]:
    """The cause chain of an error, one line per cause, outermost first (for ``--debug``)."""
    if isinstance(error, ArtregError):
        data = error.to_dict()
    else:
        from artreg.errors import Other

        wrapper = Other(message=type(error).__name__)
        wrapper.__cause__ = error
        data = wrapper.to_dict()
    lines: list[str] = []
    if isinstance(error, ArtregError):
        extras = _details(data, with_hint=False)
        if extras:
            lines.append(f"  [{extras}]")
    for depth, cause in enumerate(_chain(data), start=1):
        text = f"caused by: {cause.get('code')}: {cause.get('message')}"
        extras = _details(cause, with_hint=True)
        if extras:
            text += f" [{extras}]"
        lines.append("  " * depth + " ".join(text.split()))
    return [redact(line) for line in lines]


def _details(data: Mapping[str, Any], *, with_hint: bool) -> str:
    parts: list[str] = []
    status = data.get("httpStatusCode")
    if status is not None:
        parts.append(f"http={status}")
    if data.get("retryable"):
        parts.append("retryable")
    context = data.get("context")
    if isinstance(context, Mapping):
        parts.extend(f"{k}={v}" for k, v in context.items())
    hint = data.get("hint")
    if with_hint and hint:
        parts.append(f"hint={hint}")
    return ", ".join(parts)


def report_error(
    error: BaseException, *, debug: bool = False, stream: IO[str] | None = None
) -> int:
    """Print an error (and with ``debug`` its cause chain) and return the exit status."""
    stream = sys.stderr if stream is None else stream
    print(format_error(error), file=stream)
    if debug:
        for line in format_error_chain(error):
            print(line, file=stream)
    stream.flush()
    return int(exit_code_for(error))
