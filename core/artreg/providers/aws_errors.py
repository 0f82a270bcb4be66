"""botocore errors → artreg errors, by the AWS error code first and the HTTP status second.

The code decides wherever it is known (moto, like some AWS services, answers a missing
repository with HTTP 400, so the status alone would mislead). The original botocore exception is
kept as the mapped error's ``source``; messages carry no credentials.
"""

from __future__ import annotations

from typing import Final

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from artreg.errors import (
    ArtregError,
    ClientConfigInvalid,
    CloudPlatformError,
    InvalidInput,
    QuotaExceeded,
    RateLimitExceeded,
    RemoteAccessDenied,
    RemoteResourceConflict,
    RemoteResourceNotFound,
    RemoteServiceUnavailable,
    Timeout,
)

__all__ = ["error_code", "error_message", "error_status", "map_aws_error"]

NOT_FOUND: Final = frozenset(
    {
        "RepositoryNotFoundException",
        "ImageNotFoundException",
        "RegistryPolicyNotFoundException",
        "RepositoryPolicyNotFoundException",
        "LayersNotFoundException",
        "NoSuchEntity",
    }
)
CONFLICT: Final = frozenset(
    {
        "RepositoryAlreadyExistsException",
        "ImageAlreadyExistsException",
        "RepositoryNotEmptyException",
    }
)
ACCESS_DENIED: Final = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnauthorizedOperation",
        "UnauthorizedException",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "ExpiredToken",
        "ExpiredTokenException",
        "NotAuthorized",
    }
)
THROTTLED: Final = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"}
)
UNAVAILABLE: Final = frozenset(
    {
        "ServiceUnavailableException",
        "ServiceUnavailable",
        "InternalServerException",
        "ServerException",
        "InternalFailure",
    }
)
QUOTA: Final = frozenset({"LimitExceededException"})
INVALID: Final = frozenset(
    {
        "InvalidParameterException",
        "ValidationException",
        "ValidationError",
        "InvalidLayerPartException",
    }
)


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ``ClientError`` (``""`` for anything else)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "")
    return ""


def error_status(exc: BaseException) -> int | None:
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return int(status) if status is not None else None
    return None


def error_message(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        message = str(error.get("Message") or "")
        code = str(error.get("Code") or "")
        return f"{code}: {message}" if message else code or str(exc)
    return str(exc) or type(exc).__name__


def map_aws_error(
    exc: BaseException,
    *,
    operation_context: str,
    resource_name: str,
    resource_type: str = "ECR repository",
    field_name: str | None = None,
) -> ArtregError:
    """The artreg error for a botocore exception raised by one AWS call. ``resource_name`` is the
    request's resource (the repository name). Raise the result ``from exc``."""
    if isinstance(exc, ArtregError):
        return exc
    code = error_code(exc)
    details = error_message(exc)
    kind = _kind(code, error_status(exc)) if isinstance(exc, ClientError) else None
    err: ArtregError
    if kind == "not_found":
        err = RemoteResourceNotFound(
            operation_context=operation_context,
            resource_type=resource_type,
            resource_name=resource_name,
        )
    elif kind == "conflict":
        err = RemoteResourceConflict(
            operation_context=operation_context,
            resource_type=resource_type,
            resource_name=resource_name,
            conflict_reason=details,
        )
    elif kind == "access_denied":
        err = RemoteAccessDenied(
            operation_context=operation_context,
            resource_type=resource_type,
            resource_name=resource_name,
        )
    elif kind == "throttled":
        err = RateLimitExceeded(operation_context=operation_context, details=details)
    elif kind == "unavailable":
        err = RemoteServiceUnavailable(operation_context=operation_context, details=details)
    elif kind == "quota":
        err = QuotaExceeded(operation_context=operation_context, details=details)
    elif kind == "invalid":
        err = InvalidInput(
            operation_context=operation_context, details=details, field_name=field_name
        )
    elif isinstance(exc, ParamValidationError):
        err = InvalidInput(
            operation_context=operation_context,
            details=str(exc).replace("\n", " ").strip(),
            field_name=field_name,
        )
    elif isinstance(exc, (ConnectTimeoutError, ReadTimeoutError)):
        err = Timeout(operation_context=operation_context, details=str(exc))
    elif isinstance(exc, BotoConnectionError):
        err = RemoteServiceUnavailable(operation_context=operation_context, details=str(exc))
    elif isinstance(exc, NoCredentialsError):
        err = ClientConfigInvalid(
            platform="aws", message="AWS config not available: no credentials"
        )
    elif isinstance(exc, (ClientError, BotoCoreError)):
        err = CloudPlatformError(
            message=f"{operation_context}: {details}", resource_id=resource_name
        )
    else:
        err = CloudPlatformError(message=operation_context, resource_id=resource_name)
    err.__cause__ = exc
    return err


def _kind(code: str, status: int | None) -> str | None:
    if code in NOT_FOUND:
        return "not_found"
    if code in CONFLICT:
        return "conflict"
    if code in ACCESS_DENIED:
        return "access_denied"
    if code in THROTTLED:
        return "throttled"
    if code in UNAVAILABLE:
        return "unavailable"
    if code in QUOTA:
        return "quota"
    if code in INVALID:
        return "invalid"
    return {
        409: "conflict",
        404: "not_found",
        403: "access_denied",
        401: "access_denied",
        429: "throttled",
        502: "unavailable",
        503: "unavailable",
        504: "unavailable",
    }.get(status or 0)
