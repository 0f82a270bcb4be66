"""Push primitives (seed 003): upload one blob by digest, PUT one manifest's bytes verbatim.

``PushTarget`` is the minimal surface a builder needs; :class:`RegistryPushTarget` is the real
one, :class:`RecordingPushTarget` a double that records what would be pushed.
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from artreg.digest import Digest, Hasher
from artreg.errors import InvalidInput
from artreg.oci.auth import Auth
from artreg.oci.blobs import BlobData
from artreg.oci.client import RegistryClient
from artreg.oci.reference import Reference, validate_digest
from artreg.oci.retry import RetryPolicy

__all__ = ["PushTarget", "RecordingPushTarget", "RegistryPushTarget"]


class PushTarget(Protocol):
    """Registry-side push operations."""

    async def upload_blob(
        self, reference: str, digest: str, media_type: str, data: BlobData, auth: Auth
    ) -> None:
        """Upload one blob, content-addressed by ``digest``, to the repository of ``reference``.
        ``media_type`` is informational (the blob endpoint does not key on it)."""

    async def put_manifest(
        self, reference: str, bytes: bytes, content_type: str, auth: Auth
    ) -> None:
        """PUT the pre-serialised manifest bytes at ``reference`` with ``Content-Type:
        content_type``, verbatim, so their digest is what the registry indexes."""


class RegistryPushTarget:
    """Pushes to real registries; one client per (host, auth), reused across calls."""

    def __init__(
        self,
        *,
        insecure: bool = False,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._insecure = insecure
        self._retry = retry
        self._transport = transport
        self._clients: dict[tuple[str, Auth], RegistryClient] = {}

    def __repr__(self) -> str:
        return f"RegistryPushTarget({len(self._clients)} clients)"

    def _client(self, host: str, auth: Auth) -> RegistryClient:
        key = (host, auth)
        client = self._clients.get(key)
        if client is None:
            client = RegistryClient(
                host,
                credentials=auth,
                insecure=self._insecure,
                retry=self._retry,
                transport=self._transport,
            )
            self._clients[key] = client
        return client

    async def upload_blob(
        self,
        reference: str,
        digest: str,
        media_type: str,
        data: BlobData,
        auth: Auth,
        *,
        size: int | None = None,
    ) -> None:
        ref = Reference.parse(reference)
        validate_digest(digest)
        await self._client(ref.registry, auth).upload_blob(ref.repository, digest, data, size=size)

    async def put_manifest(
        self,
        reference: str,
        bytes: bytes,
        content_type: str,
        auth: Auth,
    ) -> None:
        ref = Reference.parse(reference)
        identifier = ref.digest or (ref.tag or str(Digest.of(bytes)))
        await self._client(ref.registry, auth).put_manifest(
            ref.repository, identifier, bytes, content_type
        )

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()


@dataclass
class RecordingPushTarget:
    """A double: records uploaded blobs (digest-verified) and manifest bytes, pushes nothing."""

    blobs: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    manifests: list[tuple[str, bytes, str]] = field(default_factory=list)

    async def upload_blob(
        self, reference: str, digest: str, media_type: str, data: BlobData, auth: Auth
    ) -> None:
        ref = Reference.parse(reference)
        expected = Digest.parse(digest)
        hasher = Hasher(expected.algorithm)
        if isinstance(data, bytes):
            hasher.update(data)
        else:
            stream = data() if callable(data) and not isinstance(data, AsyncIterable) else data
            async for chunk in stream:
                hasher.update(chunk)
        if hasher.digest() != expected:
            raise InvalidInput(
                operation_context="Upload blob",
                details=f"data hashes to {hasher.digest()}, not {digest}",
                field_name="digest",
            )
        self.blobs[(ref.name, digest)] = (media_type, hasher.size)

    async def put_manifest(
        self,
        reference: str,
        bytes: bytes,
        content_type: str,
        auth: Auth,
    ) -> None:
        Reference.parse(reference)
        self.manifests.append((reference, bytes, content_type))
