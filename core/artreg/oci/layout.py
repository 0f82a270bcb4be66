"""OCI image layouts on disk: ``oci-layout``, ``index.json`` and ``blobs/<alg>/<hex>``.

Read an image or index out of a layout (blobs stream from their files), and write into one
(blobs streamed to a temporary file, verified, then renamed into place). Tags are the
``org.opencontainers.image.ref.name`` annotations of ``index.json`` entries, as skopeo writes them.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import AsyncIterable, Callable, Iterable
from pathlib import Path
from typing import Any, Final

from artreg.digest import Digest, Hasher
from artreg.errors import InvalidInput, RemoteResourceNotFound
from artreg.oci import mediatypes
from artreg.oci._pipeline import OrderedWorker
from artreg.oci.blobs import HASH_BATCH, BlobData, Progress, bytes_source, file_source, update_all
from artreg.oci.descriptor import Descriptor, parse_manifest
from artreg.oci.image import BlobOpener, Taggable, load_taggable
from artreg.oci.reference import validate_digest, validate_tag

__all__ = ["REF_NAME", "LayoutTarget", "OciLayout"]

REF_NAME: Final = "org.opencontainers.image.ref.name"
LAYOUT_VERSION: Final = {"imageLayoutVersion": "1.0.0"}
#: Buffers per ``writev`` (under the kernel's IOV_MAX of 1024).
_IOV_MAX: Final = 512


class OciLayout:
    """One OCI image layout directory."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"OciLayout({str(self.path)!r})"

    # -- structure -------------------------------------------------------------------------------

    @classmethod
    def create(cls, path: str | os.PathLike[str]) -> OciLayout:
        """Open a layout, creating the directory, ``oci-layout`` and ``index.json`` if missing."""
        layout = cls(path)
        layout.path.mkdir(parents=True, exist_ok=True)
        marker = layout.path / "oci-layout"
        if not marker.exists():
            _atomic_write(marker, json.dumps(LAYOUT_VERSION).encode())
        if not (layout.path / "index.json").exists():
            layout._write_index(
                {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": []}
            )
        (layout.path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        return layout

    def _check(self) -> None:
        if not (self.path / "oci-layout").is_file() or not (self.path / "index.json").is_file():
            raise InvalidInput(
                operation_context="Read OCI layout",
                details=f"{self.path} is not an OCI image layout (oci-layout and index.json needed)",
                field_name="path",
            )

    def read_index(self) -> dict[str, Any]:
        """The parsed ``index.json``."""
        self._check()
        try:
            data = json.loads((self.path / "index.json").read_bytes())
        except ValueError as exc:
            raise InvalidInput(
                operation_context="Read OCI layout",
                details="index.json is not JSON",
                field_name="path",
            ) from exc
        if not isinstance(data, dict) or not isinstance(data.get("manifests", []), list):
            raise InvalidInput(
                operation_context="Read OCI layout",
                details="index.json has no manifests list",
                field_name="path",
            )
        data.setdefault("manifests", [])
        return data

    def _write_index(self, index: dict[str, Any]) -> None:
        _atomic_write(self.path / "index.json", json.dumps(index, indent=2).encode())

    def manifests(self) -> list[Descriptor]:
        """The descriptors listed in ``index.json``."""
        return [Descriptor.from_json(m) for m in self.read_index()["manifests"]]

    def tags(self) -> list[str]:
        """The ref names (tags) in ``index.json``."""
        return [
            d.annotations[REF_NAME]
            for d in self.manifests()
            if d.annotations and REF_NAME in d.annotations
        ]

    def resolve(self, reference: str | None = None) -> Descriptor:
        """The ``index.json`` entry for a tag or digest; with no reference, the only entry."""
        entries = self.manifests()
        if reference is None:
            if len(entries) == 1:
                return entries[0]
            raise InvalidInput(
                operation_context="Read OCI layout",
                details=f"{self.path} holds {len(entries)} manifests; name one by tag or digest",
                field_name="reference",
            )
        for entry in entries:
            if entry.digest == reference or (entry.annotations or {}).get(REF_NAME) == reference:
                return entry
        if ":" in reference and self.has_blob(reference) is not None:
            data = self.read_blob(reference)
            media = parse_manifest(data).media_type
            return Descriptor(media, reference, len(data))
        raise RemoteResourceNotFound(
            operation_context="Read OCI layout",
            resource_type="manifest",
            resource_name=f"{self.path}:{reference}",
        )

    # -- blobs -----------------------------------------------------------------------------------

    def blob_path(self, digest: str) -> Path:
        validate_digest(digest)
        algorithm, _, hex_ = digest.partition(":")
        return self.path / "blobs" / algorithm / hex_

    def has_blob(self, digest: str) -> int | None:
        """The blob's size, or None when absent."""
        path = self.blob_path(digest)
        return path.stat().st_size if path.is_file() else None

    def read_blob(self, digest: str) -> bytes:
        """A small blob whole (manifests, configs)."""
        path = self.blob_path(digest)
        if not path.is_file():
            raise RemoteResourceNotFound(
                operation_context="Read OCI layout", resource_type="blob", resource_name=digest
            )
        return path.read_bytes()

    def opener(self) -> BlobOpener:
        """Blobs of this layout, streamed from their files."""

        def open_blob(desc: Descriptor) -> BlobData:
            path = self.blob_path(desc.digest)
            if not path.is_file():
                raise RemoteResourceNotFound(
                    operation_context="Read OCI layout",
                    resource_type="blob",
                    resource_name=desc.digest,
                )
            return file_source(path)

        return open_blob

    async def write_blob(
        self,
        digest: str,
        data: BlobData,
        *,
        size: int | None = None,
        progress: Progress | None = None,
        verify: bool = True,
    ) -> bool:
        """Store a blob, verifying digest (and size). False when it was already there.
        ``verify=False`` skips hashing for streams that verify themselves as they are read."""
        target = self.blob_path(digest)
        if target.is_file() and (size is None or target.stat().st_size == size):
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        expected = Digest.parse(digest)
        hasher = Hasher(expected.algorithm)
        stream: AsyncIterable[bytes]
        if isinstance(data, bytes):
            stream = bytes_source(data)()
        elif callable(data) and not isinstance(data, AsyncIterable):
            stream = data()
        else:
            stream = data
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
        tmp = Path(tmp_name)
        # a small blob is written here (no thread to start); larger ones on a worker thread
        worker = OrderedWorker() if size is None or size > HASH_BATCH else _Inline()
        received = 0
        batch: list[bytes] = []
        batched = 0
        try:
            try:
                async for chunk in stream:
                    received += len(chunk)
                    # written (and hashed) a MiB at a time, in one writev, on the worker thread
                    batch.append(chunk)
                    batched += len(chunk)
                    if batched >= HASH_BATCH:
                        await worker.submit(_write_batch, fd, batch, hasher if verify else None)
                        batch, batched = [], 0
                    if progress is not None:
                        progress(received, size)
                if batch:
                    await worker.submit(_write_batch, fd, batch, hasher if verify else None)
                await worker.drain()
            finally:
                await worker.aclose()
                os.close(fd)
            if not verify:
                hasher.size = received
            if (verify and hasher.digest() != expected) or (
                size is not None and hasher.size != size
            ):
                raise InvalidInput(
                    operation_context="Write OCI layout blob",
                    details=f"content hashes to {hasher.digest()} ({hasher.size} bytes), "
                    f"not {digest}" + (f" ({size} bytes)" if size is not None else ""),
                    field_name="digest",
                )
            os.replace(tmp, target)
        finally:
            _discard(tmp)
        return True

    # -- manifests -------------------------------------------------------------------------------

    def add_manifest(self, descriptor: Descriptor, tag: str | None = None) -> None:
        """List a manifest (already stored as a blob) in ``index.json``, tagged ``tag``. An entry
        with the same tag is replaced; an untagged entry for the same digest is not duplicated."""
        if tag is not None:
            validate_tag(tag)
        index = self.read_index()
        kept = []
        for entry in index["manifests"]:
            ref_name = (entry.get("annotations") or {}).get(REF_NAME)
            if tag is not None and ref_name == tag:
                continue
            if tag is None and ref_name is None and entry.get("digest") == descriptor.digest:
                continue
            kept.append(entry)
        annotations = dict(descriptor.annotations or {})
        if tag is not None:
            annotations[REF_NAME] = tag
        entry = Descriptor(
            descriptor.media_type,
            descriptor.digest,
            descriptor.size,
            descriptor.platform,
            annotations or None,
        ).to_json()
        kept.append(entry)
        index["manifests"] = kept
        self._write_index(index)

    async def taggable_to_push(
        self,
        source: str | None,
        destination_tag: str | None,
        *,
        platforms: Iterable[str] | None = None,
        how_to_choose: str,
    ) -> tuple[str | None, Taggable]:
        """The reference chosen and the image or index it names, for a push to
        ``destination_tag``: ``source``, else the destination's tag when the layout has it, else
        the layout's only image. When none can be chosen, the :class:`InvalidInput` is hinted
        with ``how_to_choose`` (how the caller names an image) and the layout's tags."""
        chosen = source
        if chosen is None and destination_tag and destination_tag in self.tags():
            chosen = destination_tag
        try:
            return chosen, await self.taggable(chosen, platforms=platforms)
        except InvalidInput as exc:
            if chosen is None and exc.context.get("field_name") == "reference" and exc.hint is None:
                tags = ", ".join(self.tags()) or "none"
                exc.hint = f"{how_to_choose} (the layout's tags: {tags})"
            raise

    async def taggable(
        self, reference: str | None = None, *, platforms: Iterable[str] | None = None
    ) -> Taggable:
        """The image or index a tag/digest names (the only one when ``reference`` is None)."""
        root = self.resolve(reference)

        async def fetch(identifier: str) -> tuple[bytes, str]:
            data = self.read_blob(identifier)
            if str(Digest.of(data, Digest.parse(identifier).algorithm)) != identifier:
                raise InvalidInput(
                    operation_context="Read OCI layout",
                    details=f"blob {identifier} does not match its digest",
                    field_name="path",
                )
            media = (
                root.media_type if identifier == root.digest else parse_manifest(data).media_type
            )
            return data, media

        return await load_taggable(fetch, root.digest, self.opener(), platforms=platforms)


class LayoutTarget:
    """Writes images into an OCI layout (tagging the root manifest in ``index.json``)."""

    def __init__(self, layout: OciLayout) -> None:
        self.layout = layout

    @property
    def name(self) -> str:
        return f"oci:{self.layout.path}"

    @property
    def location(self) -> tuple[str, str] | None:
        return None

    async def put_blob(
        self, desc: Descriptor, data: BlobData, *, mount_from: str | None, progress: Progress | None
    ) -> str:
        if self.layout.has_blob(desc.digest) == desc.size:
            return "exists"
        await self.layout.write_blob(
            desc.digest,
            data,
            size=desc.size,
            progress=progress,
            verify=not getattr(data, "verified", False),
        )
        return "uploaded"

    async def put_manifest(self, data: bytes, media_type: str, reference: str | None) -> str:
        """Store the manifest blob; a tag (or digest) reference also lists it in index.json."""
        digest = str(Digest.of(data))
        await self.layout.write_blob(digest, data, size=len(data))
        if reference is not None:
            tag = None if ":" in reference else reference
            self.layout.add_manifest(Descriptor(media_type, digest, len(data)), tag)
        return digest


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


class _Inline:
    """:class:`OrderedWorker`'s interface, running each call at once on the calling thread."""

    async def submit(self, fn: Callable[..., object], *args: object) -> None:
        fn(*args)

    async def drain(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


def _write_batch(fd: int, parts: list[bytes], hasher: Hasher | None) -> None:
    """Append ``parts`` to ``fd`` with as few ``writev`` calls as it takes; hash them too."""
    if hasher is not None:
        update_all(hasher, parts)
    views = [memoryview(p) for p in parts if p]
    while views:
        written = os.writev(fd, views[:_IOV_MAX])
        while views and written >= len(views[0]):
            written -= len(views[0])
            views.pop(0)
        if views and written:
            views[0] = views[0][written:]


def _discard(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
