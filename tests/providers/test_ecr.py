# ruff: noqa: F811 - the moto fixtures are imported by name
"""The ECR provider against moto's server mode: names, configuration, repositories, role
sessions and credentials. Every AWS call is checked in the server's own record of requests."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config

from artreg.binding import EcrBinding
from artreg.errors import (
    BindingConfigInvalid,
    ClientConfigInvalid,
    InvalidInput,
    RemoteResourceNotFound,
    ResourceNotFound,
)
from artreg.loader import load_artifact_registry
from artreg.providers import ecr
from artreg.providers.ecr import AwsConfig, EcrArtifactRegistry
from artreg.types import ArtifactRegistryPermissions, RegistryAuthMethod
from tests.fakes.moto_server import (  # noqa: F401
    ACCOUNT_ID,
    MotoServer,
    moto,
    moto_server,
    strict_moto,
    strict_moto_server,
)

PULL_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/test-pull"
PUSH_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/test-push"
PULL = ArtifactRegistryPermissions.PULL
PUSH_PULL = ArtifactRegistryPermissions.PUSH_PULL


def make(
    server: MotoServer,
    *,
    prefix: str = "test",
    pull: str | None = None,
    push: str | None = None,
    env: dict[str, str] | None = None,
    **kwargs: Any,
) -> EcrArtifactRegistry:
    config = AwsConfig.from_env(env if env is not None else server.env())
    return EcrArtifactRegistry(
        repository_prefix=prefix,
        config=config,
        pull_role_arn=pull,
        push_role_arn=push,
        binding_name="artifacts",
        **kwargs,
    )


def boto(
    server: MotoServer, service: str, region: str = "us-east-1", access_key: str = "testing"
) -> Any:
    """A plain boto3 client of the test's own (not the provider's)."""
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=server.url,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )


def unique() -> str:
    return f"alien-test-aws-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def registry(moto: MotoServer) -> AsyncIterator[EcrArtifactRegistry]:
    reg = make(moto)
    yield reg
    await reg.aclose()


# -- configuration and names ---------------------------------------------------------------------


def binding_env(server: MotoServer, binding: dict[str, Any], **extra: str) -> dict[str, str]:
    env = server.env(**extra)
    env["ALIEN_ARTIFACTS_BINDING"] = json.dumps(binding)
    return env


async def test_loader_builds_the_provider_from_the_environment(moto: MotoServer) -> None:
    env = binding_env(
        moto,
        {"service": "ecr", "repositoryPrefix": "team-a", "pullRoleArn": PULL_ROLE},
        AWS_ACCOUNT_ID="210987654321",
    )
    reg = load_artifact_registry("artifacts", env)
    assert isinstance(reg, EcrArtifactRegistry)
    assert reg.binding_name == "artifacts"
    assert reg.upstream_repository_prefix() == "team-a"
    assert reg.pull_role_arn == PULL_ROLE and reg.push_role_arn is None
    assert reg.registry_endpoint() == "https://210987654321.dkr.ecr.us-east-1.amazonaws.com"
    assert moto.calls() == []  # neither the constructor nor the endpoint asked AWS anything
    await reg.aclose()


@pytest.mark.parametrize("missing", ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"])
def test_missing_aws_config_is_client_config_invalid(moto: MotoServer, missing: str) -> None:
    env = binding_env(moto, {"service": "ecr", "repositoryPrefix": "p"})
    del env[missing]
    with pytest.raises(ClientConfigInvalid) as info:
        load_artifact_registry("artifacts", env)
    assert info.value.context["platform"] == "aws"
    assert info.value.context["message"].startswith("AWS config not available")
    assert missing in info.value.message
    assert info.value.http_status_code == 400


def test_default_region_and_endpoint_overrides() -> None:
    config = AwsConfig.from_env(
        {
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "very-secret",
            "AWS_SESSION_TOKEN": "session-secret",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
            "AWS_ENDPOINT_URL_ECR": "http://127.0.0.1:2",
            "ARTREG_ECR_REGISTRY_ENDPOINT": "http://127.0.0.1:3/",
        }
    )
    assert config.region == "eu-west-1"
    assert config.ecr_endpoint_url == "http://127.0.0.1:2"
    assert config.sts_endpoint_url == "http://127.0.0.1:1"
    assert config.registry_endpoint == "http://127.0.0.1:3"
    text = repr(config)
    assert "very-secret" not in text and "session-secret" not in text
    reg = EcrArtifactRegistry(repository_prefix="p", config=config)
    assert reg.registry_endpoint() == "http://127.0.0.1:3"
    assert "very-secret" not in repr(reg)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AWS_ACCOUNT_ID", "12ab"),
        ("AWS_MAX_ATTEMPTS", "0"),
        ("AWS_MAX_ATTEMPTS", "many"),
        ("AWS_RETRY_MODE", "eager"),
    ],
)
def test_malformed_config_values_are_refused(name: str, value: str) -> None:
    env = {"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}
    env[name] = value
    with pytest.raises(ClientConfigInvalid) as info:
        AwsConfig.from_env(env)
    assert name in info.value.message


def test_unresolvable_binding_field_is_binding_config_invalid(moto: MotoServer) -> None:
    env = binding_env(
        moto, {"service": "ecr", "repositoryPrefix": {"secretRef": {"name": "s", "key": "k"}}}
    )
    with pytest.raises(BindingConfigInvalid) as info:
        load_artifact_registry("artifacts", env)
    assert info.value.message.endswith("Failed to initialize AWS ECR artifact registry")
    assert isinstance(info.value.source, BindingConfigInvalid)
    assert "Failed to extract repository_prefix from binding" in info.value.source.message


async def test_account_id_is_looked_up_once_when_not_configured(moto: MotoServer) -> None:
    reg = make(moto)
    assert moto.calls() == []
    assert reg.registry_endpoint() == f"https://{ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com"
    assert reg.registry_endpoint() == f"https://{ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com"
    assert moto.operations() == ["GetCallerIdentity"]
    await reg.aclose()


def test_full_names_have_no_other_sanitising(moto: MotoServer) -> None:
    reg = make(moto, prefix="alien-artifacts")
    assert reg.full_name("prj_XYZ") == "alien-artifacts-prj_XYZ"
    assert reg.full_name("") == "alien-artifacts"
    assert make(moto, prefix="").full_name("app") == "app"
    assert reg.lookup_candidates("app") == ["app", "alien-artifacts-app"]
    assert reg.lookup_candidates("alien-artifacts-app") == ["alien-artifacts-app"]
    assert make(moto, prefix="").lookup_candidates("app") == ["app"]


# -- repositories (lifecycle) --------------------------------------------------------------------


async def test_create_get_delete_lifecycle(registry: EcrArtifactRegistry, moto: MotoServer) -> None:
    logical = unique()
    created = await registry.create_repository(logical)
    assert created.name == f"test-{logical}"
    assert created.uri == f"{ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/test-{logical}"
    assert created.created_at is not None
    created_at = datetime.fromisoformat(created.created_at)
    assert created.created_at.endswith("+00:00") and created_at.microsecond == 0
    assert abs(created_at - datetime.now(UTC)) < timedelta(minutes=5)
    assert moto.calls("CreateRepository")[0].params == {"repositoryName": f"test-{logical}"}

    got = await registry.get_repository(created.name)
    assert got == created  # the round trip: get(create.name).name == create.name

    await registry.delete_repository(created.name)
    delete = moto.calls("DeleteRepository")[0]
    assert delete.params == {"repositoryName": created.name, "force": True}
    with pytest.raises(RemoteResourceNotFound):
        await registry.get_repository(created.name)


async def test_create_existing_repository_is_success_with_computed_uri(
    registry: EcrArtifactRegistry,
) -> None:
    first = await registry.create_repository("app")
    again = await registry.create_repository("app")
    assert again.name == first.name == "test-app"
    assert again.uri == f"{ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/test-app"
    assert again.created_at is None


async def test_get_accepts_a_logical_name_through_the_second_candidate(
    registry: EcrArtifactRegistry, moto: MotoServer
) -> None:
    await registry.create_repository("svc")
    got = await registry.get_repository("svc")
    assert got.name == "test-svc"
    names = [c.params["repositoryNames"] for c in moto.calls("DescribeRepositories")]
    assert names == [["svc"], ["test-svc"]]


async def test_get_nonexistent_repository_is_404_naming_the_second_candidate(
    registry: EcrArtifactRegistry,
) -> None:
    repo = unique()
    with pytest.raises(RemoteResourceNotFound) as info:
        await registry.get_repository(repo)
    err = info.value
    assert err.http_status_code == 404
    assert err.context["resource_name"] == f"test-{repo}"
    assert err.to_dict()["source"]["message"].startswith("RepositoryNotFoundException")


async def test_delete_removes_images_too_and_raises_when_missing(
    registry: EcrArtifactRegistry, moto: MotoServer
) -> None:
    repo = (await registry.create_repository("full")).name
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 2,
            "digest": "sha256:" + "a" * 64,
        },
        "layers": [],
    }
    boto(moto, "ecr").put_image(
        repositoryName=repo, imageManifest=json.dumps(manifest), imageTag="v1"
    )
    await registry.delete_repository(repo)
    with pytest.raises(RemoteResourceNotFound) as info:
        await registry.delete_repository(repo)
    assert info.value.context["resource_name"] == repo


async def test_invalid_repository_names_are_invalid_input(moto: MotoServer) -> None:
    reg = make(moto, prefix="")
    with pytest.raises(InvalidInput) as short:
        await reg.create_repository("x")  # refused by the SDK before any request
    assert short.value.http_status_code == 400
    with pytest.raises(InvalidInput) as upper:
        await reg.create_repository("Not_Valid")
    assert "repositoryName" in upper.value.message
    await reg.aclose()


# -- role sessions -------------------------------------------------------------------------------


async def test_each_operation_assumes_its_role_with_its_session_name(moto: MotoServer) -> None:
    reg = make(moto, pull=PULL_ROLE, push=PUSH_ROLE)
    repo = (await reg.create_repository("roles")).name
    await reg.get_repository(repo)
    await reg.get_cross_account_access(repo)
    await reg.delete_repository(repo)

    assumed = [(c.params["RoleArn"], c.params["RoleSessionName"]) for c in moto.calls("AssumeRole")]
    assert assumed == [
        (PUSH_ROLE, "alien-ecr-create"),
        (PULL_ROLE, "alien-ecr-describe"),
        (PUSH_ROLE, "alien-ecr-policy"),
        (PUSH_ROLE, "alien-ecr-delete"),
    ]
    assert all("DurationSeconds" not in c.params for c in moto.calls("AssumeRole"))
    signed_by = {
        c.operation: c.session.session_name if c.session else None
        for c in moto.calls()
        if c.service == "ecr"
    }
    assert signed_by == {
        "CreateRepository": "alien-ecr-create",
        "DescribeRepositories": "alien-ecr-describe",
        "GetRepositoryPolicy": "alien-ecr-policy",
        "DeleteRepository": "alien-ecr-delete",
    }
    await reg.aclose()


async def test_get_without_pull_role_uses_the_base_credentials(moto: MotoServer) -> None:
    reg = make(moto, push=PUSH_ROLE)
    repo = (await reg.create_repository("base")).name
    await reg.get_repository(repo)
    describe = moto.calls("DescribeRepositories")
    assert [c.access_key_id for c in describe] == ["testing"]
    assert [c.params["RoleSessionName"] for c in moto.calls("AssumeRole")] == ["alien-ecr-create"]
    await reg.aclose()


async def test_role_clients_are_reused_until_their_credentials_near_expiry(
    moto: MotoServer,
) -> None:
    now = [datetime.now(UTC)]
    reg = make(moto, push=PUSH_ROLE, clock=lambda: now[0])
    await reg.create_repository("one")
    await reg.create_repository("two")
    assert len(moto.calls("AssumeRole")) == 1  # one client per (role, purpose, region)
    now[0] += timedelta(minutes=50)  # STS's default session lasts 1 h; 5 min margin
    await reg.create_repository("three")
    assert len(moto.calls("AssumeRole")) == 1
    now[0] += timedelta(minutes=6)
    await reg.create_repository("four")
    sessions = [c.params["RoleSessionName"] for c in moto.calls("AssumeRole")]
    assert sessions == ["alien-ecr-create", "alien-ecr-create"]
    creates = moto.calls("CreateRepository")
    assert creates[2].session is not None and creates[3].session is not None
    assert creates[2].session.access_key_id != creates[3].session.access_key_id
    await reg.aclose()


async def test_a_role_in_another_account_creates_there(moto: MotoServer) -> None:
    other = "111122223333"
    reg = make(
        moto, push=f"arn:aws:iam::{other}:role/push", env=moto.env(AWS_ACCOUNT_ID=ACCOUNT_ID)
    )
    created = await reg.create_repository("far")
    assert created.uri == f"{other}.dkr.ecr.us-east-1.amazonaws.com/test-far"
    again = await reg.create_repository("far")  # 409: the URI names the role's account
    assert again.uri == created.uri and again.created_at is None
    await reg.aclose()


# -- credentials ---------------------------------------------------------------------------------


async def test_pull_credentials_through_the_pull_role_with_the_ttl(moto: MotoServer) -> None:
    clock = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    reg = make(moto, pull=PULL_ROLE, push=PUSH_ROLE, clock=lambda: clock)
    creds = await reg.generate_credentials("test-app", PULL, 3600)
    assert creds.auth_method == RegistryAuthMethod.BASIC
    assert creds.username == "AWS"
    assert creds.password == f"{ACCOUNT_ID}-auth-token"
    assert creds.expires_at == "2015-01-01T00:00:00+00:00"  # moto's fixed token expiry
    assert "auth-token" not in repr(creds) and "auth-token" not in str(creds)

    (assume,) = moto.calls("AssumeRole")
    assert assume.params == {
        "RoleArn": PULL_ROLE,
        "RoleSessionName": f"alien-ecr-access-{int(clock.timestamp())}",
        "DurationSeconds": "3600",
    }
    (token,) = moto.calls("GetAuthorizationToken")
    assert token.params == {}
    assert (
        token.session is not None and token.session.session_name == assume.params["RoleSessionName"]
    )
    await reg.aclose()


@pytest.mark.parametrize(
    ("ttl", "duration"), [(None, None), (900, "900"), (43200, "43200"), (100000, "43200")]
)
async def test_push_credentials_ttl_rules(
    moto: MotoServer, ttl: int | None, duration: str | None
) -> None:
    reg = make(moto, pull=PULL_ROLE, push=PUSH_ROLE)
    await reg.generate_credentials("test-app", PUSH_PULL, ttl)
    (assume,) = moto.calls("AssumeRole")
    assert assume.params["RoleArn"] == PUSH_ROLE
    assert assume.params.get("DurationSeconds") == duration
    await reg.aclose()


async def test_credentials_without_a_role_use_the_base_credentials(moto: MotoServer) -> None:
    reg = make(moto, pull=PULL_ROLE)
    creds = await reg.generate_credentials("test-app", PUSH_PULL, 3600)
    assert creds.username == "AWS"
    assert moto.calls("AssumeRole") == []
    assert [c.access_key_id for c in moto.calls("GetAuthorizationToken")] == ["testing"]
    await reg.aclose()


@pytest.mark.parametrize("ttl", [1, 600, 899])
async def test_a_ttl_below_the_sts_minimum_asks_for_the_minimum(moto: MotoServer, ttl: int) -> None:
    reg = make(moto, pull=PULL_ROLE)
    creds = await reg.generate_credentials("test-app", PULL, ttl)
    assert creds.username == "AWS" and creds.password == f"{ACCOUNT_ID}-auth-token"
    (assume,) = moto.calls("AssumeRole")
    assert assume.params["DurationSeconds"] == "900"
    await reg.aclose()


@pytest.mark.parametrize("ttl", [0, -5])
async def test_a_ttl_that_is_not_positive_is_invalid_input(moto: MotoServer, ttl: int) -> None:
    reg = make(moto, pull=PULL_ROLE)
    with pytest.raises(InvalidInput) as info:
        await reg.generate_credentials("test-app", PULL, ttl)
    assert info.value.context.get("field_name") == "ttl_seconds"
    assert moto.calls() == []  # refused before any request
    await reg.aclose()


async def test_calls_do_not_block_the_event_loop(moto: MotoServer) -> None:
    import asyncio
    import threading

    reg = make(moto)
    loop_thread = threading.get_ident()
    seen: list[int] = []
    original: Callable[..., Any] = reg.clients.new_client

    loop = asyncio.get_running_loop()
    answered: list[bool] = []

    def spy(*args: Any) -> Any:
        seen.append(threading.get_ident())
        # The loop must run a callback while the boto call is under way: on the loop's own
        # thread this wait would block it and time out.
        ran = threading.Event()
        loop.call_soon_threadsafe(ran.set)
        answered.append(ran.wait(10))
        return original(*args)

    reg.clients.new_client = spy  # type: ignore[method-assign]
    await asyncio.gather(reg.create_repository("a1"), reg.create_repository("a2"))
    assert seen and all(ident != loop_thread for ident in seen)
    assert answered and all(answered)
    await reg.aclose()


async def test_missing_repository_in_every_list_is_resource_not_found(moto: MotoServer) -> None:
    # ResourceNotFound is the answer when no candidate lists a repository; moto always errors
    # instead, so the empty-list branch is checked with a repository listing nothing.
    reg = make(moto)

    class Empty:
        def describe_repositories(self, **kwargs: Any) -> dict[str, Any]:
            return {"repositories": []}

    reg._ecr = lambda *a, **k: Empty()  # type: ignore[assignment,method-assign]
    with pytest.raises(ResourceNotFound) as info:
        await reg.get_repository("ghost")
    assert info.value.context == {"resource_id": "ghost"}


def test_from_binding_resolves_role_fields(moto: MotoServer) -> None:
    reg = ecr.from_binding(
        "artifacts",
        EcrBinding(repository_prefix="p", pull_role_arn=PULL_ROLE, push_role_arn=None),
        moto.env(),
    )
    assert (reg.pull_role_arn, reg.push_role_arn) == (PULL_ROLE, None)


NOT_A_ROLE = "is not an IAM role ARN (arn:{partition}:iam::{account}:role/{name})"


@pytest.mark.parametrize(
    ("field", "arn", "reason"),
    [
        ("pullRoleArn", "test-pull", f"pullRoleArn 'test-pull' {NOT_A_ROLE}"),
        (
            "pushRoleArn",
            "arn:aws:iam::123456789012:user/deployer",
            f"pushRoleArn 'arn:aws:iam::123456789012:user/deployer' {NOT_A_ROLE}",
        ),
        (
            "pushRoleArn",
            "arn:aws-cn:iam::123456789012:role/push",
            "pushRoleArn 'arn:aws-cn:iam::123456789012:role/push' is in partition 'aws-cn', "
            "not in the registry's 'aws'",
        ),
    ],
)
def test_a_role_field_that_is_no_role_of_the_partition_fails_at_load(
    moto: MotoServer, field: str, arn: str, reason: str
) -> None:
    env = binding_env(moto, {"service": "ecr", "repositoryPrefix": "p", field: arn})
    with pytest.raises(BindingConfigInvalid) as info:
        load_artifact_registry("artifacts", env)
    cause = info.value.source
    assert isinstance(cause, BindingConfigInvalid)
    assert cause.context["reason"] == reason
    assert cause.context["env_var"] == "ALIEN_ARTIFACTS_BINDING"
    assert moto.calls() == []


async def test_full_repository_lifecycle_through_the_loader(moto: MotoServer) -> None:
    """alien's ``test_full_repository_lifecycle`` for AWS, loaded from the environment."""
    from artreg.types import AwsCrossAccountAccess, ComputeServiceType

    env = binding_env(
        moto,
        {
            "service": "ecr",
            "repositoryPrefix": "test",
            "pullRoleArn": PULL_ROLE,
            "pushRoleArn": PUSH_ROLE,
        },
    )
    reg = load_artifact_registry("artifacts", env)
    logical = unique()
    created = await reg.create_repository(logical)
    assert (await reg.get_repository(created.name)).name == created.name

    access = AwsCrossAccountAccess(
        account_ids=["987654321098"],
        regions=["us-east-1"],
        role_arns=["arn:aws:iam::987654321098:role/test-role"],
        allowed_service_types=[ComputeServiceType.WORKER],
    )
    await reg.add_cross_account_access(created.name, access)
    granted = (await reg.get_cross_account_access(created.name)).access
    assert isinstance(granted, AwsCrossAccountAccess)
    assert granted.account_ids == ["987654321098"]
    assert granted.regions == ["us-east-1"]
    await reg.remove_cross_account_access(created.name, access)
    assert (await reg.get_cross_account_access(created.name)).access == AwsCrossAccountAccess(
        account_ids=[], regions=[], role_arns=[], allowed_service_types=[]
    )

    for permissions in (PULL, PUSH_PULL):
        creds = await reg.generate_credentials(created.name, permissions, 3600)
        assert creds.username == "AWS" and creds.password
    await reg.delete_repository(created.name)
    with pytest.raises(RemoteResourceNotFound):
        await reg.get_repository(created.name)
    await reg.aclose()
    roles = [(c.params["RoleArn"], c.params["RoleSessionName"]) for c in moto.calls("AssumeRole")]
    assert [r for r in roles if not r[1].startswith("alien-ecr-access-")] == [
        (PUSH_ROLE, "alien-ecr-create"),
        (PULL_ROLE, "alien-ecr-describe"),
        (PUSH_ROLE, "alien-ecr-policy"),
        (PUSH_ROLE, "alien-ecr-delete"),
    ]
    assert [r[0] for r in roles if r[1].startswith("alien-ecr-access-")] == [PULL_ROLE, PUSH_ROLE]


# -- STS session limits (on the AWS rules stand-in: moto accepts any DurationSeconds) ----------


async def test_a_ttl_of_600_mints_credentials_against_sts_rules(strict_moto: MotoServer) -> None:
    reg = make(strict_moto, pull=PULL_ROLE)
    creds = await reg.generate_credentials("test-app", PULL, 600)
    assert creds.username == "AWS" and creds.password == f"{ACCOUNT_ID}-auth-token"
    assert [c.params["DurationSeconds"] for c in strict_moto.calls("AssumeRole")] == ["900"]
    assert strict_moto.rules is not None and strict_moto.rules.refused == []
    await reg.aclose()


async def test_a_ttl_over_the_roles_limit_is_clamped_to_the_limit_iam_reports(
    strict_moto: MotoServer,
) -> None:
    assert strict_moto.rules is not None
    strict_moto.rules.role_limits[PULL_ROLE] = 7200
    reg = make(strict_moto, pull=PULL_ROLE)
    await reg.generate_credentials("test-app", PULL, 43200)
    assert [c.params["DurationSeconds"] for c in strict_moto.calls("AssumeRole")] == [
        "43200",
        "7200",
    ]
    assert [c.params["RoleName"] for c in strict_moto.calls("GetRole")] == ["test-pull"]
    # learnt once: the next call asks for the limit straight away
    await reg.generate_credentials("test-app", PULL, 43200)
    assert strict_moto.calls("AssumeRole")[-1].params["DurationSeconds"] == "7200"
    assert len(strict_moto.calls("GetRole")) == 1
    await reg.aclose()


async def test_a_role_iam_will_not_describe_gets_the_default_hour(strict_moto: MotoServer) -> None:
    reg = make(strict_moto, pull=PULL_ROLE)  # the stand-in knows no limit: GetRole is NoSuchEntity
    await reg.generate_credentials("test-app", PULL, 7200)
    assert [c.params["DurationSeconds"] for c in strict_moto.calls("AssumeRole")] == [
        "7200",
        "3600",
    ]
    await reg.aclose()


async def test_a_caller_that_is_a_role_session_asks_for_one_hour_at_most(
    strict_moto: MotoServer,
) -> None:
    # base credentials that are themselves a role session (artreg on Lambda or ECS)
    sts = boto(strict_moto, "sts")
    outer = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/task", RoleSessionName="task")
    creds = outer["Credentials"]
    env = strict_moto.env(
        AWS_ACCESS_KEY_ID=creds["AccessKeyId"],
        AWS_SECRET_ACCESS_KEY=creds["SecretAccessKey"],
        AWS_SESSION_TOKEN=creds["SessionToken"],
    )
    assert strict_moto.rules is not None
    strict_moto.rules.role_limits[PULL_ROLE] = 43200
    reg = make(strict_moto, pull=PULL_ROLE, env=env)
    got = await reg.generate_credentials("test-app", PULL, 7200)
    assert got.username == "AWS"
    chained = [c for c in strict_moto.calls("AssumeRole") if c.params["RoleArn"] == PULL_ROLE]
    assert [c.params["DurationSeconds"] for c in chained] == ["3600"]
    assert strict_moto.operations().count("GetCallerIdentity") == 1
    await reg.aclose()


async def test_a_bad_role_arn_is_blamed_on_the_role_not_the_ttl(strict_moto: MotoServer) -> None:
    bad = "arn:aws:iam::123456789012:user/not-a-role"
    reg = make(strict_moto, pull=bad)
    with pytest.raises(BindingConfigInvalid) as info:
        await reg.generate_credentials("test-app", PULL, 3600)
    assert info.value.context["binding_name"] == "artifacts"
    assert info.value.context["env_var"] == "ALIEN_ARTIFACTS_BINDING"
    assert info.value.context["reason"].startswith(f"pullRoleArn '{bad}' is not a role")
    await reg.aclose()


# -- environment and partitions ---------------------------------------------------------------


async def test_a_missing_aws_profile_or_stray_config_file_does_not_reach_the_clients(
    moto: MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    config = tmp_path / "config"
    config.write_text("[default]\nendpoint_url = http://127.0.0.1:9\nmax_attempts = 0\n")
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    monkeypatch.setenv("AWS_DEFAULT_PROFILE", "no-such-profile")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(config))
    monkeypatch.setenv("AWS_ENDPOINT_URL_ECR", "http://127.0.0.1:9")
    reg = make(moto, pull=PULL_ROLE)
    created = await reg.create_repository("profile")
    assert created.name == "test-profile"
    assert (await reg.generate_credentials(created.name, PULL, 900)).username == "AWS"
    assert moto.operations() == ["CreateRepository", "AssumeRole", "GetAuthorizationToken"]
    await reg.aclose()


def config_for(region: str, **extra: str) -> AwsConfig:
    env = {"AWS_REGION": region, "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}
    return AwsConfig.from_env({**env, **extra})


@pytest.mark.parametrize(
    ("region", "extra", "api", "registry"),
    [
        (
            "cn-north-1",
            {},
            "https://api.ecr.cn-north-1.amazonaws.com.cn",
            f"https://{ACCOUNT_ID}.dkr.ecr.cn-north-1.amazonaws.com.cn",
        ),
        (
            "eusc-de-east-1",
            {},
            "https://api.ecr.eusc-de-east-1.amazonaws.eu",
            f"https://{ACCOUNT_ID}.dkr.ecr.eusc-de-east-1.amazonaws.eu",
        ),
        (
            "us-east-1",
            {"AWS_USE_FIPS_ENDPOINT": "true"},
            "https://ecr-fips.us-east-1.amazonaws.com",
            f"https://{ACCOUNT_ID}.dkr.ecr-fips.us-east-1.amazonaws.com",
        ),
        (
            "us-gov-west-1",
            {},
            "https://api.ecr.us-gov-west-1.amazonaws.com",
            f"https://{ACCOUNT_ID}.dkr.ecr.us-gov-west-1.amazonaws.com",
        ),
    ],
)
async def test_api_and_registry_hosts_follow_the_partition(
    region: str, extra: dict[str, str], api: str, registry: str
) -> None:
    reg = EcrArtifactRegistry(
        repository_prefix="p", config=config_for(region, AWS_ACCOUNT_ID=ACCOUNT_ID, **extra)
    )
    assert reg.registry_endpoint() == registry
    assert reg.clients.base("ecr", region).meta.endpoint_url == api
    await reg.aclose()


def test_a_fips_setting_that_is_not_a_boolean_is_refused() -> None:
    with pytest.raises(ClientConfigInvalid) as info:
        config_for("us-east-1", AWS_USE_FIPS_ENDPOINT="maybe")
    assert "AWS_USE_FIPS_ENDPOINT" in info.value.message
