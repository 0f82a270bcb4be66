"""The one status → error table: each status, each code override, the fallback, all literal."""

from __future__ import annotations

import pytest

from artreg import errors as e


def _err(status: int | None, **kw: object) -> e.ArtregError:
    return e.error_for_status(
        status,
        operation="Pull image",
        resource_type="repository",
        resource_name="team/app",
        details="registry answered 418",
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("status", "code", "http_status", "message"),
    [
        (400, "INVALID_INPUT", 400, "Pull image: invalid input: registry answered 418"),
        (
            401,
            "AUTHENTICATION_ERROR",
            401,
            "Pull image: authentication failed: registry answered 418",
        ),
        (403, "REMOTE_ACCESS_DENIED", 403, "Pull image: access denied to repository 'team/app'"),
        (404, "REMOTE_RESOURCE_NOT_FOUND", 404, "Pull image: repository 'team/app' not found"),
        (408, "TIMEOUT", 408, "Pull image: timed out: registry answered 418"),
        (
            409,
            "REMOTE_RESOURCE_CONFLICT",
            409,
            "Pull image: repository 'team/app' conflict: registry answered 418",
        ),
        (
            412,
            "REMOTE_RESOURCE_CONFLICT",
            409,
            "Pull image: repository 'team/app' conflict: registry answered 418",
        ),
        (429, "RATE_LIMIT_EXCEEDED", 429, "Pull image: rate limit exceeded: registry answered 418"),
        (
            500,
            "CLOUD_PLATFORM_ERROR",
            502,
            "Cloud platform error: Pull image: registry answered 418",
        ),
        (
            501,
            "CLOUD_PLATFORM_ERROR",
            502,
            "Cloud platform error: Pull image: registry answered 418",
        ),
        (
            502,
            "REMOTE_SERVICE_UNAVAILABLE",
            503,
            "Pull image: service unavailable: registry answered 418",
        ),
        (
            503,
            "REMOTE_SERVICE_UNAVAILABLE",
            503,
            "Pull image: service unavailable: registry answered 418",
        ),
        (
            504,
            "REMOTE_SERVICE_UNAVAILABLE",
            503,
            "Pull image: service unavailable: registry answered 418",
        ),
        (
            418,
            "CLOUD_PLATFORM_ERROR",
            502,
            "Cloud platform error: Pull image: registry answered 418",
        ),
        (
            None,
            "CLOUD_PLATFORM_ERROR",
            502,
            "Cloud platform error: Pull image: registry answered 418",
        ),
    ],
)
def test_status_table(status: int | None, code: str, http_status: int, message: str) -> None:
    err = _err(status)
    assert (err.code, err.http_status_code, err.message) == (code, http_status, message)
    assert err.internal is False


def test_context_fields_per_kind() -> None:
    assert _err(403).context == {
        "operation_context": "Pull image",
        "resource_type": "repository",
        "resource_name": "team/app",
    }
    assert _err(401).context == {
        "operation_context": "Pull image",
        "details": "registry answered 418",
    }
    assert _err(409).context["conflict_reason"] == "registry answered 418"
    assert _err(500).context == {
        "message": "Pull image: registry answered 418",
        "resource_id": "team/app",
    }
    assert _err(400, field_name="repo_id").context["field_name"] == "repo_id"


def test_kind_wins_over_status() -> None:
    # a service-specific code (OCI NAME_UNKNOWN answered with 400, AWS LimitExceededException)
    err = _err(400, kind=e.RemoteResourceNotFound)
    assert err.code == "REMOTE_RESOURCE_NOT_FOUND"
    assert _err(400, kind=e.QuotaExceeded).message == (
        "Pull image: quota exceeded: registry answered 418"
    )


def test_cause_becomes_source() -> None:
    cause = ValueError("boom")
    err = _err(503, cause=cause)
    assert err.source is cause
    assert err.to_dict()["source"]["message"] == "ValueError: boom"


def test_a_kind_that_is_not_a_remote_error_is_refused() -> None:
    with pytest.raises(TypeError, match="BindingNotConfigured"):
        _err(400, kind=e.BindingNotConfigured)


def test_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        e.STATUS_ERRORS[418] = e.Other  # type: ignore[index]
