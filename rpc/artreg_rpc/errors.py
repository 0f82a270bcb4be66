"""JSON-RPC error objects in artreg's shape.

Every error reply carries ``data`` in artreg's error shape (``ErrorData``): the standard JSON-RPC
codes (parse error, invalid request, method not found, invalid params) carry an INVALID_INPUT or
OPERATION_NOT_SUPPORTED error; artreg errors are ``-32000`` with the error's own data; errors of
internal kinds and unexpected exceptions are sanitised (the full error goes to the server log).
When an internal error wraps a public one (a registry that is down, behind a provider's internal
wrapper), the public cause is kept as ``source``: it says what went wrong without showing internals.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Final

import msgspec

from artreg.errors import ArtregError, InvalidInput, OperationNotSupported, Other

__all__ = [
    "ARTREG_ERROR",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "RpcConfigError",
    "RpcError",
    "artreg_error",
    "field_path",
    "internal_error",
    "invalid_params",
    "invalid_request",
    "method_not_found",
    "parse_error",
]

log = logging.getLogger("artreg_rpc")

PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
INTERNAL_ERROR: Final = -32603
#: Every error raised by artreg itself (``data.code`` says which).
ARTREG_ERROR: Final = -32000

_REQUEST: Final = "JSON-RPC request"


class RpcConfigError(Exception):
    """The sidecar cannot start with the configuration it was given (e.g. an unsafe address)."""


class RpcError(msgspec.Struct, frozen=True):
    """A JSON-RPC error object: ``{code, message, data}``; ``data`` is artreg's error shape."""

    code: int
    message: str
    data: dict[str, Any]


def parse_error(details: str) -> RpcError:
    """-32700: the message is not JSON (or not UTF-8)."""
    err = InvalidInput(operation_context=_REQUEST, details=details)
    return RpcError(PARSE_ERROR, "Parse error", err.to_dict())


def invalid_request(details: str, field_name: str | None = None) -> RpcError:
    """-32600: JSON, but not a JSON-RPC 2.0 request object."""
    err = InvalidInput(operation_context=_REQUEST, details=details, field_name=field_name)
    return RpcError(INVALID_REQUEST, "Invalid request", err.to_dict())


def method_not_found(method: str) -> RpcError:
    """-32601, with an OPERATION_NOT_SUPPORTED naming the method."""
    err = OperationNotSupported(
        operation=method, reason="no such method (rpc.discover lists the methods)"
    )
    return RpcError(METHOD_NOT_FOUND, "Method not found", err.to_dict())


_AT: Final = re.compile(r" - at `\$(?P<path>[^`]*)`\Z")
_NAMED: Final = re.compile(r"(?:missing required|contains unknown) field `(?P<name>[^`]+)`")


def field_path(exc: msgspec.ValidationError) -> str | None:
    """The offending field of a msgspec validation error as ``a.b[0]`` (None: the params object)."""
    message = str(exc)
    path = ""
    at = _AT.search(message)
    if at:
        path = at.group("path").lstrip(".")
    named = _NAMED.search(message)
    if named:
        path = f"{path}.{named.group('name')}" if path else named.group("name")
    return path or None


def invalid_params(method: str, exc: msgspec.ValidationError | None, details: str = "") -> RpcError:
    """-32602, with an INVALID_INPUT naming the bad field in ``context.field_name``."""
    err = InvalidInput(
        operation_context=method,
        details=details or str(exc),
        field_name=field_path(exc) if exc is not None else None,
    )
    return RpcError(INVALID_PARAMS, "Invalid params", err.to_dict())


def _public_source(data: Any, depth: int = 0) -> dict[str, Any] | None:
    """The first non-internal entry of a ``source`` chain, its own chain sanitised; else None."""
    if not isinstance(data, dict) or depth > 16:
        return None
    if not data.get("internal"):
        return _sanitize_sources(data)
    return _public_source(data.get("source"), depth + 1)


def _sanitize_sources(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with every internal entry of its ``source`` chain reduced to code and flags
    (keeping, as its source, the public error it wraps, if any)."""
    source = data.get("source")
    if not isinstance(source, dict):
        return data
    if source.get("internal"):
        stub = {k: source[k] for k in ("code", "retryable", "internal") if k in source}
        stub["message"] = "Internal error"
        public = _public_source(source.get("source"))
        if public is not None:
            stub["source"] = public
        return {**data, "source": stub}
    return {**data, "source": _sanitize_sources(source)}


def _with_public_source(data: dict[str, Any], exc: BaseException) -> dict[str, Any]:
    """Sanitised ``data`` plus the first public error in ``exc``'s cause chain as ``source``."""
    cause: BaseException | None = exc
    depth = 0
    while cause is not None and depth < 16:
        if isinstance(cause, ArtregError) and not cause.internal:
            return {**data, "source": _sanitize_sources(cause.to_dict())}
        cause = cause.__cause__ or (None if cause.__suppress_context__ else cause.__context__)
        depth += 1
    return data


def artreg_error(method: str, exc: ArtregError) -> RpcError:
    """-32000 with the error's data. Internal kinds are sanitised (so are internal causes in the
    ``source`` chain of a public error) and logged in full."""
    if exc.internal:
        log.error("%s failed with an internal error", method, exc_info=exc)
        data = _with_public_source(exc.sanitized(), exc)
        return RpcError(ARTREG_ERROR, str(data["message"]), data)
    data = exc.to_dict()
    public = _sanitize_sources(data)
    if public is not data and log.isEnabledFor(logging.DEBUG):
        log.debug("%s failed: %s", method, exc, exc_info=exc)
    return RpcError(ARTREG_ERROR, exc.message, public)


def internal_error(method: str, exc: BaseException) -> RpcError:
    """-32603 for an unexpected exception: a sanitised BINDINGS_ERROR; the traceback is logged."""
    log.error("%s failed with an unexpected exception", method, exc_info=exc)
    data = _with_public_source(Other(message="unexpected error").sanitized(), exc)
    return RpcError(INTERNAL_ERROR, "Internal error", data)
