"""The ACR provider against local fakes of Entra ID and ACR served over TLS with a certificate
the test generates; azure-identity runs its real client-credentials flow."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from artreg.binding import AcrBinding
from artreg.errors import (
    ArtregError,
    AuthenticationError,
    BindingConfigInvalid,
    ClientConfigInvalid,
    InvalidInput,
    OperationNotSupported,
    RemoteAccessDenied,
    RemoteServiceUnavailable,
    UnexpectedResponseFormat,
)
from artreg.loader import clear_cache, load_artifact_registry
from artreg.providers import acr
from artreg.types import (
    ArtifactRegistryPermissions,
    AwsCrossAccountAccess,
    GcpCrossAccountAccess,
    RegistryAuthMethod,
    encode,
    parse_timestamp,
)
from tests.fakes.azure import FakeAcr, FakeAzureAd, StaticTokenCredential, make_jwt
from tests.fakes.tls import LoopbackServer, TestCertificate, make_certificate

TENANT = "00000000-0000-4000-8000-00000000a11e"
CLIENT = "11111111-1111-4111-8111-111111111111"
SECRET = "client-secret-value-not-to-leak"
REGISTRY = "registrytest"
REASON = (
    "Azure Container Registry uses token-based access via generate_credentials - "
    "cross-account permissions are not supported"
)


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> TestCertificate:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def aad(cert: TestCertificate) -> Iterator[FakeAzureAd]:
    fake = FakeAzureAd(tenant_id=TENANT, client_id=CLIENT, client_secret=SECRET)
    with LoopbackServer(fake.app, tls=cert) as srv:
        fake.base_url = srv.base_url
        yield fake
    assert fake.violations == []


@pytest.fixture
def registry_fake(cert: TestCertificate, aad: FakeAzureAd) -> Iterator[FakeAcr]:
    fake = FakeAcr(registry_name=REGISTRY, aad=aad)
    with LoopbackServer(fake.app, tls=cert) as srv:
        fake.base_url = srv.base_url
        yield fake
    assert fake.violations == []


@pytest.fixture
def env(aad: FakeAzureAd, registry_fake: FakeAcr, cert: TestCertificate) -> dict[str, str]:
    return {
        "AZURE_TENANT_ID": TENANT,
        "AZURE_CLIENT_ID": CLIENT,
        "AZURE_CLIENT_SECRET": SECRET,
        "AZURE_AUTHORITY_HOST": aad.base_url,
        "ARTREG_AZURE_CA_BUNDLE": str(cert.ca_file),
        "ARTREG_ACR_LOGIN_SERVER": registry_fake.base_url,
    }


def binding(prefix: Any = None) -> AcrBinding:
    return AcrBinding(
        registry_name=REGISTRY, resource_group_name="rg-test", repository_prefix=prefix
    )


@pytest.fixture
async def registry(env: dict[str, str]) -> AsyncIterator[acr.AcrArtifactRegistry]:
    reg = acr.from_binding("artifact-registry", binding(), env)
    yield reg
    await reg.aclose()


@pytest.fixture
async def unit(env: dict[str, str], aad: FakeAzureAd) -> AsyncIterator[acr.AcrArtifactRegistry]:
    """A provider with an injected get_token credential."""
    reg = acr.from_binding(
        "artifact-registry", binding(), env, credential=StaticTokenCredential(aad)
    )
    yield reg
    await reg.aclose()


GCP = GcpCrossAccountAccess(
    project_numbers=["1"], service_account_emails=[], allowed_service_types=[]
)
AWS = AwsCrossAccountAccess(account_ids=["1"], regions=[], role_arns=[], allowed_service_types=[])


# -- alien's acr.rs unit cases ------------------------------------------------------------------


def test_prefix_expression_fails_construction() -> None:
    with pytest.raises(BindingConfigInvalid) as info:
        acr.from_binding(
            "artifact-registry",
            binding({"Fn::GetAtt": ["Registry", "Prefix"]}),
            {"AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_ID": CLIENT, "AZURE_CLIENT_SECRET": SECRET},
        )
    assert info.value.context["reason"] == "Failed to extract repository_prefix from binding"


async def test_without_prefix(unit: acr.AcrArtifactRegistry) -> None:
    assert unit.upstream_repository_prefix() == ""
    created = await unit.create_repository("worker")
    assert created.name == "worker"
    assert created.uri == "registrytest.azurecr.io/worker"
    assert created.created_at is None


async def test_with_prefix(env: dict[str, str], aad: FakeAzureAd) -> None:
    reg = acr.from_binding("b", binding("team-a"), env, credential=StaticTokenCredential(aad))
    assert reg.upstream_repository_prefix() == "team-a"
    created = await reg.create_repository("worker")
    assert created.name == "team-a/worker"
    assert created.uri == "registrytest.azurecr.io/team-a/worker"
    got = await reg.get_repository(created.name)
    assert got == created  # repo_id is not prefixed again
    await reg.aclose()


# -- names and implicit repositories -------------------------------------------------------------


async def test_names_and_no_calls(
    unit: acr.AcrArtifactRegistry, registry_fake: FakeAcr, aad: FakeAzureAd
) -> None:
    assert unit.registry_endpoint() == "https://registrytest.azurecr.io"
    assert unit.registry_data_endpoint() == registry_fake.base_url
    got = await unit.get_repository("some/repo")
    assert (got.name, got.uri, got.created_at) == (
        "some/repo",
        "registrytest.azurecr.io/some/repo",
        None,
    )
    await unit.delete_repository("some/repo")
    assert registry_fake.requests == [] and aad.requests == []


async def test_get_of_nonexistent_repository_succeeds(unit: acr.AcrArtifactRegistry) -> None:
    repo_id = "alien-test-azure-6a1b2c3d-0000-4000-8000-000000000000"
    assert repo_id in (await unit.get_repository(repo_id)).name


@pytest.mark.parametrize("bad", ["", "Upper", "a b", "repo:tag", "x repository:other"])
async def test_bad_names_are_invalid_input(unit: acr.AcrArtifactRegistry, bad: str) -> None:
    with pytest.raises(InvalidInput):
        await unit.get_repository(bad)
    with pytest.raises(InvalidInput):
        await unit.create_repository(bad)


async def test_scope_injection_is_refused(
    unit: acr.AcrArtifactRegistry, registry_fake: FakeAcr
) -> None:
    with pytest.raises(InvalidInput):
        await unit.generate_credentials(
            "mine:pull repository:theirs", ArtifactRegistryPermissions.PULL
        )
    assert registry_fake.requests == []


@pytest.mark.parametrize(
    "call",
    ["add_cross_account_access", "remove_cross_account_access", "get_cross_account_access"],
)
async def test_cross_account_is_not_supported(unit: acr.AcrArtifactRegistry, call: str) -> None:
    method = getattr(unit, call)
    for args in (("r", GCP), ("r", AWS)) if call != "get_cross_account_access" else (("r",),):
        with pytest.raises(OperationNotSupported) as info:
            await method(*args)
        assert info.value.context == {"operation": call, "reason": REASON}


# -- credentials -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("repo_id", "permissions", "scope"),
    [
        ("team-a/worker", ArtifactRegistryPermissions.PULL, "repository:team-a/worker:pull"),
        (
            "team-a/worker",
            ArtifactRegistryPermissions.PUSH_PULL,
            "repository:team-a/worker:pull,push",
        ),
        ("", ArtifactRegistryPermissions.PULL, "registry:catalog:*"),
        ("", ArtifactRegistryPermissions.PUSH_PULL, "registry:catalog:*"),
    ],
)
async def test_three_step_flow_and_scopes(
    unit: acr.AcrArtifactRegistry,
    registry_fake: FakeAcr,
    repo_id: str,
    permissions: ArtifactRegistryPermissions,
    scope: str,
) -> None:
    creds = await unit.generate_credentials(repo_id, permissions, 3600)
    assert creds.auth_method == RegistryAuthMethod.BEARER
    assert creds.username == ""
    assert registry_fake.scope_of(creds.password) is not None
    (exchange,) = registry_fake.exchange_forms
    assert set(exchange) == {"grant_type", "service", "access_token"}
    assert exchange["grant_type"] == "access_token"
    assert exchange["service"] == "registrytest.azurecr.io"
    (token,) = registry_fake.token_forms
    assert token["grant_type"] == "refresh_token"
    assert token["service"] == "registrytest.azurecr.io"
    assert token["scope"] == scope
    assert token["refresh_token"] in registry_fake.refresh_tokens
    assert [m for m, _ in registry_fake.requests] == ["POST", "POST"]


async def test_real_client_secret_credential(
    registry: acr.AcrArtifactRegistry, aad: FakeAzureAd, registry_fake: FakeAcr
) -> None:
    creds = await registry.generate_credentials("app", ArtifactRegistryPermissions.PULL)
    assert registry_fake.scope_of(creds.password) == ("app", ["pull"])
    (form,) = aad.token_forms
    assert form["grant_type"] == "client_credentials"
    assert form["client_id"] == CLIENT
    assert form["scope"] == "https://containerregistry.azure.net/.default"
    assert ("GET", f"/{TENANT}/v2.0/.well-known/openid-configuration") in aad.requests
    # the AAD token is cached by azure-identity: a second call does not sign in again
    await registry.generate_credentials("app", ArtifactRegistryPermissions.PUSH_PULL)
    assert len(aad.token_forms) == 1


async def test_wrong_client_secret_is_an_authentication_error(env: dict[str, str]) -> None:
    env["AZURE_CLIENT_SECRET"] = "wrong-secret-value"
    reg = acr.from_binding("artifact-registry", binding(), env)
    with pytest.raises(AuthenticationError) as info:
        await reg.generate_credentials("app", ArtifactRegistryPermissions.PULL)
    dumped = json.dumps(info.value.to_dict())
    assert "wrong-secret-value" not in dumped and SECRET not in dumped
    await reg.aclose()


async def test_expiry_comes_from_the_jwt(
    unit: acr.AcrArtifactRegistry, registry_fake: FakeAcr
) -> None:
    registry_fake.token_lifetime = 1800
    before = datetime.now(UTC)
    creds = await unit.generate_credentials("app", ArtifactRegistryPermissions.PULL, 60)
    assert creds.expires_at is not None and creds.expires_at.endswith("+00:00")
    expires = parse_timestamp(creds.expires_at)
    assert before + timedelta(seconds=1798) <= expires <= before + timedelta(seconds=1802)
    assert expires.microsecond == 0  # epoch seconds


async def test_opaque_token_expires_in_300_seconds(
    unit: acr.AcrArtifactRegistry, registry_fake: FakeAcr
) -> None:
    registry_fake.opaque_tokens = True
    before = datetime.now(UTC)
    creds = await unit.generate_credentials("app", ArtifactRegistryPermissions.PULL)
    assert creds.password.startswith("opaque-")
    assert creds.expires_at is not None
    expires = parse_timestamp(creds.expires_at)
    assert before + timedelta(seconds=299) <= expires <= datetime.now(UTC) + timedelta(seconds=301)


LEAKY = "eyJhbGciOiJIUzI1NiJ9.eyJzZWNyZXQiOnRydWV9.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("step", "reply", "error", "message"),
    [
        (
            "exchange",
            (
                401,
                json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": f"bad token {LEAKY}"}]}),
            ),
            AuthenticationError,
            "ACR OAuth2 exchange: authentication failed: HTTP 401: ",
        ),
        (
            "exchange",
            (200, "not json"),
            UnexpectedResponseFormat,
            "Unexpected response format from acr for 'artifact-registry': field 'refresh_token'",
        ),
        (
            "exchange",
            (200, json.dumps({"access_token": LEAKY})),
            UnexpectedResponseFormat,
            "Unexpected response format from acr for 'artifact-registry': field 'refresh_token'",
        ),
        (
            "token",
            (403, json.dumps({"refresh_token": "opaque-refresh-secret", "errors": []})),
            RemoteAccessDenied,
            "ACR OAuth2 token: access denied",
        ),
        (
            "token",
            (200, "{"),
            UnexpectedResponseFormat,
            "Unexpected response format from acr for 'artifact-registry': field 'access_token'",
        ),
    ],
)
async def test_error_messages_never_echo_tokens(
    unit: acr.AcrArtifactRegistry,
    registry_fake: FakeAcr,
    step: str,
    reply: tuple[int, str],
    error: type[Exception],
    message: str,
) -> None:
    unit.audiences = ("https://containerregistry.azure.net",)  # no fallback to retry with
    setattr(registry_fake, f"{step}_reply", reply)
    with pytest.raises(error) as info:
        await unit.generate_credentials("app", ArtifactRegistryPermissions.PULL)
    assert isinstance(info.value, ArtregError)
    assert info.value.message.startswith(message)
    dumped = json.dumps(info.value.to_dict()) + repr(info.value)
    assert LEAKY not in dumped and "opaque-refresh-secret" not in dumped
    for form in registry_fake.exchange_forms + registry_fake.token_forms:
        for key in ("access_token", "refresh_token"):
            if key in form:
                assert form[key] not in dumped


async def test_unreachable_login_server(env: dict[str, str], aad: FakeAzureAd) -> None:
    from tests.registries import free_port

    env["ARTREG_ACR_LOGIN_SERVER"] = f"https://127.0.0.1:{free_port()}"
    reg = acr.from_binding("b", binding(), env, credential=StaticTokenCredential(aad))
    with pytest.raises(RemoteServiceUnavailable) as info:
        await reg.generate_credentials("app", ArtifactRegistryPermissions.PULL)
    assert info.value.message.startswith("ACR OAuth2 exchange: service unavailable: request failed")
    await reg.aclose()


def test_redact() -> None:
    body = (
        '{"access_token": "abc.def", "refresh_token":"zzz", "msg": "see eyJa.eyJb.c", "x": "known"}'
    )
    out = acr.redact(body, ["known"])
    assert "abc.def" not in out and "zzz" not in out and "eyJa" not in out and "known" not in out
    assert acr.redact("x" * 2000).endswith("…")
    assert acr.jwt_expiry(make_jwt({"exp": 1700000000})) == 1700000000
    assert acr.jwt_expiry("a.b") is None and acr.jwt_expiry("a.!!.c") is None


# -- configuration -------------------------------------------------------------------------------


def test_partial_service_principal_is_client_config_invalid(env: dict[str, str]) -> None:
    env.pop("AZURE_CLIENT_SECRET")
    with pytest.raises(ClientConfigInvalid) as info:
        acr.from_binding("b", binding(), env)
    assert info.value.context["platform"] == "azure"
    assert "AZURE_CLIENT_SECRET" in info.value.message


def test_http_authority_is_client_config_invalid(env: dict[str, str]) -> None:
    env["AZURE_AUTHORITY_HOST"] = "http://127.0.0.1:1"
    with pytest.raises(ClientConfigInvalid):
        acr.from_binding("b", binding(), env)


def test_no_service_principal_uses_the_default_chain() -> None:
    from azure.identity import DefaultAzureCredential

    reg = acr.from_binding("b", binding(), {})
    assert isinstance(reg._credential, DefaultAzureCredential)


async def test_loaded_through_the_binding_environment(
    env: dict[str, str], registry_fake: FakeAcr
) -> None:
    clear_cache()
    raw = {
        "service": "acr",
        "registryName": REGISTRY,
        "resourceGroupName": "rg",
        "repositoryPrefix": "p",
    }
    env = {**env, "ALIEN_REGISTRY_BINDING": encode(raw).decode()}
    reg = load_artifact_registry("registry", env)
    assert isinstance(reg, acr.AcrArtifactRegistry)
    creds = await reg.generate_credentials("p/app", ArtifactRegistryPermissions.PULL)
    assert registry_fake.scope_of(creds.password) == ("p/app", ["pull"])
    await reg.aclose()
    clear_cache()


# -- lifecycle (the round-trip invariant of artreg.registry) -------------------------------------


async def test_full_repository_lifecycle(
    registry: acr.AcrArtifactRegistry, registry_fake: FakeAcr
) -> None:
    repo = "alien-test-azure-0b8e2c1d-5f9a-4a43-9d0e-7f1f6a2b3c4d"
    created = await registry.create_repository(repo)
    assert (await registry.get_repository(created.name)).name == created.name
    for call in (
        registry.get_cross_account_access(created.name),
        registry.add_cross_account_access(created.name, GCP),
        registry.remove_cross_account_access(created.name, AWS),
    ):
        with pytest.raises(OperationNotSupported):
            await call
    creds = await registry.generate_credentials(
        created.name, ArtifactRegistryPermissions.PULL, 3600
    )
    assert registry_fake.scope_of(creds.password) == (repo, ["pull"])
    await registry.delete_repository(created.name)


def test_certificate_files_exist(cert: TestCertificate) -> None:
    for path in (cert.ca_file, cert.cert_file, cert.key_file):
        assert Path(path).read_text().startswith("-----BEGIN")


async def test_provided_defaults(unit: acr.AcrArtifactRegistry, registry_fake: FakeAcr) -> None:
    assert await unit.generate_blob_download_url("app", "sha256:" + "0" * 64, 60) is None
    assert await unit.cleanup_credentials("app") is None
    assert registry_fake.requests == []


async def test_aad_token_does_not_block_the_event_loop(
    registry: acr.AcrArtifactRegistry, aad: FakeAzureAd, registry_fake: FakeAcr
) -> None:
    import asyncio
    import threading

    aad.gate = threading.Event()
    task = asyncio.create_task(
        registry.generate_credentials("app", ArtifactRegistryPermissions.PULL)
    )
    # azure-identity waits in a worker thread; this loop keeps running and opens the gate
    assert await asyncio.to_thread(aad.gate_reached.wait, 10)
    aad.gate.set()
    creds = await task
    assert registry_fake.scope_of(creds.password) == ("app", ["pull"])


# -- one loaded provider, several event loops ----------------------------------------------------


def test_a_loaded_provider_serves_two_event_loops(
    env: dict[str, str], registry_fake: FakeAcr
) -> None:
    """The loader caches providers; each CLI call (and each test) runs its own event loop."""
    import asyncio

    clear_cache()
    raw = {"service": "acr", "registryName": REGISTRY, "resourceGroupName": "rg"}
    env = {**env, "ALIEN_REGISTRY_BINDING": encode(raw).decode()}
    reg = load_artifact_registry("registry", env)
    assert load_artifact_registry("registry", env) is reg

    async def mint() -> str:
        return (await reg.generate_credentials("app", ArtifactRegistryPermissions.PULL)).password

    first = asyncio.run(mint())
    second = asyncio.run(mint())
    assert registry_fake.scope_of(first) == ("app", ["pull"])
    assert registry_fake.scope_of(second) == ("app", ["pull"])
    asyncio.run(reg.aclose())
    clear_cache()


# -- the Entra ID audience -----------------------------------------------------------------------

ACR_SCOPE = "https://containerregistry.azure.net/.default"
ARM_SCOPE = "https://management.azure.com/.default"


async def test_arm_audience_disabled_registry_still_mints_credentials(
    registry: acr.AcrArtifactRegistry, aad: FakeAzureAd, registry_fake: FakeAcr
) -> None:
    """Landing-zone registries refuse ARM-audience tokens at the exchange; the ACR audience is
    accepted everywhere, so it is asked for first."""
    registry_fake.arm_audience_disabled = True
    creds = await registry.generate_credentials("app", ArtifactRegistryPermissions.PULL)
    assert registry_fake.scope_of(creds.password) == ("app", ["pull"])
    assert [f["scope"] for f in aad.token_forms] == [ACR_SCOPE]
    assert registry_fake.exchange_audiences == ["https://containerregistry.azure.net"]


async def test_arm_only_against_a_hardened_registry_is_an_authentication_error(
    env: dict[str, str], registry_fake: FakeAcr
) -> None:
    registry_fake.arm_audience_disabled = True
    env["ARTREG_ACR_AUDIENCES"] = "https://management.azure.com"
    reg = acr.from_binding("artifact-registry", binding(), env)
    with pytest.raises(AuthenticationError) as info:
        await reg.generate_credentials("app", ArtifactRegistryPermissions.PULL)
    assert info.value.code == "AUTHENTICATION_ERROR"
    assert "ARM audience tokens are disabled" in info.value.message
    await reg.aclose()


async def test_arm_audience_is_the_fallback(
    registry: acr.AcrArtifactRegistry, aad: FakeAzureAd, registry_fake: FakeAcr
) -> None:
    """A tenant without ACR's service principal refuses the ACR audience (AADSTS500011)."""
    aad.unknown_audiences = {"https://containerregistry.azure.net"}
    creds = await registry.generate_credentials("app", ArtifactRegistryPermissions.PULL)
    assert registry_fake.scope_of(creds.password) == ("app", ["pull"])
    assert [f["scope"] for f in aad.token_forms] == [ACR_SCOPE, ARM_SCOPE]
    assert registry_fake.exchange_audiences == ["https://management.azure.com"]


async def test_both_audiences_refused_names_both(
    registry: acr.AcrArtifactRegistry, aad: FakeAzureAd, registry_fake: FakeAcr
) -> None:
    aad.unknown_audiences = {"https://containerregistry.azure.net"}
    registry_fake.arm_audience_disabled = True
    with pytest.raises(AuthenticationError) as info:
        await registry.generate_credentials("app", ArtifactRegistryPermissions.PULL)
    assert "https://containerregistry.azure.net: " in info.value.message
    assert "https://management.azure.com: " in info.value.message
    assert "AADSTS500011" in info.value.message


# -- sovereign clouds ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("authority", "endpoint"),
    [
        ("login.chinacloudapi.cn", "https://registrytest.azurecr.cn"),
        ("https://login.chinacloudapi.cn/", "https://registrytest.azurecr.cn"),
        ("https://login.microsoftonline.us", "https://registrytest.azurecr.us"),
        ("https://login.microsoftonline.com", "https://registrytest.azurecr.io"),
    ],
)
def test_the_authority_picks_the_cloud(authority: str, endpoint: str) -> None:
    env = {
        "AZURE_TENANT_ID": TENANT,
        "AZURE_CLIENT_ID": CLIENT,
        "AZURE_CLIENT_SECRET": SECRET,
        "AZURE_AUTHORITY_HOST": authority,
    }
    reg = acr.from_binding("b", binding(), env)
    assert reg.registry_endpoint() == endpoint
    assert reg.registry_data_endpoint() == endpoint
    assert reg.login_server == endpoint.removeprefix("https://")
    assert acr.from_binding("b", binding("p"), env).create_repository is not None


def test_cloud_audiences() -> None:
    china = acr.cloud_for({"AZURE_AUTHORITY_HOST": "login.chinacloudapi.cn"})
    reg = acr.AcrArtifactRegistry(
        registry_name="r",
        resource_group_name="g",
        credential=object(),
        cloud=china,  # type: ignore[arg-type]
    )
    assert reg.audiences == (
        "https://containerregistry.azure.net",
        "https://management.chinacloudapi.cn",
    )
    gov = acr.cloud_for({"ARTREG_AZURE_CLOUD": "azureusgovernment"})
    assert (gov.acr_domain, gov.arm_audience) == (
        "azurecr.us",
        "https://management.usgovcloudapi.net",
    )
    with pytest.raises(ClientConfigInvalid):
        acr.cloud_for({"ARTREG_AZURE_CLOUD": "AzureGermanCloud"})


@pytest.mark.parametrize(
    ("cloud", "host", "arm"),
    [
        ("AzureChinaCloud", "registrytest.azurecr.cn", "https://management.chinacloudapi.cn"),
        ("AzureUSGovernment", "registrytest.azurecr.us", "https://management.usgovcloudapi.net"),
    ],
)
def test_sovereign_cloud_end_to_end(cert: TestCertificate, cloud: str, host: str, arm: str) -> None:
    """Entra ID and ACR of a sovereign cloud: the exchange's ``service`` is the cloud's login
    server, and the fallback audience is that cloud's ARM."""
    import asyncio

    aad = FakeAzureAd(tenant_id=TENANT, client_id=CLIENT, client_secret=SECRET, cloud=cloud)
    aad.unknown_audiences = {"https://containerregistry.azure.net"}
    fake = FakeAcr(registry_name=REGISTRY, aad=aad)
    assert fake.service == host
    with LoopbackServer(aad.app, tls=cert) as a, LoopbackServer(fake.app, tls=cert) as r:
        aad.base_url, fake.base_url = a.base_url, r.base_url
        env = {
            "AZURE_TENANT_ID": TENANT,
            "AZURE_CLIENT_ID": CLIENT,
            "AZURE_CLIENT_SECRET": SECRET,
            "AZURE_AUTHORITY_HOST": aad.base_url,
            "ARTREG_AZURE_CLOUD": cloud,
            "ARTREG_AZURE_CA_BUNDLE": str(cert.ca_file),
            "ARTREG_ACR_LOGIN_SERVER": fake.base_url,
        }
        reg = acr.from_binding("b", binding(), env)
        assert reg.registry_endpoint() == f"https://{host}"

        async def mint() -> str:
            try:
                return (
                    await reg.generate_credentials("app", ArtifactRegistryPermissions.PULL)
                ).password
            finally:
                await reg.aclose()

        token = asyncio.run(mint())
    assert fake.scope_of(token) == ("app", ["pull"])
    assert [f["service"] for f in fake.exchange_forms] == [host]
    assert fake.exchange_audiences == [arm]
    assert aad.violations == [] and fake.violations == []


# -- the refresh token ---------------------------------------------------------------------------


async def test_identity_token_is_the_refresh_token(
    unit: acr.AcrArtifactRegistry, registry_fake: FakeAcr, cert: TestCertificate
) -> None:
    """What docker-credential-acr-env answers: ``<token>`` and the exchange's refresh token,
    which a Docker-style client spends for any repository the identity may read."""
    import asyncio

    from tests.fakes.azure import docker_style_pull

    manifest = b'{"schemaVersion":2}'
    registry_fake.put_manifest(
        "team/app", "v1", manifest, "application/vnd.oci.image.manifest.v1+json"
    )
    registry_fake.put_manifest(
        "other/api", "v2", manifest, "application/vnd.oci.image.manifest.v1+json"
    )
    before = datetime.now(UTC)
    creds = await unit.identity_token()
    assert creds.username == "<token>"
    assert registry_fake.refresh_token_valid(creds.password)
    assert registry_fake.token_forms == []  # no repository was named
    assert creds.expires_at is not None
    expires = parse_timestamp(creds.expires_at)
    assert before + timedelta(hours=3) - timedelta(seconds=5) <= expires
    assert expires <= datetime.now(UTC) + timedelta(hours=3, seconds=5)
    for repo, ref in (("team/app", "v1"), ("other/api", "v2")):
        status, body = await asyncio.to_thread(
            docker_style_pull,
            registry_fake.base_url,
            creds.password,
            repo,
            ref,
            verify=str(cert.ca_file),
        )
        assert (status, body) == (200, manifest)
    # an ACR access token is not a refresh token: Docker's flow refuses it
    access = await unit.generate_credentials("team/app", ArtifactRegistryPermissions.PULL)
    status, _ = await asyncio.to_thread(
        docker_style_pull,
        registry_fake.base_url,
        access.password,
        "team/app",
        "v1",
        verify=str(cert.ca_file),
    )
    assert status == 401


async def test_refresh_token_is_kept_and_renewed_when_revoked(
    unit: acr.AcrArtifactRegistry, registry_fake: FakeAcr
) -> None:
    await unit.generate_credentials("a", ArtifactRegistryPermissions.PULL)
    await unit.generate_credentials("b", ArtifactRegistryPermissions.PULL)
    assert len(registry_fake.exchange_forms) == 1
    registry_fake.refresh_tokens.clear()  # revoked
    creds = await unit.generate_credentials("c", ArtifactRegistryPermissions.PULL)
    assert registry_fake.scope_of(creds.password) == ("c", ["pull"])
    assert len(registry_fake.exchange_forms) == 2


async def test_identity_token_reads_only_what_the_identity_may(
    unit: acr.AcrArtifactRegistry, registry_fake: FakeAcr, cert: TestCertificate
) -> None:
    """ACR grants a token what was asked *and* is allowed (an AcrPull identity, a scope map)."""
    import asyncio

    from tests.fakes.azure import docker_style_pull

    media_type = "application/vnd.oci.image.manifest.v1+json"
    registry_fake.put_manifest("team/app", "v1", b'{"schemaVersion":2}', media_type)
    registry_fake.put_manifest("secret/app", "v1", b'{"schemaVersion":2}', media_type)
    registry_fake.grants = {"team/app": {"pull"}}
    creds = await unit.identity_token()
    ca = str(cert.ca_file)
    allowed = await asyncio.to_thread(
        docker_style_pull, registry_fake.base_url, creds.password, "team/app", "v1", verify=ca
    )
    refused = await asyncio.to_thread(
        docker_style_pull, registry_fake.base_url, creds.password, "secret/app", "v1", verify=ca
    )
    assert allowed[0] == 200 and refused[0] == 401
