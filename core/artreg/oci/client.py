"""``RegistryClient``: an async OCI distribution client for one registry host."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import TracebackType

import httpx

from artreg.oci import blobs, manifests, mediatypes
from artreg.oci.auth import Auth, CredentialsProvider
from artreg.oci.blobs import BlobData, Progress, UploadResult
from artreg.oci.retry import RetryPolicy
from artreg.oci.transport import Transport
from artreg.types import ManifestHead

__all__ = ["RegistryClient"]


class RegistryClient:
    """Blobs, manifests, tags and the catalog of one registry.

    ``host`` is ``host[:port]`` (HTTPS, or plain HTTP for loopback hosts and when ``insecure``)
    or a base URL with its scheme. ``credentials``: None (anonymous), a static :data:`Auth`, or
    an async callable ``(repository, permissions) -> ArtifactRegistryCredentials`` whose results
    are cached until half their lifetime and refreshed on a 401. ``transport`` replaces httpx's
    network transport (tests). Use as ``async with RegistryClient(...) as client:``.
    """

    def __init__(
        self,
        host: str,
        *,
        credentials: Auth | CredentialsProvider | None = None,
        insecure: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        max_connections: int = 32,
    ) -> None:
        self._t = Transport(
            host,
            credentials=credentials,
            insecure=insecure,
            transport=transport,
            retry=retry,
            timeout=timeout,
            max_connections=max_connections,
        )

    @property
    def registry(self) -> str:
        """``host[:port]`` as used in references."""
        return self._t.registry

    @property
    def base_url(self) -> str:
        return self._t.base_url

    @property
    def transport(self) -> Transport:
        return self._t

    def __repr__(self) -> str:
        return f"RegistryClient({self._t.base_url!r})"

    async def aclose(self) -> None:
        await self._t.aclose()

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- blobs -----------------------------------------------------------------------------------

    async def head_blob(self, repository: str, digest: str) -> int | None:
        """The blob's size, or None when absent."""
        return await blobs.head_blob(self._t, repository, digest)

    def get_blob(
        self,
        repository: str,
        digest: str,
        *,
        offset: int = 0,
        length: int | None = None,
        expected_size: int | None = None,
    ) -> AsyncIterator[bytes]:
        """Stream a blob (or the byte range ``offset``/``length``), verified as it is read."""
        return blobs.get_blob(
            self._t, repository, digest, offset=offset, length=length, expected_size=expected_size
        )

    async def read_blob(
        self, repository: str, digest: str, *, max_size: int = 64 * 1024 * 1024
    ) -> bytes:
        """A small blob (a config) whole, verified; refuses blobs over ``max_size``."""
        data = bytearray()
        async for chunk in self.get_blob(repository, digest):
            data += chunk
            if len(data) > max_size:
                from artreg.errors import InvalidInput

                raise InvalidInput(
                    operation_context=f"Read blob {repository}@{digest}",
                    details=f"blob is larger than {max_size} bytes; stream it with get_blob",
                    field_name="digest",
                )
        return bytes(data)

    async def upload_blob(
        self,
        repository: str,
        digest: str,
        data: BlobData,
        *,
        size: int | None = None,
        mount_from: str | None = None,
        chunk_size: int | None = None,
        progress: Progress | None = None,
    ) -> UploadResult:
        """Upload a blob unless present; see :func:`artreg.oci.blobs.upload_blob`."""
        return await blobs.upload_blob(
            self._t,
            repository,
            digest,
            data,
            size=size,
            mount_from=mount_from,
            chunk_size=chunk_size,
            progress=progress,
        )

    # -- manifests -------------------------------------------------------------------------------

    async def get_manifest(
        self, repository: str, reference: str, *, accept: str = mediatypes.MANIFEST_ACCEPT
    ) -> tuple[bytes, str]:
        """The manifest's exact bytes and content type (OCI/Docker manifests and indexes)."""
        return await manifests.get_manifest(self._t, repository, reference, accept=accept)

    async def head_manifest(self, repository: str, reference: str) -> ManifestHead | None:
        """Content type and digest, or None when absent."""
        return await manifests.head_manifest(self._t, repository, reference)

    async def put_manifest(
        self, repository: str, reference: str, data: bytes, content_type: str
    ) -> str:
        """PUT the bytes verbatim; return their digest."""
        return await manifests.put_manifest(self._t, repository, reference, data, content_type)

    async def delete_manifest(self, repository: str, reference: str) -> bool:
        """Delete a manifest by digest; False when it was not there."""
        return await manifests.delete_manifest(self._t, repository, reference)

    # -- listing ---------------------------------------------------------------------------------

    def iter_tags(
        self, repository: str, *, page_size: int = manifests.MAX_PAGE
    ) -> AsyncIterator[str]:
        return manifests.iter_tags(self._t, repository, page_size=page_size)

    async def list_tags(self, repository: str, *, page_size: int = manifests.MAX_PAGE) -> list[str]:
        """Every tag, following ``Link`` pages of at most 1000."""
        return [tag async for tag in self.iter_tags(repository, page_size=page_size)]

    def iter_catalog(self, *, page_size: int = manifests.MAX_PAGE) -> AsyncIterator[str]:
        return manifests.iter_catalog(self._t, page_size=page_size)

    async def catalog(self, *, page_size: int = manifests.MAX_PAGE) -> list[str]:
        """Every repository in ``/v2/_catalog``, following pages of at most 1000."""
        return [name async for name in self.iter_catalog(page_size=page_size)]
