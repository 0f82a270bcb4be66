"""Image operations on registries named by host, with the credentials of the bindings serving
those hosts (else Docker's keychain, else anonymous): copy, push and pull OCI layouts, list tags,
resolve digests, and the push primitives (one blob, one manifest) on a binding's registry.

The sidecar's ``image.*``, ``artifactRegistry.uploadBlob`` and ``artifactRegistry.putManifest``
methods call this module. Paths are on the file system of the process running it and must be
absolute (a relative path would depend on where that process was started). Transfers report
progress per blob as :class:`TransferUpdate` values and stop cleanly when their task is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from artreg.digest import Digest
from artreg.errors import ArtregError, InvalidInput, RemoteResourceNotFound
from artreg.hosts import normalize_host
from artreg.oci.blobs import BlobData, Progress, UploadResult
from artreg.oci.client import RegistryClient
from artreg.oci.descriptor import Descriptor
from artreg.oci.image import (
    Image,
    ImageRegistry,
    Index,
    RegistryTarget,
    Taggable,
    Target,
    write_all,
)
from artreg.oci.keychain import Keychain
from artreg.oci.layout import LayoutTarget, OciLayout
from artreg.oci.reference import Reference, validate_digest, validate_repository, validate_tag
from artreg.registry import ArtifactRegistry
from artreg.types import (
    DEFAULT_TRANSFER_JOBS,
    MAX_INLINE_BYTES,
    ArtifactRegistryCredentials,
    ArtifactRegistryPermissions,
    BlobUploadStatus,
    ImageCopyResult,
    ImageTransferResult,
    TransferStatus,
)

__all__ = ["ImageOps", "TransferUpdate", "blob_sizes", "require_absolute"]

#: A blob's progress is reported at most once per this share of its size (and per MiB).
_REPORT_FRACTION: Final = 100
_REPORT_MIN_BYTES: Final = 1 << 20


@dataclass(frozen=True)
class TransferUpdate:
    """Progress of one blob of a transfer, with the call's totals so far."""

    target: str
    digest: str
    status: TransferStatus
    done: int
    total: int | None
    bytes_done: int
    bytes_total: int
    blobs_done: int
    blobs_total: int


ProgressSink = Callable[[TransferUpdate], None]


def require_absolute(path: str, *, field: str, operation: str) -> Path:
    """``path`` as a Path; INVALID_INPUT when it is relative."""
    candidate = Path(path)
    if not candidate.is_absolute():
        raise InvalidInput(
            operation_context=operation,
            details=f"{path!r} is not an absolute path",
            field_name=field,
            hint="paths name the file system of the process running artreg (the sidecar), "
            "not the caller's; pass an absolute path",
        )
    return candidate


def blob_sizes(taggable: Taggable) -> dict[str, int]:
    """Every blob an image or index references (children included): digest → size."""
    sizes: dict[str, int] = {}

    def walk(item: Taggable) -> Iterator[Image]:
        if isinstance(item, Index):
            for child in item.children.values():
                yield from walk(child)
        else:
            yield item

    for image in walk(taggable):
        for desc in image.parsed.blobs:
            sizes.setdefault(desc.digest, desc.size)
    return sizes


class _Tracker:
    """Turns per-chunk byte counts and per-blob outcomes into :class:`TransferUpdate` values:
    a blob's bytes at most every 1 % (and 1 MiB), then exactly one final status."""

    def __init__(self, sink: ProgressSink | None) -> None:
        self.sink = sink
        self.bytes_total = 0
        self.blobs_total = 0
        self._bytes: dict[tuple[str, str], int] = {}
        self._reported: dict[tuple[str, str], int] = {}
        self._finished: set[tuple[str, str]] = set()
        self.moved = 0
        self.skipped = 0
        self.mounted = 0

    def expect(self, sizes: Mapping[str, int]) -> None:
        self.bytes_total += sum(sizes.values())
        self.blobs_total += len(sizes)

    def _emit(
        self, target: str, digest: str, status: TransferStatus, done: int, total: int | None
    ) -> None:
        if self.sink is None:
            return
        self.sink(
            TransferUpdate(
                target=target,
                digest=digest,
                status=status,
                done=done,
                total=total,
                bytes_done=sum(self._bytes.values()),
                bytes_total=self.bytes_total,
                blobs_done=len(self._finished),
                blobs_total=self.blobs_total,
            )
        )

    def chunk(self, target: str, desc: Descriptor, done: int) -> None:
        key = (target, desc.digest)
        if key in self._finished:
            return
        self._bytes[key] = done
        step = max(_REPORT_MIN_BYTES, desc.size // _REPORT_FRACTION)
        last = self._reported.get(key)
        if done >= desc.size or (last is not None and done - last < step):
            return  # the final status follows; or too soon after the last report
        self._reported[key] = done
        self._emit(target, desc.digest, TransferStatus.TRANSFERRING, done, desc.size)

    def finish(self, target: str, desc: Descriptor, outcome: str) -> None:
        key = (target, desc.digest)
        if key in self._finished:
            return
        self._finished.add(key)
        self._bytes[key] = desc.size
        if outcome == "exists":
            status = TransferStatus.EXISTS
            self.skipped += 1
        elif outcome == "mounted":
            status = TransferStatus.MOUNTED
            self.mounted += 1
        else:
            status = TransferStatus.COMPLETE
            self.moved += desc.size
        self._emit(target, desc.digest, status, desc.size, desc.size)


class _TrackedTarget:
    """A write target whose blob writes report to a :class:`_Tracker`."""

    def __init__(self, inner: Target, tracker: _Tracker) -> None:
        self.inner = inner
        self.tracker = tracker

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def location(self) -> tuple[str, str] | None:
        return self.inner.location

    async def put_blob(
        self, desc: Descriptor, data: BlobData, *, mount_from: str | None, progress: Progress | None
    ) -> str:
        name = self.inner.name

        def report(done: int, total: int | None) -> None:
            self.tracker.chunk(name, desc, done)

        outcome = await self.inner.put_blob(desc, data, mount_from=mount_from, progress=report)
        self.tracker.finish(name, desc, outcome)
        return outcome

    async def put_manifest(self, data: bytes, media_type: str, reference: str | None) -> str:
        return await self.inner.put_manifest(data, media_type, reference)


def _jobs(jobs: int | None) -> int:
    return DEFAULT_TRANSFER_JOBS if jobs is None else jobs


def _platforms(platforms: Iterable[str] | None) -> list[str] | None:
    return list(platforms) if platforms else None


def _inline(data: bytes, *, field: str, operation: str) -> None:
    if len(data) > MAX_INLINE_BYTES:
        raise InvalidInput(
            operation_context=operation,
            details=f"{len(data)} bytes exceed the limit of {MAX_INLINE_BYTES} bytes for "
            "content sent inline",
            field_name=field,
            hint="write larger content into an OCI layout directory and push it with "
            "image.pushLayout, which streams it from disk",
        )


class ImageOps:
    """Image operations with one :class:`ImageRegistry` (one client per host) for its lifetime.

    ``bindings`` loads the registries whose hosts get binding credentials (called once, on the
    first operation that needs them); ``keychain`` serves every other host.
    """

    def __init__(
        self,
        bindings: Callable[[], Awaitable[Mapping[str, ArtifactRegistry]]],
        *,
        keychain: Keychain | None = None,
        insecure: bool = False,
    ) -> None:
        self._bindings = bindings
        self._keychain = keychain or Keychain()
        self._insecure = insecure
        self._images: ImageRegistry | None = None
        self._lock = asyncio.Lock()
        self._clients: dict[int, tuple[ArtifactRegistry, RegistryClient]] = {}

    async def images(self) -> ImageRegistry:
        """The image registry, its keychain holding every binding's host, each reached at the
        binding's registry data endpoint (built once; the first binding by name wins a host)."""
        async with self._lock:
            if self._images is None:
                routes: dict[str, str] = {}
                for registry in (await self._bindings()).values():
                    with contextlib.suppress(ArtregError):
                        endpoint = registry.registry_endpoint()
                        host = normalize_host(endpoint) if endpoint else ""
                        if host and host not in routes:
                            self._keychain.add_binding(registry, host=host)
                            routes[host] = registry.registry_data_endpoint()
                self._images = ImageRegistry(self._keychain, insecure=self._insecure, routes=routes)
            return self._images

    async def aclose(self) -> None:
        images, self._images = self._images, None
        if images is not None:
            await images.aclose()
        clients, self._clients = list(self._clients.values()), {}
        for _, client in clients:
            await client.aclose()

    # -- transfers ---------------------------------------------------------------------------

    async def copy(
        self,
        src: str,
        dst: str,
        all_tags: bool = False,
        platforms: list[str] | None = None,
        jobs: int | None = None,
        *,
        progress: ProgressSink | None = None,
    ) -> ImageCopyResult:
        """Copy ``src`` to ``dst`` (tag default: the source's); with ``all_tags`` every tag of
        the repository ``src`` into the repository ``dst``, one image after the other."""
        op = "Copy image"
        source = Reference.parse(src, field="src")
        target = Reference.parse(dst, field="dst")
        if target.digest:
            raise InvalidInput(
                operation_context=op,
                details="copy to a tag, not a digest: host/repo[:tag]",
                field_name="dst",
            )
        images = await self.images()
        if all_tags:
            if source.tag or source.digest or target.tag:
                raise InvalidInput(
                    operation_context=op,
                    details="with allTags, src and dst name repositories (host/repo), no tag",
                    field_name="src" if source.tag or source.digest else "dst",
                )
            tags = sorted(await images.list_tags(source))
            pairs = [
                (
                    Reference(source.registry, source.repository, tag),
                    Reference(target.registry, target.repository, tag),
                )
                for tag in tags
            ]
        else:
            if source.tag is None and source.digest is None:
                source = source.with_tag("latest")
            if target.tag is None and source.tag is not None:
                target = Reference(target.registry, target.repository, source.tag)
            pairs = [(source, target)]
        tracker = _Tracker(progress)
        loaded = [
            (s, d, await images.taggable(s, platforms=_platforms(platforms))) for s, d in pairs
        ]
        for _, _, taggable in loaded:
            tracker.expect(blob_sizes(taggable))
        results = []
        for s, d, taggable in loaded:
            client = await images.client(d.registry)
            written = await self._write(
                RegistryTarget(client, d.repository), taggable, d.tag, tracker, jobs
            )
            results.append(written.result(str(s), str(d.with_digest(written.digest))))
        return ImageCopyResult(images=results)

    async def push_layout(
        self,
        dir: str,
        ref: str,
        source_tag: str | None = None,
        platforms: list[str] | None = None,
        jobs: int | None = None,
        *,
        progress: ProgressSink | None = None,
    ) -> ImageTransferResult:
        """Push the image or index of the layout ``dir`` to ``ref`` (tag default ``latest``)."""
        op = "Push image"
        path = require_absolute(dir, field="dir", operation=op)
        dst = Reference.parse(ref, field="ref")
        if dst.digest:
            raise InvalidInput(
                operation_context=op,
                details="push to a tag, not a digest: host/repo[:tag]",
                field_name="ref",
            )
        _, taggable = await OciLayout(path).taggable_to_push(
            source_tag,
            dst.tag,
            platforms=_platforms(platforms),
            how_to_choose="name one with sourceTag",
        )
        if dst.tag is None:
            dst = dst.with_tag("latest")
        images = await self.images()
        client = await images.client(dst.registry)
        tracker = _Tracker(progress)
        tracker.expect(blob_sizes(taggable))
        written = await self._write(
            RegistryTarget(client, dst.repository), taggable, dst.tag, tracker, jobs
        )
        return written.result(f"oci:{path}", str(dst.with_digest(written.digest)))

    async def pull_layout(
        self,
        ref: str,
        dir: str,
        tag: str | None = None,
        platforms: list[str] | None = None,
        jobs: int | None = None,
        *,
        progress: ProgressSink | None = None,
    ) -> ImageTransferResult:
        """Pull ``ref`` (tag default ``latest``) into the layout ``dir``, created when missing;
        tagged ``tag`` there (default: ``ref``'s tag; untagged when pulled by digest)."""
        op = "Pull image"
        path = require_absolute(dir, field="dir", operation=op)
        src = Reference.parse(ref, field="ref")
        if tag is not None:
            validate_tag(tag, context=op, field="tag")
        if src.tag is None and src.digest is None:
            src = src.with_tag("latest")
        images = await self.images()
        taggable = await images.taggable(src, platforms=_platforms(platforms))
        layout = OciLayout.create(path)
        name = tag or src.tag
        tracker = _Tracker(progress)
        tracker.expect(blob_sizes(taggable))
        written = await self._write(
            LayoutTarget(layout), taggable, name or taggable.digest, tracker, jobs
        )
        return written.result(str(src), f"oci:{path}" + (f":{name}" if name else ""))

    async def _write(
        self,
        target: Target,
        taggable: Taggable,
        reference: str | None,
        tracker: _Tracker,
        jobs: int | None,
    ) -> _Written:
        before = (tracker.moved, tracker.skipped, tracker.mounted)
        [digest] = await write_all(
            [(_TrackedTarget(target, tracker), taggable, reference)], concurrency=_jobs(jobs)
        )
        return _Written(
            digest=digest,
            media_type=taggable.media_type,
            blobs=len(blob_sizes(taggable)),
            bytes=tracker.moved - before[0],
            skipped=tracker.skipped - before[1],
            mounted=tracker.mounted - before[2],
        )

    # -- reads -------------------------------------------------------------------------------

    async def list_tags(self, ref: str) -> list[str]:
        """Every tag of the repository ``host/repository`` (a tag or digest in ``ref`` is
        ignored), sorted."""
        parsed = Reference.parse(ref, field="ref")
        images = await self.images()
        return sorted(await images.list_tags(parsed))

    async def digest(self, ref: str) -> str:
        """The manifest digest ``ref`` resolves to (tag default ``latest``)."""
        parsed = Reference.parse(ref, field="ref")
        if parsed.tag is None and parsed.digest is None:
            parsed = parsed.with_tag("latest")
        images = await self.images()
        client = await images.client(parsed.registry)
        head = await client.head_manifest(parsed.repository, parsed.identifier)
        if head is None:
            raise RemoteResourceNotFound(
                operation_context="Resolve digest",
                resource_type="manifest",
                resource_name=str(parsed),
            )
        return head.digest

    # -- push primitives on a binding ----------------------------------------------------------

    def _binding_client(self, registry: ArtifactRegistry) -> RegistryClient:
        """A push-capable client for the binding's registry (one per binding)."""
        cached = self._clients.get(id(registry))
        if cached is not None and cached[0] is registry:
            return cached[1]
        base = registry.registry_data_endpoint()

        async def credentials(
            repository: str, permissions: ArtifactRegistryPermissions
        ) -> ArtifactRegistryCredentials:
            return await registry.generate_credentials(repository, permissions, 3600)

        client = RegistryClient(base, credentials=credentials, insecure=self._insecure)
        self._clients[id(registry)] = (registry, client)
        return client

    async def upload_blob(
        self, registry: ArtifactRegistry, repo_name: str, digest: str, data: bytes
    ) -> BlobUploadStatus:
        """Upload ``data`` as the blob ``digest`` of ``repo_name`` (checked against the digest
        first); EXISTS when the repository already has it."""
        op = "Upload blob"
        validate_repository(repo_name, context=op, field="repo_name")
        validate_digest(digest, context=op, field="digest")
        _inline(data, field="data", operation=op)
        expected = Digest.parse(digest)
        actual = Digest.of(data, expected.algorithm)
        if actual != expected:
            raise InvalidInput(
                operation_context=op,
                details=f"data hashes to {actual}, not {digest}",
                field_name="digest",
            )
        outcome = await self._binding_client(registry).upload_blob(
            repo_name, digest, data, size=len(data)
        )
        return (
            BlobUploadStatus.EXISTS if outcome is UploadResult.EXISTS else BlobUploadStatus.UPLOADED
        )

    async def put_manifest(
        self,
        registry: ArtifactRegistry,
        repo_name: str,
        reference: str,
        manifest: bytes,
        content_type: str,
    ) -> str:
        """PUT ``manifest`` verbatim at ``reference`` (tag or digest); returns its digest."""
        op = "Put manifest"
        validate_repository(repo_name, context=op, field="repo_name")
        _inline(manifest, field="manifest", operation=op)
        if not content_type:
            raise InvalidInput(
                operation_context=op,
                details="contentType must not be empty",
                field_name="content_type",
            )
        if ":" in reference:
            validate_digest(reference, context=op, field="reference")
        else:
            validate_tag(reference, context=op, field="reference")
        return await self._binding_client(registry).put_manifest(
            repo_name, reference, manifest, content_type
        )


@dataclass(frozen=True)
class _Written:
    digest: str
    media_type: str
    blobs: int
    bytes: int
    skipped: int
    mounted: int

    def result(self, source: str, destination: str) -> ImageTransferResult:
        return ImageTransferResult(
            source=source,
            destination=destination,
            digest=self.digest,
            media_type=self.media_type,
            blobs=self.blobs,
            bytes=self.bytes,
            skipped=self.skipped,
            mounted=self.mounted,
        )
