"""Push primitives (docs-site: reference/oci.md): upload one blob by digest, PUT one manifest's bytes verbatim.

``PushTarget`` is the minimal surface a builder needs and pushes to real registries (also
exported as ``RegistryPushTarget``); :class:`RecordingPushTarget` is a double that records what
would be pushed.
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import TypeAlias

import httpx

from artreg.digest import Digest, Hasher
from artreg.errors import InvalidInput
from artreg.oci.auth import Anonymous, Auth, auth_from_credentials
from artreg.oci.blobs import BlobData
from artreg.oci.client import RegistryClient
from artreg.oci.reference import Reference, validate_digest
from artreg.oci.retry import RetryPolicy
from artreg.types import ArtifactRegistryCredentials

__all__ = ["PushTarget", "RecordingPushTarget", "RegistryPushTarget"]


PushAuth: TypeAlias = Auth | ArtifactRegistryCredentials | None


def _auth(auth: PushAuth) -> Auth:
    if auth is None:
        return Anonymous()
    if isinstance(auth, ArtifactRegistryCredentials):
        return auth_from_credentials(auth)
    return auth


class PushTarget:
    """Registry-side push primitives: "upload an arbitrary blob with this digest" and "PUT this
    manifest at this reference with this content type".

    This class pushes to real registries (one client per host and credentials, reused across
    calls); :class:`RecordingPushTarget` is a double. ``auth`` is an :data:`Auth`
    (``Anonymous()``, ``Basic(user, password)``, ``BearerToken(token)``), an
    ``ArtifactRegistryCredentials`` from a binding, or None for anonymous.
    """

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
        return f"{type(self).__name__}({len(self._clients)} clients)"

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
        auth: PushAuth,
        *,
        size: int | None = None,
    ) -> None:
        """Upload one blob, content-addressed by ``digest``, to the repository of ``reference``
        (skipped when present). ``data``: bytes, an async byte stream, or a callable opening
        one. ``media_type`` is informational: the blob endpoint does not key on it."""
        ref = Reference.parse(reference)
        validate_digest(digest)
        await self._client(ref.registry, _auth(auth)).upload_blob(
            ref.repository, digest, data, size=size
        )

    async def put_manifest(
        self,
        reference: str,
        bytes: bytes,
        content_type: str,
        auth: PushAuth,
    ) -> None:
        """PUT the pre-serialised manifest bytes at ``reference`` (its tag, digest, or the
        bytes' digest) with ``Content-Type: content_type``, verbatim."""
        ref = Reference.parse(reference)
        identifier = ref.digest or (ref.tag or str(Digest.of(bytes)))
        await self._client(ref.registry, _auth(auth)).put_manifest(
            ref.repository, identifier, bytes, content_type
        )

    async def __aenter__(self) -> PushTarget:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()


#: The registry implementation under the seed's name for it.
RegistryPushTarget = PushTarget


class RecordingPushTarget(PushTarget):
    """A double: records uploaded blobs (digest-verified) and manifest bytes, pushes nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.blobs: dict[tuple[str, str], tuple[str, int]] = {}
        self.manifests: list[tuple[str, bytes, str]] = []

    async def upload_blob(
        self,
        reference: str,
        digest: str,
        media_type: str,
        data: BlobData,
        auth: PushAuth,
        *,
        size: int | None = None,
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
        auth: PushAuth,
    ) -> None:
        Reference.parse(reference)
        self.manifests.append((reference, bytes, content_type))
