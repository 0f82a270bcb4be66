"""GAR manifest and blob reads through the OCI client, against Debian's docker-registry with
htpasswd Basic auth for user ``oauth2accesstoken`` (as GAR takes an access token), the token
minted by the provider's own impersonation flow against the Google fake."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from artreg.binding import GarBinding
from artreg.digest import sha256_digest
from artreg.errors import RemoteResourceNotFound
from artreg.oci.auth import Basic
from artreg.oci.client import RegistryClient
from artreg.providers import gar
from artreg.types import ManifestHead
from tests.fakes.gcp import FakeGcp, LoopbackOnlyRequest
from tests.fakes.tls import LoopbackServer
from tests.peers import write_htpasswd
from tests.registries import RunningRegistry, distribution_registry

TOKEN = "ya29.fixed-test-access-token"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
PULL_SA = "pull@fake-project.iam.gserviceaccount.com"


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RunningRegistry]:
    path = write_htpasswd(tmp_path, "oauth2accesstoken", TOKEN)
    auth = f"auth:\n  htpasswd:\n    realm: gar-test\n    path: {path}\n"
    with distribution_registry(tmp_path, auth_yaml=auth) as reg:
        yield reg


@pytest.fixture
def fake() -> Iterator[FakeGcp]:
    fake = FakeGcp(project_id="fake-project", location="europe-west1")
    fake.add_target_service_account(PULL_SA)
    fake.add_repository("images")
    fake.fixed_access_token = TOKEN
    with LoopbackServer(fake.app) as srv:
        fake.base_url = srv.base_url
        yield fake
    assert fake.violations == []


@pytest.fixture
async def provider(
    fake: FakeGcp, registry: RunningRegistry
) -> AsyncIterator[gar.GarArtifactRegistry]:
    base = fake.base_url
    key = fake.add_service_account_key("manager@fake-project.iam.gserviceaccount.com")
    env = {
        "GOOGLE_SERVICE_ACCOUNT_KEY": json.dumps(key.info(f"{base}/token")),
        "GCP_REGION": "europe-west1",
        "ARTREG_GAR_API_ENDPOINT": base,
        "ARTREG_GCP_IAM_CREDENTIALS_ENDPOINT": base,
        "ARTREG_GAR_REGISTRY_ENDPOINT": registry.url,
    }
    binding = GarBinding(repository_name="images", pull_service_account_email=PULL_SA)
    reg = gar.from_binding("artifact-registry", binding, env, auth_request=LoopbackOnlyRequest())
    yield reg
    await reg.aclose()


async def push_image(registry: RunningRegistry, repo: str) -> tuple[bytes, str, str, int]:
    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    config_digest = sha256_digest(config)
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
        }
    ).encode()
    async with RegistryClient(
        registry.url, credentials=Basic("oauth2accesstoken", TOKEN)
    ) as client:
        await client.upload_blob(repo, config_digest, config)
        digest = await client.put_manifest(repo, "v1", manifest, OCI_MANIFEST)
    return manifest, digest, config_digest, len(config)


async def test_manifest_and_blob_reads(
    provider: gar.GarArtifactRegistry, registry: RunningRegistry, fake: FakeGcp
) -> None:
    assert provider.registry_endpoint() == "https://europe-west1-docker.pkg.dev"
    assert provider.registry_data_endpoint() == registry.url
    repo = (await provider.create_repository("app")).name
    assert repo == "fake-project/images/app"
    manifest, digest, config_digest, size = await push_image(registry, repo)

    assert await provider.get_manifest(repo, "v1") == (manifest, OCI_MANIFEST)
    assert await provider.get_manifest(repo, digest) == (manifest, OCI_MANIFEST)
    assert await provider.head_manifest(repo, "v1") == ManifestHead(
        content_type=OCI_MANIFEST, digest=digest
    )
    assert await provider.head_blob(repo, config_digest) == size
    assert await provider.head_manifest(repo, "nope") is None
    assert await provider.head_blob(repo, "sha256:" + "1" * 64) is None
    with pytest.raises(RemoteResourceNotFound):
        await provider.get_manifest(repo, "nope")
    # the pull account's token was minted for the reads (and reused from the cache)
    assert fake.generate_requests and {r["email"] for r in fake.generate_requests} == {PULL_SA}
