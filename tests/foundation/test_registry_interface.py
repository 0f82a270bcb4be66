"""The ArtifactRegistry interface's provided methods behave as artreg.registry documents."""

from __future__ import annotations

import inspect

import pytest

from artreg.errors import OperationNotSupported
from artreg.registry import ArtifactRegistry
from artreg.types import (
    ArtifactRegistryCredentials,
    ArtifactRegistryPermissions,
    AwsCrossAccountAccess,
    CrossAccountAccess,
    CrossAccountPermissions,
    RegistryAuthMethod,
    RepositoryResponse,
)


class MinimalRegistry(ArtifactRegistry):
    """Implements only the seven required methods, each with a real, if trivial, behaviour."""

    def __init__(self) -> None:
        self.repos: set[str] = set()

    async def create_repository(self, repo_name: str) -> RepositoryResponse:
        self.repos.add(f"ns/{repo_name}")
        return RepositoryResponse(name=f"ns/{repo_name}")

    async def get_repository(self, repo_id: str) -> RepositoryResponse:
        assert repo_id in self.repos
        return RepositoryResponse(name=repo_id)

    async def add_cross_account_access(self, repo_id: str, access: CrossAccountAccess) -> None:
        return None

    async def remove_cross_account_access(self, repo_id: str, access: CrossAccountAccess) -> None:
        return None

    async def get_cross_account_access(self, repo_id: str) -> CrossAccountPermissions:
        return CrossAccountPermissions(access=AwsCrossAccountAccess([], [], [], []))

    async def generate_credentials(
        self, repo_id: str, permissions: ArtifactRegistryPermissions, ttl_seconds: int | None = None
    ) -> ArtifactRegistryCredentials:
        return ArtifactRegistryCredentials(RegistryAuthMethod.BASIC, "", "")

    async def delete_repository(self, repo_id: str) -> None:
        self.repos.discard(repo_id)


def test_seven_required_methods_are_abstract() -> None:
    assert ArtifactRegistry.__abstractmethods__ == {
        "create_repository",
        "get_repository",
        "add_cross_account_access",
        "remove_cross_account_access",
        "get_cross_account_access",
        "generate_credentials",
        "delete_repository",
    }
    with pytest.raises(TypeError):
        ArtifactRegistry()  # type: ignore[abstract]


def test_fourteen_methods_async_except_endpoint_and_prefix() -> None:
    names = [
        "create_repository", "get_repository", "add_cross_account_access",
        "remove_cross_account_access", "get_cross_account_access", "generate_credentials",
        "delete_repository", "cleanup_credentials", "generate_blob_download_url",
        "get_manifest", "head_manifest", "head_blob",
    ]  # fmt: skip
    for name in names:
        assert inspect.iscoroutinefunction(getattr(ArtifactRegistry, name)), name
    assert not inspect.iscoroutinefunction(ArtifactRegistry.registry_endpoint)
    assert not inspect.iscoroutinefunction(ArtifactRegistry.upstream_repository_prefix)


def test_round_trip_invariant_is_documented() -> None:
    import artreg.registry as module

    assert module.__doc__ is not None and "round-trip invariant" in module.__doc__
    assert "get_repository((await r.create_repository(x)).name)" in module.__doc__


async def test_provided_defaults() -> None:
    reg = MinimalRegistry()
    created = await reg.create_repository("app")
    assert (await reg.get_repository(created.name)).name == created.name
    assert reg.registry_endpoint() == ""
    assert reg.upstream_repository_prefix() == ""
    assert await reg.cleanup_credentials(created.name) is None
    assert await reg.generate_blob_download_url(created.name, "sha256:" + "0" * 64, 60) is None
    cases = [
        ("get_manifest", reg.get_manifest(created.name, "latest"), "manifest fetching"),
        ("head_manifest", reg.head_manifest(created.name, "latest"), "manifest checking"),
        ("head_blob", reg.head_blob(created.name, "sha256:" + "0" * 64), "blob checking"),
    ]
    for operation, call, what in cases:
        with pytest.raises(OperationNotSupported) as info:
            await call
        assert info.value.context == {
            "operation": operation,
            "reason": f"This artifact registry provider does not support {what}",
        }
        assert info.value.http_status_code == 501
