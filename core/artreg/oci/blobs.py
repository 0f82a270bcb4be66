"""Blob operations: HEAD, streamed and verified GET (Range, resume after an interruption), and
uploads (skip when present, cross-repository mount with fallback, one streamed PUT with a
fallback to chunked PATCH honouring ``OCI-Chunk-Min-Length``). Memory stays flat."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Final, TypeAlias

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
    op, resource = subject["operation"], subject["resource_name"]
    if offset < 0 or (length is not None and length < 0):
        raise InvalidInput(
            operation_context=op,
            details="offset and length must not be negative",
            field_name="offset" if offset < 0 else "length",
        )
    whole = offset == 0 and length is None
    hasher = Hasher(Digest.parse(digest).algorithm) if whole else None
    position = offset
    end = None if length is None else offset + length  # exclusive
    total: int | None = expected_size if whole else None
    resumes = 0
    if length == 0:
        return
    worker = OrderedWorker() if hasher is not None else None
    try:
        while True:
            headers: dict[str, str] = {}
            if position > 0 or end is not None:
                headers["Range"] = f"bytes={position}-{'' if end is None else end - 1}"
            response = await t.request(
                "GET",
                f"/v2/{repository}/blobs/{digest}",
                **subject,
                repository=repository,
                headers=headers,
                stream=True,
                follow_redirects=True,
            )
            status = response.status_code
            if status not in (200, 206):
                raise await error_for_stream(response, **subject)
            skip = 0
            if status == 200:
                skip = position  # the registry ignored Range: drop what we already have
                if whole and total is None:
                    cl = response.headers.get("content-length")
                    total = int(cl) if cl and cl.isdigit() else None
            elif whole and total is None:
                content_range = response.headers.get("content-range", "")
                if "/" in content_range and content_range.rsplit("/", 1)[1].isdigit():
                    total = int(content_range.rsplit("/", 1)[1])
            try:
                async for raw in response.aiter_raw():
                    chunk = raw
                    if skip:
                        if len(chunk) <= skip:
                            skip -= len(chunk)
                            continue
                        chunk = chunk[skip:]
                        skip = 0
                    if end is not None and position + len(chunk) > end:
                        chunk = chunk[: end - position]
                    if not chunk:
                        continue
                    if hasher is not None and worker is not None:
                        await worker.submit(hasher.update, chunk)
                    position += len(chunk)
                    yield chunk
                    if end is not None and position >= end:
                        break
            except httpx.TransportError as exc:
                resumes += 1
                if resumes >= t.retry.max_attempts:
                    raise connection_error(exc, operation=op) from None
                log.debug("%s: interrupted at byte %d, resuming", op, position)
                continue
            finally:
                await response.aclose()
            break
        if worker is not None:
            await worker.drain()
    finally:
        if worker is not None:
            await worker.aclose()
    if end is not None and position != end:
        raise _verification_error(
            op, resource, f"expected {end - offset} bytes, got {position - offset}"
        )
    if hasher is not None:
        if total is not None and hasher.size != total:
            raise _verification_error(op, resource, f"expected {total} bytes, got {hasher.size}")
        if str(hasher.digest()) != digest:
            raise _verification_error(op, resource, f"content hashes to {hasher.digest()}")


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


async def _start_session(
    t: Transport, repository: str, digest: str, op: str, *, mount_from: str | None
) -> tuple[str | None, int]:
    """POST an upload: returns (session Location or None when mounted, OCI-Chunk-Min-Length)."""
    params: dict[str, str] = {}
    scopes = [f"repository:{repository}:pull,push"]
    if mount_from:
        params = {"mount": digest, "from": mount_from}
        scopes.append(f"repository:{mount_from}:pull")
    response = await t.request(
        "POST",
        f"/v2/{repository}/blobs/uploads/",
        operation=op,
        resource_type="blob upload",
        resource_name=repository,
        repository=repository,
        push=True,
        scopes=scopes,
        params=params,
        headers={"Content-Length": "0"},
        idempotent=True,
    )
    if mount_from and response.status_code == 201:
        return None, 0
    if response.status_code != 202 or not response.headers.get("location"):
        raise error_for(
            response, operation=op, resource_type="blob upload", resource_name=repository
        )
    min_chunk = response.headers.get("oci-chunk-min-length", "0")
    return response.headers["location"], int(min_chunk) if min_chunk.isdigit() else 0


async def _monolithic(
    t: Transport,
    repository: str,
    digest: str,
    location: str,
    data: BlobData,
    size: int | None,
    op: str,
    progress: Progress | None,
) -> httpx.Response:
    headers = {"Content-Type": "application/octet-stream"}
    if size is not None:
        headers["Content-Length"] = str(size)
    body = _counted(_open(data), progress, size)
    return await t.request(
        "PUT",
        location,
        operation=op,
        resource_type="blob",
        resource_name=f"{repository}@{digest}",
        repository=repository,
        push=True,
        params={"digest": digest},
        headers=headers,
        body=body,
        idempotent=False,
    )


async def _chunked(
    t: Transport,
    repository: str,
    digest: str,
    location: str,
    min_chunk: int,
    data: BlobData,
    size: int | None,
    chunk_size: int,
    op: str,
    progress: Progress | None,
) -> None:
    resource = f"{repository}@{digest}"
    chunk_size = max(chunk_size, min_chunk, 1)
    position = 0
    buffer = bytearray()

    async def send(piece: bytes) -> None:
        nonlocal location, position
        response = await t.request(
            "PATCH",
            location,
            operation=op,
            resource_type="blob",
            resource_name=resource,
            repository=repository,
            push=True,
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{position}-{position + len(piece) - 1}",
                "Content-Length": str(len(piece)),
            },
            body=piece,
            idempotent=False,
        )
        if response.status_code != 202:
            raise error_for(response, operation=op, resource_type="blob", resource_name=resource)
        location = response.headers.get("location") or location
        position += len(piece)
        if progress is not None:
            progress(position, size)

    async for chunk in _open(data):
        buffer += chunk
        while len(buffer) >= chunk_size:
            piece = bytes(buffer[:chunk_size])
            del buffer[:chunk_size]
            await send(piece)
    if buffer:
        await send(bytes(buffer))
    response = await t.request(
        "PUT",
        location,
        operation=op,
        resource_type="blob",
        resource_name=resource,
        repository=repository,
        push=True,
        params={"digest": digest},
        headers={"Content-Length": "0", "Content-Type": "application/octet-stream"},
        body=b"",
        idempotent=False,
    )
    if response.status_code not in (201, 204):
        raise error_for(response, operation=op, resource_type="blob", resource_name=resource)


_TRANSIENT = (RemoteServiceUnavailable, Timeout, RateLimitExceeded)


async def _abandon(t: Transport, repository: str, location: str, op: str) -> None:
    """Cancel an upload session we will not finish (best effort)."""
    try:
        await t.request(
            "DELETE",
            location,
            operation=op,
            resource_type="blob upload",
            resource_name=repository,
            repository=repository,
            push=True,
            idempotent=False,
        )
    except ArtregError as exc:
        log.debug("%s: could not cancel an upload session (%s)", op, exc.code)


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
    if isinstance(data, bytes):
        if size is not None and size != len(data):
            raise InvalidInput(
                operation_context=f"Upload blob {repository}@{digest}",
                details=f"size {size} does not match the {len(data)} bytes given",
                field_name="size",
            )
        size = len(data)
    subject = _subject("Upload", repository, digest)
    op = subject["operation"]
    existing = await head_blob(t, repository, digest)
    if existing is not None and (size is None or existing == size or existing == 0):
        if progress is not None:
            progress(existing, existing)
        return UploadResult.EXISTS
    attempts = 0
    auth_restarted = False
    prefer_chunked = False
    while True:
        attempts += 1
        try:
            location: str | None = None
            min_chunk = 0
            if mount_from and mount_from != repository:
                try:
                    location, min_chunk = await _start_session(
                        t, repository, digest, op, mount_from=mount_from
                    )
                except ArtregError as exc:
                    log.debug("%s: mount from %s failed (%s), uploading", op, mount_from, exc.code)
                    location = ""
                if location is None:
                    if progress is not None and size is not None:
                        progress(size, size)
                    return UploadResult.MOUNTED
            if not location:
                location, min_chunk = await _start_session(
                    t, repository, digest, op, mount_from=None
                )
            assert location is not None
            if chunk_size is not None or prefer_chunked:
                await _chunked(
                    t,
                    repository,
                    digest,
                    location,
                    min_chunk,
                    data,
                    size,
                    chunk_size or DEFAULT_CHUNK_SIZE,
                    op,
                    progress,
                )
                return UploadResult.UPLOADED
            try:
                response = await _monolithic(
                    t, repository, digest, location, data, size, op, progress
                )
            except (RemoteServiceUnavailable, Timeout):
                # Some registries drop the connection on a body they will not take in one
                # piece; the next attempt (re-sent from the start) uses chunks.
                if _replayable(data):
                    prefer_chunked = True
                raise
            if response.status_code in (201, 204):
                return UploadResult.UPLOADED
            error = error_for(response, **subject)
            info = registry_status(error)
            codes = set(info.codes) if info else set()
            refused = (
                response.status_code not in (401, 403)
                and not {"DIGEST_INVALID", "SIZE_INVALID"} & codes
            )
            if not refused or not _replayable(data):
                raise error
            log.debug(
                "%s: single PUT refused (%s), falling back to chunked upload",
                op,
                response.status_code,
            )
            await _abandon(t, repository, location, op)
            location, min_chunk = await _start_session(t, repository, digest, op, mount_from=None)
            await _chunked(
                t,
                repository,
                digest,
                location or "",
                min_chunk,
                data,
                size,
                DEFAULT_CHUNK_SIZE,
                op,
                progress,
            )
            return UploadResult.UPLOADED
        except AuthenticationError:
            # Credentials can expire during a long upload (ECR tokens do); the next session's
            # POST gets a 401 that refreshes them. Retry once.
            if not _replayable(data) or auth_restarted:
                raise
            auth_restarted = True
            log.debug("%s: credentials refused mid-upload, restarting with fresh ones", op)
        except _TRANSIENT:
            if not _replayable(data) or attempts >= t.retry.max_attempts:
                raise
            log.debug("%s: transient failure, restarting the upload", op)
            await t.sleep(t.retry.backoff(attempts))
