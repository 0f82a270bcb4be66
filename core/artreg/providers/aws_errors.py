"""botocore errors → artreg errors: by the AWS error code first, by the HTTP status second.

The code decides wherever it is known — every error shape of the ``ecr`` service model, the
``sts`` errors artreg can meet, and the authentication errors common to AWS's protocols (moto,
like some AWS services, answers a missing repository with HTTP 400, so the status alone would
mislead). An unknown code falls back to the status through the one table every provider shares,
:func:`artreg.errors.error_for_status`. The original botocore exception is kept as the mapped
error's ``source``; messages carry no credentials.
"""

from __future__ import annotations

from collections.abc import Iterable
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
    AuthenticationError,
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
    error_for_status,
)

__all__ = [
    "CODE_ERRORS",
    "HARD_QUOTAS",
    "error_code",
    "error_message",
    "error_status",
    "map_aws_error",
]


def _table(*groups: tuple[type[ArtregError], Iterable[str]]) -> dict[str, type[ArtregError]]:
    return {code: kind for kind, codes in groups for code in codes}


#: AWS error code → artreg error class.
CODE_ERRORS: Final[dict[str, type[ArtregError]]] = _table(
    (
        RemoteResourceNotFound,
        (
            "RepositoryNotFoundException",
            "ImageNotFoundException",
            "RegistryPolicyNotFoundException",
            "RepositoryPolicyNotFoundException",
            "LayersNotFoundException",
            # a layer no image refers to any more: ECR may already have collected it
            "LayerInaccessibleException",
            "LifecyclePolicyNotFoundException",
            "LifecyclePolicyPreviewNotFoundException",
            "PullThroughCacheRuleNotFoundException",
            "ReferencedImagesNotFoundException",
            "ReplicationBackfillNotFoundException",
            "ScanNotFoundException",
            "SecretNotFoundException",
            "SigningConfigurationNotFoundException",
            "TemplateNotFoundException",
            "ExclusionNotFoundException",
            "UploadNotFoundException",
            "NoSuchEntity",
        ),
    ),
    (
        RemoteResourceConflict,
        (
            "RepositoryAlreadyExistsException",
            "ImageAlreadyExistsException",
            "ImageTagAlreadyExistsException",
            "LayerAlreadyExistsException",
            "RepositoryNotEmptyException",
            "PullThroughCacheRuleAlreadyExistsException",
            "TemplateAlreadyExistsException",
            "ExclusionAlreadyExistsException",
            "LifecyclePolicyPreviewInProgressException",
            "ReplicationBackfillInProgressException",
            "ImageArchivedException",
        ),
    ),
    (
        # the credential itself was refused (unknown, expired or badly signed)
        AuthenticationError,
        (
            "UnrecognizedClientException",
            "InvalidClientTokenId",
            "InvalidAccessKeyId",
            "InvalidSignatureException",
            "SignatureDoesNotMatch",
            "IncompleteSignature",
            "IncompleteSignatureException",
            "MissingAuthenticationToken",
            "MissingAuthenticationTokenException",
            "ExpiredToken",
            "ExpiredTokenException",
            "AuthFailure",
        ),
    ),
    (
        # a known identity may not do this
        RemoteAccessDenied,
        (
            "AccessDeniedException",
            "AccessDenied",
            "UnauthorizedOperation",
            "UnauthorizedException",
            "NotAuthorized",
            "BlockedByOrganizationPolicyException",
            "RegionDisabledException",
            "UnableToAccessSecretException",
            "UnableToDecryptSecretValueException",
        ),
    ),
    (
        RateLimitExceeded,
        (
            "ThrottlingException",
            "Throttling",
            "ThrottledException",
            "TooManyRequestsException",
            "RequestLimitExceeded",
        ),
    ),
    (
        RemoteServiceUnavailable,
        (
            "ServiceUnavailableException",
            "ServiceUnavailable",
            "InternalServerException",
            "ServerException",
            "InternalFailure",
            "InternalError",
            "IDPCommunicationError",
            # a pull-through cache's upstream registry failed
            "UnableToGetUpstreamImageException",
            "UnableToGetUpstreamLayerException",
            "UnableToListUpstreamImageReferrersException",
        ),
    ),
    (Timeout, ("RequestTimeout", "RequestTimeoutException")),
    (QuotaExceeded, ("LimitExceededException", "TooManyTagsException")),
    (
        InvalidInput,
        (
            "InvalidParameterException",
            "InvalidParameterValue",
            "ValidationException",
            "ValidationError",
            "InvalidLayerException",
            "InvalidLayerPartException",
            "LayerPartTooSmallException",
            "EmptyUploadException",
            "InvalidTagParameterException",
            "ImageDigestDoesNotMatchException",
            "UnsupportedImageTypeException",
            "UnsupportedUpstreamRegistryException",
            "ImageStorageClassUpdateNotSupportedException",
            "ReplicationBackfillInvalidStatusException",
            "MalformedPolicyDocument",
            "PackedPolicyTooLarge",
            "SessionDurationEscalationException",
        ),
    ),
    # KMS refused or failed the repository's key: neither the caller's input nor a state of
    # the repository; the message (with KMS's own error) is what helps
    (CloudPlatformError, ("KmsException",)),
)

#: Quotas that do not lift by waiting: never retryable.
HARD_QUOTAS: Final = frozenset({"LimitExceededException", "TooManyTagsException"})


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
    details = error_message(exc)
    err: ArtregError
    if isinstance(exc, ClientError):
        code = error_code(exc)
        err = error_for_status(
            error_status(exc),
            operation=operation_context,
            resource_type=resource_type,
            resource_name=resource_name,
            details=details,
            kind=CODE_ERRORS.get(code),
            field_name=field_name,
            cause=exc,
        )
        if code in HARD_QUOTAS:
            err.retryable = False
        return err
    if isinstance(exc, ParamValidationError):
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
    elif isinstance(exc, BotoCoreError):
        err = CloudPlatformError(
            message=f"{operation_context}: {details}", resource_id=resource_name
        )
    else:
        err = CloudPlatformError(message=operation_context, resource_id=resource_name)
    err.__cause__ = exc
    return err
