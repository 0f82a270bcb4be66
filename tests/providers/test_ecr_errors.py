# ruff: noqa: F811 - the moto fixtures are imported by name
"""ECR errors: botocore codes and statuses → artreg kinds, with the request's repository as
``resource_name`` and the botocore error as ``source``. Real errors come from moto where it can
produce them, and from a one-operation ECR stub for throttling, access denied and the rest."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

from artreg.errors import (
    ArtregError,
    AuthenticationError,
    CloudPlatformError,
    InvalidInput,
    QuotaExceeded,
    RateLimitExceeded,
    RemoteAccessDenied,
    RemoteResourceConflict,
    RemoteResourceNotFound,
    RemoteServiceUnavailable,
    Timeout,
    UnexpectedResponseFormat,
)
from artreg.providers.aws_errors import CODE_ERRORS, map_aws_error
from artreg.types import ArtifactRegistryPermissions
from tests.fakes.ecr_stub import EcrOperationStub
from tests.fakes.moto_server import MotoServer, moto, moto_server  # noqa: F401
from tests.providers.test_ecr import PULL_ROLE, boto, make


def client_error(code: str, status: int, operation: str = "DescribeRepositories") -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": f"{code} happened"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)


@pytest.mark.parametrize(
    ("code", "status", "kind", "http"),
    [
        ("RepositoryNotFoundException", 400, RemoteResourceNotFound, 404),
        ("ImageNotFoundException", 400, RemoteResourceNotFound, 404),
        ("RegistryPolicyNotFoundException", 400, RemoteResourceNotFound, 404),
        ("RepositoryPolicyNotFoundException", 400, RemoteResourceNotFound, 404),
        ("RepositoryAlreadyExistsException", 400, RemoteResourceConflict, 409),
        ("ImageAlreadyExistsException", 400, RemoteResourceConflict, 409),
        ("RepositoryNotEmptyException", 400, RemoteResourceConflict, 409),
        ("AccessDeniedException", 400, RemoteAccessDenied, 403),
        ("BlockedByOrganizationPolicyException", 400, RemoteAccessDenied, 403),
        # the credential itself refused: AUTHENTICATION_ERROR, as on every cloud
        ("UnrecognizedClientException", 400, AuthenticationError, 401),
        ("ExpiredTokenException", 400, AuthenticationError, 401),
        ("InvalidClientTokenId", 403, AuthenticationError, 401),
        ("SignatureDoesNotMatch", 403, AuthenticationError, 401),
        ("LayerInaccessibleException", 400, RemoteResourceNotFound, 404),
        ("KmsException", 400, CloudPlatformError, 502),
        ("TooManyTagsException", 400, QuotaExceeded, 429),
        ("ImageTagAlreadyExistsException", 400, RemoteResourceConflict, 409),
        ("UnableToGetUpstreamLayerException", 400, RemoteServiceUnavailable, 503),
        ("ThrottlingException", 400, RateLimitExceeded, 429),
        ("TooManyRequestsException", 400, RateLimitExceeded, 429),
        ("ServiceUnavailableException", 503, RemoteServiceUnavailable, 503),
        ("InternalServerException", 500, RemoteServiceUnavailable, 503),
        ("ServerException", 500, RemoteServiceUnavailable, 503),
        ("LimitExceededException", 400, QuotaExceeded, 429),
        ("InvalidParameterException", 400, InvalidInput, 400),
        ("ValidationException", 400, InvalidInput, 400),
        # unknown codes: by HTTP status
        ("Whatever", 409, RemoteResourceConflict, 409),
        ("Whatever", 404, RemoteResourceNotFound, 404),
        ("Whatever", 403, RemoteAccessDenied, 403),
        ("Whatever", 401, AuthenticationError, 401),
        ("Whatever", 408, Timeout, 408),
        ("Whatever", 412, RemoteResourceConflict, 409),
        ("Whatever", 429, RateLimitExceeded, 429),
        ("Whatever", 502, RemoteServiceUnavailable, 503),
        ("Whatever", 504, RemoteServiceUnavailable, 503),
        ("Whatever", 500, CloudPlatformError, 502),
        ("Whatever", 400, InvalidInput, 400),
    ],
)
def test_mapping_table(code: str, status: int, kind: type[ArtregError], http: int) -> None:
    exc = client_error(code, status)
    err = map_aws_error(exc, operation_context="Doing it", resource_name="test-repo")
    assert type(err) is kind
    assert err.http_status_code == http
    assert err.source is exc
    if "resource_name" in err.context:
        assert err.context["resource_name"] == "test-repo"
    if isinstance(err, CloudPlatformError):
        assert err.context["resource_id"] == "test-repo"
    assert err.to_dict()["source"]["message"].startswith("ClientError")


def test_every_ecr_error_shape_has_its_own_mapping() -> None:
    """No ECR error falls through to the status table: each shape of botocore's ``ecr`` model
    is named in the code table (a new shape fails here until it is placed)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("ecr")
    unmapped = sorted(shape.name for shape in model.error_shapes if shape.name not in CODE_ERRORS)
    assert unmapped == []


@pytest.mark.parametrize(
    ("code", "retryable"), [("LimitExceededException", False), ("ThrottlingException", True)]
)
def test_a_hard_quota_is_not_retryable(code: str, retryable: bool) -> None:
    err = map_aws_error(client_error(code, 400), operation_context="c", resource_name="r")
    assert err.retryable is retryable
    assert err.to_dict()["retryable"] is retryable


def test_transport_errors() -> None:
    timeout = map_aws_error(
        ConnectTimeoutError(endpoint_url="http://127.0.0.1:9"),
        operation_context="x",
        resource_name="r",
    )
    assert isinstance(timeout, Timeout) and timeout.http_status_code == 408
    down = map_aws_error(
        EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
        operation_context="x",
        resource_name="r",
    )
    assert isinstance(down, RemoteServiceUnavailable) and down.retryable


def test_real_moto_errors_map_by_code_not_status(moto: MotoServer) -> None:
    client = boto(moto, "ecr")
    client.create_repository(repositoryName="test-dup")
    caught: dict[str, ClientError] = {}
    calls: dict[str, Callable[[], Any]] = {
        "missing": lambda: client.describe_repositories(repositoryNames=["test-nope"]),
        "duplicate": lambda: client.create_repository(repositoryName="test-dup"),
        "no-policy": lambda: client.get_repository_policy(repositoryName="test-dup"),
    }
    for name, call in calls.items():
        with pytest.raises(ClientError) as info:
            call()
        caught[name] = info.value
    assert caught["missing"].response["ResponseMetadata"]["HTTPStatusCode"] == 400
    missing = map_aws_error(caught["missing"], operation_context="c", resource_name="test-nope")
    assert isinstance(missing, RemoteResourceNotFound) and missing.http_status_code == 404
    duplicate = map_aws_error(caught["duplicate"], operation_context="c", resource_name="test-dup")
    assert isinstance(duplicate, RemoteResourceConflict)
    assert "RepositoryAlreadyExistsException" in duplicate.context["conflict_reason"]
    no_policy = map_aws_error(caught["no-policy"], operation_context="c", resource_name="test-dup")
    assert isinstance(no_policy, RemoteResourceNotFound)


# -- through the provider, against the one-operation stub ------------------------------------------


def stub_env(server: MotoServer, stub: EcrOperationStub, **extra: str) -> dict[str, str]:
    return server.env(AWS_ENDPOINT_URL_ECR=stub.url, AWS_ACCOUNT_ID="123456789012", **extra)


async def test_throttled_describe_is_rate_limit_exceeded(moto: MotoServer) -> None:
    error = (400, "ThrottlingException", "Rate exceeded")
    with EcrOperationStub("DescribeRepositories", error=error) as stub:
        reg = make(moto, env=stub_env(moto, stub))
        with pytest.raises(RateLimitExceeded) as info:
            await reg.get_repository("test-app")
        await reg.aclose()
    assert info.value.http_status_code == 429 and info.value.retryable
    assert "Rate exceeded" in info.value.message
    assert [r.body for r in stub.requests] == [{"repositoryNames": ["test-app"]}]
    assert stub.rejected == []


async def test_access_denied_on_the_first_candidate_moves_to_the_second(moto: MotoServer) -> None:
    error = (400, "AccessDeniedException", "not allowed")
    with EcrOperationStub("DescribeRepositories", error=error) as stub:
        reg = make(moto, env=stub_env(moto, stub))
        with pytest.raises(RemoteAccessDenied) as info:
            await reg.get_repository("app")
        await reg.aclose()
    assert info.value.http_status_code == 403
    assert info.value.context["resource_name"] == "test-app"  # the last candidate's error
    assert [r.body["repositoryNames"] for r in stub.requests] == [["app"], ["test-app"]]


async def test_access_denied_on_create_is_raised(moto: MotoServer) -> None:
    error = (400, "AccessDeniedException", "User is not authorized to perform ecr:CreateRepository")
    with EcrOperationStub("CreateRepository", error=error) as stub:
        reg = make(moto, env=stub_env(moto, stub))
        with pytest.raises(RemoteAccessDenied) as info:
            await reg.create_repository("app")
        await reg.aclose()
    assert info.value.context == {
        "operation_context": "Failed to create ECR repository",
        "resource_type": "ECR repository",
        "resource_name": "test-app",
    }
    assert isinstance(info.value.source, ClientError)
    assert stub.requests[0].region == "us-east-1"


async def test_throttling_is_retried_when_retries_are_enabled(moto: MotoServer) -> None:
    error = (400, "ThrottlingException", "Rate exceeded")
    with EcrOperationStub("DeleteRepository", error=error) as stub:
        env = stub_env(moto, stub, AWS_MAX_ATTEMPTS="2")
        reg = make(moto, env=env)
        with pytest.raises(RateLimitExceeded):
            await reg.delete_repository("test-app")
        await reg.aclose()
    assert len(stub.requests) == 2


async def test_role_assumption_denied_names_the_role(moto: MotoServer) -> None:
    # moto's STS does not enforce trust policies: an unreachable STS endpoint stands in for a
    # refusal, and a signed-but-refused STS answer is covered by the mapping table above.
    env = moto.env(AWS_ENDPOINT_URL_STS="http://127.0.0.1:9")
    reg = make(moto, pull=PULL_ROLE, env=env)
    with pytest.raises(RemoteServiceUnavailable) as info:
        await reg.get_repository("test-app")
    assert "alien-ecr-describe" in info.value.context["operation_context"]
    await reg.aclose()


# -- credentials answers moto never gives ---------------------------------------------------------


def token(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def test_token_without_expiry_gets_twelve_hours_from_the_clock(moto: MotoServer) -> None:
    answer = {"authorizationData": [{"authorizationToken": token("AWS:s3cr3t-password")}]}
    now = datetime(2026, 5, 1, 8, 30, 15, tzinfo=UTC)
    with EcrOperationStub("GetAuthorizationToken", answer=answer) as stub:
        reg = make(moto, env=stub_env(moto, stub), clock=lambda: now)
        creds = await reg.generate_credentials("test-app", ArtifactRegistryPermissions.PULL)
        await reg.aclose()
    assert (creds.username, creds.password) == ("AWS", "s3cr3t-password")
    assert creds.expires_at == "2026-05-01T20:30:15+00:00"


async def test_token_expiry_from_the_answer_in_whole_seconds(moto: MotoServer) -> None:
    answer = {
        "authorizationData": [{"authorizationToken": token("AWS:pw"), "expiresAt": 1767268800.75}]
    }
    with EcrOperationStub("GetAuthorizationToken", answer=answer) as stub:
        reg = make(moto, env=stub_env(moto, stub))
        creds = await reg.generate_credentials("r", ArtifactRegistryPermissions.PUSH_PULL, 600)
        await reg.aclose()
    assert creds.expires_at == "2026-01-01T12:00:00+00:00"


@pytest.mark.parametrize(
    ("answer", "kind", "secret"),
    [
        ({"authorizationData": []}, CloudPlatformError, None),
        ({}, CloudPlatformError, None),
        (
            {"authorizationData": [{"authorizationToken": "%%%not-base64"}]},
            UnexpectedResponseFormat,
            "%%%not-base64",
        ),
        (
            {"authorizationData": [{"authorizationToken": token("no-colon-secret")}]},
            UnexpectedResponseFormat,
            "no-colon-secret",
        ),
    ],
)
async def test_bad_token_answers(
    moto: MotoServer, answer: dict[str, Any], kind: type[ArtregError], secret: str | None
) -> None:
    with EcrOperationStub("GetAuthorizationToken", answer=answer) as stub:
        reg = make(moto, env=stub_env(moto, stub))
        with pytest.raises(kind) as info:
            await reg.generate_credentials("test-app", ArtifactRegistryPermissions.PULL)
        await reg.aclose()
    err = info.value
    if isinstance(err, UnexpectedResponseFormat):
        assert err.context["field"] == "authorization_token"
        assert err.context["provider"] == "aws"
        assert err.context["binding_name"] == "artifacts"  # the binding's own name
    else:
        assert "did not contain authorization data" in err.message
    if secret is not None:
        dumped = json.dumps(err.to_dict()) + repr(err) + str(err)
        assert secret not in dumped
        assert base64.b64encode(secret.encode()).decode() not in dumped
