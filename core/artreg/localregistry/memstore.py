"""An in-memory :class:`Store`, for unit tests and throwaway registries."""

from __future__ import annotations

import threading
import uuid as uuidlib
from collections.abc import Sequence

from artreg.digest import Digest, Hasher

from .store import (
    BlobReader,
    Checkpoint,
    ContentMissing,
    DigestMismatch,
    Store,
    StoredManifest,
    UploadSession,
    UploadUnknown,
)


class _BytesReader(BlobReader):
    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self.size = len(data)

    def read_at(self, offset: int, length: int) -> bytes:
        return bytes(self._data[offset : offset + length])

    def close(self) -> None:
        self._data.release()


class _MemoryUpload(UploadSession):
    def __init__(self, store: MemoryStore, name: str, uuid: str, algorithm: str) -> None:
        self._store = store
        self.repository = name
        self.uuid = uuid
        self._buf = bytearray()
        self._hasher = Hasher(algorithm)

    @property
    def size(self) -> int:
        return len(self._buf)

    def checkpoint(self) -> Checkpoint:
        return Checkpoint(len(self._buf), self._hasher.copy())

    def rollback(self, checkpoint: Checkpoint) -> None:
        del self._buf[checkpoint.size :]
        self._hasher = checkpoint.hasher.copy()

    def write(self, data: bytes) -> None:
        self._buf += data
        self._hasher.update(data)

    def commit(self, expected: Digest) -> int:
        if expected.algorithm == self._hasher.algorithm:
            actual = self._hasher.digest()
        else:
            actual = Digest.of(bytes(self._buf), expected.algorithm)
        if actual != expected:
            raise DigestMismatch(expected, actual)
        with self._store._lock:
            self._store._blobs.setdefault(str(expected), bytes(self._buf))
            self._store._links.setdefault(self.repository, set()).add(str(expected))
            self._store._uploads.pop(self.uuid, None)
        return len(self._buf)

    def cancel(self) -> None:
        with self._store._lock:
            self._store._uploads.pop(self.uuid, None)

    def close(self) -> None:
        pass


class MemoryStore(Store):
    """Everything in dicts; lost when the process ends."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._blobs: dict[str, bytes] = {}
        self._links: dict[str, set[str]] = {}
        self._manifests: dict[str, dict[str, tuple[bytes, str]]] = {}
        self._tags: dict[str, dict[str, str]] = {}
        self._referrers: dict[str, dict[str, dict[str, dict[str, object]]]] = {}
        self._uploads: dict[str, _MemoryUpload] = {}

    def repositories(self) -> list[str]:
        with self._lock:
            names = {n for n, s in self._links.items() if s}
            names |= {n for n, m in self._manifests.items() if m}
            return sorted(names)

    def repository_exists(self, name: str) -> bool:
        with self._lock:
            return bool(self._links.get(name)) or bool(self._manifests.get(name))

    def blob_size(self, name: str, digest: Digest) -> int | None:
        with self._lock:
            if str(digest) not in self._links.get(name, ()):
                return None
            return len(self._blobs[str(digest)])

    def open_blob(self, name: str, digest: Digest, *, keep: bool = False) -> BlobReader | None:
        with self._lock:
            if str(digest) not in self._links.get(name, ()):
                return None
            return _BytesReader(self._blobs[str(digest)])

    def delete_blob(self, name: str, digest: Digest) -> bool:
        with self._lock:
            links = self._links.get(name, set())
            if str(digest) not in links:
                return False
            links.discard(str(digest))
            return True

    def mount_blob(self, name: str, digest: Digest, source: str | None) -> bool:
        key = str(digest)
        with self._lock:
            sources = [source] if source is not None else list(self._links)
            if not any(key in self._links.get(s, ()) for s in sources):
                return False
            self._links.setdefault(name, set()).add(key)
            return True

    def create_upload(self, name: str, algorithm: str = "sha256") -> UploadSession:
        session = _MemoryUpload(self, name, str(uuidlib.uuid4()), algorithm)
        with self._lock:
            self._uploads[session.uuid] = session
        return session

    def get_upload(self, name: str, uuid: str) -> UploadSession:
        with self._lock:
            session = self._uploads.get(uuid)
        if session is None or session.repository != name:
            raise UploadUnknown(uuid)
        return session

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
        key = str(manifest.digest)
        with self._lock:
            for blob in blobs:
                if str(blob) not in self._links.get(name, ()):
                    raise ContentMissing(blob)
            for child in children:
                if str(child) not in self._manifests.get(name, {}):
                    raise ContentMissing(child)
            self._manifests.setdefault(name, {})[key] = (manifest.body, manifest.media_type)
            for tag in tags:
                self._tags.setdefault(name, {})[tag] = key
            if subject is not None and referrer is not None:
                by_subject = self._referrers.setdefault(name, {}).setdefault(str(subject), {})
                by_subject[key] = referrer

    def get_manifest(self, name: str, digest: Digest) -> StoredManifest | None:
        with self._lock:
            found = self._manifests.get(name, {}).get(str(digest))
        if found is None:
            return None
        return StoredManifest(found[0], found[1], digest)

    def has_manifest(self, name: str, digest: Digest) -> bool:
        with self._lock:
            return str(digest) in self._manifests.get(name, {})

    def resolve_tag(self, name: str, tag: str) -> Digest | None:
        with self._lock:
            value = self._tags.get(name, {}).get(tag)
        return Digest.parse(value) if value else None

    def tags(self, name: str) -> list[str]:
        with self._lock:
            return sorted(self._tags.get(name, {}))

    def delete_manifest(self, name: str, digest: Digest) -> bool:
        key = str(digest)
        with self._lock:
            if self._manifests.get(name, {}).pop(key, None) is None:
                return False
            tags = self._tags.get(name, {})
            for tag in [t for t, d in tags.items() if d == key]:
                del tags[tag]
            for entries in self._referrers.get(name, {}).values():
                entries.pop(key, None)
            return True

    def delete_tag(self, name: str, tag: str) -> bool:
        with self._lock:
            return self._tags.get(name, {}).pop(tag, None) is not None

    def referrers(self, name: str, subject: Digest) -> list[dict[str, object]]:
        with self._lock:
            entries = self._referrers.get(name, {}).get(str(subject), {})
            return [entries[k] for k in sorted(entries)]

    def stored_bytes(self) -> int:
        with self._lock:
            return sum(len(b) for b in self._blobs.values()) + sum(
                len(body) for repo in self._manifests.values() for body, _ in repo.values()
            )

    def open_uploads(self) -> int:
        with self._lock:
            return len(self._uploads)
