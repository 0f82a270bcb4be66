"""Exit codes per error class, the one-line rendering, the --debug cause chain and redaction."""

from __future__ import annotations

import io

import pytest

from artreg import errors
from artreg.cli.errors import (
    ExitCode,
    exit_code_for,
    format_error,
    format_error_chain,
    redact,
    register_secret,
    report_error,
)
from artreg.types import ErrorData


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (errors.InvalidInput(operation_context="x", details="y"), ExitCode.USAGE),
        (errors.BindingNotConfigured(binding_name="a", env_var="B"), ExitCode.USAGE),
        (errors.BindingConfigInvalid(binding_name="a", env_var="B", reason="r"), ExitCode.USAGE),
        (errors.ClientConfigInvalid(platform="aws", message="m"), ExitCode.USAGE),
        (errors.ResourceNotFound(resource_id="r"), ExitCode.NOT_FOUND),
        (
            errors.RemoteResourceNotFound(
                operation_context="o", resource_type="t", resource_name="n"
            ),
            ExitCode.NOT_FOUND,
        ),
        (errors.AuthenticationError(operation_context="o", details="d"), ExitCode.AUTH),
        (
            errors.RemoteAccessDenied(operation_context="o", resource_type="t", resource_name="n"),
            ExitCode.AUTH,
        ),
        (errors.OperationNotSupported(operation="o", reason="r"), ExitCode.UNSUPPORTED),
        (errors.FeatureNotEnabled(feature="aws"), ExitCode.UNSUPPORTED),
        (errors.CloudPlatformError(message="m"), ExitCode.REMOTE),
        (errors.RemoteServiceUnavailable(operation_context="o", details="d"), ExitCode.REMOTE),
        (errors.Timeout(operation_context="o", details="d"), ExitCode.REMOTE),
        (errors.RateLimitExceeded(operation_context="o", details="d"), ExitCode.REMOTE),
        (errors.QuotaExceeded(operation_context="o", details="d"), ExitCode.REMOTE),
        (
            errors.RemoteResourceConflict(
                operation_context="o", resource_type="t", resource_name="n", conflict_reason="c"
            ),
            ExitCode.REMOTE,
        ),
        (errors.Other(message="m"), ExitCode.INTERNAL),
        (RuntimeError("boom"), ExitCode.INTERNAL),
        (KeyboardInterrupt(), ExitCode.INTERRUPTED),
    ],
)
def test_exit_code_per_class(error: BaseException, code: ExitCode) -> None:
    assert exit_code_for(error) is code


def test_every_known_code_has_a_class() -> None:
    assert {c.code for c in errors.ERROR_CLASSES.values()} <= {
        "INVALID_INPUT",
        "BINDING_NOT_CONFIGURED",
        "BINDING_CONFIG_INVALID",
        "CLIENT_CONFIG_INVALID",
        "RESOURCE_NOT_FOUND",
        "REMOTE_RESOURCE_NOT_FOUND",
        "AUTHENTICATION_ERROR",
        "REMOTE_ACCESS_DENIED",
        "OPERATION_NOT_SUPPORTED",
        "FEATURE_NOT_ENABLED",
        "CLOUD_PLATFORM_ERROR",
        "REMOTE_SERVICE_UNAVAILABLE",
        "TIMEOUT",
        "RATE_LIMIT_EXCEEDED",
        "QUOTA_EXCEEDED",
        "REMOTE_RESOURCE_CONFLICT",
        "UNEXPECTED_RESPONSE_FORMAT",
        "BINDING_SETUP_FAILED",
        "BINDINGS_ERROR",
    }


def test_epilog_is_the_table() -> None:
    from artreg.cli.errors import EXIT_CODES_EPILOG
    from artreg.exitcodes import BY_CODE

    assert EXIT_CODES_EPILOG.splitlines() == [
        "Exit codes (errors print one line on stderr; --debug adds the cause chain):",
        "  0  ok",
        "  1  internal error (anything unexpected; BINDINGS_ERROR takes the class of its cause)",
        "  2  usage: bad arguments, INVALID_INPUT, BINDING_NOT_CONFIGURED, BINDING_CONFIG_INVALID,"
        " CLIENT_CONFIG_INVALID",
        "  3  not found: RESOURCE_NOT_FOUND, REMOTE_RESOURCE_NOT_FOUND",
        "  4  auth: AUTHENTICATION_ERROR, REMOTE_ACCESS_DENIED",
        "  5  unsupported: OPERATION_NOT_SUPPORTED, FEATURE_NOT_ENABLED",
        "  6  remote failure: CLOUD_PLATFORM_ERROR, REMOTE_SERVICE_UNAVAILABLE, TIMEOUT,"
        " RATE_LIMIT_EXCEEDED, QUOTA_EXCEEDED, REMOTE_RESOURCE_CONFLICT,"
        " UNEXPECTED_RESPONSE_FORMAT, BINDING_SETUP_FAILED",
        "  130  interrupted: Ctrl-C",
    ]
    # every error class has a line in the table, so the epilog cannot drift from the lookup
    assert set(BY_CODE) == {c.code for c in errors.ERROR_CLASSES.values()}


def test_unknown_wire_codes_are_classed_by_status() -> None:
    remote = errors.error_from_data(
        ErrorData(
            code="SOMETHING_NEW", message="m", retryable=False, internal=False, http_status_code=404
        )
    )
    assert exit_code_for(remote) is ExitCode.NOT_FOUND


def test_one_line_with_hint() -> None:
    err = errors.FeatureNotEnabled(feature="aws", hint="pip install 'artreg[aws]'")
    assert format_error(err) == (
        "error: FEATURE_NOT_ENABLED: Feature 'aws' is not enabled (hint: pip install 'artreg[aws]')"
    )
    multi = errors.Other(message="line one\nline two")
    assert "\n" not in format_error(multi)


def test_cause_chain_and_report() -> None:
    inner = errors.CloudPlatformError(message="upstream said no", resource_id="r1")
    outer = errors.BindingConfigInvalid(binding_name="b", env_var="ALIEN_B_BINDING", reason="bad")
    outer.__cause__ = inner
    inner.__cause__ = ConnectionError("refused")
    chain = format_error_chain(outer)
    assert any(
        "caused by: CLOUD_PLATFORM_ERROR: Cloud platform error: upstream said no" in line
        for line in chain
    )
    assert any("caused by: EXTERNAL_ERROR: ConnectionError: refused" in line for line in chain)
    stream = io.StringIO()
    assert report_error(outer, debug=False, stream=stream) == 2
    assert stream.getvalue().count("\n") == 1
    stream = io.StringIO()
    report_error(outer, debug=True, stream=stream)
    assert "caused by" in stream.getvalue()


def test_secrets_never_printed() -> None:
    register_secret("hunter2-registry-password")
    inner = RuntimeError("login failed for password hunter2-registry-password")
    outer = errors.AuthenticationError(operation_context="Login", details="rejected")
    outer.__cause__ = inner
    stream = io.StringIO()
    report_error(outer, debug=True, stream=stream)
    assert "hunter2" not in stream.getvalue()
    assert redact("GET /x?X-Amz-Signature=abc123&ok=1") == "GET /x?X-Amz-Signature=***&ok=1"
    assert redact("Authorization: Bearer abcdefgh12345678") == "Authorization: Bearer ***"
    assert redact("https://user:pw123@host/v2/") == "https://user:***@host/v2/"
    assert redact('{"password": "p@ss"}') == '{"password": "***"}'
    assert redact("key AKIAIOSFODNN7EXAMPLE") == "key AKIA***"
    # ordinary prose is left alone
    text = "Failed to get ECR authorization token: service unavailable"
    assert redact(text) == text


def test_generic_error_takes_its_causes_class() -> None:
    cause = errors.RemoteServiceUnavailable(operation_context="Head blob", details="refused")
    outer = errors.Other(message="Failed to push config blob")
    outer.__cause__ = cause
    assert exit_code_for(outer) is ExitCode.REMOTE
    assert format_error(outer).endswith(
        "(cause: REMOTE_SERVICE_UNAVAILABLE: Head blob: service unavailable: refused)"
    )
    assert exit_code_for(errors.Other(message="plain")) is ExitCode.INTERNAL
