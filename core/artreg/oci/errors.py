"""Typed errors for registry responses. Every failure the client raises is an ArtregError;
its ``source`` is a :class:`RegistryStatusError` carrying the HTTP status and the OCI error
codes, which :func:`registry_status` finds again for callers that branch on them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

import httpx

from artreg.errors import (
    ArtregError,
    AuthenticationError,
    CloudPlatformError,
    InvalidInput,
    RateLimitExceeded,
    RemoteAccessDenied,
    RemoteResourceNotFound,
    RemoteServiceUnavailable,
    Timeout,
)

__all__ = [
    "NOT_FOUND_CODES",
    "RegistryStatusError",
    "connection_error",
    "oci_error_codes",
    "registry_status",
    "status_error",
]

#: OCI error codes that mean "does not exist".
NOT_FOUND_CODES: Final = frozenset({"BLOB_UNKNOWN", "MANIFEST_UNKNOWN", "NAME_UNKNOWN"})


@dataclass(frozen=True)
class RegistryStatusError(Exception):
    """The registry answered ``status`` (with these OCI error codes) to ``method path``."""

    status: int
    codes: tuple[str, ...]
    method: str
    path: str
    detail: str = ""

    def __str__(self) -> str:
        codes = f" {','.join(self.codes)}" if self.codes else ""
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.method} {self.path} -> {self.status}{codes}{detail}"


def registry_status(exc: BaseException | None) -> RegistryStatusError | None:
    """The registry status behind an error, searching its cause chain."""
    depth = 0
    while exc is not None and depth < 16:
        if isinstance(exc, RegistryStatusError):
            return exc
        exc = exc.__cause__ or exc.__context__
        depth += 1
    return None


def oci_error_codes(body: bytes) -> tuple[tuple[str, ...], str]:
    """The ``errors[].code`` values and the first message of an OCI error body."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return (), ""
    errors = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(errors, list):
        return (), ""
    codes = tuple(str(e.get("code")) for e in errors if isinstance(e, dict) and e.get("code"))
    message = next(
        (str(e.get("message")) for e in errors if isinstance(e, dict) and e.get("message")), ""
    )
    return codes, message[:200]


def status_error(
    response: httpx.Response,
    body: bytes,
    *,
    operation: str,
    resource_type: str,
    resource_name: str,
) -> ArtregError:
    """The typed error for a non-2xx answer (the caller raises it)."""
    codes, message = oci_error_codes(body)
    cause = RegistryStatusError(
        response.status_code, codes, response.request.method, response.request.url.path, message
    )
    status = response.status_code
    err: ArtregError
    summary = f"registry answered {status}" + (f" ({', '.join(codes)})" if codes else "")
    if message:
        summary += f": {message}"
    if status == 404 or NOT_FOUND_CODES & set(codes):
        err = RemoteResourceNotFound(
            operation_context=operation, resource_type=resource_type, resource_name=resource_name
        )
    elif status == 401:
        err = AuthenticationError(operation_context=operation, details=summary)
    elif status == 403:
        err = RemoteAccessDenied(
            operation_context=operation, resource_type=resource_type, resource_name=resource_name
        )
    elif status == 429 or "TOOMANYREQUESTS" in codes:
        err = RateLimitExceeded(operation_context=operation, details=summary)
    elif status in (502, 503, 504):
        err = RemoteServiceUnavailable(operation_context=operation, details=summary)
    elif status == 400 and {
        "DIGEST_INVALID",
        "SIZE_INVALID",
        "MANIFEST_INVALID",
        "NAME_INVALID",
        "TAG_INVALID",
    } & set(codes):
        err = InvalidInput(operation_context=operation, details=summary)
    else:
        err = CloudPlatformError(message=f"{operation}: {summary}", resource_id=resource_name)
    err.__cause__ = cause
    return err


def connection_error(exc: httpx.TransportError, *, operation: str) -> ArtregError:
    """The typed error for a transport failure that retries did not cure."""
    err: ArtregError
    if isinstance(exc, httpx.TimeoutException):
        err = Timeout(
            operation_context=operation, details=f"{type(exc).__name__} talking to the registry"
        )
    else:
        err = RemoteServiceUnavailable(
            operation_context=operation, details=f"connection failed: {type(exc).__name__}"
        )
    err.__cause__ = exc
    return err
