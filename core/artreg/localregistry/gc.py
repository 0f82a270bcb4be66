"""Online garbage collection of a :class:`FilesystemStore`, safe while clients push.

Mark: in every repository, start from each tag and follow what a pull or a referrers query can
reach — an index's child manifests, an image's config and layers, and the manifests whose
subject is a reached manifest — to a set of live manifests and live blob links per repository;
a blob's content is live when any repository reaches it.

Sweep: everything else goes — manifest revisions (with their referrer entries), blob links,
blob content — but only when its file is older than ``grace`` seconds before the mark began.
The store refreshes those files whenever content becomes referenced again (a blob committed,
mounted, or asked for with HEAD; a manifest stored over its blobs and children), holding
``.sweep.lock`` shared; the sweep re-checks each file's age while holding it exclusively.
So a push in flight, whose blobs are not yet reachable from a tag, is never collected, and a
manifest is never stored over a blob removed under it: its store step either sees the blob
(and refreshes it, sparing it) or finds it gone (MANIFEST_BLOB_UNKNOWN, the client uploads it).

Removal order keeps every invariant ``verify`` checks at every instant, so a SIGKILL anywhere
leaves a consistent store: a referrer entry before its manifest's revision, revisions and links
before the content they point at; a directory is renamed into ``tmp/`` before it is deleted.

Upload sessions untouched for ``upload_max_age`` seconds are deleted, as are files left in
``tmp/`` by a crash. One collection at a time per data directory (``.gc.lock``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from artreg.digest import ALGORITHMS, Digest, DigestError

from .fsstore import _fsync_dir

if TYPE_CHECKING:
    from .fsstore import FilesystemStore, GarbageReport

log = logging.getLogger("artreg.localregistry")

#: Files removed per hold of the exclusive sweep lock: pushes wait at most one batch.
BATCH: Final = 32
#: Entries of tmp/ older than this are leftovers of a crash.
TMP_MAX_AGE: Final = 3600.0


@dataclass(slots=True)
class _Marks:
    manifests: dict[str, set[Digest]] = field(default_factory=dict)
    links: dict[str, set[Digest]] = field(default_factory=dict)
    content: set[Digest] = field(default_factory=set)


def collect_garbage(
    store: FilesystemStore,
    *,
    grace: float,
    upload_max_age: float | None,
    dry_run: bool = False,
) -> GarbageReport:
    """Mark and sweep ``store`` (see the module docstring); return what was removed."""
    from .fsstore import GarbageReport

    started = time.monotonic()
    with _single_collection(store):
        # Taken under the exclusive lock, so each store step that refreshes files happened
        # wholly before it (and the mark sees what it wrote) or wholly after (all its files
        # are younger than the cutoff).
        with store.sweep_lock(shared=False):
            cutoff = time.time() - max(grace, 0.0)
        report = GarbageReport()
        marks = _mark(store)
        sweeper = _Sweeper(store, cutoff, report, dry_run)
        sweeper.revisions(marks)
        sweeper.links(marks)
        # Content something still points at stays whatever its age. Anything that starts
        # pointing at it after this scan refreshes it, so it is spared by age.
        sweeper.content(marks, _still_referenced(store))
        if upload_max_age is not None:
            _purge_uploads(store, time.time() - upload_max_age, report, dry_run)
        if not dry_run:
            _forget_empty_repositories(store)
            _purge_tmp(store)
        report.stored_bytes = sweeper.kept_bytes
    report.seconds = time.monotonic() - started
    return report


@contextlib.contextmanager
def _single_collection(store: FilesystemStore) -> Iterator[None]:
    from .fsstore import CollectionRunning

    fd = os.open(store.root / ".gc.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CollectionRunning(
                f"a garbage collection is already running on {store.root}"
            ) from None
        yield
    finally:
        os.close(fd)


# -- mark -----------------------------------------------------------------------------------


def _mark(store: FilesystemStore) -> _Marks:
    marks = _Marks()
    for name in store.repositories():
        manifests: set[Digest] = set()
        links: set[Digest] = set()
        pending = [d for d in (store.resolve_tag(name, t) for t in store.tags(name)) if d]
        while pending:
            digest = pending.pop()
            if digest in manifests or not store.has_manifest(name, digest):
                continue
            manifests.add(digest)
            doc = _document(store, digest)
            blobs, children = _references(doc)
            links.update(blobs)
            pending.extend(children)
            pending.extend(_referrers(store, name, digest))
        marks.manifests[name] = manifests
        marks.links[name] = links
        marks.content |= manifests | links
    return marks


def _document(store: FilesystemStore, digest: Digest) -> Any:
    try:
        return json.loads(store._blob_path(digest).read_bytes())
    except (OSError, ValueError):
        return None


def _digest_of(descriptor: Any) -> Digest | None:
    if not isinstance(descriptor, dict) or not isinstance(descriptor.get("digest"), str):
        return None
    try:
        return Digest.parse(descriptor["digest"])
    except DigestError:
        return None


def _references(doc: Any) -> tuple[list[Digest], list[Digest]]:
    """The blobs (config, layers) and child manifests a stored manifest refers to."""
    if not isinstance(doc, dict):
        return [], []
    blobs = [d for d in [_digest_of(doc.get("config"))] if d]
    layers = doc.get("layers")
    if isinstance(layers, list):
        blobs.extend(d for d in map(_digest_of, layers) if d)
    children_raw = doc.get("manifests")
    children = (
        [d for d in map(_digest_of, children_raw) if d] if isinstance(children_raw, list) else []
    )
    return blobs, children


def _referrers(store: FilesystemStore, name: str, subject: Digest) -> list[Digest]:
    directory = store._repos / name / "_referrers" / subject.algorithm / subject.hex
    found: list[Digest] = []
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for entry in os.scandir(directory):
            with contextlib.suppress(DigestError):
                found.append(Digest.parse(entry.name.replace("-", ":", 1)))
    return found


def _still_referenced(store: FilesystemStore) -> set[Digest]:
    found: set[Digest] = set()
    for name in store.repositories():
        base = store._repos / name
        found.update(d for d, _ in _stored(base / "_layers"))
        found.update(d for d, _ in _stored(base / "_manifests" / "revisions"))
    return found


def _stored(directory: Path) -> Iterator[tuple[Digest, Path]]:
    """``<alg>/<hex>`` files under ``directory`` as digests."""
    for algorithm in ALGORITHMS:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            for entry in os.scandir(directory / algorithm):
                with contextlib.suppress(DigestError):
                    yield Digest.parse(f"{algorithm}:{entry.name}"), Path(entry.path)


# -- sweep ----------------------------------------------------------------------------------


class _Sweeper:
    def __init__(
        self, store: FilesystemStore, cutoff: float, report: GarbageReport, dry_run: bool
    ) -> None:
        self.store = store
        self.cutoff = cutoff
        self.report = report
        self.dry_run = dry_run
        self.kept_bytes = 0
        self._dirty: set[Path] = set()

    def _unlink(self, path: Path) -> None:
        """Remove a file; its directory is synced once, at the end of the batch."""
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            self._dirty.add(path.parent)

    def _sync(self) -> None:
        """Make the batch's removals durable before anything that relied on them goes."""
        for directory in sorted(self._dirty):
            with contextlib.suppress(FileNotFoundError):
                _fsync_dir(directory)
        self._dirty.clear()

    def _old(self, path: Path) -> os.stat_result | None:
        """The file's stat when it exists and is older than the cutoff."""
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        return st if st.st_mtime < self.cutoff else None

    def _in_batches(self, items: list[Any], remove: Callable[[Any], None]) -> None:
        for start in range(0, len(items), BATCH):
            batch = items[start : start + BATCH]
            if self.dry_run:
                for item in batch:
                    remove(item)
                continue
            with self.store.sweep_lock(shared=False):
                for item in batch:
                    remove(item)
                self._sync()

    def revisions(self, marks: _Marks) -> None:
        doomed: list[tuple[str, Digest, Path]] = []
        for name in self.store.repositories():
            live = marks.manifests.get(name, set())
            base = self.store._repos / name / "_manifests" / "revisions"
            doomed.extend((name, d, p) for d, p in _stored(base) if d not in live)

        def remove(item: tuple[str, Digest, Path]) -> None:
            name, digest, path = item
            if self._old(path) is None:
                return
            self.report.manifests.append(f"{name}@{digest}")
            if self.dry_run:
                return
            subject = _digest_of(_as_dict(_document(self.store, digest)).get("subject"))
            if subject is not None:
                # durable before the revision goes: an entry never names a missing manifest
                referrer = self.store._referrer_path(name, subject, digest)
                self.store._remove(referrer)
                with contextlib.suppress(OSError):
                    referrer.parent.rmdir()  # only when it was the subject's last referrer
            self._unlink(path)

        self._in_batches(doomed, remove)

    def links(self, marks: _Marks) -> None:
        doomed: list[tuple[str, Digest, Path]] = []
        for name in self.store.repositories():
            live = marks.links.get(name, set())
            base = self.store._repos / name / "_layers"
            doomed.extend((name, d, p) for d, p in _stored(base) if d not in live)

        def remove(item: tuple[str, Digest, Path]) -> None:
            name, digest, path = item
            if self._old(path) is None:
                return
            self.report.links.append(f"{name}@{digest}")
            if not self.dry_run:
                self._unlink(path)

        self._in_batches(doomed, remove)

    def content(self, marks: _Marks, referenced: set[Digest]) -> None:
        doomed: list[tuple[Digest, Path]] = []
        for algorithm in ALGORITHMS:
            for shard in sorted((self.store._blobs / algorithm).glob("*")):
                for digest, path in _stored_shard(algorithm, shard):
                    if digest in marks.content or (digest in referenced and not self.dry_run):
                        with contextlib.suppress(FileNotFoundError):
                            self.kept_bytes += path.stat().st_size
                    else:
                        doomed.append((digest, path))

        def remove(item: tuple[Digest, Path]) -> None:
            digest, path = item
            st = path.stat() if path.is_file() else None
            if st is None:
                return
            if st.st_mtime >= self.cutoff:
                self.kept_bytes += st.st_size
                return
            self.report.removed.append(str(digest))
            self.report.freed_bytes += st.st_size
            if not self.dry_run:
                self._unlink(path)
                with contextlib.suppress(OSError):
                    path.parent.rmdir()  # only succeeds when the shard is empty
                    self._dirty.discard(path.parent)

        self._in_batches(doomed, remove)


def _stored_shard(algorithm: str, shard: Path) -> Iterator[tuple[Digest, Path]]:
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for entry in os.scandir(shard):
            with contextlib.suppress(DigestError):
                yield Digest.parse(f"{algorithm}:{entry.name}"), Path(entry.path)


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# -- uploads and leftovers ------------------------------------------------------------------


def _purge_uploads(
    store: FilesystemStore, oldest: float, report: GarbageReport, dry_run: bool
) -> None:
    for entry in sorted(store._uploads_dir.iterdir()):
        try:
            touched = (entry / "data").stat().st_mtime  # written at start and by each chunk
        except FileNotFoundError:
            if not entry.exists():
                continue  # finished meanwhile
            touched = 0.0  # broken (no data file): purge it
        if touched >= oldest:
            continue
        try:
            owner = (entry / "repository").read_text()
        except OSError:
            owner = "?"
        report.uploads.append(f"{owner}/{entry.name}")
        if not dry_run:
            store._discard(entry)


def _holds_anything(directory: Path) -> bool:
    """True when a file lies anywhere under ``directory``."""
    return any(files for _, _, files in os.walk(directory))


def _forget_empty_repositories(store: FilesystemStore) -> None:
    """Remove the directories of repositories left with no tag, manifest, link or referrer,
    so the catalog no longer lists them. Under the exclusive lock: every write into a
    repository's directories holds it shared."""
    for name in store.repositories():
        base = store._repos / name
        inner = [base / d for d in ("_layers", "_manifests", "_referrers")]
        if any(_holds_anything(d) for d in inner if d.is_dir()):
            continue
        with store.sweep_lock(shared=False):
            if any(_holds_anything(d) for d in inner if d.is_dir()):
                continue  # written to meanwhile
            for directory in inner:
                if directory.is_dir():
                    store._discard(directory)
            parent = base
            while parent != store._repos:  # empty namespaces go too; others refuse rmdir
                try:
                    parent.rmdir()
                except OSError:
                    break
                parent = parent.parent


def _purge_tmp(store: FilesystemStore) -> None:
    oldest = time.time() - TMP_MAX_AGE
    for entry in store._tmp.iterdir():
        with contextlib.suppress(FileNotFoundError):
            if entry.lstat().st_mtime >= oldest:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


# -- on a schedule ----------------------------------------------------------------------------


class Scheduler:
    """Runs :func:`collect_garbage` every ``interval`` seconds in a daemon thread, handing each
    report to ``on_report``. A round that finds another collection running is skipped."""

    def __init__(
        self,
        store: FilesystemStore,
        *,
        interval: float,
        grace: float,
        upload_max_age: float | None,
        on_report: Callable[[GarbageReport], None] | None = None,
    ) -> None:
        self.store = store
        self.interval = interval
        self.grace = grace
        self.upload_max_age = upload_max_age
        self._on_report = on_report
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="artreg-registry-gc", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the round under way, if any; idempotent."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.run_once()

    def run_once(self) -> GarbageReport | None:
        """One collection now; None when it was skipped or failed (logged)."""
        from .fsstore import CollectionRunning

        try:
            report = self.store.collect_garbage(
                grace=self.grace, upload_max_age=self.upload_max_age
            )
        except CollectionRunning:
            log.info("garbage collection skipped: another one is running")
            return None
        except Exception:
            log.exception("garbage collection failed")
            return None
        if report.removed or report.manifests or report.links or report.uploads:
            log.info(
                "garbage collection freed %d bytes: %d blob(s), %d manifest(s), %d link(s), "
                "%d upload(s) in %.2fs",
                report.freed_bytes,
                len(report.removed),
                len(report.manifests),
                len(report.links),
                len(report.uploads),
                report.seconds,
            )
        if self._on_report is not None:
            self._on_report(report)
        return report
