"""The storage interface the registry app talks to, shared by the filesystem and memory stores.

Every method is synchronous; the app calls the ones that touch the disk from a worker thread.
Blob data always streams: uploads are appended chunk by chunk, downloads are read by offset.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass

from artreg.digest import Digest, Hasher


class DigestMismatch(Exception):
    """The uploaded content does not hash to the digest the client gave."""

    def __init__(self, expected: Digest, actual: Digest) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(f"expected {expected}, content hashes to {actual}")


class UploadUnknown(Exception):
    """No upload session with that id in that repository."""


class ContentMissing(Exception):
    """A manifest refers to a blob or child manifest the repository does not hold."""

    def __init__(self, digest: Digest) -> None:
        self.digest = digest
        super().__init__(f"{digest} is not in the repository")


@dataclass(frozen=True, slots=True)
class StoredManifest:
    """A manifest as pushed: its exact bytes, the media type it was pushed with, its digest."""

    body: bytes
    media_type: str
    digest: Digest


class BlobReader(abc.ABC):
    """An open blob; read it by offset, then close it."""

    size: int

    @abc.abstractmethod
    def read_at(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``offset``."""

    @abc.abstractmethod
    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """An upload's state before a chunk, to roll back to if the chunk fails."""

    size: int
    hasher: Hasher


class UploadSession(abc.ABC):
    """An upload in progress. Not safe for concurrent use: the app serialises requests on it."""

    uuid: str
    repository: str

    @property
    @abc.abstractmethod
    def size(self) -> int:
        """Bytes received so far."""

    @abc.abstractmethod
    def checkpoint(self) -> Checkpoint: ...

    @abc.abstractmethod
    def rollback(self, checkpoint: Checkpoint) -> None:
        """Forget everything written after ``checkpoint``."""

    @abc.abstractmethod
    def write(self, data: bytes) -> None:
        """Append ``data`` and feed it to the running hash."""

    @abc.abstractmethod
    def commit(self, expected: Digest) -> int:
        """Verify the content hashes to ``expected``, store it as a blob linked into the
        repository and end the session; return the blob's size. On a mismatch raise
        :class:`DigestMismatch` and store nothing (the session is left as it was)."""

    @abc.abstractmethod
    def cancel(self) -> None:
        """Delete the session and its data."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release open files (the session stays; it can be reopened)."""


class Store(abc.ABC):
    """Content-addressed blobs, per-repository links, manifests, tags, referrers and uploads."""

    # -- repositories -------------------------------------------------------------------------

    @abc.abstractmethod
    def repositories(self) -> list[str]:
        """Every repository that holds a blob or a manifest, sorted."""

    @abc.abstractmethod
    def repository_exists(self, name: str) -> bool: ...

    # -- blobs --------------------------------------------------------------------------------

    @abc.abstractmethod
    def blob_size(self, name: str, digest: Digest) -> int | None:
        """The size of the blob when it is linked into repository ``name``, else None."""

    @abc.abstractmethod
    def open_blob(self, name: str, digest: Digest, *, keep: bool = False) -> BlobReader | None:
        """The blob when it is linked into ``name``. ``keep`` marks it as wanted now (a client
        asking whether to upload it is about to refer to it), so garbage collection spares it
        for its grace period."""

    @abc.abstractmethod
    def delete_blob(self, name: str, digest: Digest) -> bool:
        """Unlink the blob from the repository; False when it was not there."""

    @abc.abstractmethod
    def mount_blob(self, name: str, digest: Digest, source: str | None) -> bool:
        """Link a blob that repository ``source`` holds into ``name``; with no ``source``, from
        any repository that holds it. False when it is not there."""

    # -- uploads ------------------------------------------------------------------------------

    @abc.abstractmethod
    def create_upload(self, name: str, algorithm: str = "sha256") -> UploadSession:
        """A new upload session whose running hash uses ``algorithm``."""

    @abc.abstractmethod
    def get_upload(self, name: str, uuid: str) -> UploadSession:
        """The open session ``uuid`` of repository ``name``; :class:`UploadUnknown` otherwise."""

    # -- manifests ----------------------------------------------------------------------------

    @abc.abstractmethod
    def put_manifest(
        self,
        name: str,
        manifest: StoredManifest,
        *,
        tags: Sequence[str] = (),
        subject: Digest | None = None,
        referrer: dict[str, object] | None = None,
        blobs: Sequence[Digest] = (),
        children: Sequence[Digest] = (),
    ) -> None:
        """Store the manifest, tag it, and record it as a referrer of ``subject``.

        Every digest of ``blobs`` must be linked into the repository and every one of
        ``children`` be a manifest of it, else :class:`ContentMissing` and nothing is stored.
        The check and the write are one step for garbage collection: content checked here is
        not collected before the manifest that refers to it is stored."""

    @abc.abstractmethod
    def get_manifest(self, name: str, digest: Digest) -> StoredManifest | None: ...

    @abc.abstractmethod
    def has_manifest(self, name: str, digest: Digest) -> bool: ...

    @abc.abstractmethod
    def resolve_tag(self, name: str, tag: str) -> Digest | None: ...

    @abc.abstractmethod
    def tags(self, name: str) -> list[str]:
        """The repository's tags, sorted."""

    @abc.abstractmethod
    def delete_manifest(self, name: str, digest: Digest) -> bool:
        """Remove the manifest, every tag pointing at it and its referrer entry."""

    @abc.abstractmethod
    def delete_tag(self, name: str, tag: str) -> bool: ...

    @abc.abstractmethod
    def referrers(self, name: str, subject: Digest) -> list[dict[str, object]]:
        """Descriptors of the manifests whose subject is ``subject``, sorted by digest."""

    # -- usage --------------------------------------------------------------------------------

    @abc.abstractmethod
    def stored_bytes(self) -> int:
        """Bytes of blob and manifest content held."""

    @abc.abstractmethod
    def open_uploads(self) -> int:
        """Upload sessions in progress."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources."""
