"""Typed errors for registry responses. Every failure the client raises is an ArtregError;
its ``source`` is a :class:`RegistryStatusError` carrying the HTTP status and the OCI error
codes, which :func:`registry_status` finds again for callers that branch on them."""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import httpx

from artreg.errors import (
    ArtregError,
    InvalidInput,
    RateLimitExceeded,
    RemoteResourceNotFound,
    RemoteServiceUnavailable,
    Timeout,
    error_for_status,
)

__all__ = [
    "CODE_ERRORS",
    "NOT_FOUND_CODES",
    "RegistryStatusError",
    "connection_error",
    "error_for",
    "error_for_stream",
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


#: OCI error codes that decide the error class before the status does (distribution answers
#: some of them with a status that alone would mislead, e.g. a 400 for an unknown name).
CODE_ERRORS: Final[Mapping[str, type[ArtregError]]] = MappingProxyType(
    {
        **dict.fromkeys(NOT_FOUND_CODES, RemoteResourceNotFound),
        "TOOMANYREQUESTS": RateLimitExceeded,
        **dict.fromkeys(
            ("DIGEST_INVALID", "SIZE_INVALID", "MANIFEST_INVALID", "NAME_INVALID", "TAG_INVALID"),
            InvalidInput,
        ),
    }
)


def status_error(
    response: httpx.Response,
    body: bytes,
    *,
    operation: str,
    resource_type: str,
    resource_name: str,
) -> ArtregError:
    """The typed error for a non-2xx answer (the caller raises it): the OCI error codes of the
    body first, then :func:`artreg.errors.error_for_status`."""
    codes, message = oci_error_codes(body)
    status = response.status_code
    summary = f"registry answered {status}" + (f" ({', '.join(codes)})" if codes else "")
    if message:
        summary += f": {message}"
    return error_for_status(
        status,
        operation=operation,
        resource_type=resource_type,
        resource_name=resource_name,
        details=summary,
        kind=next((CODE_ERRORS[c] for c in codes if c in CODE_ERRORS), None),
        cause=RegistryStatusError(
            status, codes, response.request.method, response.request.url.path, message
        ),
    )


def connection_error(exc: httpx.TransportError, *, operation: str) -> ArtregError:
    """The typed error for a transport failure that retries did not cure."""
    err: ArtregError
    host = _host(exc)
    if isinstance(exc, httpx.TimeoutException):
        err = Timeout(
            operation_context=operation,
            details=f"{type(exc).__name__} talking to the registry"
            + (f" at {host}" if host else ""),
        )
    else:
        err = RemoteServiceUnavailable(
            operation_context=operation,
            details=(f"connection to {host}" if host else "connection")
            + f" failed: {type(exc).__name__}"
            + _tls_reason(exc),
        )
    err.__cause__ = exc
    return err


def _tls_reason(exc: BaseException) -> str:
    """`` (TLS: …)`` when a certificate or handshake failure lies under ``exc``, else ""."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, ssl.SSLCertVerificationError):
            reason = cause.verify_message or cause.reason or "certificate verify failed"
            return (
                f" (TLS: certificate verify failed: {reason}; a private CA is trusted through"
                " SSL_CERT_FILE or SSL_CERT_DIR)"
            )
        if isinstance(cause, ssl.SSLError):
            return f" (TLS: {cause.reason or 'handshake failed'})"
        cause = cause.__cause__ or cause.__context__
    return ""


def _host(exc: httpx.TransportError) -> str:
    """``HOST:PORT`` of the request that failed (so the error names the registry), or ""."""
    try:
        url = exc.request.url
    except RuntimeError:  # raised without a request
        return ""
    return f"{url.host}:{url.port}" if url.port else url.host  # never the user info


async def read_error_body(response: httpx.Response, limit: int = 64 * 1024) -> bytes:
    """At most ``limit`` bytes of an error body; the response is closed."""
    data = bytearray()
    try:
        async for chunk in response.aiter_bytes():
            data += chunk
            if len(data) >= limit:
                break
    except httpx.HTTPError:
        pass
    finally:
        await response.aclose()
    return bytes(data[:limit])


def error_for(
    response: httpx.Response, *, operation: str, resource_type: str, resource_name: str
) -> ArtregError:
    """The typed error for a fully read (non-streamed) response."""
    body = response.content if response.is_closed else b""
    return status_error(
        response,
        body,
        operation=operation,
        resource_type=resource_type,
        resource_name=resource_name,
    )


async def error_for_stream(
    response: httpx.Response, *, operation: str, resource_type: str, resource_name: str
) -> ArtregError:
    """The typed error for a streamed response (reads a bounded part of its body, closes it)."""
    body = await read_error_body(response)
    return status_error(
        response,
        body,
        operation=operation,
        resource_type=resource_type,
        resource_name=resource_name,
    )
