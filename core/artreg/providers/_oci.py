"""``RegistryDataMixin``: ``get_manifest``, ``head_manifest`` and ``head_blob`` for any provider,
through the OCI client, authenticated with the provider's own short-lived pull credentials.

Inherit it before :class:`ArtifactRegistry` (``class EcrArtifactRegistry(RegistryDataMixin,
ArtifactRegistry)``). The registry's base URL comes from :meth:`registry_data_endpoint`, which
defaults to ``registry_endpoint()`` and may be overridden (tests point it at a local registry).
Credentials come from ``generate_credentials(repo_name, PULL, 3600)``, cached per repository until
half their lifetime and refreshed after a 401; ``basic`` credentials are sent as Basic auth
unless username and password are both empty (anonymous), ``bearer`` as ``Authorization: Bearer``.
"""

from __future__ import annotations

import httpx

from artreg.errors import (
    ArtregError,
    InvalidInput,
    Other,
    RemoteResourceNotFound,
    RemoteServiceUnavailable,
    Timeout,
)
from artreg.oci.client import RegistryClient
from artreg.oci.errors import NOT_FOUND_CODES, registry_status
from artreg.oci.reference import validate_digest, validate_reference, validate_repository
from artreg.providers._per_loop import PerLoop
from artreg.registry import ArtifactRegistry
from artreg.types import (
    ArtifactRegistryCredentials,
    ArtifactRegistryPermissions,
    ManifestHead,
)

__all__ = ["CREDENTIALS_TTL_SECONDS", "RegistryDataMixin"]

#: Errors that pass through unwrapped: bad input, and a registry that is down or does not answer
#: (which explains itself better than a generic wrapper; alien wraps them, see the docs'
#: "Differences from alien").
_AS_IS = (InvalidInput, RemoteServiceUnavailable, Timeout)

#: The lifetime asked of ``generate_credentials`` for registry reads (as alien's proxy does).
CREDENTIALS_TTL_SECONDS = 3600


async def _close_all(clients: dict[str, RegistryClient]) -> None:
    for client in clients.values():
        await client.aclose()


class RegistryDataMixin(ArtifactRegistry):
    """Manifest and blob reads through the OCI client, for every provider."""

    #: Per event loop, the OCI client and the endpoint it was made for.
    _registry_data_clients: PerLoop[dict[str, RegistryClient]] | None = None

    def registry_data_endpoint(self) -> str:
        """The base URL (with scheme) of the registry's ``/v2/`` API."""
        return self.registry_endpoint()

    def registry_data_transport(self) -> httpx.AsyncBaseTransport | None:
        """The HTTP transport for registry reads (None: httpx's default); override to change
        TLS trust or routing."""
        return None

    async def _pull_credentials(
        self, repository: str, permissions: ArtifactRegistryPermissions
    ) -> ArtifactRegistryCredentials:
        return await self.generate_credentials(
            repository, ArtifactRegistryPermissions.PULL, CREDENTIALS_TTL_SECONDS
        )

    def registry_data_client(self) -> RegistryClient:
        """The OCI client for :meth:`registry_data_endpoint` (created once per endpoint and
        event loop: instances the loader caches serve one ``asyncio.run`` per CLI call)."""
        base = self.registry_data_endpoint()
        if not base:
            raise Other(message="This artifact registry has no registry endpoint")
        if self._registry_data_clients is None:
            self._registry_data_clients = PerLoop(dict, close=_close_all)
        clients = self._registry_data_clients.get()
        client = clients.get(base)
        if client is None:
            clients.clear()  # the endpoint changed: the old client is not used again
            client = RegistryClient(
                base, credentials=self._pull_credentials, transport=self.registry_data_transport()
            )
            clients[base] = client
        return client

    async def get_manifest(self, repo_name: str, reference: str) -> tuple[bytes, str]:
        """The manifest's exact bytes and content type, by tag or digest."""
        context = "Get manifest"
        validate_repository(repo_name, context=context, field="repo_name")
        validate_reference(reference, context=context, field="reference")
        try:
            return await self.registry_data_client().get_manifest(repo_name, reference)
        except ArtregError as exc:
            status = registry_status(exc)
            if isinstance(exc, RemoteResourceNotFound) or (
                status is not None and (status.status == 404 or NOT_FOUND_CODES & set(status.codes))
            ):
                raise RemoteResourceNotFound(
                    operation_context=context,
                    resource_type="manifest",
                    resource_name=f"{repo_name}:{reference}",
                ) from exc
            if isinstance(exc, _AS_IS):
                raise
            raise _upstream(exc, "manifest", f"{repo_name}:{reference}") from exc

    async def head_manifest(self, repo_name: str, reference: str) -> ManifestHead | None:
        """The manifest's content type and digest, or None when it does not exist."""
        context = "Head manifest"
        validate_repository(repo_name, context=context, field="repo_name")
        validate_reference(reference, context=context, field="reference")
        try:
            return await self.registry_data_client().head_manifest(repo_name, reference)
        except RemoteResourceNotFound:
            return None
        except _AS_IS:
            raise
        except ArtregError as exc:
            raise _upstream(exc, "manifest", f"{repo_name}:{reference}") from exc

    async def head_blob(self, repo_name: str, digest: str) -> int | None:
        """The blob's size in bytes, or None when it does not exist."""
        context = "Head blob"
        validate_repository(repo_name, context=context, field="repo_name")
        validate_digest(digest, context=context, field="digest")
        try:
            return await self.registry_data_client().head_blob(repo_name, digest)
        except RemoteResourceNotFound:
            return None
        except _AS_IS:
            raise
        except ArtregError as exc:
            raise _upstream(exc, "blob", f"{repo_name}@{digest}") from exc

    async def aclose(self) -> None:
        per_loop = self._registry_data_clients
        clients = per_loop.take() if per_loop is not None else None
        for client in (clients or {}).values():
            await client.aclose()
        await super().aclose()


def _upstream(exc: ArtregError, kind: str, name: str) -> ArtregError:
    status = registry_status(exc)
    if status is not None:
        return Other(message=f"Upstream registry returned {status.status} for {kind} {name}")
    if kind == "manifest":
        return Other(message=f"Failed to fetch manifest for {name}")
    return Other(message=f"Failed to check {kind} {name}")
