"""Images and indexes as values, and writing them to targets with parallel, deduplicated blob
uploads and progress events (as imgpkg's ``registry`` package;
docs-site: reference/oci.md).

An :class:`Image` is its manifest's exact bytes plus a way to open each blob it references; an
:class:`Index` is its bytes plus its children. Reading one from a registry fetches manifests only;
blobs stream from the source when written elsewhere, so memory stays flat.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol, TypeAlias

import httpx

from artreg.digest import Digest
from artreg.errors import InvalidInput, RemoteResourceNotFound
from artreg.oci import mediatypes
from artreg.oci.blobs import BlobData, Progress
from artreg.oci.client import RegistryClient
from artreg.oci.descriptor import Descriptor, ParsedManifest, parse_manifest
from artreg.oci.keychain import Keychain
from artreg.oci.reference import Reference
from artreg.oci.retry import RetryPolicy

__all__ = [
    "BlobOpener",
    "Image",
    "ImageRegistry",
    "Index",
    "ProgressCallback",
    "ProgressEvent",
    "RegistryTarget",
    "Taggable",
    "Target",
    "load_taggable",
    "registry_opener",
    "write_all",
]

#: Opens the bytes of one blob of an image (a callable re-opens the stream on a retry).
BlobOpener: TypeAlias = Callable[[Descriptor], BlobData]


@dataclass(frozen=True)
class ProgressEvent:
    """Progress of one blob: ``done`` of ``total`` bytes written to ``target``. ``skipped``
    when the target already had it; ``mounted`` when it came by a cross-repository mount."""

    target: str
    digest: str
    done: int
    total: int | None
    skipped: bool = False
    mounted: bool = False


ProgressCallback: TypeAlias = Callable[[ProgressEvent], None]


@dataclass(eq=False)
class _Manifest:
    """Manifest bytes (never re-serialised) and their media type: what images and indexes share."""

    manifest: bytes
    media_type: str

    @cached_property
    def parsed(self) -> ParsedManifest:
        return parse_manifest(self.manifest, self.media_type)

    @property
    def digest(self) -> str:
        return str(Digest.of(self.manifest))

    def descriptor(self) -> Descriptor:
        return Descriptor(self.media_type, self.digest, len(self.manifest))


@dataclass(eq=False)
class Image(_Manifest):
    """One image: manifest bytes (never re-serialised) and where its blobs come from.
    ``origin`` is ``(registry, repository)`` holding the blobs, which enables mounts."""

    opener: BlobOpener
    origin: tuple[str, str] | None = None

    @property
    def config(self) -> Descriptor | None:
        return self.parsed.config

    @property
    def layers(self) -> tuple[Descriptor, ...]:
        return self.parsed.layers


@dataclass(eq=False)
class Index(_Manifest):
    """A multi-platform index: its bytes and the children it lists (by digest). Children that
    were not loaded (e.g. platforms filtered out) are written only if the target has them."""

    children: dict[str, Image | Index] = field(default_factory=dict)
    origin: tuple[str, str] | None = None

    @property
    def manifests(self) -> tuple[Descriptor, ...]:
        return self.parsed.manifests


Taggable: TypeAlias = Image | Index


class Target(Protocol):
    """Somewhere images are written: a registry repository or an OCI layout."""

    @property
    def name(self) -> str: ...

    @property
    def location(self) -> tuple[str, str] | None:
        """``(registry, repository)`` for registry targets (mount candidates), else None."""

    async def put_blob(
        self, desc: Descriptor, data: BlobData, *, mount_from: str | None, progress: Progress | None
    ) -> str:
        """Make the target hold the blob; return "exists", "mounted" or "uploaded"."""

    async def put_manifest(self, data: bytes, media_type: str, reference: str | None) -> str:
        """Store a manifest (tagged ``reference`` when given); return its digest."""


class RegistryTarget:
    """A repository on a registry, written through a :class:`RegistryClient`."""

    def __init__(self, client: RegistryClient, repository: str) -> None:
        self.client = client
        self.repository = repository

    @property
    def name(self) -> str:
        return f"{self.client.registry}/{self.repository}"

    @property
    def location(self) -> tuple[str, str] | None:
        return (self.client.registry, self.repository)

    async def put_blob(
        self, desc: Descriptor, data: BlobData, *, mount_from: str | None, progress: Progress | None
    ) -> str:
        result = await self.client.upload_blob(
            self.repository,
            desc.digest,
            data,
            size=desc.size,
            mount_from=mount_from,
            progress=progress,
        )
        return result.value

    async def put_manifest(self, data: bytes, media_type: str, reference: str | None) -> str:
        return await self.client.put_manifest(
            self.repository, reference or str(Digest.of(data)), data, media_type
        )


# -- loading ---------------------------------------------------------------------------------------


async def load_taggable(
    fetch: Callable[[str], Awaitable[tuple[bytes, str]]],
    reference: str,
    opener: BlobOpener,
    *,
    origin: tuple[str, str] | None = None,
    platforms: Iterable[str] | None = None,
) -> Taggable:
    """Build an Image or Index by fetching manifests with ``await fetch(ref) -> (bytes, type)``
    (children by digest). ``platforms`` (``os/arch[/variant]``) keeps only those children."""
    wanted = set(platforms) if platforms is not None else None

    async def load(ref: str, depth: int) -> Taggable:
        if depth > 8:
            raise InvalidInput(
                operation_context="Load image",
                details="indexes nested too deeply",
                field_name="reference",
            )
        data, media = await fetch(ref)
        parsed = parse_manifest(data, media)
        if not parsed.is_index:
            return Image(data, media or parsed.media_type, opener, origin)
        index = Index(data, media or parsed.media_type, {}, origin)
        for child in parsed.manifests:
            if (
                wanted is not None
                and child.platform
                and child.platform_string not in wanted
                and not any(child.platform_string.startswith(p + "/") for p in wanted)
            ):
                continue
            if not (
                mediatypes.is_index(child.media_type)
                or mediatypes.is_image_manifest(child.media_type)
            ):
                continue  # artifacts listed in an index are copied only if present at the target
            index.children[child.digest] = await load(child.digest, depth + 1)
        if wanted is not None and len(index.children) < len(parsed.manifests):
            # Some platforms were left out: the copy gets an index listing only the others
            # (new bytes, so a new digest), which registries accept.
            obj = json.loads(data)
            obj["manifests"] = [m for m in obj["manifests"] if m.get("digest") in index.children]
            index = Index(
                json.dumps(obj, separators=(",", ":")).encode(),
                index.media_type,
                index.children,
                origin,
            )
        return index

    return await load(reference, 0)


# -- writing ---------------------------------------------------------------------------------------


@dataclass
class _BlobJob:
    desc: Descriptor
    opener: BlobOpener
    origin: tuple[str, str] | None
    targets: list[Target] = field(default_factory=list)


def _walk(taggable: Taggable) -> Iterable[Image]:
    if isinstance(taggable, Image):
        yield taggable
        return
    for child in taggable.children.values():
        yield from _walk(child)


async def _write_manifests(target: Target, taggable: Taggable, reference: str | None) -> str:
    if isinstance(taggable, Index):
        for child in taggable.children.values():
            await _write_manifests(target, child, None)
    return await target.put_manifest(taggable.manifest, taggable.media_type, reference)


async def write_all(
    items: Iterable[tuple[Target, Taggable, str | None]],
    *,
    concurrency: int = 4,
    progress: ProgressCallback | None = None,
) -> list[str]:
    """Write images and indexes to targets: every blob once per registry (uploaded to one
    repository, mounted into the others, mounted from the source when it is on the same
    registry), ``concurrency`` blobs at a time; then the manifests, children before their index.
    Returns the digest written for each item, in order."""
    items = list(items)
    if concurrency < 1:
        raise InvalidInput(
            operation_context="Write images",
            details="concurrency must be at least 1",
            field_name="concurrency",
        )
    semaphore = asyncio.Semaphore(concurrency)

    async def run(job: _BlobJob) -> None:
        async with semaphore:
            await _write_blob(job, progress)

    await _gather(run(job) for job in _blob_jobs(items).values())
    digests = []
    for target, taggable, reference in items:
        digests.append(await _write_manifests(target, taggable, reference))
    return digests


def _blob_jobs(
    items: Iterable[tuple[Target, Taggable, str | None]],
) -> dict[tuple[str, str], _BlobJob]:
    """The blob work grouped per (registry or target name, digest): one job with every target
    that needs the blob. Foreign layers stay where their ``urls`` say."""
    jobs: dict[tuple[str, str], _BlobJob] = {}
    for target, taggable, _ in items:
        group = target.location[0] if target.location else f"target:{target.name}"
        for image in _walk(taggable):
            for desc in image.parsed.blobs:
                if desc.urls and desc.media_type == mediatypes.DOCKER_FOREIGN_LAYER:
                    continue
                job = jobs.setdefault(
                    (group, desc.digest), _BlobJob(desc, image.opener, image.origin)
                )
                if all(t.name != target.name for t in job.targets):
                    job.targets.append(target)
    return jobs


def _mount_source(job: _BlobJob, location: tuple[str, str], first_repo: str | None) -> str | None:
    """Where a target's blob can be mounted from: the job's first repository on this registry,
    else the source repository when it is on the same registry."""
    if first_repo is not None:
        return first_repo
    origin = job.origin
    if origin is not None and origin[0] == location[0] and origin[1] != location[1]:
        return origin[1]
    return None


async def _write_blob(job: _BlobJob, progress: ProgressCallback | None) -> None:
    """Put one blob to each of its targets, mounting after the first where the registry allows."""
    first_repo: str | None = None
    for target in job.targets:
        loc = target.location
        mount_from = _mount_source(job, loc, first_repo) if loc is not None else None

        def report(done: int, total: int | None, _t: Target = target) -> None:
            if progress is not None:
                progress(ProgressEvent(_t.name, job.desc.digest, done, total))

        result = await target.put_blob(
            job.desc,
            job.opener(job.desc),
            mount_from=mount_from,
            progress=report if progress else None,
        )
        if progress is not None and result in ("exists", "mounted"):
            size = job.desc.size
            progress(
                ProgressEvent(
                    target.name,
                    job.desc.digest,
                    size,
                    size,
                    skipped=result == "exists",
                    mounted=result == "mounted",
                )
            )
        if loc is not None and first_repo is None:
            first_repo = loc[1]


async def _gather(coros: Iterable[Coroutine[Any, Any, None]]) -> None:
    tasks = [asyncio.ensure_future(c) for c in coros]
    if not tasks:
        return
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


# -- the registry facade (imgpkg's SimpleRegistry) ---------------------------------------------------


def _ref(value: str | Reference, field: str = "reference") -> Reference:
    return value if isinstance(value, Reference) else Reference.parse(value, field=field)


def registry_opener(client: RegistryClient, repository: str) -> BlobOpener:
    """Blobs of ``repository`` streamed from the registry, verified, re-openable."""

    def opener(desc: Descriptor) -> BlobData:
        return VerifiedStream(
            lambda: client.get_blob(repository, desc.digest, expected_size=desc.size)
        )

    return opener


class VerifiedStream:
    """A re-openable blob stream whose reader already verifies digest and size (a registry
    download), so a writer need not hash it again."""

    verified = True

    def __init__(self, open_stream: Callable[[], AsyncIterator[bytes]]) -> None:
        self._open = open_stream

    def __call__(self) -> AsyncIterator[bytes]:
        return self._open()


class ImageRegistry:
    """Read and write images and indexes on any registry, with credentials from a
    :class:`Keychain` and one client per registry host.

    ``insecure`` allows plain HTTP and unverified TLS for every host; ``insecure_hosts`` for
    those only (loopback hosts always speak plain HTTP). ``routes`` reaches some hosts at another
    base URL (e.g. a binding's data endpoint), keeping the host's name for credentials.
    """

    def __init__(
        self,
        keychain: Keychain | None = None,
        *,
        insecure: bool = False,
        insecure_hosts: Iterable[str] = (),
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 32,
        routes: Mapping[str, str] | None = None,
    ) -> None:
        self.keychain = keychain or Keychain()
        self._routes = dict(routes or {})
        self._insecure = insecure
        self._insecure_hosts = {h.lower() for h in insecure_hosts}
        self._retry = retry
        self._transport = transport
        self._max_connections = max_connections
        self._clients: dict[str, RegistryClient] = {}
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"ImageRegistry(hosts={sorted(self._clients)!r})"

    async def client(self, host: str) -> RegistryClient:
        """The client for ``host`` (created once, credentials from the keychain)."""
        async with self._lock:
            client = self._clients.get(host)
            if client is None:
                credentials = await self.keychain.resolve(host)
                client = RegistryClient(
                    self._routes.get(host, host),
                    credentials=credentials,
                    insecure=self._insecure or host.lower() in self._insecure_hosts,
                    retry=self._retry,
                    transport=self._transport,
                    max_connections=self._max_connections,
                )
                self._clients[host] = client
            return client

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()

    async def __aenter__(self) -> ImageRegistry:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- reading ---------------------------------------------------------------------------------

    async def get(self, reference: str | Reference) -> Descriptor:
        """The descriptor (media type, digest, size) of what ``reference`` points at."""
        ref = _ref(reference)
        client = await self.client(ref.registry)
        data, media = await client.get_manifest(ref.repository, ref.identifier)
        return Descriptor(media, str(Digest.of(data)), len(data))

    async def digest(self, reference: str | Reference) -> str:
        """The manifest digest of ``reference`` (a HEAD request when the registry allows)."""
        ref = _ref(reference)
        if ref.digest:
            return ref.digest
        client = await self.client(ref.registry)
        head = await client.head_manifest(ref.repository, ref.identifier)
        if head is None:
            raise RemoteResourceNotFound(
                operation_context="Resolve digest", resource_type="manifest", resource_name=str(ref)
            )
        return head.digest

    async def taggable(
        self, reference: str | Reference, *, platforms: Iterable[str] | None = None
    ) -> Taggable:
        """The image or index ``reference`` points at (manifests fetched, blobs left remote)."""
        ref = _ref(reference)
        client = await self.client(ref.registry)
        repo = ref.repository

        async def fetch(identifier: str) -> tuple[bytes, str]:
            return await client.get_manifest(repo, identifier)

        return await load_taggable(
            fetch,
            ref.identifier,
            registry_opener(client, repo),
            origin=(client.registry, repo),
            platforms=platforms,
        )

    async def image(self, reference: str | Reference) -> Image:
        """The image at ``reference``; INVALID_INPUT when it is an index."""
        found = await self.taggable(reference)
        if not isinstance(found, Image):
            raise InvalidInput(
                operation_context="Read image",
                details=f"{reference} is an index, not an image; use index()",
                field_name="reference",
            )
        return found

    async def index(self, reference: str | Reference) -> Index:
        """The index at ``reference`` with its children; INVALID_INPUT when it is an image."""
        found = await self.taggable(reference)
        if not isinstance(found, Index):
            raise InvalidInput(
                operation_context="Read index",
                details=f"{reference} is an image, not an index; use image()",
                field_name="reference",
            )
        return found

    async def first_image_exists(self, references: Iterable[str | Reference]) -> str:
        """The first of the given references (``host/repo@digest``) whose manifest exists."""
        refs = [_ref(r, "digests") for r in references]
        for ref in refs:
            client = await self.client(ref.registry)
            if await client.head_manifest(ref.repository, ref.identifier) is not None:
                return str(ref)
        raise RemoteResourceNotFound(
            operation_context="Find first existing image",
            resource_type="image",
            resource_name=", ".join(str(r) for r in refs) or "(none given)",
        )

    async def list_tags(self, repository: str | Reference) -> list[str]:
        """Every tag of ``host/repository``."""
        ref = _ref(repository, "repository")
        client = await self.client(ref.registry)
        return await client.list_tags(ref.repository)

    # -- writing ---------------------------------------------------------------------------------

    async def _target(self, ref: Reference) -> tuple[Target, str | None]:
        client = await self.client(ref.registry)
        return RegistryTarget(client, ref.repository), ref.tag or ref.digest

    async def multi_write(
        self,
        items: Mapping[str | Reference, Taggable],
        concurrency: int = 4,
        progress: ProgressCallback | None = None,
    ) -> dict[str, str]:
        """Write several images/indexes in parallel, each blob once; returns reference → digest."""
        work: list[tuple[Target, Taggable, str | None]] = []
        names: list[str] = []
        for reference, taggable in items.items():
            ref = _ref(reference)
            if ref.digest and ref.digest != taggable.digest:
                raise InvalidInput(
                    operation_context="Write image",
                    details=f"{ref} names a digest other than the manifest's {taggable.digest}",
                    field_name="reference",
                )
            target, _ = await self._target(ref)
            work.append((target, taggable, ref.tag))
            names.append(str(ref))
        digests = await write_all(work, concurrency=concurrency, progress=progress)
        return dict(zip(names, digests, strict=True))

    async def write_image(
        self, reference: str | Reference, image: Image, *, progress: ProgressCallback | None = None
    ) -> str:
        """Upload the image's blobs (skipping present ones, mounting when possible) and manifest."""
        return (await self.multi_write({reference: image}, progress=progress)).popitem()[1]

    async def write_index(
        self, reference: str | Reference, index: Index, *, progress: ProgressCallback | None = None
    ) -> str:
        """Write every child image, then the index manifest."""
        return (await self.multi_write({reference: index}, progress=progress)).popitem()[1]

    async def write_tag(self, reference: str | Reference, taggable: Taggable) -> str:
        """Tag an image/index whose content the repository already holds (manifest PUT only)."""
        ref = _ref(reference)
        if not ref.tag:
            raise InvalidInput(
                operation_context="Write tag",
                details="reference needs a tag",
                field_name="reference",
            )
        client = await self.client(ref.registry)
        return await client.put_manifest(
            ref.repository, ref.tag, taggable.manifest, taggable.media_type
        )
