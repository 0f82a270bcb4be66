"""Every sidecar method on a Local binding, through a real WebSocket, against Debian's
distribution registry."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from artreg.rpcspec import METHODS
from artreg_rpc import RpcServer
from tests.marker import MARKER_CONFIG_DIGEST, MARKER_DIGEST, MARKER_MANIFEST
from tests.registries import RunningRegistry
from tests.rpc.client import RpcFailure, rpc_client
from tests.rpc.conftest import BINDING

B = {"bindingName": BINDING}
AWS = {
    "type": "aws",
    "accountIds": ["123456789012"],
    "regions": ["us-east-1"],
    "roleArns": [],
    "allowedServiceTypes": ["worker"],
}


async def test_repository_lifecycle(sidecar: RpcServer) -> None:
    async with rpc_client(sidecar.url) as rpc:
        created = await rpc.call("createRepository", **B, repoName="web")
        assert created == {"name": "artifacts/web", "uri": created["uri"], "createdAt": None}
        assert created["uri"].endswith("/artifacts/web")
        got = await rpc.call("getRepository", **B, repoId=created["name"])
        assert got == created
        assert await rpc.call("deleteRepository", **B, repoId=created["name"]) is None
        with pytest.raises(RpcFailure) as missing:
            await rpc.call("getRepository", **B, repoId="artifacts/never-made")
    err = missing.value
    assert err.code == -32000
    assert err.data["code"] == "RESOURCE_NOT_FOUND"
    assert err.data["context"] == {"resource_id": "artifacts/never-made"}
    assert (
        err.error["message"] == err.data["message"] == "Resource 'artifacts/never-made' not found"
    )
    assert err.data["httpStatusCode"] == 404 and err.data["internal"] is False


async def test_credentials_and_endpoints(sidecar: RpcServer, registry: RunningRegistry) -> None:
    async with rpc_client(sidecar.url) as rpc:
        creds = await rpc.call(
            "generateCredentials", **B, repoId="artifacts/web", permissions="push-pull"
        )
        assert creds == {"authMethod": "basic", "username": "", "password": "", "expiresAt": None}
        creds = await rpc.call(
            "generateCredentials", **B, repoId="artifacts/web", permissions="pull", ttlSeconds=60
        )
        assert creds["authMethod"] == "basic"
        assert await rpc.call("cleanupCredentials", **B, repoId="artifacts/web") is None
        assert await rpc.call("registryEndpoint", **B) == f"http://{registry.host}"
        assert await rpc.call("upstreamRepositoryPrefix", **B) == "artifacts/default"


@pytest.mark.parametrize(
    "method",
    ["addCrossAccountAccess", "removeCrossAccountAccess", "getCrossAccountAccess"],
)
async def test_cross_account_is_not_supported_locally(sidecar: RpcServer, method: str) -> None:
    params: dict[str, Any] = {**B, "repoId": "artifacts/web"}
    if method != "getCrossAccountAccess":
        params["access"] = AWS
    async with rpc_client(sidecar.url) as rpc:
        with pytest.raises(RpcFailure) as failure:
            await rpc.call(method, **params)
    assert failure.value.code == -32000
    data = failure.value.data
    assert data["code"] == "OPERATION_NOT_SUPPORTED"
    assert (
        data["context"]["reason"] == "Local artifact registry does not support cross-account access"
    )
    assert data["retryable"] is False and data["httpStatusCode"] == 501


async def test_alien_platform_tag_is_accepted(sidecar: RpcServer) -> None:
    """alien's Rust form (``platform`` tag) decodes too: the call reaches the provider."""
    access = {k: v for k, v in AWS.items() if k != "type"} | {"platform": "aws"}
    async with rpc_client(sidecar.url) as rpc:
        with pytest.raises(RpcFailure) as failure:
            await rpc.call("addCrossAccountAccess", **B, repoId="artifacts/web", access=access)
    assert failure.value.data["code"] == "OPERATION_NOT_SUPPORTED"


async def test_manifest_and_blob_reads(sidecar: RpcServer) -> None:
    manifest, digest, config_digest = MARKER_MANIFEST, MARKER_DIGEST, MARKER_CONFIG_DIGEST
    absent = "sha256:" + "0" * 64
    async with rpc_client(sidecar.url) as rpc:
        repo = (await rpc.call("createRepository", **B, repoName="reads"))["name"]
        got = await rpc.call("getManifest", **B, repoName=repo, reference="latest")
        assert base64.b64decode(got["manifest"]) == manifest
        assert got["contentType"] == "application/vnd.oci.image.manifest.v1+json"
        by_digest = await rpc.call("getManifest", **B, repoName=repo, reference=digest)
        assert by_digest == got
        head = await rpc.call("headManifest", **B, repoName=repo, reference="latest")
        assert head == {
            "contentType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest,
        }
        assert await rpc.call("headManifest", **B, repoName=repo, reference="nope") is None
        assert await rpc.call("headBlob", **B, repoName=repo, digest=config_digest) == 90
        assert await rpc.call("headBlob", **B, repoName=repo, digest=absent) is None
        url = await rpc.call(
            "generateBlobDownloadUrl", **B, repoName=repo, digest=config_digest, ttlSeconds=300
        )
        assert url is None
        with pytest.raises(RpcFailure) as missing:
            await rpc.call("getManifest", **B, repoName=repo, reference="nope")
    assert missing.value.code == -32000
    assert missing.value.data["code"] == "REMOTE_RESOURCE_NOT_FOUND"


async def test_discover_returns_the_committed_openrpc_document(
    sidecar: RpcServer, repo_root: Path
) -> None:
    async with rpc_client(sidecar.url) as rpc:
        doc = await rpc.call("rpc.discover")
    assert doc == json.loads((repo_root / "schemas" / "openrpc.json").read_text())
    assert {m["name"] for m in doc["methods"]} == {m.rpc_name for m in METHODS}


#: The first required param of the methods that name no binding.
FIRST_REQUIRED = {
    "image.copy": "src",
    "image.pushLayout": "dir",
    "image.pullLayout": "ref",
    "image.listTags": "ref",
    "image.digest": "ref",
}


async def test_every_method_in_the_table_is_served(sidecar: RpcServer) -> None:
    """No method of the table answers 'method not found' (they all reach their params check)."""
    async with rpc_client(sidecar.url) as rpc:
        for method in METHODS:
            reply = await rpc.request(method.rpc_name, {})
            assert reply["error"]["code"] == -32602, method.rpc_name
            first = FIRST_REQUIRED.get(method.rpc_name, "bindingName")
            assert reply["error"]["data"]["context"]["field_name"] == first, method.rpc_name
