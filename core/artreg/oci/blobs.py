"""Blob operations: HEAD, streamed and verified GET (Range, resume after an interruption), and
uploads (skip when present, cross-repository mount with fallback, one streamed PUT with a
fallback to chunked PATCH honouring ``OCI-Chunk-Min-Length``). Memory stays flat."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Iterator
from contextlib import aclosing
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, TypeAlias

import httpx

from artreg.digest import Digest, Hasher
from artreg.errors import (
    ArtregError,
    AuthenticationError,
    CloudPlatformError,
    InvalidInput,
    RateLimitExceeded,
    RemoteServiceUnavailable,
    Timeout,
)
from artreg.oci._pipeline import OrderedWorker
from artreg.oci.bulk import BULK_MIN_SIZE
from artreg.oci.errors import connection_error, registry_status
from artreg.oci.reference import validate_digest, validate_repository
from artreg.oci.transport import BodyFactory, Subject, Transport, error_for, error_for_stream

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "BlobData",
    "Progress",
    "UploadResult",
    "bytes_source",
    "file_source",
    "get_blob",
    "head_blob",
    "upload_blob",
]

log = logging.getLogger("artreg.oci")

#: Size of PATCH chunks when a registry refuses a single streamed PUT.
DEFAULT_CHUNK_SIZE: Final = 8 * 1024 * 1024
#: Size of reads from files and of the chunks yielded by downloads.
READ_SIZE: Final = 1024 * 1024
#: Bytes handed to a hashing or writing thread at once (fewer, larger hand-offs).
HASH_BATCH: Final = 1024 * 1024

#: Bytes, a callable opening the stream anew (retryable), or a one-shot async stream.
BlobData: TypeAlias = bytes | BodyFactory | AsyncIterable[bytes]
#: ``progress(done_bytes, total_bytes_or_None)``.
Progress: TypeAlias = Callable[[int, int | None], None]


class UploadResult(StrEnum):
    """What ``upload_blob`` had to do."""

    EXISTS = "exists"
    MOUNTED = "mounted"
    UPLOADED = "uploaded"


def _read_file(path: Path, size: int) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(size):
            yield chunk


def file_source(path: str | os.PathLike[str], read_size: int = READ_SIZE) -> BodyFactory:
    """A re-openable body that streams a file in ``read_size`` pieces."""
    file_path = Path(path)

    async def opener() -> AsyncIterator[bytes]:
        for chunk in _read_file(file_path, read_size):
            yield chunk

    return opener


def bytes_source(data: bytes, read_size: int = READ_SIZE) -> BodyFactory:
    """A re-openable body over bytes held in memory."""

    async def opener() -> AsyncIterator[bytes]:
        view = memoryview(data)
        for start in range(0, len(data), read_size):
            yield bytes(view[start : start + read_size])

    return opener


# -- reading ---------------------------------------------------------------------------------------


def _subject(verb: str, repository: str, digest: str) -> Subject:
    name = f"{repository}@{digest}"
    return Subject(operation=f"{verb} blob {name}", resource_type="blob", resource_name=name)


async def head_blob(t: Transport, repository: str, digest: str) -> int | None:
    """The blob's size, or None when the repository does not hold it."""
    validate_repository(repository)
    validate_digest(digest)
    subject = _subject("Head", repository, digest)
    response = await t.request(
        "HEAD",
        f"/v2/{repository}/blobs/{digest}",
        **subject,
        repository=repository,
        follow_redirects=True,
    )
    if response.status_code == 404:
        return None
    if response.status_code not in (200, 204):
        raise error_for(response, **subject)
    try:
        return int(response.headers.get("content-length", "0"))
    except ValueError:
        return 0


def _verification_error(op: str, resource: str, details: str) -> CloudPlatformError:
    return CloudPlatformError(
        message=f"{op}: blob failed verification: {details}", resource_id=resource
    )


@dataclass
class _Download:
    """A download under way: where it stands, where it ends, and what it must hash to."""

    t: Transport
    repository: str
    digest: str
    subject: Subject
    offset: int
    #: Exclusive end of a range; None: to the end of the blob.
    end: int | None
    #: Size of the whole blob, when known (given, or learnt from the first answer).
    total: int | None
    #: The hash of a whole blob (a range is checked against its length only).
    hasher: Hasher | None
    position: int = 0

    @property
    def op(self) -> str:
        return self.subject["operation"]

    async def open(self) -> httpx.Response:
        """GET from the current position (a ``Range`` when not from the start)."""
        headers: dict[str, str] = {}
        if self.position > 0 or self.end is not None:
            last = "" if self.end is None else self.end - 1
            headers["Range"] = f"bytes={self.position}-{last}"
        response = await self.t.request(
            "GET",
            f"/v2/{self.repository}/blobs/{self.digest}",
            **self.subject,
            repository=self.repository,
            headers=headers,
            stream=True,
            follow_redirects=True,
            bulk=self._remaining() >= BULK_MIN_SIZE,
        )
        if response.status_code not in (200, 206):
            raise await error_for_stream(response, **self.subject)
        if self.hasher is not None and self.total is None:
            self.total = _whole_size(response)
        return response

    def _remaining(self) -> int:
        """Bytes still to come, as far as known (0 when the size is not known)."""
        end = self.end if self.end is not None else self.total
        return 0 if end is None else end - self.position

    async def chunks(self, response: httpx.Response) -> AsyncIterator[bytes]:
        """The response's bytes from the current position to the end, advancing it."""
        # a 200 ignored the Range: drop what we already have
        skip = self.position if response.status_code == 200 else 0
        async for raw in response.aiter_raw():
            chunk = raw
            if skip:
                if len(chunk) <= skip:
                    skip -= len(chunk)
                    continue
                chunk, skip = chunk[skip:], 0
            if self.end is not None and self.position + len(chunk) > self.end:
                chunk = chunk[: self.end - self.position]
            if not chunk:
                continue
            self.position += len(chunk)
            yield chunk
            if self.end is not None and self.position >= self.end:
                return

    def verify(self) -> None:
        """Raise unless what was received is what was asked for."""
        op, resource = self.op, self.subject["resource_name"]
        if self.end is not None and self.position != self.end:
            got, wanted = self.position - self.offset, self.end - self.offset
            raise _verification_error(op, resource, f"expected {wanted} bytes, got {got}")
        if self.hasher is None:
            return
        if self.total is not None and self.hasher.size != self.total:
            details = f"expected {self.total} bytes, got {self.hasher.size}"
            raise _verification_error(op, resource, details)
        if str(self.hasher.digest()) != self.digest:
            raise _verification_error(op, resource, f"content hashes to {self.hasher.digest()}")


def _whole_size(response: httpx.Response) -> int | None:
    """The whole blob's size from a 200's Content-Length or a 206's Content-Range."""
    if response.status_code == 200:
        length = response.headers.get("content-length")
        return int(length) if length and length.isdigit() else None
    whole = response.headers.get("content-range", "").rpartition("/")[2]
    return int(whole) if whole.isdigit() else None


async def get_blob(
    t: Transport,
    repository: str,
    digest: str,
    *,
    offset: int = 0,
    length: int | None = None,
    expected_size: int | None = None,
) -> AsyncIterator[bytes]:
    """Stream a blob. A whole blob is verified against its digest and size; a range against its
    length. An interrupted download resumes with ``Range`` from the last byte received."""
    validate_repository(repository)
    validate_digest(digest)
    subject = _subject("Get", repository, digest)
    if offset < 0 or (length is not None and length < 0):
        raise InvalidInput(
            operation_context=subject["operation"],
            details="offset and length must not be negative",
            field_name="offset" if offset < 0 else "length",
        )
    if length == 0:
        return
    whole = offset == 0 and length is None
    download = _Download(
        t,
        repository,
        digest,
        subject,
        offset=offset,
        end=None if length is None else offset + length,
        total=expected_size if whole else None,
        hasher=Hasher(Digest.parse(digest).algorithm) if whole else None,
        position=offset,
    )
    # closed in order when the caller stops early, so the connection is let go at once
    resuming = _resuming(download)
    async with aclosing(resuming), aclosing(_hashed(download, resuming)) as chunks:
        async for chunk in chunks:
            yield chunk
    download.verify()


async def _resuming(download: _Download) -> AsyncGenerator[bytes, None]:
    """The download's bytes, reopened from where it stopped after a transport error."""
    resumes = 0
    while True:
        response = await download.open()
        try:
            async for chunk in download.chunks(response):
                yield chunk
            return
        except httpx.TransportError as exc:
            resumes += 1
            if resumes >= download.t.retry.max_attempts:
                raise connection_error(exc, operation=download.op) from None
            log.debug("%s: interrupted at byte %d, resuming", download.op, download.position)
        finally:
            await response.aclose()


async def _hashed(download: _Download, chunks: AsyncIterator[bytes]) -> AsyncGenerator[bytes, None]:
    """``chunks``, hashed on a worker thread while the next one arrives (for a whole blob)."""
    hasher = download.hasher
    if hasher is None:
        async for chunk in chunks:
            yield chunk
        return
    if download.total is not None and download.total <= HASH_BATCH:
        # a small blob (a config, a small layer) is hashed here: under a millisecond, cheaper
        # than starting a thread for it
        async for chunk in chunks:
            hasher.update(chunk)
            yield chunk
        return
    worker = OrderedWorker()
    batch: list[bytes] = []
    batched = 0
    try:
        async for chunk in chunks:
            # hashed a MiB at a time: one hand-off to the thread per MiB, not per 64 KiB read
            batch.append(chunk)
            batched += len(chunk)
            if batched >= HASH_BATCH:
                await worker.submit(update_all, hasher, batch)
                batch, batched = [], 0
            yield chunk
        if batch:
            await worker.submit(update_all, hasher, batch)
        await worker.drain()
    finally:
        await worker.aclose()


def update_all(hasher: Hasher, parts: list[bytes]) -> None:
    """Feed ``parts`` to ``hasher`` in order (on a worker thread: sha256 releases the GIL)."""
    for part in parts:
        hasher.update(part)


# -- writing ---------------------------------------------------------------------------------------


def _counted(
    source: AsyncIterable[bytes], progress: Progress | None, total: int | None, base: int = 0
) -> AsyncIterator[bytes]:
    async def gen() -> AsyncIterator[bytes]:
        done = base
        async for chunk in source:
            done += len(chunk)
            if progress is not None:
                progress(done, total)
            yield chunk

    return gen()


def _open(data: BlobData) -> AsyncIterable[bytes]:
    if isinstance(data, bytes):
        return bytes_source(data)()
    if callable(data) and not isinstance(data, AsyncIterable):
        return data()
    return data


def _replayable(data: BlobData) -> bool:
    return isinstance(data, bytes) or (callable(data) and not isinstance(data, AsyncIterable))


@dataclass
class _Upload:
    """One ``upload_blob`` call: what goes where, and the session under way. Each step below
    reads and updates it."""

    t: Transport
    repository: str
    digest: str
    data: BlobData
    size: int | None
    progress: Progress | None
    mount_from: str | None
    #: PATCH chunk size asked for; None: one streamed PUT first.
    chunk_size: int | None
    #: The session's URL (the latest Location) and the registry's ``OCI-Chunk-Min-Length``.
    location: str = ""
    min_chunk: int = 0
    #: A single PUT failed in a way that suggests the registry wants chunks.
    prefer_chunked: bool = False

    @property
    def op(self) -> str:
        return f"Upload blob {self.resource}"

    @property
    def resource(self) -> str:
        return f"{self.repository}@{self.digest}"

    @property
    def replayable(self) -> bool:
        return _replayable(self.data)

    def done(self, position: int) -> None:
        if self.progress is not None:
            self.progress(position, self.size)

    async def request(
        self, method: str, *, url: str | None = None, resource_type: str = "blob", **kwargs: Any
    ) -> httpx.Response:
        """A request on the session (or ``url``), as this upload's push."""
        url = self.location if url is None else url
        resource_name = self.resource if resource_type == "blob" else self.repository
        return await self.t.request(
            method,
            url,
            operation=self.op,
            resource_type=resource_type,
            resource_name=resource_name,
            repository=self.repository,
            push=True,
            **kwargs,
        )

    def error(self, response: httpx.Response, resource_type: str = "blob") -> ArtregError:
        name = self.resource if resource_type == "blob" else self.repository
        return error_for(
            response, operation=self.op, resource_type=resource_type, resource_name=name
        )


async def _already_there(u: _Upload) -> bool:
    existing = await head_blob(u.t, u.repository, u.digest)
    if existing is None or (u.size is not None and existing not in (u.size, 0)):
        return False
    if u.progress is not None:
        u.progress(existing, existing)
    return True


async def _start(u: _Upload, *, mount_from: str | None = None) -> bool:
    """POST a session into ``u.location``; True when the registry mounted the blob instead."""
    params: dict[str, str] = {}
    scopes = [f"repository:{u.repository}:pull,push"]
    if mount_from:
        params = {"mount": u.digest, "from": mount_from}
        scopes.append(f"repository:{mount_from}:pull")
    response = await u.request(
        "POST",
        url=f"/v2/{u.repository}/blobs/uploads/",
        resource_type="blob upload",
        scopes=scopes,
        params=params,
        headers={"Content-Length": "0"},
        idempotent=True,
    )
    if mount_from and response.status_code == 201:
        return True
    if response.status_code != 202 or not response.headers.get("location"):
        raise u.error(response, "blob upload")
    u.location = response.headers["location"]
    min_chunk = response.headers.get("oci-chunk-min-length", "0")
    u.min_chunk = int(min_chunk) if min_chunk.isdigit() else 0
    return False


async def _mounted(u: _Upload) -> bool:
    """Try a cross-repository mount; on any failure the upload goes on without it."""
    if not u.mount_from or u.mount_from == u.repository:
        return False
    try:
        mounted = await _start(u, mount_from=u.mount_from)
    except ArtregError as exc:
        log.debug("%s: mount from %s failed (%s), uploading", u.op, u.mount_from, exc.code)
        u.location = ""
        return False
    if mounted and u.size is not None:
        u.done(u.size)
    return mounted


async def _put_whole(u: _Upload) -> bool:
    """Stream the data in one PUT. True when stored; False when the registry refused the single
    PUT in a way a chunked upload may cure (the session is then cancelled)."""
    headers = {"Content-Type": "application/octet-stream"}
    if u.size is not None:
        headers["Content-Length"] = str(u.size)
    try:
        response = await u.request(
            "PUT",
            params={"digest": u.digest},
            headers=headers,
            body=_counted(_open(u.data), u.progress, u.size),
            idempotent=False,
        )
    except (RemoteServiceUnavailable, Timeout):
        # Some registries drop the connection on a body they will not take in one piece; the
        # next attempt (re-sent from the start) uses chunks.
        u.prefer_chunked = u.replayable
        raise
    if response.status_code in (201, 204):
        return True
    error = u.error(response)
    info = registry_status(error)
    codes = set(info.codes) if info else set()
    refused = (
        response.status_code not in (401, 403) and not {"DIGEST_INVALID", "SIZE_INVALID"} & codes
    )
    if not refused or not u.replayable:
        raise error
    log.debug("%s: single PUT refused (%s), falling back to chunks", u.op, response.status_code)
    await _abandon(u)
    return False


async def _put_chunks(u: _Upload) -> None:
    """PATCH the data in chunks of at least the registry's minimum, then close with a PUT."""
    chunk_size = max(u.chunk_size or DEFAULT_CHUNK_SIZE, u.min_chunk, 1)
    position = 0
    buffer = bytearray()
    async for chunk in _open(u.data):
        buffer += chunk
        while len(buffer) >= chunk_size:
            position = await _patch(u, bytes(buffer[:chunk_size]), position)
            del buffer[:chunk_size]
    if buffer:
        position = await _patch(u, bytes(buffer), position)
    response = await u.request(
        "PUT",
        params={"digest": u.digest},
        headers={"Content-Length": "0", "Content-Type": "application/octet-stream"},
        body=b"",
        idempotent=False,
    )
    if response.status_code not in (201, 204):
        raise u.error(response)


async def _patch(u: _Upload, piece: bytes, position: int) -> int:
    """Send one chunk at ``position``; the position after it."""
    response = await u.request(
        "PATCH",
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": f"{position}-{position + len(piece) - 1}",
            "Content-Length": str(len(piece)),
        },
        body=piece,
        idempotent=False,
    )
    if response.status_code != 202:
        raise u.error(response)
    u.location = response.headers.get("location") or u.location
    u.done(position + len(piece))
    return position + len(piece)


async def _abandon(u: _Upload) -> None:
    """Cancel an upload session we will not finish (best effort)."""
    try:
        await u.request("DELETE", resource_type="blob upload", idempotent=False)
    except ArtregError as exc:
        log.debug("%s: could not cancel an upload session (%s)", u.op, exc.code)


async def _attempt(u: _Upload) -> UploadResult:
    """One try: mount, or a session and the data in one PUT or in chunks."""
    if await _mounted(u):
        return UploadResult.MOUNTED
    if not u.location:
        await _start(u)
    if u.chunk_size is None and not u.prefer_chunked:
        if await _put_whole(u):
            return UploadResult.UPLOADED
        await _start(u)  # the single PUT was refused: a fresh session for the chunks
    await _put_chunks(u)
    return UploadResult.UPLOADED


_TRANSIENT = (RemoteServiceUnavailable, Timeout, RateLimitExceeded)


async def upload_blob(
    t: Transport,
    repository: str,
    digest: str,
    data: BlobData,
    *,
    size: int | None = None,
    mount_from: str | None = None,
    chunk_size: int | None = None,
    progress: Progress | None = None,
) -> UploadResult:
    """Make ``repository`` hold the blob ``digest``.

    Skips the upload when the blob is already there; tries a cross-repository mount from
    ``mount_from`` (falling back to an upload on any failure); otherwise streams the data in one
    PUT and, if the registry refuses that, in PATCH chunks of ``chunk_size`` (at least the
    registry's ``OCI-Chunk-Min-Length``). ``chunk_size`` given: chunked from the start.
    Re-openable data (bytes, a callable) is re-sent from scratch after transient failures.
    """
    validate_repository(repository)
    validate_digest(digest)
    if mount_from is not None:
        validate_repository(mount_from, field="mount_from")
    u = _Upload(
        t,
        repository,
        digest,
        data,
        _size_of(data, size, repository, digest),
        progress,
        mount_from,
        chunk_size,
    )
    if await _already_there(u):
        return UploadResult.EXISTS
    attempts = 0
    auth_restarted = False
    while True:
        attempts += 1
        u.location = ""
        try:
            return await _attempt(u)
        except asyncio.CancelledError:
            # The caller gave up (a cancelled transfer): end the session, so the registry drops
            # what it received, then let the cancellation go on.
            if u.location:
                await asyncio.shield(_abandon(u))
            raise
        except AuthenticationError:
            # Credentials can expire during a long upload (ECR tokens do); the next session's
            # POST gets a 401 that refreshes them. Retry once.
            if not u.replayable or auth_restarted:
                raise
            auth_restarted = True
            log.debug("%s: credentials refused mid-upload, restarting with fresh ones", u.op)
        except _TRANSIENT:
            if not u.replayable or attempts >= t.retry.max_attempts:
                raise
            log.debug("%s: transient failure, restarting the upload", u.op)
            await t.sleep(t.retry.backoff(attempts))


def _size_of(data: BlobData, size: int | None, repository: str, digest: str) -> int | None:
    """The size to announce: the length of bytes (which must match ``size``), else ``size``."""
    if not isinstance(data, bytes):
        return size
    if size is not None and size != len(data):
        raise InvalidInput(
            operation_context=f"Upload blob {repository}@{digest}",
            details=f"size {size} does not match the {len(data)} bytes given",
            field_name="size",
        )
    return len(data)
