"""The error model: one exception class per kind, all under :class:`ArtregError`.

Every error serializes (``to_dict()``) as ``{code, message, context?, hint?, retryable, internal,
httpStatusCode?, source?}`` with ``context`` keys in snake_case and ``source`` built from the cause
chain. Wrap an error in another with ``raise Outer(...) from inner`` or ``inner.wrapped_in(outer)``.

A remote service's HTTP status becomes an error in one place, :func:`error_for_status` over the
:data:`STATUS_ERRORS` table, for every provider and the OCI client alike (docs-site page
``concepts/errors.md``).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar, Final, TypeVar

from artreg.types import ErrorData

__all__ = [
    "ERROR_CLASSES",
    "STATUS_ERRORS",
    "ArtregError",
    "AuthenticationError",
    "BindingConfigInvalid",
    "BindingNotConfigured",
    "BindingSetupFailed",
    "ClientConfigInvalid",
    "CloudPlatformError",
    "FeatureNotEnabled",
    "InvalidInput",
    "OperationNotSupported",
    "Other",
    "QuotaExceeded",
    "RateLimitExceeded",
    "RemoteAccessDenied",
    "RemoteResourceConflict",
    "RemoteResourceNotFound",
    "RemoteServiceUnavailable",
    "ResourceNotFound",
    "Timeout",
    "UnexpectedResponseFormat",
    "error_for_status",
    "error_from_data",
]

E = TypeVar("E", bound="ArtregError")


class ArtregError(Exception):
    """Base of every artreg error. Subclasses fix ``code``, ``http_status``, ``retryable``,
    ``internal``, the message template and the context fields; instances carry the values."""

    code: str = "BINDINGS_ERROR"
    http_status: ClassVar[int | None] = 500
    retryable: bool = True
    internal: bool = True
    template: ClassVar[str] = "{message}"
    fields: ClassVar[tuple[str, ...]] = ("message",)
    optional_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, hint: str | None = None, **context: Any) -> None:
        allowed = set(self.fields) | set(self.optional_fields)
        unknown = set(context) - allowed
        if unknown:
            raise TypeError(f"{type(self).__name__} has no context field(s) {sorted(unknown)}")
        missing = [f for f in self.fields if f not in context]
        if missing:
            raise TypeError(f"{type(self).__name__} needs context field(s) {missing}")
        self.context: dict[str, Any] = {
            k: context[k]
            for k in (*self.fields, *self.optional_fields)
            if context.get(k) is not None
        }
        self.hint = hint
        self.message = _render(self.template, context)
        super().__init__(self.message)

    # -- wrapping -------------------------------------------------------------------------------

    @property
    def source(self) -> BaseException | None:
        """The wrapped error: the explicit cause, or the implicit context of a bare ``raise``."""
        return self.__cause__ or (None if self.__suppress_context__ else self.__context__)

    def wrapped_in(self, outer: E) -> E:
        """Return ``outer`` with this error as its source (alien's ``.context(new)``)."""
        outer.__cause__ = self
        return outer

    # -- serialization --------------------------------------------------------------------------

    @property
    def http_status_code(self) -> int | None:
        return self.http_status

    def to_data(self) -> ErrorData:
        """This error and its cause chain as the wire type."""
        return ErrorData(
            code=self.code,
            message=self.message,
            retryable=self.retryable,
            internal=self.internal,
            context=dict(self.context) or None,
            hint=self.hint,
            http_status_code=self.http_status_code,
            source=_source_data(self.source),
        )

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON shape; absent optional keys are omitted."""
        from artreg.types import to_builtins

        result: dict[str, Any] = to_builtins(self.to_data())
        return result

    def sanitized(self) -> dict[str, Any]:
        """What may be shown outside: internal errors lose their message, context and source."""
        if not self.internal:
            return self.to_dict()
        data: dict[str, Any] = {
            "code": self.code,
            "message": "Internal error",
            "retryable": self.retryable,
            "internal": True,
        }
        if self.http_status_code is not None:
            data["httpStatusCode"] = self.http_status_code
        return data

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"

    def __str__(self) -> str:
        return self.message


def _render(template: str, context: Mapping[str, Any]) -> str:
    """Fill a template; absent optional fields render as empty text."""
    names = [name for _, name, _, _ in string.Formatter().parse(template) if name]
    return template.format(**{n: context.get(n, "") for n in names})


def _source_data(exc: BaseException | None, depth: int = 0) -> ErrorData | None:
    if exc is None or depth > 16:
        return None
    if isinstance(exc, ArtregError):
        return exc.to_data()
    nested = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    return ErrorData(
        code="EXTERNAL_ERROR",
        message=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
        retryable=False,
        internal=True,
        source=_source_data(nested, depth + 1),
    )


# -- the kinds (docs-site: reference/errors.md) -------------------------------------------------


class BindingNotConfigured(ArtregError):
    code = "BINDING_NOT_CONFIGURED"
    http_status = 400
    retryable = False
    internal = False
    fields = ("binding_name", "env_var")
    template = (
        "No binding configured for '{binding_name}': environment variable '{env_var}' is not set"
    )


class BindingConfigInvalid(ArtregError):
    code = "BINDING_CONFIG_INVALID"
    http_status = 400
    retryable = False
    internal = False
    fields = ("binding_name", "env_var", "reason")
    template = (
        "Binding configuration invalid for binding '{binding_name}' (env var '{env_var}'): {reason}"
    )


class BindingSetupFailed(ArtregError):
    code = "BINDING_SETUP_FAILED"
    http_status = 500
    retryable = False
    internal = False
    fields = ("binding_type", "reason")
    template = "Binding setup failed for '{binding_type}': {reason}"


class ClientConfigInvalid(ArtregError):
    code = "CLIENT_CONFIG_INVALID"
    http_status = 400
    retryable = False
    internal = False
    fields = ("platform", "message")
    template = "Client configuration invalid for platform '{platform}': {message}"


class FeatureNotEnabled(ArtregError):
    code = "FEATURE_NOT_ENABLED"
    http_status = 501
    retryable = False
    internal = False
    fields = ("feature",)
    template = "Feature '{feature}' is not enabled"


class OperationNotSupported(ArtregError):
    code = "OPERATION_NOT_SUPPORTED"
    http_status = 501
    retryable = False
    internal = False
    fields = ("operation", "reason")
    template = "Operation '{operation}' not supported: {reason}"


class ResourceNotFound(ArtregError):
    code = "RESOURCE_NOT_FOUND"
    http_status = 404
    retryable = False
    internal = False
    fields = ("resource_id",)
    template = "Resource '{resource_id}' not found"


class RemoteResourceNotFound(ArtregError):
    code = "REMOTE_RESOURCE_NOT_FOUND"
    http_status = 404
    retryable = False
    internal = False
    fields = ("operation_context", "resource_type", "resource_name")
    template = "{operation_context}: {resource_type} '{resource_name}' not found"


class RemoteResourceConflict(ArtregError):
    code = "REMOTE_RESOURCE_CONFLICT"
    http_status = 409
    retryable = True
    internal = False
    fields = ("operation_context", "resource_type", "resource_name", "conflict_reason")
    template = "{operation_context}: {resource_type} '{resource_name}' conflict: {conflict_reason}"


class RemoteAccessDenied(ArtregError):
    code = "REMOTE_ACCESS_DENIED"
    http_status = 403
    retryable = True
    internal = False
    fields = ("operation_context", "resource_type", "resource_name")
    template = "{operation_context}: access denied to {resource_type} '{resource_name}'"


class RateLimitExceeded(ArtregError):
    code = "RATE_LIMIT_EXCEEDED"
    http_status = 429
    retryable = True
    internal = False
    fields = ("operation_context", "details")
    template = "{operation_context}: rate limit exceeded: {details}"


class Timeout(ArtregError):
    code = "TIMEOUT"
    http_status = 408
    retryable = True
    internal = False
    fields = ("operation_context", "details")
    template = "{operation_context}: timed out: {details}"


class RemoteServiceUnavailable(ArtregError):
    code = "REMOTE_SERVICE_UNAVAILABLE"
    http_status = 503
    retryable = True
    internal = False
    fields = ("operation_context", "details")
    template = "{operation_context}: service unavailable: {details}"


class QuotaExceeded(ArtregError):
    code = "QUOTA_EXCEEDED"
    http_status = 429
    retryable = True
    internal = False
    fields = ("operation_context", "details")
    template = "{operation_context}: quota exceeded: {details}"


class InvalidInput(ArtregError):
    code = "INVALID_INPUT"
    http_status = 400
    retryable = False
    internal = False
    fields = ("operation_context", "details")
    optional_fields = ("field_name",)
    template = "{operation_context}: invalid input: {details}"


class AuthenticationError(ArtregError):
    code = "AUTHENTICATION_ERROR"
    http_status = 401
    retryable = True
    internal = False
    fields = ("operation_context", "details")
    template = "{operation_context}: authentication failed: {details}"


class CloudPlatformError(ArtregError):
    code = "CLOUD_PLATFORM_ERROR"
    http_status = 502
    retryable = True
    internal = False
    fields = ("message",)
    optional_fields = ("resource_id",)
    template = "Cloud platform error: {message}"


class UnexpectedResponseFormat(ArtregError):
    code = "UNEXPECTED_RESPONSE_FORMAT"
    http_status = 502
    retryable = False
    internal = False
    fields = ("provider", "binding_name", "field", "response_json")
    template = "Unexpected response format from {provider} for '{binding_name}': field '{field}'"


class Other(ArtregError):
    code = "BINDINGS_ERROR"
    http_status = 500
    retryable = True
    internal = True
    fields = ("message",)
    template = "Bindings error: {message}"


#: Every error class by its code.
ERROR_CLASSES: Final[dict[str, type[ArtregError]]] = {
    cls.code: cls
    for cls in (
        BindingNotConfigured,
        BindingConfigInvalid,
        BindingSetupFailed,
        ClientConfigInvalid,
        FeatureNotEnabled,
        OperationNotSupported,
        ResourceNotFound,
        RemoteResourceNotFound,
        RemoteResourceConflict,
        RemoteAccessDenied,
        RateLimitExceeded,
        Timeout,
        RemoteServiceUnavailable,
        QuotaExceeded,
        InvalidInput,
        AuthenticationError,
        CloudPlatformError,
        UnexpectedResponseFormat,
        Other,
    )
}


class RemoteError(ArtregError):
    """An error received over the wire (e.g. from the sidecar) whose code this version may not
    know; it keeps the code, message and flags exactly as received."""

    fields = ()

    def __init__(self, data: ErrorData) -> None:
        super().__init__(hint=data.hint)
        self.data = data
        self.code = data.code
        self.retryable = data.retryable
        self.internal = data.internal
        self.message = data.message
        self.context = dict(data.context or {})
        self.args = (data.message,)

    @property
    def http_status_code(self) -> int | None:
        return self.data.http_status_code

    def to_data(self) -> ErrorData:
        return self.data


def error_from_data(data: ErrorData) -> ArtregError:
    """Rebuild an error from its wire form: the known class when the context fits it."""
    cls = ERROR_CLASSES.get(data.code)
    err: ArtregError
    if cls is not None:
        try:
            err = cls(hint=data.hint, **(data.context or {}))
        except TypeError:
            err = RemoteError(data)
        else:
            if err.message != data.message:
                err = RemoteError(data)
    else:
        err = RemoteError(data)
    if data.source is not None:
        err.__cause__ = error_from_data(data.source)
    return err


# -- a remote status as an error ----------------------------------------------------------------

#: The HTTP status of a remote answer → the error class it means, for every cloud and registry.
#: 401 always means the credential itself was refused (AUTHENTICATION_ERROR, CLI exit 4) and 403
#: that a valid identity may not do this (REMOTE_ACCESS_DENIED); AWS included, where alien said
#: REMOTE_ACCESS_DENIED for a 401 (docs-site: differences.md). A status not listed is a
#: CLOUD_PLATFORM_ERROR.
STATUS_ERRORS: Final[Mapping[int, type[ArtregError]]] = MappingProxyType(
    {
        400: InvalidInput,
        401: AuthenticationError,
        403: RemoteAccessDenied,
        404: RemoteResourceNotFound,
        408: Timeout,
        409: RemoteResourceConflict,
        412: RemoteResourceConflict,
        429: RateLimitExceeded,
        502: RemoteServiceUnavailable,
        503: RemoteServiceUnavailable,
        504: RemoteServiceUnavailable,
    }
)


def error_for_status(
    status: int | None,
    *,
    operation: str,
    resource_type: str,
    resource_name: str,
    details: str,
    kind: type[ArtregError] | None = None,
    field_name: str | None = None,
    cause: BaseException | None = None,
) -> ArtregError:
    """The typed error for a remote failure; the caller raises it.

    The class is ``kind`` when the caller recognised a service-specific error code (an OCI
    ``NAME_UNKNOWN``, an AWS ``ThrottlingException``), else :data:`STATUS_ERRORS` by ``status``,
    else :class:`CloudPlatformError` (also for ``status=None``: no HTTP answer). Each class takes
    the fields it has from one argument set: ``operation`` → ``operation_context``,
    ``resource_type``/``resource_name`` for not-found, conflict and access denied, ``details`` for
    the others (and as a conflict's ``conflict_reason``). ``cause`` becomes the error's source.

    >>> error_for_status(401, operation="Pull", resource_type="repository",
    ...                  resource_name="team/app", details="HTTP 401").code
    'AUTHENTICATION_ERROR'
    """
    cls = kind or STATUS_ERRORS.get(status or 0, CloudPlatformError)
    err = _remote_error(
        cls,
        operation=operation,
        resource_type=resource_type,
        resource_name=resource_name,
        details=details,
        field_name=field_name,
    )
    if cause is not None:
        err.__cause__ = cause
    return err


def _remote_error(
    cls: type[ArtregError],
    *,
    operation: str,
    resource_type: str,
    resource_name: str,
    details: str,
    field_name: str | None,
) -> ArtregError:
    named = {"resource_type": resource_type, "resource_name": resource_name}
    values: dict[str, Any] = {
        "operation_context": operation,
        "details": details,
        "conflict_reason": details,
        "field_name": field_name,
        "message": f"{operation}: {details}",
        "resource_id": resource_name,
        **named,
    }
    accepted = {*cls.fields, *cls.optional_fields}
    if not {"operation_context", "message"} & accepted:
        raise TypeError(f"{cls.__name__} is not an error of a remote call")
    return cls(**{k: v for k, v in values.items() if k in accepted})
