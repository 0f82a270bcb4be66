"""Each error kind carries the code, status, flags, message and context of docs-site page reference/errors.md."""

from __future__ import annotations

from typing import Any

import pytest

from artreg import errors as e
from artreg.types import ErrorData

# kind, code, HTTP status, retryable, internal, context, expected message
KINDS: list[tuple[type[e.ArtregError], str, int, bool, bool, dict[str, Any], str]] = [
    (
        e.BindingNotConfigured,
        "BINDING_NOT_CONFIGURED",
        400,
        False,
        False,
        {"binding_name": "artifacts", "env_var": "ALIEN_ARTIFACTS_BINDING"},
        "No binding configured for 'artifacts': environment variable 'ALIEN_ARTIFACTS_BINDING' is not set",
    ),
    (
        e.BindingConfigInvalid,
        "BINDING_CONFIG_INVALID",
        400,
        False,
        False,
        {
            "binding_name": "b",
            "env_var": "ALIEN_B_BINDING",
            "reason": "Failed to parse binding JSON",
        },
        "Binding configuration invalid for binding 'b' (env var 'ALIEN_B_BINDING'): Failed to parse binding JSON",
    ),
    (
        e.BindingSetupFailed,
        "BINDING_SETUP_FAILED",
        500,
        False,
        False,
        {"binding_type": "artifact_registry.ecr", "reason": "r"},
        "Binding setup failed for 'artifact_registry.ecr': r",
    ),
    (
        e.ClientConfigInvalid,
        "CLIENT_CONFIG_INVALID",
        400,
        False,
        False,
        {"platform": "aws", "message": "AWS config not available"},
        "Client configuration invalid for platform 'aws': AWS config not available",
    ),
    (
        e.FeatureNotEnabled,
        "FEATURE_NOT_ENABLED",
        501,
        False,
        False,
        {"feature": "gcp"},
        "Feature 'gcp' is not enabled",
    ),
    (
        e.OperationNotSupported,
        "OPERATION_NOT_SUPPORTED",
        501,
        False,
        False,
        {"operation": "get_manifest", "reason": "nope"},
        "Operation 'get_manifest' not supported: nope",
    ),
    (
        e.ResourceNotFound,
        "RESOURCE_NOT_FOUND",
        404,
        False,
        False,
        {"resource_id": "r"},
        "Resource 'r' not found",
    ),
    (
        e.RemoteResourceNotFound,
        "REMOTE_RESOURCE_NOT_FOUND",
        404,
        False,
        False,
        {"operation_context": "Describe", "resource_type": "repository", "resource_name": "x"},
        "Describe: repository 'x' not found",
    ),
    (
        e.RemoteResourceConflict,
        "REMOTE_RESOURCE_CONFLICT",
        409,
        True,
        False,
        {
            "operation_context": "Create",
            "resource_type": "repository",
            "resource_name": "x",
            "conflict_reason": "exists",
        },
        "Create: repository 'x' conflict: exists",
    ),
    (
        e.RemoteAccessDenied,
        "REMOTE_ACCESS_DENIED",
        403,
        True,
        False,
        {"operation_context": "Get", "resource_type": "repository", "resource_name": "x"},
        "Get: access denied to repository 'x'",
    ),
    (
        e.RateLimitExceeded,
        "RATE_LIMIT_EXCEEDED",
        429,
        True,
        False,
        {"operation_context": "op", "details": "d"},
        "op: rate limit exceeded: d",
    ),
    (
        e.Timeout,
        "TIMEOUT",
        408,
        True,
        False,
        {"operation_context": "op", "details": "d"},
        "op: timed out: d",
    ),
    (
        e.RemoteServiceUnavailable,
        "REMOTE_SERVICE_UNAVAILABLE",
        503,
        True,
        False,
        {"operation_context": "op", "details": "d"},
        "op: service unavailable: d",
    ),
    (
        e.QuotaExceeded,
        "QUOTA_EXCEEDED",
        429,
        True,
        False,
        {"operation_context": "op", "details": "d"},
        "op: quota exceeded: d",
    ),
    (
        e.InvalidInput,
        "INVALID_INPUT",
        400,
        False,
        False,
        {"operation_context": "op", "details": "d", "field_name": "repoId"},
        "op: invalid input: d",
    ),
    (
        e.AuthenticationError,
        "AUTHENTICATION_ERROR",
        401,
        True,
        False,
        {"operation_context": "op", "details": "d"},
        "op: authentication failed: d",
    ),
    (
        e.CloudPlatformError,
        "CLOUD_PLATFORM_ERROR",
        502,
        True,
        False,
        {"message": "boom", "resource_id": "r"},
        "Cloud platform error: boom",
    ),
    (
        e.UnexpectedResponseFormat,
        "UNEXPECTED_RESPONSE_FORMAT",
        502,
        False,
        False,
        {
            "provider": "aws",
            "binding_name": "artifact_registry",
            "field": "policy_text",
            "response_json": "{}",
        },
        "Unexpected response format from aws for 'artifact_registry': field 'policy_text'",
    ),
    (e.Other, "BINDINGS_ERROR", 500, True, True, {"message": "m"}, "Bindings error: m"),
]


def test_every_kind_is_covered() -> None:
    assert {k[1] for k in KINDS} == set(e.ERROR_CLASSES)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k[1])
def test_kind_serializes_to_the_documented_shape(kind: tuple[Any, ...]) -> None:
    cls, code, status, retryable, internal, context, message = kind
    err = cls(**context)
    assert isinstance(err, e.ArtregError)
    assert (err.code, err.http_status_code, err.retryable, err.internal) == (
        code,
        status,
        retryable,
        internal,
    )
    assert err.message == message == str(err)
    assert err.to_dict() == {
        "code": code,
        "message": message,
        "context": context,
        "retryable": retryable,
        "internal": internal,
        "httpStatusCode": status,
    }
    assert list(err.to_dict()) == [
        "code",
        "message",
        "context",
        "retryable",
        "internal",
        "httpStatusCode",
    ]


def test_optional_context_field_is_omitted_when_absent() -> None:
    err = e.InvalidInput(operation_context="op", details="d")
    assert err.to_dict()["context"] == {"operation_context": "op", "details": "d"}
    assert "hint" not in err.to_dict() and "source" not in err.to_dict()


def test_missing_or_unknown_context_fields_are_programming_errors() -> None:
    with pytest.raises(TypeError, match="resource_id"):
        e.ResourceNotFound()
    with pytest.raises(TypeError, match="nope"):
        e.ResourceNotFound(resource_id="r", nope=1)


def test_source_nests_the_cause_chain_and_hint_is_kept() -> None:
    inner = e.ResourceNotFound(resource_id="x")
    outer = inner.wrapped_in(e.Other(message="wrapped", hint="try again"))
    data = outer.to_dict()
    assert data["hint"] == "try again"
    assert data["source"] == inner.to_dict()
    try:
        try:
            raise KeyError("k")
        except KeyError as exc:
            raise e.CloudPlatformError(message="call failed") from exc
    except e.ArtregError as err:
        chained = err.to_dict()
    assert chained["source"]["code"] == "EXTERNAL_ERROR"
    assert chained["source"]["internal"] is True
    assert "KeyError" in chained["source"]["message"]


def test_sanitized_hides_internal_errors_only() -> None:
    secret = e.Other(message="token=abc123 leaked")
    assert "abc123" not in str(secret.sanitized())
    assert secret.sanitized()["code"] == "BINDINGS_ERROR"
    public = e.ResourceNotFound(resource_id="x")
    assert public.sanitized() == public.to_dict()


def test_error_from_data_rebuilds_known_and_unknown_kinds() -> None:
    original = e.ResourceNotFound(resource_id="x").wrapped_in(e.Other(message="m"))
    rebuilt = e.error_from_data(original.to_data())
    assert isinstance(rebuilt, e.Other)
    assert rebuilt.to_dict() == original.to_dict()
    unknown = ErrorData(
        code="SOMETHING_NEW", message="m", retryable=False, internal=False, http_status_code=418
    )
    err = e.error_from_data(unknown)
    assert err.code == "SOMETHING_NEW" and err.http_status_code == 418 and err.to_data() == unknown
