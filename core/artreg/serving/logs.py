"""Logging for servers: every line escaped (one record, one line) and redacted.

:func:`configure_logging` is the only way artreg's commands install log handlers: the root
handler it installs formats every record that reaches it — artreg's own and third-party
loggers' (botocore, urllib3, httpx, uvicorn, websockets) at any level — through
:class:`SafeFormatter`, so a secret in a debug dump of an SDK response is masked, and a value a
client sent (a path, a header) cannot forge a log line.
"""

from __future__ import annotations

import logging
import sys
from typing import IO, Final

from .redact import redact

__all__ = ["DEFAULT_FORMAT", "QUIET_LOGGERS", "SafeFormatter", "configure_logging", "escape"]

DEFAULT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Loggers whose per-request or per-connection lines are debug detail.
QUIET_LOGGERS: Final = ("httpx", "httpcore", "websockets.server")
#: Longest value :func:`escape` keeps (a header or path longer than this is cut).
MAX_VALUE: Final = 2048

_ESCAPES: Final = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(c: str) -> str:
    if c in _ESCAPES:
        return _ESCAPES[c]
    code = ord(c)
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )


def escape(value: object, limit: int = MAX_VALUE, *, backslash: bool = True) -> str:
    """``value`` as one printable line: control and non-printable characters (newlines
    included) escaped, and backslashes too unless ``backslash`` is False, cut to ``limit``
    characters."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        text = text[:limit] + "…"
    if text.isprintable() and not (backslash and "\\" in text):
        return text
    return "".join(
        c if c.isprintable() and not (backslash and c == "\\") else _escape_char(c) for c in text
    )


class SafeFormatter(logging.Formatter):
    """Formats the message as one line (control characters escaped; backslashes are left
    alone so values already passed through :func:`escape` read the same), then redacts the
    whole output (tracebacks included)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        original = record.message
        record.message = escape(original, limit=64 * 1024, backslash=False)
        try:
            return super().formatMessage(record)
        finally:
            record.message = original  # other handlers format the record themselves

    def format(self, record: logging.LogRecord) -> str:
        if record.name == "uvicorn.error":  # uvicorn's general logger, not only for errors
            record.name = "uvicorn"
        return redact(super().format(record))


def configure_logging(
    level: str | int = "info",
    *,
    fmt: str = DEFAULT_FORMAT,
    stream: IO[str] | None = None,
    quiet: tuple[str, ...] = QUIET_LOGGERS,
) -> logging.Handler:
    """Install one escaping, redacting handler on the root logger (replacing any other root
    handler) at ``level``. Below debug, the per-request chatter of ``quiet`` loggers is
    dropped. Returns the handler."""
    numeric = (
        level if isinstance(level, int) else getattr(logging, str(level).upper(), logging.INFO)
    )
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(SafeFormatter(fmt))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in quiet:
        logging.getLogger(name).setLevel(
            logging.WARNING if numeric > logging.DEBUG else logging.NOTSET
        )
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # uvicorn's own handlers would print around ours, unredacted
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.propagate = True
    return handler
