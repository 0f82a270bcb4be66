"""The GAR provider against a local fake of Google OAuth, IAM Credentials and Artifact Registry
IAM; google-auth runs its real service-account and impersonation flows."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import google.oauth2.credentials
import pytest

from artreg.binding import GarBinding, binding_env_var_name
from artreg.errors import (
    AuthenticationError,
    BindingConfigInvalid,
    ClientConfigInvalid,
    CloudPlatformError,
    InvalidInput,
    RemoteAccessDenied,
    RemoteResourceConflict,
    RemoteResourceNotFound,
)
from artreg.loader import clear_cache, load_artifact_registry
from artreg.providers import gar
from artreg.types import (
    ArtifactRegistryPermissions,
    AwsCrossAccountAccess,
    ComputeServiceType,
    GcpCrossAccountAccess,
    RegistryAuthMethod,
    encode,
    parse_timestamp,
)
from tests.fakes.gcp import FakeGcp, LoopbackOnlyRequest
from tests.fakes.tls import LoopbackServer

PROJECT = "fake-project"
LOCATION = "us-central1"
REPO = "test-repo"
MANAGER = "artreg-manager@fake-project.iam.gserviceaccount.com"
PULL_SA = "pull-sa@fake-project.iam.gserviceaccount.com"
PUSH_SA = "push-sa@fake-project.iam.gserviceaccount.com"
READER = "roles/artifactregistry.reader"
SCOPES = [
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/devstorage.read_write",
]


def robot(n: str) -> str:
    return f"serviceAccount:service-{n}@serverless-robot-prod.iam.gserviceaccount.com"


@pytest.fixture
def fake() -> Iterator[FakeGcp]:
    fake = FakeGcp(project_id=PROJECT, location=LOCATION)
    fake.add_target_service_account(PULL_SA)
    fake.add_target_service_account(PUSH_SA)
    fake.add_repository(REPO)
    yield fake
    assert fake.violations == []


@pytest.fixture
def server(fake: FakeGcp) -> Iterator[LoopbackServer]:
    with LoopbackServer(fake.app) as srv:
        yield srv


@pytest.fixture
def env(fake: FakeGcp, server: LoopbackServer) -> dict[str, str]:
    key = fake.add_service_account_key(MANAGER)
    # The key names Google's token endpoint, as real keys do; the override points at the fake.
    return {
        "GOOGLE_SERVICE_ACCOUNT_KEY": json.dumps(key.info("https://oauth2.googleapis.com/token")),
        "GCP_REGION": LOCATION,
        "ARTREG_GCP_TOKEN_URI": f"{server.base_url}/token",
        "ARTREG_GAR_API_ENDPOINT": server.base_url,
        "ARTREG_GCP_IAM_CREDENTIALS_ENDPOINT": server.base_url,
    }


def make(
    env: Mapping[str, str],
    *,
    pull: str | None = PULL_SA,
    push: str | None = PUSH_SA,
    repository: str = REPO,
    transport: LoopbackOnlyRequest | None = None,
    **kwargs: Any,
) -> gar.GarArtifactRegistry:
    binding = GarBinding(
        repository_name=repository,
        pull_service_account_email=pull,
        push_service_account_email=push,
    )
    return gar.from_binding(
        "artifact-registry", binding, env, auth_request=transport or LoopbackOnlyRequest(), **kwargs
    )


@pytest.fixture
async def registry(env: dict[str, str]) -> AsyncIterator[gar.GarArtifactRegistry]:
    reg = make(env)
    yield reg
    await reg.aclose()


def gcp(
    projects: list[str] = (),
    emails: list[str] = (),
    worker: bool = True,  # type: ignore[assignment]
) -> GcpCrossAccountAccess:
    return GcpCrossAccountAccess(
        project_numbers=list(projects),
        service_account_emails=list(emails),
        allowed_service_types=[ComputeServiceType.WORKER] if worker else [],
    )


# -- names and implicit repositories -------------------------------------------------------------


async def test_names_and_endpoints(registry: gar.GarArtifactRegistry, fake: FakeGcp) -> None:
    assert registry.registry_endpoint() == "https://us-central1-docker.pkg.dev"
    assert registry.upstream_repository_prefix() == "fake-project/test-repo"
    assert registry.registry_data_endpoint() == "https://us-central1-docker.pkg.dev"

    created = await registry.create_repository("my_app")
    assert created.name == "fake-project/test-repo/my_app"
    assert created.uri is None and created.created_at is None

    got = await registry.get_repository(created.name)
    assert got.name == created.name
    # The URI includes the GAR repository segment, so it is a pullable address.
    assert got.uri == "us-central1-docker.pkg.dev/fake-project/test-repo/my_app"
    assert got.created_at is None

    await registry.delete_repository(created.name)
    assert fake.requests == []  # create, get and delete make no API call


async def test_get_accepts_logical_nested_and_empty_ids(registry: gar.GarArtifactRegistry) -> None:
    assert (await registry.get_repository("app")).name == "fake-project/test-repo/app"
    # GAR image paths may have folders: a logical nested name keeps them
    other = await registry.get_repository("other/ns/app")
    assert other.name == "fake-project/test-repo/other/ns/app"
    assert other.uri == "us-central1-docker.pkg.dev/fake-project/test-repo/other/ns/app"
    assert (await registry.get_repository("")).name == "fake-project/test-repo/test-repo"


@pytest.mark.parametrize("logical", ["team/app", "a/b/c/d", "app"])
async def test_nested_names_round_trip(registry: gar.GarArtifactRegistry, logical: str) -> None:
    created = await registry.create_repository(logical)
    assert created.name == f"fake-project/test-repo/{logical}"
    by_routable = await registry.get_repository(created.name)
    by_logical = await registry.get_repository(logical)
    assert by_routable.name == by_logical.name == created.name
    assert by_routable.uri == f"us-central1-docker.pkg.dev/fake-project/test-repo/{logical}"


async def test_get_of_nonexistent_repository_succeeds(registry: gar.GarArtifactRegistry) -> None:
    repo_id = "alien-test-gcp-3f1c9a0e-0000-4000-8000-000000000000"
    got = await registry.get_repository(repo_id)
    assert repo_id in got.name


@pytest.mark.parametrize("bad", ["", "UPPER", "a b", "x:y", "-lead", "a//b", "trail/"])
async def test_bad_names_are_invalid_input(registry: gar.GarArtifactRegistry, bad: str) -> None:
    with pytest.raises(InvalidInput) as info:
        await registry.create_repository(bad)
    assert info.value.context["field_name"] == "repo_name"


# -- credentials -------------------------------------------------------------------------------


async def test_generate_pull_credentials(registry: gar.GarArtifactRegistry, fake: FakeGcp) -> None:
    before = datetime.now(UTC)
    creds = await registry.generate_credentials(
        "fake-project/test-repo/app", ArtifactRegistryPermissions.PULL
    )
    assert creds.auth_method == RegistryAuthMethod.BASIC
    assert creds.username == "oauth2accesstoken"
    assert fake.access_token_valid(creds.password)
    assert creds.password not in repr(creds)

    (call,) = fake.generate_requests
    assert call["email"] == PULL_SA
    assert call["body"]["scope"] == SCOPES
    assert call["body"]["lifetime"] == "3600s"  # no ttl → the one-hour maximum
    assert call["authorization"].startswith("Bearer ya29.src-")
    # expiresAt is the API's own expireTime (whole seconds, +00:00)
    assert creds.expires_at is not None and creds.expires_at.endswith("+00:00")
    expires = parse_timestamp(creds.expires_at)
    assert before + timedelta(seconds=3598) <= expires <= before + timedelta(seconds=3602)
    # The source token came from a real JWT-bearer grant signed with the key
    (claims,) = fake.token_requests
    assert claims["iss"] == MANAGER
    assert claims["aud"] == "https://oauth2.googleapis.com/token"


async def test_push_credentials_use_the_push_account(
    registry: gar.GarArtifactRegistry, fake: FakeGcp
) -> None:
    creds = await registry.generate_credentials("x", ArtifactRegistryPermissions.PUSH_PULL, 900)
    assert fake.access_token_valid(creds.password)
    assert [c["email"] for c in fake.generate_requests] == [PUSH_SA]
    assert fake.generate_requests[0]["body"]["lifetime"] == "900s"


@pytest.mark.parametrize(
    ("ttl", "lifetime"),
    [(1, "1s"), (600, "600s"), (3600, "3600s"), (3601, "3600s"), (43200, "3600s")],
)
async def test_ttl_is_capped_at_an_hour(
    registry: gar.GarArtifactRegistry, fake: FakeGcp, ttl: int, lifetime: str
) -> None:
    before = datetime.now(UTC)
    creds = await registry.generate_credentials("x", ArtifactRegistryPermissions.PULL, ttl)
    assert fake.generate_requests[-1]["body"]["lifetime"] == lifetime
    assert creds.expires_at is not None
    seconds = int(lifetime[:-1])
    expires = parse_timestamp(creds.expires_at)
    assert (
        before + timedelta(seconds=seconds - 2)
        <= expires
        <= before + timedelta(seconds=seconds + 2)
    )


async def test_zero_ttl_is_invalid(registry: gar.GarArtifactRegistry, fake: FakeGcp) -> None:
    with pytest.raises(InvalidInput):
        await registry.generate_credentials("x", ArtifactRegistryPermissions.PULL, 0)
    assert fake.generate_requests == []


@pytest.mark.parametrize(
    ("permissions", "kind"),
    [(ArtifactRegistryPermissions.PULL, "Pull"), (ArtifactRegistryPermissions.PUSH_PULL, "Push")],
)
async def test_missing_service_account_is_binding_config_invalid(
    env: dict[str, str], fake: FakeGcp, permissions: ArtifactRegistryPermissions, kind: str
) -> None:
    reg = make(env, pull=None, push=None)
    with pytest.raises(BindingConfigInvalid) as info:
        await reg.generate_credentials("x", permissions)
    assert info.value.context == {
        "binding_name": "artifact-registry",
        "env_var": binding_env_var_name("artifact-registry"),
        "reason": f"{kind} service account email not available - "
        "ensure the artifact registry resource is properly linked",
    }
    assert fake.requests == []


async def test_impersonation_refused_or_unknown(env: dict[str, str], fake: FakeGcp) -> None:
    fake.add_target_service_account(
        "locked@fake-project.iam.gserviceaccount.com", may_impersonate=False
    )
    reg = make(
        env,
        pull="locked@fake-project.iam.gserviceaccount.com",
        push="ghost@x.iam.gserviceaccount.com",
    )
    with pytest.raises(RemoteAccessDenied) as denied:
        await reg.generate_credentials("x", ArtifactRegistryPermissions.PULL)
    assert denied.value.context["resource_name"] == "locked@fake-project.iam.gserviceaccount.com"
    with pytest.raises(RemoteResourceNotFound):
        await reg.generate_credentials("x", ArtifactRegistryPermissions.PUSH_PULL)


async def test_malformed_token_reply_never_echoes_the_token(
    registry: gar.GarArtifactRegistry, fake: FakeGcp
) -> None:
    fake.fixed_access_token = "ya29.SECRET-TOKEN-VALUE"
    fake.malformed_generate_reply = True
    with pytest.raises(AuthenticationError) as info:
        await registry.generate_credentials("x", ArtifactRegistryPermissions.PULL)
    assert "SECRET-TOKEN-VALUE" not in json.dumps(info.value.to_dict())
    assert "SECRET-TOKEN-VALUE" not in repr(info.value)


async def test_injected_credentials(fake: FakeGcp, server: LoopbackServer) -> None:
    creds = google.oauth2.credentials.Credentials(token=fake.issue_source_token())
    env = {
        "GCP_REGION": LOCATION,
        "GCP_PROJECT_ID": PROJECT,
        "ARTREG_GAR_API_ENDPOINT": server.base_url,
        "ARTREG_GCP_IAM_CREDENTIALS_ENDPOINT": server.base_url,
    }
    reg = make(env, credentials=creds)
    out = await reg.generate_credentials("x", ArtifactRegistryPermissions.PULL, 300)
    assert fake.access_token_valid(out.password)
    await reg.add_cross_account_access("x", gcp(["42"]))
    assert (await reg.get_cross_account_access("x")).access == gcp(["42"])
    assert fake.token_requests == []  # the injected token was used as it is
    await reg.aclose()


async def test_no_traffic_leaves_loopback(env: dict[str, str], fake: FakeGcp) -> None:
    transport = LoopbackOnlyRequest()
    reg = make(env, transport=transport)
    await reg.generate_credentials("x", ArtifactRegistryPermissions.PULL)
    await reg.get_cross_account_access("x")
    assert transport.urls and all(u.startswith("http://127.0.0.1:") for u in transport.urls)
    await reg.aclose()


# -- cross-account access (IAM) ------------------------------------------------------------------


async def test_add_remove_sequence_sends_exact_policies(
    registry: gar.GarArtifactRegistry, fake: FakeGcp
) -> None:
    admin = {"role": "roles/artifactregistry.admin", "members": ["user:admin@example.com"]}
    fake.add_repository(REPO, {"bindings": [admin]})
    first = gcp(["123456789012"], ["one@other.iam.gserviceaccount.com"])
    second = gcp(["987654321098"], ["two@other.iam.gserviceaccount.com"])
    m1 = [robot("123456789012"), "serviceAccount:one@other.iam.gserviceaccount.com"]
    m2 = [robot("987654321098"), "serviceAccount:two@other.iam.gserviceaccount.com"]

    def sent() -> list[dict[str, Any]]:
        return [{k: v for k, v in p.items() if k != "etag"} for p in fake.set_policy_bodies]

    await registry.add_cross_account_access("ignored", first)
    assert sent()[-1] == {"bindings": [admin, {"role": READER, "members": m1}]}
    assert (await registry.get_cross_account_access("x")).access == first

    await registry.add_cross_account_access("ignored", second)
    assert sent()[-1] == {"bindings": [admin, {"role": READER, "members": m1 + m2}]}
    access = (await registry.get_cross_account_access("x")).access
    assert access == GcpCrossAccountAccess(
        project_numbers=["123456789012", "987654321098"],
        service_account_emails=[
            "one@other.iam.gserviceaccount.com",
            "two@other.iam.gserviceaccount.com",
        ],
        allowed_service_types=[ComputeServiceType.WORKER],
    )

    await registry.remove_cross_account_access("ignored", first)
    assert sent()[-1] == {"bindings": [admin, {"role": READER, "members": m2}]}
    assert (await registry.get_cross_account_access("x")).access == second

    await registry.remove_cross_account_access("ignored", second)
    assert sent()[-1] == {"bindings": [admin]}  # the emptied reader binding is dropped
    permissions = await registry.get_cross_account_access("x")
    assert permissions.access == gcp(worker=False)
    assert permissions.last_updated is None
    assert fake.policy(REPO) == {"bindings": [admin]}
    # every write carried the etag of the read before it
    assert all(p.get("etag") for p in fake.set_policy_bodies)
    assert len(fake.set_policy_bodies) == 4


async def test_adding_present_members_and_empty_access_write_nothing(
    registry: gar.GarArtifactRegistry, fake: FakeGcp
) -> None:
    await registry.add_cross_account_access("x", gcp(["1"]))
    await registry.add_cross_account_access("x", gcp(["1"]))
    await registry.remove_cross_account_access("x", gcp(["2"]))
    assert len(fake.set_policy_bodies) == 1
    calls = len(fake.requests)
    await registry.add_cross_account_access("x", gcp(["1"], worker=False))  # no members at all
    assert len(fake.requests) == calls


async def test_reads_request_policy_v3_and_keep_conditions(
    registry: gar.GarArtifactRegistry, fake: FakeGcp
) -> None:
    conditional = {
        "role": READER,
        "members": ["user:temp@example.com"],
        "condition": {
            "title": "until",
            "expression": 'request.time < timestamp("2030-01-01T00:00:00Z")',
        },
    }
    fake.add_repository(
        REPO,
        {"version": 3, "bindings": [conditional], "auditConfigs": [{"service": "allServices"}]},
    )
    await registry.add_cross_account_access("x", gcp(["5"]))
    assert fake.get_policy_queries[-1] == {"options.requestedPolicyVersion": "3"}
    # members join an unconditional reader binding, never the conditional one
    assert fake.policy(REPO) == {
        "version": 3,
        "bindings": [conditional, {"role": READER, "members": [robot("5")]}],
        "auditConfigs": [{"service": "allServices"}],
    }


async def test_etag_conflict_is_retried(registry: gar.GarArtifactRegistry, fake: FakeGcp) -> None:
    fake.concurrent_changes = 2
    await registry.add_cross_account_access("x", gcp(["77"]))
    assert len(fake.set_policy_bodies) == 3
    bindings = fake.policy(REPO)["bindings"]
    # the other writers' changes survive, and ours is applied on top of them
    assert [b["role"] for b in bindings] == [
        "roles/artifactregistry.writer",
        "roles/artifactregistry.writer",
        READER,
    ]
    assert bindings[-1]["members"] == [robot("77")]


async def test_etag_conflict_retries_are_bounded(env: dict[str, str], fake: FakeGcp) -> None:
    reg = make(env, http_client=None)
    reg._iam_write_attempts = 3
    fake.concurrent_changes = 100
    with pytest.raises(RemoteResourceConflict):
        await reg.add_cross_account_access("x", gcp(["77"]))
    assert len(fake.set_policy_bodies) == 3
    await reg.aclose()


async def test_only_the_reader_role_counts_and_conditions_are_left_alone(
    registry: gar.GarArtifactRegistry, fake: FakeGcp
) -> None:
    """The push service account holds the writer role; it is not cross-account read access.
    IAM members of every documented kind are accepted by the fake and kept on write."""
    conditional = {
        "role": READER,
        "members": ["serviceAccount:one@other.iam.gserviceaccount.com"],
        "condition": {
            "title": "until-2030",
            "expression": 'request.time < timestamp("2030-01-01T00:00:00Z")',
        },
    }
    others = [
        {"role": "roles/artifactregistry.writer", "members": [f"serviceAccount:{PUSH_SA}"]},
        {
            "role": "roles/artifactregistry.admin",
            "members": ["serviceAccount:admin@x.iam.gserviceaccount.com"],
        },
        {
            "role": READER,
            "members": [
                "allUsers",
                "allAuthenticatedUsers",
                "deleted:serviceAccount:gone@x.iam.gserviceaccount.com?uid=123456789012345678901",
            ],
        },
    ]
    fake.add_repository(REPO, {"version": 3, "bindings": [conditional, *others]})
    assert (await registry.get_cross_account_access("x")).access == gcp(worker=False)
    await registry.add_cross_account_access(
        "x", gcp(emails=["one@other.iam.gserviceaccount.com"], worker=False)
    )
    assert (await registry.get_cross_account_access("x")).access == gcp(
        emails=["one@other.iam.gserviceaccount.com"], worker=False
    )
    await registry.remove_cross_account_access(
        "x", gcp(emails=["one@other.iam.gserviceaccount.com"], worker=False)
    )
    # the conditional binding artreg never wrote is untouched; so is everything else
    assert fake.policy(REPO) == {"version": 3, "bindings": [conditional, *others]}


async def test_iam_credentials_endpoint_is_google_auths_choice(
    env: dict[str, str], fake: FakeGcp
) -> None:
    """Without a configured endpoint, google-auth picks generateAccessToken's URL from the
    source credentials' universe domain (and would pick its mTLS endpoint)."""
    env.pop("ARTREG_GCP_IAM_CREDENTIALS_ENDPOINT")
    key = json.loads(env["GOOGLE_SERVICE_ACCOUNT_KEY"])
    env["GOOGLE_SERVICE_ACCOUNT_KEY"] = json.dumps({**key, "universe_domain": "example.goog"})
    transport = LoopbackOnlyRequest()
    reg = make(env, transport=transport)
    with pytest.raises(CloudPlatformError):  # the loopback-only transport refuses the host
        await reg.generate_credentials("x", ArtifactRegistryPermissions.PULL)
    assert transport.urls[-1] == (
        "https://iamcredentials.example.goog/v1/projects/-/serviceAccounts/"
        "pull-sa@fake-project.iam.gserviceaccount.com:generateAccessToken"
    )
    await reg.aclose()


async def test_aws_access_is_refused(registry: gar.GarArtifactRegistry, fake: FakeGcp) -> None:
    aws = AwsCrossAccountAccess(
        account_ids=["123456789012"], regions=[], role_arns=[], allowed_service_types=[]
    )
    for method in (registry.add_cross_account_access, registry.remove_cross_account_access):
        with pytest.raises(BindingConfigInvalid) as info:
            await method("x", aws)
        assert info.value.context["reason"] == (
            "GCP artifact registry can only accept GCP cross-account access configuration"
        )
    assert fake.requests == []


async def test_missing_gar_repository_is_not_found(env: dict[str, str], fake: FakeGcp) -> None:
    reg = make(env, repository="no-such-repo")
    for call in (
        reg.get_cross_account_access("x"),
        reg.add_cross_account_access("x", gcp(["1"])),
        reg.remove_cross_account_access("x", gcp(["1"])),
    ):
        with pytest.raises(RemoteResourceNotFound) as info:
            await call
        assert "repositories/no-such-repo" in info.value.context["resource_name"]
    await reg.aclose()


# -- configuration -------------------------------------------------------------------------------


def test_missing_region_is_client_config_invalid(env: dict[str, str]) -> None:
    env.pop("GCP_REGION")
    with pytest.raises(ClientConfigInvalid) as info:
        make(env)
    assert info.value.context["platform"] == "gcp"


@pytest.mark.parametrize("key", ["not json", "[1]", json.dumps({"type": "service_account"})])
def test_bad_key_is_client_config_invalid(env: dict[str, str], key: str) -> None:
    env["GOOGLE_SERVICE_ACCOUNT_KEY"] = key
    with pytest.raises(ClientConfigInvalid) as info:
        make(env)
    assert info.value.context["platform"] == "gcp"
    assert "BEGIN PRIVATE KEY" not in info.value.message


def test_project_comes_from_env_before_key(env: dict[str, str]) -> None:
    assert make(env).project_id == PROJECT
    env["GCP_PROJECT_ID"] = "override-project"
    assert make(env).upstream_repository_prefix() == "override-project/test-repo"


def test_without_key_application_default_credentials_are_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(ClientConfigInvalid) as info:
        make({"GCP_REGION": LOCATION})
    assert info.value.context["platform"] == "gcp"


def test_expression_fields_fail_construction(env: dict[str, str]) -> None:
    binding = GarBinding(repository_name={"Fn::GetAtt": ["Repo", "Name"]})
    with pytest.raises(BindingConfigInvalid) as info:
        gar.from_binding("artifact-registry", binding, env)
    assert info.value.context["reason"] == "Failed to extract repository_name from binding"


async def test_loaded_through_the_binding_environment(env: dict[str, str], fake: FakeGcp) -> None:
    clear_cache()
    binding = {
        "service": "gar",
        "repositoryName": REPO,
        "pullServiceAccountEmail": PULL_SA,
        "pushServiceAccountEmail": PUSH_SA,
    }
    env = {**env, "ALIEN_ARTIFACT_REGISTRY_BINDING": encode(binding).decode()}
    reg = load_artifact_registry("artifact-registry", env)
    assert isinstance(reg, gar.GarArtifactRegistry)
    assert reg.binding_name == "artifact-registry"
    creds = await reg.generate_credentials("x", ArtifactRegistryPermissions.PULL, 60)
    assert fake.access_token_valid(creds.password)
    await reg.aclose()
    clear_cache()


# -- lifecycle (the round-trip invariant of artreg.registry) -------------------------------------


async def test_full_repository_lifecycle(registry: gar.GarArtifactRegistry, fake: FakeGcp) -> None:
    repo = "alien-test-gcp-0b8e2c1d-5f9a-4a43-9d0e-7f1f6a2b3c4d"
    created = await registry.create_repository(repo)
    assert (await registry.get_repository(created.name)).name == created.name
    access = gcp(["123456789012"], [MANAGER])
    await registry.add_cross_account_access(created.name, access)
    assert (await registry.get_cross_account_access(created.name)).access == access
    await registry.remove_cross_account_access(created.name, access)
    assert (await registry.get_cross_account_access(created.name)).access == gcp(worker=False)
    for permissions in ArtifactRegistryPermissions:
        creds = await registry.generate_credentials(created.name, permissions, 3600)
        assert fake.access_token_valid(creds.password)
    await registry.delete_repository(created.name)


async def test_unknown_key_is_an_authentication_error(
    env: dict[str, str], server: LoopbackServer
) -> None:
    from tests.fakes.gcp import make_service_account_key

    stranger = make_service_account_key("stranger@elsewhere.iam.gserviceaccount.com", PROJECT)
    env["GOOGLE_SERVICE_ACCOUNT_KEY"] = json.dumps(
        stranger.info("https://oauth2.googleapis.com/token")
    )
    reg = make(env)
    with pytest.raises(AuthenticationError) as info:
        await reg.generate_credentials("x", ArtifactRegistryPermissions.PULL)
    assert info.value.context["details"] == "invalid_grant: Invalid JWT Signature."
    assert "PRIVATE KEY" not in json.dumps(info.value.to_dict())
    await reg.aclose()


async def test_application_default_credentials_from_a_key_file(
    env: dict[str, str], fake: FakeGcp, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    key_file = tmp_path / "adc.json"
    key_file.write_text(env.pop("GOOGLE_SERVICE_ACCOUNT_KEY"))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
    reg = make(env)
    assert reg.project_id == PROJECT  # from the key file
    creds = await reg.generate_credentials("x", ArtifactRegistryPermissions.PULL, 120)
    assert fake.access_token_valid(creds.password)
    assert [c["iss"] for c in fake.token_requests] == [MANAGER]
    await reg.aclose()


async def test_provided_defaults(registry: gar.GarArtifactRegistry, fake: FakeGcp) -> None:
    assert await registry.generate_blob_download_url("p/r/app", "sha256:" + "0" * 64, 60) is None
    assert await registry.cleanup_credentials("p/r/app") is None
    assert fake.requests == []


async def test_token_refresh_does_not_block_the_event_loop(
    registry: gar.GarArtifactRegistry, fake: FakeGcp
) -> None:
    import asyncio
    import threading

    fake.gate = threading.Event()
    task = asyncio.create_task(registry.generate_credentials("x", ArtifactRegistryPermissions.PULL))
    # google-auth waits in a worker thread; this loop keeps running and opens the gate
    assert await asyncio.to_thread(fake.gate_reached.wait, 10)
    fake.gate.set()
    creds = await task
    assert fake.access_token_valid(creds.password)


async def test_concurrent_credentials(registry: gar.GarArtifactRegistry, fake: FakeGcp) -> None:
    import asyncio

    results = await asyncio.gather(
        *(
            registry.generate_credentials(f"app{i}", ArtifactRegistryPermissions.PULL)
            for i in range(6)
        )
    )
    assert len({c.password for c in results}) == 6
    assert all(fake.access_token_valid(c.password) for c in results)


# -- one loaded provider, several event loops ----------------------------------------------------


def test_a_loaded_provider_serves_two_event_loops(env: dict[str, str], fake: FakeGcp) -> None:
    """The loader caches providers; each CLI call (and each test) runs its own event loop."""
    import asyncio

    clear_cache()
    raw = {"service": "gar", "repositoryName": REPO, "pullServiceAccountEmail": PULL_SA}
    env = {**env, "ALIEN_IMAGES_BINDING": encode(raw).decode()}
    reg = load_artifact_registry("images", env)
    assert load_artifact_registry("images", env) is reg
    asyncio.run(reg.add_cross_account_access("x", gcp(projects=["42"])))
    got = asyncio.run(reg.get_cross_account_access("x"))
    assert got.access.project_numbers == ["42"]
    asyncio.run(reg.aclose())
    clear_cache()
