"""The Local provider against real registries (docs-site: providers/local.md)."""

from __future__ import annotations

import json
import uuid

import pytest

from artreg.binding import LocalBinding
from artreg.errors import (
    BindingConfigInvalid,
    InvalidInput,
    OperationNotSupported,
    Other,
    RemoteResourceNotFound,
    ResourceNotFound,
)
from artreg.loader import clear_cache, load_artifact_registry
from artreg.oci import RegistryClient
from artreg.providers.local import (
    MARKER_CONFIG,
    LocalArtifactRegistry,
    from_binding,
    marker_manifest,
)
from artreg.types import (
    ArtifactRegistryPermissions,
    AwsCrossAccountAccess,
    ComputeServiceType,
    GcpCrossAccountAccess,
    ManifestHead,
    encode,
)
from tests.marker import MARKER_CONFIG_DIGEST, MARKER_DIGEST, MARKER_MANIFEST
from tests.oci.helpers import make_image, serve_asgi, sha256
from tests.registries import RunningRegistry

EXPECTED_CONFIG = (
    b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{}}'
)


@pytest.fixture
def local(any_registry: RunningRegistry) -> LocalArtifactRegistry:
    return LocalArtifactRegistry("artifacts", any_registry.host)


def repo_name() -> str:
    return f"alien-test-local-{uuid.uuid4().hex[:12]}"


def test_names_and_endpoints() -> None:
    reg = LocalArtifactRegistry("artifacts", "localhost:5000")
    assert reg.registry_endpoint() == "http://localhost:5000"
    assert reg.upstream_repository_prefix() == "artifacts/default"
    assert (
        LocalArtifactRegistry("a", "https://r.example").registry_endpoint() == "https://r.example"
    )
    assert LocalArtifactRegistry("a", "http://h:1").registry_endpoint() == "http://h:1"


def test_marker_bytes() -> None:
    assert MARKER_CONFIG == EXPECTED_CONFIG
    assert marker_manifest() == MARKER_MANIFEST


async def test_lifecycle(local: LocalArtifactRegistry, any_registry: RunningRegistry) -> None:
    logical = repo_name()
    created = await local.create_repository(logical)
    assert created.name == f"artifacts/{logical}"
    assert created.uri == f"{any_registry.host}/artifacts/{logical}"
    assert created.created_at is None
    got = await local.get_repository(created.name)
    assert got == created  # the round-trip invariant of artreg.registry
    # A logical name is accepted too (the binding prefix is not re-applied).
    assert (await local.get_repository(logical)).name == created.name
    # Idempotent.
    assert await local.create_repository(logical) == created
    await local.delete_repository(created.name)
    await local.aclose()


async def test_marker_pushed_exactly(
    local: LocalArtifactRegistry, any_registry: RunningRegistry
) -> None:
    created = await local.create_repository(repo_name())
    body, media = await local.get_manifest(created.name, "latest")
    assert body == MARKER_MANIFEST
    assert media == "application/vnd.oci.image.manifest.v1+json"
    assert await local.head_manifest(created.name, "latest") == ManifestHead(
        content_type=media, digest=MARKER_DIGEST
    )
    assert await local.head_blob(created.name, MARKER_CONFIG_DIGEST) == 90
    async with RegistryClient(any_registry.host) as client:
        assert await client.read_blob(created.name, MARKER_CONFIG_DIGEST) == EXPECTED_CONFIG
    await local.aclose()


async def test_missing_repository_is_404(local: LocalArtifactRegistry) -> None:
    missing = f"artifacts/{repo_name()}"
    with pytest.raises(ResourceNotFound) as info:
        await local.get_repository(missing)
    assert info.value.http_status_code == 404
    assert info.value.context == {"resource_id": missing}
    await local.aclose()


async def test_cross_account_not_supported(local: LocalArtifactRegistry) -> None:
    aws = AwsCrossAccountAccess(
        account_ids=["123456789012"],
        regions=["us-east-1"],
        role_arns=[],
        allowed_service_types=[ComputeServiceType.WORKER],
    )
    gcp = GcpCrossAccountAccess(
        project_numbers=["1"], service_account_emails=[], allowed_service_types=[]
    )
    for call, op in (
        (local.add_cross_account_access("r", aws), "add_cross_account_access"),
        (local.remove_cross_account_access("r", gcp), "remove_cross_account_access"),
        (local.get_cross_account_access("r"), "get_cross_account_access"),
    ):
        with pytest.raises(OperationNotSupported) as info:
            await call
        assert info.value.context == {
            "operation": op,
            "reason": "Local artifact registry does not support cross-account access",
        }
        assert info.value.http_status_code == 501


async def test_credentials_shape(local: LocalArtifactRegistry) -> None:
    for perms in ArtifactRegistryPermissions:
        creds = await local.generate_credentials("artifacts/x", perms, 3600)
        assert json.loads(encode(creds)) == {
            "authMethod": "basic",
            "username": "",
            "password": "",
            "expiresAt": None,
        }


async def test_manifest_helpers_any_repository(
    local: LocalArtifactRegistry, any_registry: RunningRegistry
) -> None:
    image = make_image(b"some layer")
    async with RegistryClient(any_registry.host) as client:
        for digest, data in image.blobs().items():
            await client.upload_blob("other/app", digest, data)
        await client.put_manifest("other/app", "v1", image.manifest, image.media_type)
    assert await local.get_manifest("other/app", "v1") == (image.manifest, image.media_type)
    assert await local.get_manifest("other/app", image.digest) == (image.manifest, image.media_type)
    head = await local.head_manifest("other/app", "v1")
    assert head == ManifestHead(content_type=image.media_type, digest=image.digest)
    assert await local.head_blob("other/app", sha256(b"some layer")) == len(b"some layer")
    assert await local.head_manifest("other/app", "v2") is None
    assert await local.head_blob("other/app", sha256(b"absent")) is None
    with pytest.raises(RemoteResourceNotFound) as info:
        await local.get_manifest("other/app", "v2")
    assert info.value.context["resource_name"] == "other/app:v2"
    await local.aclose()


async def test_invalid_input_before_any_request() -> None:
    reg = LocalArtifactRegistry("artifacts", "127.0.0.1:9")  # nothing listens there
    cases = [
        (reg.get_manifest("Bad", "latest"), "repo_name"),
        (reg.get_manifest("ok", "no good"), "reference"),
        (reg.head_manifest("ok", "sha256:zz"), "reference"),
        (reg.head_blob("ok", "latest"), "digest"),
        (reg.head_blob("a//b", "sha256:" + "0" * 64), "repo_name"),
        (reg.create_repository("UPPER"), "repo_name"),
        (reg.get_repository("artifacts/Bad Name"), "repo_id"),
    ]
    for call, field in cases:
        with pytest.raises(InvalidInput) as info:
            await call
        assert info.value.context["field_name"] == field


async def test_upstream_errors() -> None:
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    async def fail(request: object) -> Response:
        return Response(b"boom", status_code=500)

    app = Starlette(routes=[Route("/{p:path}", fail, methods=["GET", "HEAD", "POST", "PUT"])])
    with serve_asgi(app) as host:
        reg = LocalArtifactRegistry("artifacts", host)
        with pytest.raises(Other) as info:
            await reg.get_manifest("some/repo", "v1")
        assert info.value.context == {
            "message": "Upstream registry returned 500 for manifest some/repo:v1"
        }
        with pytest.raises(Other, match="Failed to check repository existence"):
            await reg.get_repository("artifacts/x")
        with pytest.raises(Other, match="Failed to push config blob for repository 'x'"):
            await reg.create_repository("x")
        await reg.aclose()


def test_from_binding_and_loader(any_registry: RunningRegistry) -> None:
    binding = LocalBinding(registry_url=any_registry.host, data_dir=None)
    reg = from_binding("artifacts", binding, {})
    assert isinstance(reg, LocalArtifactRegistry)
    clear_cache()
    env = {
        "ALIEN_MY_ARTIFACTS_BINDING": json.dumps(
            {"service": "local", "registryUrl": any_registry.host, "dataDir": None}
        )
    }
    loaded = load_artifact_registry("my-artifacts", env)
    assert isinstance(loaded, LocalArtifactRegistry)
    assert loaded.binding_name == "my-artifacts"
    assert loaded.registry_endpoint() == f"http://{any_registry.host}"


def test_bad_bindings() -> None:
    with pytest.raises(BindingConfigInvalid) as info:
        from_binding("artifacts", LocalBinding(registry_url="", data_dir=None), {})
    assert info.value.context["reason"] == "Registry endpoint cannot be empty"
    assert info.value.context["env_var"] == "ALIEN_ARTIFACTS_BINDING"
    with pytest.raises(BindingConfigInvalid) as info:
        from_binding(
            "artifacts",
            LocalBinding(registry_url={"secretRef": {"name": "n", "key": "k"}}, data_dir=None),
            {},
        )
    assert info.value.context["reason"] == "Failed to extract registry_url from binding"
    clear_cache()
    env = {"ALIEN_X_BINDING": json.dumps({"service": "local", "registryUrl": ""})}
    with pytest.raises(BindingConfigInvalid):
        load_artifact_registry("x", env)  # dataDir key missing


def test_usable_from_successive_event_loops(any_registry: RunningRegistry) -> None:
    """Loader-cached instances serve one asyncio.run after another (as CLI calls do)."""
    import asyncio

    local = LocalArtifactRegistry("artifacts", any_registry.host)
    created = asyncio.run(local.create_repository("loops"))
    assert asyncio.run(local.get_repository(created.name)) == created
    assert asyncio.run(local.head_manifest(created.name, "latest")) is not None
