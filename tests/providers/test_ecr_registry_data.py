# ruff: noqa: F811 - the moto fixtures are imported by name
"""ECR registry data: manifests and blobs read from the registry host with the provider's own
ECR credentials (Debian's docker-registry with htpasswd basic auth stands in for
``{account}.dkr.ecr.{region}.amazonaws.com``, accepting ``AWS`` and moto's token), and layer
download URLs from GetDownloadUrlForLayer (a stub for that call alone: moto lacks it)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from artreg.errors import ArtregError, InvalidInput, RemoteResourceNotFound
from artreg.types import ArtifactRegistryPermissions
from tests.fakes.ecr_stub import EcrOperationStub
from tests.fakes.moto_server import ACCOUNT_ID, MotoServer, moto, moto_server  # noqa: F401
from tests.peers import write_htpasswd
from tests.providers.test_ecr import PULL_ROLE, make
from tests.registries import RunningRegistry, distribution_registry

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MOTO_TOKEN_PASSWORD = f"{ACCOUNT_ID}-auth-token"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def htpasswd_registry(tmp: Path, password: str) -> Iterator[RunningRegistry]:
    users = write_htpasswd(tmp, "AWS", password)
    auth = f"auth:\n  htpasswd:\n    realm: ecr-test\n    path: {users}\n"
    with distribution_registry(tmp, auth_yaml=auth) as registry:
        yield registry


@pytest.fixture
def ecr_registry_host(tmp_path: Path) -> Iterator[RunningRegistry]:
    yield from htpasswd_registry(tmp_path, MOTO_TOKEN_PASSWORD)


def push_image(registry: RunningRegistry, repo: str, tag: str) -> dict[str, object]:
    """Push a one-layer OCI image with plain HTTP requests (monolithic uploads)."""
    auth = ("AWS", MOTO_TOKEN_PASSWORD)
    layer = b"layer bytes " * 1000
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [sha256(layer)]},
        }
    ).encode()
    with httpx.Client(base_url=registry.url, auth=auth, timeout=10) as client:
        for blob in (config, layer):
            start = client.post(f"/v2/{repo}/blobs/uploads/")
            assert start.status_code == 202, start.text
            location = start.headers["Location"]
            separator = "&" if "?" in location else "?"
            done = client.put(
                f"{location}{separator}digest={sha256(blob)}",
                content=blob,
                headers={"Content-Type": "application/octet-stream"},
            )
            assert done.status_code == 201, done.text
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": sha256(config),
                    "size": len(config),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": sha256(layer),
                        "size": len(layer),
                    }
                ],
            },
            indent=3,  # unusual formatting: the bytes must come back exactly
        ).encode()
        put = client.put(
            f"/v2/{repo}/manifests/{tag}", content=manifest, headers={"Content-Type": OCI_MANIFEST}
        )
        assert put.status_code == 201, put.text
    return {"manifest": manifest, "layer": layer, "config": config}


async def test_manifests_and_blobs_through_ecr_credentials(
    moto: MotoServer, ecr_registry_host: RunningRegistry
) -> None:
    image = push_image(ecr_registry_host, "test-app", "v1")
    manifest = image["manifest"]
    layer = image["layer"]
    assert isinstance(manifest, bytes) and isinstance(layer, bytes)
    env = moto.env(ARTREG_ECR_REGISTRY_ENDPOINT=ecr_registry_host.url)
    reg = make(moto, pull=PULL_ROLE, env=env)
    assert reg.registry_endpoint() == ecr_registry_host.url
    try:
        body, content_type = await reg.get_manifest("test-app", "v1")
        assert body == manifest
        assert content_type == OCI_MANIFEST
        head = await reg.head_manifest("test-app", "v1")
        assert head is not None
        assert (head.content_type, head.digest) == (OCI_MANIFEST, sha256(manifest))
        by_digest, _ = await reg.get_manifest("test-app", sha256(manifest))
        assert by_digest == manifest
        assert await reg.head_blob("test-app", sha256(layer)) == len(layer)

        assert await reg.head_manifest("test-app", "missing") is None
        assert await reg.head_blob("test-app", sha256(b"absent")) is None
        with pytest.raises(RemoteResourceNotFound):
            await reg.get_manifest("test-app", "missing")
        with pytest.raises(InvalidInput):
            await reg.head_blob("test-app", "sha256:nothex")
    finally:
        await reg.aclose()
    # the registry was reached with the pull role's ECR token
    tokens = moto.calls("GetAuthorizationToken")
    assert tokens and all(c.session is not None and c.session.role_arn == PULL_ROLE for c in tokens)
    assert all(
        c.params["RoleSessionName"].startswith("alien-ecr-access-")
        and c.params["DurationSeconds"] == "3600"
        for c in moto.calls("AssumeRole")
    )


async def test_a_registry_refusing_the_token_is_an_error_without_the_token(
    moto: MotoServer, tmp_path: Path
) -> None:
    for registry in htpasswd_registry(tmp_path, "some-other-password"):
        reg = make(moto, env=moto.env(ARTREG_ECR_REGISTRY_ENDPOINT=registry.url))
        with pytest.raises(ArtregError) as info:
            await reg.get_manifest("test-app", "v1")
        await reg.aclose()
        assert "401" in info.value.message
        dumped = json.dumps(info.value.to_dict())
        assert MOTO_TOKEN_PASSWORD not in dumped and MOTO_TOKEN_PASSWORD not in repr(info.value)


# -- GetDownloadUrlForLayer ---------------------------------------------------------------------

DIGEST = "sha256:" + "ab" * 32
URL = (
    "https://prod-us-east-1-starport-layer-bucket.s3.us-east-1.amazonaws.com/"
    "b5c6-123456789012-0123/test-app/" + DIGEST[7:] + "?X-Amz-Signature=abc"
)


async def test_blob_download_url_from_get_download_url_for_layer(moto: MotoServer) -> None:
    answer = {"downloadUrl": URL, "layerDigest": DIGEST}
    with EcrOperationStub(
        "GetDownloadUrlForLayer", answer=answer, required_fields=("repositoryName", "layerDigest")
    ) as stub:
        env = moto.env(AWS_ENDPOINT_URL_ECR=stub.url, AWS_ACCOUNT_ID=ACCOUNT_ID)
        reg = make(moto, pull=PULL_ROLE, env=env)
        assert await reg.generate_blob_download_url("test-app", DIGEST, 300) == URL
        await reg.aclose()
    assert [r.body for r in stub.requests] == [
        {"repositoryName": "test-app", "layerDigest": DIGEST}
    ]
    assert stub.requests[0].access_key_id == "testing"  # the base credentials, as alien did
    assert stub.rejected == []


async def test_blob_download_url_errors(moto: MotoServer) -> None:
    error = (400, "LayersNotFoundException", "The specified layers could not be found")
    with EcrOperationStub("GetDownloadUrlForLayer", error=error) as stub:
        reg = make(moto, env=moto.env(AWS_ENDPOINT_URL_ECR=stub.url))
        with pytest.raises(RemoteResourceNotFound) as info:
            await reg.generate_blob_download_url("test-app", DIGEST, 300)
        assert info.value.context["resource_name"] == "test-app"
        with pytest.raises(InvalidInput) as bad:
            await reg.generate_blob_download_url("test-app", "not-a-digest", 300)
        assert bad.value.context["field_name"] == "digest"
        await reg.aclose()
    assert len(stub.requests) == 1  # the bad digest never left the process


async def test_credentials_for_the_registry_are_pull_credentials(moto: MotoServer) -> None:
    reg = make(moto, pull=PULL_ROLE)
    creds = await reg.generate_credentials("test-app", ArtifactRegistryPermissions.PULL, 3600)
    assert creds.password == MOTO_TOKEN_PASSWORD  # what the htpasswd registry above accepts
    await reg.aclose()
