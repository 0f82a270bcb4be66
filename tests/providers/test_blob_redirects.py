# ruff: noqa: F811 - the moto fixtures are imported by name
"""Blob downloads that the registry redirects to object storage, as real ECR (to S3) and ACR
(to Azure Blob Storage) do: the OCI client follows the 307 to another host and sends that host
none of the registry's credentials (the storage fake refuses any ``Authorization`` header, as
S3 and Azure Storage refuse a pre-signed request that also carries one). Pulls come back byte
for byte."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import pytest

from artreg.binding import AcrBinding
from artreg.providers import acr
from tests.fakes.azure import FakeAcr, FakeAzureAd
from tests.fakes.blob_storage import FakeBlobStorage
from tests.fakes.ecr_redirect import FakeEcrRegistry
from tests.fakes.moto_server import ACCOUNT_ID, MotoServer, moto, moto_server  # noqa: F401
from tests.fakes.tls import LoopbackServer, TestCertificate, make_certificate
from tests.providers.test_ecr import PULL_ROLE, make

LAYERS = [b"first layer " * 50_000, b"second layer " * 70_000]  # over a megabyte together


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> TestCertificate:
    return make_certificate(tmp_path_factory.mktemp("tls"))


def serve_storage(storage: FakeBlobStorage, tls: TestCertificate | None) -> LoopbackServer:
    """Storage on ``localhost``: another host than the registry's ``127.0.0.1``."""
    server = LoopbackServer(storage.app, tls=tls).start()
    storage.base_url = f"{'https' if tls else 'http'}://localhost:{server.port}"
    return server


async def test_ecr_blob_redirect_to_storage(moto: MotoServer) -> None:
    storage = FakeBlobStorage()
    registry = FakeEcrRegistry(password=f"{ACCOUNT_ID}-auth-token", storage=storage)
    storage_server = serve_storage(storage, None)
    try:
        with LoopbackServer(registry.app) as registry_server:
            image = registry.put_image("test-app", "v1", LAYERS)
            env = moto.env(ARTREG_ECR_REGISTRY_ENDPOINT=registry_server.base_url)
            provider = make(moto, pull=PULL_ROLE, env=env)
            try:
                client = provider.registry_data_client()
                body, _ = await client.get_manifest("test-app", "v1")
                assert body == image["manifest"]
                manifest = json.loads(body)
                for layer in LAYERS:
                    got = await client.read_blob("test-app", sha256(layer))
                    assert got == layer
                config = manifest["config"]["digest"]
                assert await client.read_blob("test-app", config) == image[config]
            finally:
                await provider.aclose()
    finally:
        storage_server.stop()
    # every blob GET was redirected, and storage served each one without credentials
    redirects = [r for r in registry.requests if r[2] == 307]
    assert len(redirects) == 3
    downloads = [r for r in storage.requests if r[0] == "GET"]
    assert len(downloads) == 3 and not any(authorized for *_, authorized in downloads)
    assert storage.violations == [] and registry.violations == []


@pytest.fixture
def acr_fakes(cert: TestCertificate) -> Iterator[tuple[FakeAzureAd, FakeAcr, FakeBlobStorage]]:
    aad = FakeAzureAd(tenant_id="t-1", client_id="c-1", client_secret="s-1")
    registry = FakeAcr(registry_name="registrytest", aad=aad)
    storage = FakeBlobStorage()
    registry.storage = storage
    storage_server = serve_storage(storage, cert)
    try:
        with LoopbackServer(aad.app, tls=cert) as a, LoopbackServer(registry.app, tls=cert) as r:
            aad.base_url, registry.base_url = a.base_url, r.base_url
            yield aad, registry, storage
    finally:
        storage_server.stop()
    assert aad.violations == [] and registry.violations == [] and storage.violations == []


async def test_acr_blob_redirect_to_storage(
    acr_fakes: tuple[FakeAzureAd, FakeAcr, FakeBlobStorage], cert: TestCertificate
) -> None:
    aad, registry, storage = acr_fakes
    blobs = {sha256(b): b for b in LAYERS}
    for data in blobs.values():
        registry.put_blob("team/app", data)
    env = {
        "AZURE_TENANT_ID": "t-1",
        "AZURE_CLIENT_ID": "c-1",
        "AZURE_CLIENT_SECRET": "s-1",
        "AZURE_AUTHORITY_HOST": aad.base_url,
        "ARTREG_AZURE_CA_BUNDLE": str(cert.ca_file),
        "ARTREG_ACR_LOGIN_SERVER": registry.base_url,
    }
    binding = AcrBinding(registry_name="registrytest", resource_group_name="rg")
    provider = acr.from_binding("b", binding, env)
    try:
        client = provider.registry_data_client()
        for digest, data in blobs.items():
            assert await client.read_blob("team/app", digest) == data
        assert await provider.head_blob("team/app", sha256(LAYERS[0])) == len(LAYERS[0])
    finally:
        await provider.aclose()
    downloads = [r for r in storage.requests if r[0] == "GET"]
    assert len(downloads) == 2 and not any(authorized for *_, authorized in downloads)
