"""Local provider: any OCI registry reached at ``registryUrl`` (the embedded one by default),
spoken to over plain HTTP unless the URL says https, anonymously (docs-site: providers/local.md) or
with the binding's ``username`` and ``password``.

Repositories live under the binding's name as a namespace: the logical name ``x`` is the routable
name ``{binding}/x``. Registries create repositories on first push, so ``create_repository``
pushes a config blob and a marker manifest to ``{binding}/{x}:latest``, byte-for-byte what alien
pushes; ``get_repository`` looks that tag up.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Final

import httpx

from artreg.binding import LocalBinding, binding_env_var_name, resolve_value
from artreg.digest import sha256_digest
from artreg.errors import (
    ArtregError,
    BindingConfigInvalid,
    InvalidInput,
    Other,
    RemoteResourceNotFound,
    ResourceNotFound,
)
from artreg.oci.errors import NOT_FOUND_CODES, registry_status
from artreg.oci.mediatypes import OCI_CONFIG, OCI_MANIFEST
from artreg.oci.reference import validate_repository
from artreg.oci.transport import trusted_ssl_context
from artreg.providers._no_cross_account import NoCrossAccountAccess
from artreg.providers._oci import RegistryDataMixin
from artreg.registry import ArtifactRegistry
from artreg.types import (
    ArtifactRegistryCredentials,
    ArtifactRegistryPermissions,
    RegistryAuthMethod,
    RepositoryResponse,
)

__all__ = [
    "MARKER_ANNOTATION",
    "MARKER_CONFIG",
    "LocalArtifactRegistry",
    "from_binding",
    "marker_manifest",
]

log = logging.getLogger("artreg.providers.local")

#: The empty image config alien pushes, exactly as serde_json writes it.
MARKER_CONFIG: Final = (
    b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{}}'
)
MARKER_ANNOTATION: Final = ("dev.alien.marker", "empty-repository-created-by-alien")
#: The tag the marker manifest is pushed to and looked up by.
MARKER_TAG: Final = "latest"
UPSTREAM_PREFIX: Final = "artifacts/default"
_CROSS_ACCOUNT_REASON: Final = "Local artifact registry does not support cross-account access"


def marker_manifest() -> bytes:
    """The marker manifest's bytes, in oci-client's field order (serde_json, compact)."""
    digest = sha256_digest(MARKER_CONFIG)
    key, value = MARKER_ANNOTATION
    return (
        '{"schemaVersion":2,'
        f'"mediaType":"{OCI_MANIFEST}",'
        f'"config":{{"mediaType":"{OCI_CONFIG}","digest":"{digest}","size":{len(MARKER_CONFIG)}}},'
        '"layers":[],'
        f'"annotations":{{"{key}":"{value}"}}}}'
    ).encode()


class LocalArtifactRegistry(NoCrossAccountAccess, RegistryDataMixin, ArtifactRegistry):
    """Repositories ``{binding}/{logical}`` on a local OCI registry."""

    cross_account_reason = _CROSS_ACCOUNT_REASON

    def __init__(
        self,
        binding_name: str,
        registry_url: str,
        *,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        if not registry_url:
            raise BindingConfigInvalid(
                binding_name=binding_name,
                env_var=binding_env_var_name(binding_name),
                reason="Registry endpoint cannot be empty",
            )
        if (username is None) != (password is None):
            raise BindingConfigInvalid(
                binding_name=binding_name,
                env_var=binding_env_var_name(binding_name),
                reason="username and password go together: give both, or neither (anonymous)",
            )
        self.binding_name = binding_name
        self._endpoint = registry_url
        self._username = username or ""
        self._password = password or ""

    def __repr__(self) -> str:
        return f"LocalArtifactRegistry(binding_name={self.binding_name!r}, endpoint={self._endpoint!r})"

    # -- names -----------------------------------------------------------------------------------

    def registry_endpoint(self) -> str:
        host = self._endpoint
        if host.startswith(("http://", "https://")):
            return host
        return f"http://{host}"

    def upstream_repository_prefix(self) -> str:
        return UPSTREAM_PREFIX

    def registry_data_transport(self) -> httpx.AsyncBaseTransport | None:
        """Over HTTPS, trust what the environment says (``SSL_CERT_FILE``/``SSL_CERT_DIR``,
        else the default bundle): a registry of your own often has a certificate of your own."""
        if not self.registry_endpoint().startswith("https://"):
            return None
        return httpx.AsyncHTTPTransport(verify=trusted_ssl_context())

    def _path(self, logical: str, context: str, field: str) -> str:
        path = f"{self.binding_name}/{logical}" if logical else self.binding_name
        return validate_repository(path, context=context, field=field)

    def _uri(self, path: str) -> str:
        return f"{self._endpoint}/{path}"

    # -- repositories ----------------------------------------------------------------------------

    async def create_repository(self, repo_name: str) -> RepositoryResponse:
        """Push the marker image to ``{binding}/{repo_name}:latest``; idempotent."""
        path = self._path(repo_name, "Create repository", "repo_name")
        log.info("creating local repository %s", path)
        client = self.registry_data_client()
        try:
            await client.upload_blob(path, sha256_digest(MARKER_CONFIG), MARKER_CONFIG)
        except ArtregError as exc:
            raise Other(message=f"Failed to push config blob for repository '{repo_name}'") from exc
        try:
            await client.put_manifest(path, MARKER_TAG, marker_manifest(), OCI_MANIFEST)
        except ArtregError as exc:
            raise Other(
                message=f"Failed to push marker manifest for repository '{repo_name}'"
            ) from exc
        return RepositoryResponse(name=path, uri=self._uri(path), created_at=None)

    async def get_repository(self, repo_id: str) -> RepositoryResponse:
        """The repository when its ``latest`` manifest exists; RESOURCE_NOT_FOUND (404) if not."""
        if repo_id == self.binding_name:
            logical = ""
        else:
            logical = repo_id.removeprefix(f"{self.binding_name}/")
        path = self._path(logical, "Get repository", "repo_id")
        try:
            await self.registry_data_client().get_manifest(path, MARKER_TAG)
        except InvalidInput:
            raise
        except ArtregError as exc:
            status = registry_status(exc)
            if isinstance(exc, RemoteResourceNotFound) or (
                status is not None and (status.status == 404 or NOT_FOUND_CODES & set(status.codes))
            ):
                raise ResourceNotFound(resource_id=repo_id) from exc
            raise Other(message="Failed to check repository existence") from exc
        return RepositoryResponse(name=path, uri=self._uri(path), created_at=None)

    async def delete_repository(self, repo_id: str) -> None:
        """A no-op: the registry keeps its data (alien's behaviour)."""
        log.info("local repository deletion acknowledged (no-op): %s", repo_id)

    async def generate_credentials(
        self,
        repo_id: str,
        permissions: ArtifactRegistryPermissions,
        ttl_seconds: int | None = None,
    ) -> ArtifactRegistryCredentials:
        """The binding's username and password as Basic credentials; empty ones (anonymous,
        as alien's) when the binding has none."""
        return ArtifactRegistryCredentials(
            auth_method=RegistryAuthMethod.BASIC,
            username=self._username,
            password=self._password,
            expires_at=None,
        )


def from_binding(
    binding_name: str, binding: LocalBinding, env: Mapping[str, str]
) -> LocalArtifactRegistry:
    """Build the provider from a ``{"service": "local", "registryUrl": …, "dataDir": …}``
    binding, with optional ``username`` and ``password``."""
    url = resolve_value(binding_name, "registry_url", binding.registry_url)
    username = resolve_value(binding_name, "username", binding.username, required=False)
    password = resolve_value(binding_name, "password", binding.password, required=False)
    return LocalArtifactRegistry(binding_name, url or "", username=username, password=password)
