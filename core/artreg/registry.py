"""The ArtifactRegistry interface: seven required methods and the provided ones
(docs-site: reference/providers.md).

Routable names: ``create_repository(logical)`` returns a :class:`RepositoryResponse` whose ``name``
is the *routable* name; every other method takes that name as ``repo_id`` and never re-applies a
prefix. The round-trip invariant every provider keeps:
``(await r.get_repository((await r.create_repository(x)).name)).name == (await r.create_repository(x)).name``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from artreg.errors import OperationNotSupported
from artreg.types import (
    ArtifactRegistryCredentials,
    ArtifactRegistryPermissions,
    CrossAccountAccess,
    CrossAccountPermissions,
    ManifestHead,
    RepositoryResponse,
)

__all__ = ["ArtifactRegistry"]


class ArtifactRegistry(ABC):
    """Container image repositories on one registry, configured by one binding."""

    #: The binding this instance was loaded from (``""`` when built directly).
    binding_name: str = ""

    # -- required --------------------------------------------------------------------------------

    @abstractmethod
    async def create_repository(self, repo_name: str) -> RepositoryResponse:
        """Create a repository from a logical name; the result's ``name`` is the routable name.
        ``uri`` is None while the repository is still being created."""

    @abstractmethod
    async def get_repository(self, repo_id: str) -> RepositoryResponse:
        """Describe a repository by its routable name (as returned by ``create_repository``)."""

    @abstractmethod
    async def add_cross_account_access(self, repo_id: str, access: CrossAccountAccess) -> None:
        """Grant other accounts/projects pull access, merged with what is already granted."""

    @abstractmethod
    async def remove_cross_account_access(self, repo_id: str, access: CrossAccountAccess) -> None:
        """Revoke the given accounts, roles, projects, service accounts and service types."""

    @abstractmethod
    async def get_cross_account_access(self, repo_id: str) -> CrossAccountPermissions:
        """The cross-account access currently granted on the repository."""

    @abstractmethod
    async def generate_credentials(
        self,
        repo_id: str,
        permissions: ArtifactRegistryPermissions,
        ttl_seconds: int | None = None,
    ) -> ArtifactRegistryCredentials:
        """Short-lived credentials to pull (or push and pull) the repository."""

    @abstractmethod
    async def delete_repository(self, repo_id: str) -> None:
        """Delete the repository and its images; never the parent registry."""

    # -- provided --------------------------------------------------------------------------------

    def registry_endpoint(self) -> str:
        """The upstream registry's base URL with its scheme, e.g.
        ``https://123456789012.dkr.ecr.us-east-1.amazonaws.com``; ``""`` when unknown."""
        return ""

    def registry_data_endpoint(self) -> str:
        """Where the registry's ``/v2/`` API is reached, with its scheme: ``registry_endpoint()``
        unless the provider's configuration points elsewhere (a test server, a private link)."""
        return self.registry_endpoint()

    def upstream_repository_prefix(self) -> str:
        """The OCI path prefix of this binding's repositories (``""``: no shared repository)."""
        return ""

    async def cleanup_credentials(self, repo_id: str) -> None:
        """Clean up anything ``generate_credentials`` created; a no-op unless a provider did."""
        return None

    async def generate_blob_download_url(
        self, repo_name: str, digest: str, ttl_seconds: int
    ) -> str | None:
        """A pre-signed URL that downloads the blob directly, or None when unsupported."""
        return None

    async def get_manifest(self, repo_name: str, reference: str) -> tuple[bytes, str]:
        """The manifest's exact bytes and its content type, by tag or digest."""
        raise OperationNotSupported(
            operation="get_manifest",
            reason="This artifact registry provider does not support manifest fetching",
        )

    async def head_manifest(self, repo_name: str, reference: str) -> ManifestHead | None:
        """The manifest's content type and digest, or None when it does not exist."""
        raise OperationNotSupported(
            operation="head_manifest",
            reason="This artifact registry provider does not support manifest checking",
        )

    async def head_blob(self, repo_name: str, digest: str) -> int | None:
        """The blob's size in bytes, or None when it does not exist."""
        raise OperationNotSupported(
            operation="head_blob",
            reason="This artifact registry provider does not support blob checking",
        )

    async def aclose(self) -> None:
        """Release connections and clients held by this instance."""
        return None
