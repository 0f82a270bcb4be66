"""ACR manifest and blob reads through the OCI client against the fake registry's bearer-checked
``/v2/`` API over TLS, with tokens from the provider's own OAuth flow."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import pytest

from artreg.binding import AcrBinding
from artreg.errors import InvalidInput, RemoteResourceNotFound
from artreg.providers import acr
from artreg.types import ManifestHead
from tests.fakes.azure import FakeAcr, FakeAzureAd, StaticTokenCredential
from tests.fakes.tls import LoopbackServer, TestCertificate, make_certificate

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
REPO = "team-a/app"


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> TestCertificate:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def fakes(cert: TestCertificate) -> Iterator[tuple[FakeAzureAd, FakeAcr]]:
    aad = FakeAzureAd(tenant_id="t-1", client_id="c-1", client_secret="s-1")
    registry = FakeAcr(registry_name="registrytest", aad=aad)
    with LoopbackServer(aad.app, tls=cert) as a, LoopbackServer(registry.app, tls=cert) as r:
        aad.base_url, registry.base_url = a.base_url, r.base_url
        yield aad, registry
    assert aad.violations == [] and registry.violations == []


@pytest.fixture
async def provider(
    fakes: tuple[FakeAzureAd, FakeAcr], cert: TestCertificate
) -> AsyncIterator[acr.AcrArtifactRegistry]:
    aad, registry = fakes
    env = {
        "AZURE_TENANT_ID": "t-1",
        "AZURE_CLIENT_ID": "c-1",
        "AZURE_CLIENT_SECRET": "s-1",
        "AZURE_AUTHORITY_HOST": aad.base_url,
        "ARTREG_AZURE_CA_BUNDLE": str(cert.ca_file),
        "ARTREG_ACR_LOGIN_SERVER": registry.base_url,
    }
    binding = AcrBinding(
        registry_name="registrytest", resource_group_name="rg", repository_prefix="team-a"
    )
    reg = acr.from_binding("artifact-registry", binding, env)
    yield reg
    await reg.aclose()


def image(registry: FakeAcr) -> tuple[bytes, str, str, bytes]:
    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    config_digest = registry.put_blob(REPO, config)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": len(config),
            },
            "layers": [],
        },
        indent=3,  # not canonical: the bytes must come back exactly as stored
    ).encode()
    digest = registry.put_manifest(REPO, "v1", manifest, OCI_MANIFEST)
    return manifest, digest, config_digest, config


async def test_manifest_and_blob_reads(
    provider: acr.AcrArtifactRegistry, fakes: tuple[FakeAzureAd, FakeAcr]
) -> None:
    _, registry = fakes
    manifest, digest, config_digest, config = image(registry)
    repo = (await provider.create_repository("app")).name
    assert repo == REPO

    assert await provider.get_manifest(repo, "v1") == (manifest, OCI_MANIFEST)
    assert await provider.get_manifest(repo, digest) == (manifest, OCI_MANIFEST)
    assert await provider.head_manifest(repo, "v1") == ManifestHead(
        content_type=OCI_MANIFEST, digest=digest
    )
    assert await provider.head_blob(repo, config_digest) == len(config)

    assert await provider.head_manifest(repo, "missing") is None
    assert await provider.head_blob(repo, "sha256:" + "0" * 64) is None
    with pytest.raises(RemoteResourceNotFound):
        await provider.get_manifest(repo, "missing")
    # every registry call carried a bearer token scoped to pull this repository
    tokens = [f for f in registry.token_forms]
    assert tokens and {f["scope"] for f in tokens} == {f"repository:{REPO}:pull"}


async def test_other_repository_is_not_readable_with_this_token(
    provider: acr.AcrArtifactRegistry, fakes: tuple[FakeAzureAd, FakeAcr]
) -> None:
    _, registry = fakes
    image(registry)
    # a repository the registry does not hold: its own token, then MANIFEST_UNKNOWN
    assert await provider.head_manifest("team-a/other", "v1") is None
    assert {f["scope"] for f in registry.token_forms} == {"repository:team-a/other:pull"}


async def test_bad_references_are_invalid_input(provider: acr.AcrArtifactRegistry) -> None:
    with pytest.raises(InvalidInput):
        await provider.get_manifest("team-a/app", "bad tag!")
    with pytest.raises(InvalidInput):
        await provider.head_blob("team-a/app", "sha256:xyz")


async def test_injected_credential_reads_too(
    fakes: tuple[FakeAzureAd, FakeAcr], cert: TestCertificate
) -> None:
    aad, registry = fakes
    manifest, *_ = image(registry)
    env = {
        "ARTREG_AZURE_CA_BUNDLE": str(cert.ca_file),
        "ARTREG_ACR_LOGIN_SERVER": registry.base_url,
    }
    binding = AcrBinding(registry_name="registrytest", resource_group_name="rg")
    reg = acr.from_binding("b", binding, env, credential=StaticTokenCredential(aad))
    assert (await reg.get_manifest(REPO, "v1"))[0] == manifest
    await reg.aclose()


async def test_standard_ca_environment_variables_are_honoured(
    fakes: tuple[FakeAzureAd, FakeAcr], cert: TestCertificate, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without ARTREG_AZURE_CA_BUNDLE: REQUESTS_CA_BUNDLE reaches azure-identity and
    SSL_CERT_FILE the OAuth and registry calls."""
    aad, registry = fakes
    manifest, *_ = image(registry)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert.ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(cert.ca_file))
    env = {
        "AZURE_TENANT_ID": "t-1",
        "AZURE_CLIENT_ID": "c-1",
        "AZURE_CLIENT_SECRET": "s-1",
        "AZURE_AUTHORITY_HOST": aad.base_url,
        "ARTREG_ACR_LOGIN_SERVER": registry.base_url,
    }
    binding = AcrBinding(registry_name="registrytest", resource_group_name="rg")
    reg = acr.from_binding("b", binding, env)
    assert (await reg.get_manifest(REPO, "v1"))[0] == manifest
    await reg.aclose()
