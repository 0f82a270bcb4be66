"""The on-disk :class:`Store`: content-addressed, crash-safe, streaming.

Layout under the data directory::

    blobs/<alg>/<hex[:2]>/<hex>                             blob and manifest bytes
    repositories/<name>/_layers/<alg>/<hex>                 a blob linked into a repository
    repositories/<name>/_manifests/revisions/<alg>/<hex>    a manifest (file holds its media type)
    repositories/<name>/_manifests/tags/<tag>               a tag (file holds the digest)
    repositories/<name>/_referrers/<alg>/<subject hex>/<alg>-<hex>   a referrer's descriptor (JSON)
    uploads/<uuid>/repository, uploads/<uuid>/data          an upload session
    uploads/<uuid>/algorithm                                its hash algorithm, when not sha256
    tmp/                                                    files being written or deleted
    .lock                                                   held by the serving process
    .sweep.lock, .gc.lock                                   garbage collection (see gc.py)

Every file becomes visible by ``rename`` of a fully written, fsynced temporary file (and the
directory is fsynced after), and things are written before whatever refers to them: blob, then
repository link; manifest bytes, then revision, then tag. A crash at any moment therefore leaves
no partial blob or manifest and no reference to a missing one. Upload sessions live on disk, so
a restarted server keeps them; their running hash is rebuilt from the data when needed.
A directory is deleted by renaming it into ``tmp/`` first, so it is either whole or gone.

Garbage collection (:mod:`.gc`) may run while clients push, from this process or another one.
Every step that makes content referenced again — a blob committed, mounted or asked for, a
manifest stored over its blobs and children — refreshes the modification time of the files it
relies on while holding ``.sweep.lock`` shared; the collector removes a file only while holding
it exclusively and only when that time is older than its grace period.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import threading
import time
import uuid as uuidlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from artreg.digest import ALGORITHMS, Digest, DigestError, Hasher

from .config import RegistryConfigError
from .names import is_valid_name, is_valid_tag
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

_READ_CHUNK: Final = 1 << 20
_UUID_LEN: Final = 36
#: A blob asked for (HEAD) is marked as wanted at most this often.
_KEEP_EVERY: Final = 1.0
#: From this size on, a chunk is hashed on another thread while it is written: sha256 and
#: ``pwrite`` both release the GIL, so the two overlap and ingest is bound by the slower one.
_PARALLEL_HASH_MIN: Final = 256 << 10

_hash_pool: ThreadPoolExecutor | None = None
_hash_pool_lock = threading.Lock()


def _hash_executor() -> ThreadPoolExecutor:
    global _hash_pool
    with _hash_pool_lock:
        if _hash_pool is None:
            _hash_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="artreg-hash")
        return _hash_pool


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes | memoryview, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def _hash_file(path: Path, algorithm: str, limit: int | None = None) -> Hasher:
    hasher = Hasher(algorithm)
    remaining = limit
    with path.open("rb", buffering=0) as f:
        while remaining is None or remaining > 0:
            want = _READ_CHUNK if remaining is None else min(_READ_CHUNK, remaining)
            chunk = f.read(want)
            if not chunk:
                break
            hasher.update(chunk)
            if remaining is not None:
                remaining -= len(chunk)
    return hasher


class _FileReader(BlobReader):
    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDONLY)
        self.size = os.fstat(self._fd).st_size

    def read_at(self, offset: int, length: int) -> bytes:
        return os.pread(self._fd, length, offset)

    def close(self) -> None:
        os.close(self._fd)


class _FileUpload(UploadSession):
    def __init__(
        self,
        store: FilesystemStore,
        name: str,
        uuid: str,
        directory: Path,
        algorithm: str = "sha256",
    ) -> None:
        self._store = store
        self.repository = name
        self.uuid = uuid
        self._dir = directory
        self._data = directory / "data"
        self._algorithm = algorithm
        self._size = self._data.stat().st_size
        self._hasher: Hasher | None = None if self._size else Hasher(algorithm)
        self._fd: int | None = None

    @property
    def size(self) -> int:
        return self._size

    def _open(self) -> int:
        if self._fd is None:
            if not self._data.exists():
                raise UploadUnknown(self.uuid)
            self._fd = os.open(self._data, os.O_WRONLY)
        return self._fd

    def _running_hasher(self) -> Hasher:
        if self._hasher is None:  # reopened after a restart: rebuild the hash from disk
            self._hasher = _hash_file(self._data, self._algorithm, self._size)
        return self._hasher

    def checkpoint(self) -> Checkpoint:
        return Checkpoint(self._size, self._running_hasher().copy())

    def rollback(self, checkpoint: Checkpoint) -> None:
        os.ftruncate(self._open(), checkpoint.size)
        self._size = checkpoint.size
        self._hasher = checkpoint.hasher.copy()

    def write(self, data: bytes) -> None:
        hasher = self._running_hasher()
        fd = self._open()
        if len(data) < _PARALLEL_HASH_MIN:
            _write_all(fd, data, self._size)
            hasher.update(data)
        else:
            hashed = _hash_executor().submit(hasher.update, data)
            try:
                _write_all(fd, data, self._size)
            finally:
                hashed.result()  # a failed write leaves the hash ahead: rollback resets both
        self._size += len(data)

    def commit(self, expected: Digest) -> int:
        hasher = self._running_hasher()
        if expected.algorithm == hasher.algorithm:
            actual = hasher.digest()
        else:
            actual = _hash_file(self._data, expected.algorithm, self._size).digest()
        if actual != expected:
            raise DigestMismatch(expected, actual)
        fd = self._open()
        os.ftruncate(fd, self._size)
        os.fsync(fd)
        self.close()
        with self._store.sweep_lock(shared=True):
            try:
                self._store._install_blob(self._data, expected)
            except FileNotFoundError:  # the session was purged as abandoned meanwhile
                self._store._forget_upload(self.uuid)
                raise UploadUnknown(self.uuid) from None
            self._store._link_blob(self.repository, expected)
        self._store._forget_upload(self.uuid)
        self._store._discard(self._dir)
        return self._size

    def cancel(self) -> None:
        self.close()
        self._store._forget_upload(self.uuid)
        self._store._discard(self._dir)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@dataclass(slots=True)
class GarbageReport:
    """What a garbage collection removed (or, dry, would remove)."""

    #: Blob files (layers, configs and manifest bytes) deleted, as digests.
    removed: list[str] = field(default_factory=list)
    #: Manifests deleted, as ``repository@digest``.
    manifests: list[str] = field(default_factory=list)
    #: Blob links deleted from repositories, as ``repository@digest``.
    links: list[str] = field(default_factory=list)
    #: Abandoned upload sessions deleted, as ``repository/uuid``.
    uploads: list[str] = field(default_factory=list)
    freed_bytes: int = 0
    #: Bytes of blob content left after the run.
    stored_bytes: int = 0
    seconds: float = 0.0


class StoreLocked(RegistryConfigError):
    """Another process holds the data directory."""


class CollectionRunning(StoreLocked):
    """Another garbage collection is running on the data directory."""


class FilesystemStore(Store):
    """A store rooted at ``root`` (created if missing).

    Opening it takes an exclusive lock on the directory (:class:`StoreLocked` if another
    process has it) and recovers from a crash: half-written temporary files are removed and
    broken upload sessions dropped, as are sessions untouched for ``upload_expiry`` seconds (a
    week by default; None keeps them). ``exclusive=False`` opens it for inspection (``verify``,
    reads) next to a running server, without locking or recovering."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        upload_expiry: float | None = 7 * 24 * 3600,
        exclusive: bool = True,
    ) -> None:
        self.root = Path(root).resolve()
        self.upload_expiry = upload_expiry
        self._blobs = self.root / "blobs"
        self._repos = self.root / "repositories"
        self._uploads_dir = self.root / "uploads"
        self._tmp = self.root / "tmp"
        for d in (self._blobs, self._repos, self._uploads_dir, self._tmp):
            d.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._sessions: dict[str, _FileUpload] = {}
        self._lock_fd: int | None = None
        self._stored_bytes: int | None = None
        if exclusive:  # one owner at a time; a crashed owner's lock goes with its process
            self._lock_fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(self._lock_fd)
                self._lock_fd = None
                raise StoreLocked(f"{self.root} is in use by another registry process") from None
            self._recover()

    # -- crash recovery and checking -------------------------------------------------------

    def _recover(self) -> None:
        for entry in self._tmp.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        oldest = None if self.upload_expiry is None else time.time() - self.upload_expiry
        for entry in self._uploads_dir.iterdir():
            data = entry / "data"
            broken = not data.is_file() or not (entry / "repository").is_file()
            if broken or (oldest is not None and data.stat().st_mtime < oldest):
                shutil.rmtree(entry, ignore_errors=True)

    def verify(self, *, deep: bool = True) -> list[str]:
        """Check the store's invariants and return the problems found (empty when consistent):
        every blob hashes to its name (when ``deep``), every link, revision, tag and referrer
        points at something present, every upload session is complete."""
        problems = self._verify_blobs(deep=deep)
        for name in self.repositories():
            problems.extend(self._verify_repository(name))
        for entry in sorted(self._uploads_dir.iterdir()):
            if not (entry / "data").is_file() or not (entry / "repository").is_file():
                problems.append(f"upload {entry.name} is incomplete")
        return problems

    def _verify_blobs(self, *, deep: bool) -> list[str]:
        """Stray files under the blob tree, and (when ``deep``) blobs whose content does not
        hash to their name."""
        problems: list[str] = []
        for path in sorted(p for p in self._blobs.rglob("*") if p.is_file()):
            rel = path.relative_to(self._blobs).parts
            if len(rel) != 3 or rel[0] not in ALGORITHMS or not rel[2].startswith(rel[1]):
                problems.append(f"stray file {path.relative_to(self.root)}")
                continue
            if deep:
                actual = _hash_file(path, rel[0]).digest()
                if actual.hex != rel[2]:
                    problems.append(f"blob {rel[0]}:{rel[2]} hashes to {actual}")
        return problems

    def _verify_repository(self, name: str) -> list[str]:
        """Links, revisions, tags and referrers of repository ``name`` that point at nothing."""
        problems: list[str] = []
        base = self._repos / name
        for link in sorted((base / "_layers").glob("*/*")):
            d = f"{link.parent.name}:{link.name}"
            if not self._blob_path_of(d).is_file():
                problems.append(f"{name}: blob link {d} points at a missing blob")
        for rev in sorted((base / "_manifests" / "revisions").glob("*/*")):
            d = f"{rev.parent.name}:{rev.name}"
            if not self._blob_path_of(d).is_file():
                problems.append(f"{name}: manifest {d} has no content")
        for tag in sorted((base / "_manifests" / "tags").glob("*")):
            target = tag.read_text().strip()
            if not self._is_stored_revision(name, target):
                problems.append(f"{name}: tag {tag.name} points at missing {target}")
        for ref in sorted((base / "_referrers").glob("*/*/*")):
            d = ref.name.replace("-", ":", 1)
            if not self._is_stored_revision(name, d):
                problems.append(f"{name}: referrer {d} is not a stored manifest")
        return problems

    def _is_stored_revision(self, name: str, digest: str) -> bool:
        """Whether ``digest`` parses and names a manifest revision of ``name``."""
        rev_path = self._revision_path(name, digest) if _parse(digest) else None
        return rev_path is not None and rev_path.is_file()

    def collect_garbage(
        self,
        *,
        grace: float = 3600.0,
        upload_max_age: float | None = 7 * 24 * 3600,
        dry_run: bool = False,
    ) -> GarbageReport:
        """Delete what no tag reaches any more, safely while clients push: see :mod:`.gc`.
        :class:`CollectionRunning` when another collection holds the directory."""
        from .gc import collect_garbage

        report = collect_garbage(self, grace=grace, upload_max_age=upload_max_age, dry_run=dry_run)
        if not dry_run:
            self._stored_bytes = report.stored_bytes
        return report

    # -- coordination with garbage collection ----------------------------------------------

    @contextlib.contextmanager
    def sweep_lock(self, *, shared: bool) -> Iterator[None]:
        """Hold ``.sweep.lock``: shared while making content referenced, exclusive while
        removing it. A lock of its own per holder, so threads and processes exclude alike."""
        fd = os.open(self.root / ".sweep.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def stored_bytes(self) -> int:
        """Bytes of blob content on disk (walked once, then kept up to date)."""
        if self._stored_bytes is None:
            total = 0
            for path in self._blobs.glob("*/*/*"):
                with contextlib.suppress(FileNotFoundError):
                    total += path.stat().st_size
            self._stored_bytes = total
        return self._stored_bytes

    def open_uploads(self) -> int:
        """Upload sessions on disk."""
        return sum(1 for _ in os.scandir(self._uploads_dir))

    def _grew(self, size: int) -> None:
        if self._stored_bytes is not None:
            self._stored_bytes += size

    def _discard(self, directory: Path) -> None:
        """Delete a directory tree atomically: rename it into tmp/, then remove it there."""
        doomed = self._tmp / f"{uuidlib.uuid4().hex}.deleted"
        try:
            os.rename(directory, doomed)
        except FileNotFoundError:
            return
        _fsync_dir(directory.parent)
        shutil.rmtree(doomed, ignore_errors=True)

    def blob_exists(self, digest: Digest) -> bool:
        """True when the blob's content is stored (in any repository)."""
        return self._blob_path(digest).is_file()

    # -- paths and atomic writes -----------------------------------------------------------

    def _blob_path(self, digest: Digest) -> Path:
        return self._blobs / digest.algorithm / digest.hex[:2] / digest.hex

    def _blob_path_of(self, value: str) -> Path:
        parsed = _parse(value)
        return self._blob_path(parsed) if parsed else self._blobs / "invalid"

    def _repo(self, name: str) -> Path:
        if not is_valid_name(name):  # defence in depth: the app validates names first
            raise ValueError(f"invalid repository name {name!r}")
        return self._repos / name

    def _layer_link(self, name: str, digest: Digest) -> Path:
        return self._repo(name) / "_layers" / digest.algorithm / digest.hex

    def _revision_path(self, name: str, digest: Digest | str) -> Path:
        d = digest if isinstance(digest, Digest) else Digest.parse(digest)
        return self._repo(name) / "_manifests" / "revisions" / d.algorithm / d.hex

    def _tag_path(self, name: str, tag: str) -> Path:
        if not is_valid_tag(tag):
            raise ValueError(f"invalid tag {tag!r}")
        return self._repo(name) / "_manifests" / "tags" / tag

    def _referrer_path(self, name: str, subject: Digest, digest: Digest) -> Path:
        return (
            self._repo(name)
            / "_referrers"
            / subject.algorithm
            / subject.hex
            / f"{digest.algorithm}-{digest.hex}"
        )

    def _makedirs(self, path: Path) -> None:
        missing: list[Path] = []
        p = path
        while not p.is_dir():
            missing.append(p)
            p = p.parent
        for d in reversed(missing):
            with contextlib.suppress(FileExistsError):
                d.mkdir()
            _fsync_dir(d.parent)

    def _temp_path(self) -> Path:
        return self._tmp / f"{uuidlib.uuid4().hex}.tmp"

    def _atomic_write(self, target: Path, data: bytes) -> None:
        tmp = self._temp_path()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            _write_all(fd, data, 0)
            os.fsync(fd)
        finally:
            os.close(fd)
        self._makedirs(target.parent)
        os.replace(tmp, target)
        _fsync_dir(target.parent)

    def _remove(self, path: Path) -> bool:
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        _fsync_dir(path.parent)
        return True

    def _install_blob(self, source: Path, digest: Digest) -> None:
        """Move a complete, fsynced file into place as blob ``digest`` (and mark it fresh)."""
        target = self._blob_path(digest)
        self._makedirs(target.parent)
        existed = target.is_file()
        os.replace(source, target)  # concurrent uploads of one blob: same bytes, either wins
        os.utime(target)
        _fsync_dir(target.parent)
        if not existed:
            self._grew(target.stat().st_size)

    def _link_blob(self, name: str, digest: Digest) -> None:
        """Link the blob into the repository, or mark an existing link fresh."""
        link = self._layer_link(name, digest)
        try:
            os.utime(link)
        except FileNotFoundError:
            self._atomic_write(link, b"")

    def _keep_blob(self, name: str, digest: Digest) -> bool:
        """Mark a linked blob fresh (link and content); False when either is missing.
        Call with the sweep lock held shared."""
        try:
            os.utime(self._layer_link(name, digest))
            os.utime(self._blob_path(digest))
        except FileNotFoundError:
            return False
        return True

    # -- repositories ----------------------------------------------------------------------

    def repositories(self) -> list[str]:
        found: list[str] = []
        for dirpath, dirnames, _ in os.walk(self._repos):
            if "_layers" in dirnames or "_manifests" in dirnames:
                found.append(Path(dirpath).relative_to(self._repos).as_posix())
            dirnames[:] = [d for d in dirnames if not d.startswith("_")]
        return sorted(found)

    def repository_exists(self, name: str) -> bool:
        base = self._repo(name)
        return (base / "_layers").is_dir() or (base / "_manifests").is_dir()

    # -- blobs -----------------------------------------------------------------------------

    def blob_size(self, name: str, digest: Digest) -> int | None:
        if not self._layer_link(name, digest).is_file():
            return None
        try:
            return self._blob_path(digest).stat().st_size
        except FileNotFoundError:
            return None

    def open_blob(self, name: str, digest: Digest, *, keep: bool = False) -> BlobReader | None:
        link = self._layer_link(name, digest)
        try:
            stale = time.time() - link.stat().st_mtime > _KEEP_EVERY
        except FileNotFoundError:
            return None
        if keep and stale:
            with self.sweep_lock(shared=True):
                if not self._keep_blob(name, digest):
                    return None
        try:
            return _FileReader(self._blob_path(digest))
        except FileNotFoundError:
            return None

    def delete_blob(self, name: str, digest: Digest) -> bool:
        return self._remove(self._layer_link(name, digest))

    def mount_blob(self, name: str, digest: Digest, source: str | None) -> bool:
        with self.sweep_lock(shared=True):
            sources = [source] if source is not None else self._holders(digest)
            if not any(self._keep_blob(s, digest) for s in sources):
                return False
            self._link_blob(name, digest)
            return True

    def _holders(self, digest: Digest) -> list[str]:
        """Repositories the blob is linked into."""
        if not self._blob_path(digest).is_file():
            return []
        return [n for n in self.repositories() if self._layer_link(n, digest).is_file()]

    # -- uploads ---------------------------------------------------------------------------

    def create_upload(self, name: str, algorithm: str = "sha256") -> UploadSession:
        self._repo(name)
        Hasher(algorithm)  # refuses an algorithm it cannot compute
        uuid = str(uuidlib.uuid4())
        staging = self._tmp / uuid
        staging.mkdir()
        self._atomic_file(staging / "repository", name.encode())
        if algorithm != "sha256":
            self._atomic_file(staging / "algorithm", algorithm.encode())
        self._atomic_file(staging / "data", b"")
        _fsync_dir(staging)
        final = self._uploads_dir / uuid
        os.rename(staging, final)
        _fsync_dir(self._uploads_dir)
        session = _FileUpload(self, name, uuid, final, algorithm)
        with self._lock:
            self._sessions[uuid] = session
        return session

    def _atomic_file(self, path: Path, data: bytes) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            _write_all(fd, data, 0)
            os.fsync(fd)
        finally:
            os.close(fd)

    def get_upload(self, name: str, uuid: str) -> UploadSession:
        try:
            canonical = str(uuidlib.UUID(uuid))
        except ValueError:
            raise UploadUnknown(uuid) from None
        if len(uuid) != _UUID_LEN or canonical != uuid:
            raise UploadUnknown(uuid)
        directory = self._uploads_dir / uuid
        with self._lock:
            session = self._sessions.get(uuid)
            if session is not None and not directory.is_dir():  # purged as abandoned
                self._sessions.pop(uuid, None)
                session.close()
                raise UploadUnknown(uuid)
            if session is None:
                try:
                    owner = (directory / "repository").read_text()
                    algorithm_file = directory / "algorithm"
                    algorithm = (
                        algorithm_file.read_text().strip() if algorithm_file.exists() else "sha256"
                    )
                    session = _FileUpload(self, owner, uuid, directory, algorithm)
                except (FileNotFoundError, DigestError):
                    raise UploadUnknown(uuid) from None
                self._sessions[uuid] = session
        if session.repository != name:
            raise UploadUnknown(uuid)
        return session

    def _forget_upload(self, uuid: str) -> None:
        with self._lock:
            self._sessions.pop(uuid, None)

    # -- manifests -------------------------------------------------------------------------

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
        for tag in tags:
            self._tag_path(name, tag)  # refuses a bad tag before anything is written
        with self.sweep_lock(shared=True):
            for blob in blobs:
                if not self._keep_blob(name, blob):
                    raise ContentMissing(blob)
            for child in children:
                if not self._keep_manifest(name, child):
                    raise ContentMissing(child)
            content = self._blob_path(manifest.digest)
            try:
                os.utime(content)
            except FileNotFoundError:
                self._atomic_write(content, manifest.body)
                self._grew(len(manifest.body))
            self._atomic_write(
                self._revision_path(name, manifest.digest), manifest.media_type.encode()
            )
            if subject is not None and referrer is not None:
                self._atomic_write(
                    self._referrer_path(name, subject, manifest.digest),
                    json.dumps(referrer, sort_keys=True).encode(),
                )
            for tag in tags:
                self._atomic_write(self._tag_path(name, tag), str(manifest.digest).encode())

    def _keep_manifest(self, name: str, digest: Digest) -> bool:
        """Mark a stored manifest fresh (revision and content); False when it is missing."""
        try:
            os.utime(self._revision_path(name, digest))
            os.utime(self._blob_path(digest))
        except FileNotFoundError:
            return False
        return True

    def get_manifest(self, name: str, digest: Digest) -> StoredManifest | None:
        try:
            media_type = self._revision_path(name, digest).read_text()
            body = self._blob_path(digest).read_bytes()
        except FileNotFoundError:
            return None
        return StoredManifest(body, media_type, digest)

    def has_manifest(self, name: str, digest: Digest) -> bool:
        return self._revision_path(name, digest).is_file()

    def resolve_tag(self, name: str, tag: str) -> Digest | None:
        try:
            return _parse(self._tag_path(name, tag).read_text().strip())
        except FileNotFoundError:
            return None

    def tags(self, name: str) -> list[str]:
        directory = self._repo(name) / "_manifests" / "tags"
        if not directory.is_dir():
            return []
        return sorted(p.name for p in directory.iterdir() if is_valid_tag(p.name))

    def delete_manifest(self, name: str, digest: Digest) -> bool:
        stored = self.get_manifest(name, digest)
        if stored is None:
            return False
        for tag in self.tags(name):
            if self.resolve_tag(name, tag) == digest:
                self._remove(self._tag_path(name, tag))
        subject = _subject_of(stored.body)
        if subject is not None:
            self._remove(self._referrer_path(name, subject, digest))
        return self._remove(self._revision_path(name, digest))

    def delete_tag(self, name: str, tag: str) -> bool:
        return self._remove(self._tag_path(name, tag))

    def referrers(self, name: str, subject: Digest) -> list[dict[str, object]]:
        directory = self._repo(name) / "_referrers" / subject.algorithm / subject.hex
        if not directory.is_dir():
            return []
        out: list[dict[str, object]] = []
        for entry in sorted(directory.iterdir()):
            try:
                out.append(json.loads(entry.read_bytes()))
            except (FileNotFoundError, ValueError):
                continue
        return out

    def close(self) -> None:
        """Close open session files and release the data directory."""
        with self._lock:
            sessions = list(self._sessions.values())
        for s in sessions:
            s.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def _parse(value: str) -> Digest | None:
    try:
        return Digest.parse(value)
    except DigestError:
        return None


def _subject_of(body: bytes) -> Digest | None:
    try:
        doc = json.loads(body)
        subject = doc.get("subject") if isinstance(doc, dict) else None
        return _parse(subject["digest"]) if isinstance(subject, dict) else None
    except (ValueError, KeyError, TypeError):
        return None
