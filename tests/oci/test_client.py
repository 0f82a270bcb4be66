"""The OCI client against real registries on loopback."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from starlette.responses import Response, StreamingResponse

from artreg.errors import (
    CloudPlatformError,
    InvalidInput,
    RateLimitExceeded,
    RemoteResourceNotFound,
    RemoteServiceUnavailable,
)
from artreg.oci import RegistryClient, RetryPolicy, UploadResult, file_source
from artreg.oci.errors import registry_status
from tests.oci.helpers import (
    FaultProxy,
    Seen,
    make_image,
    make_index,
    sha256,
)
from tests.registries import RunningRegistry

FAST_RETRY = RetryPolicy(max_attempts=4, initial_delay=0.01, max_delay=0.05, total_seconds=5)


@pytest.fixture
def registry(any_registry: RunningRegistry) -> RunningRegistry:
    return any_registry


async def push_image(client: RegistryClient, repo: str, tag: str, image: object) -> str:
    from tests.oci.helpers import TestImage

    assert isinstance(image, TestImage)
    for digest, data in image.blobs().items():
        await client.upload_blob(repo, digest, data)
    return await client.put_manifest(repo, tag, image.manifest, image.media_type)


async def test_image_round_trip(registry: RunningRegistry) -> None:
    image = make_image(b"layer one", b"layer two" * 1000)
    async with RegistryClient(registry.host) as client:
        digest = await push_image(client, "ns/app", "v1", image)
        assert digest == image.digest
        body, media = await client.get_manifest("ns/app", "v1")
        assert body == image.manifest  # verbatim, not re-serialised
        assert media == image.media_type
        assert await client.get_manifest("ns/app", digest) == (body, media)
        head = await client.head_manifest("ns/app", "v1")
        assert head is not None and (head.digest, head.content_type) == (digest, media)
        for blob_digest, data in image.blobs().items():
            assert await client.head_blob("ns/app", blob_digest) == len(data)
            assert await client.read_blob("ns/app", blob_digest) == data
        assert await client.list_tags("ns/app") == ["v1"]
        assert "ns/app" in await client.catalog()
        assert await client.delete_manifest("ns/app", digest) is True
        assert await client.head_manifest("ns/app", "v1") is None
        assert await client.head_manifest("ns/app", digest) is None


async def test_docker_manifest_and_index(registry: RunningRegistry) -> None:
    amd = make_image(b"amd64 layer", arch="amd64", docker=True)
    arm = make_image(b"arm64 layer", arch="arm64")
    index = make_index({"amd64": amd, "arm64": arm})
    async with RegistryClient(registry.host) as client:
        await push_image(client, "multi", amd.digest, amd)
        await push_image(client, "multi", arm.digest, arm)
        digest = await client.put_manifest(
            "multi", "latest", index, "application/vnd.oci.image.index.v1+json"
        )
        assert digest == sha256(index)
        body, media = await client.get_manifest("multi", "latest")
        assert (body, media) == (index, "application/vnd.oci.image.index.v1+json")
        body, media = await client.get_manifest("multi", amd.digest)
        assert (body, media) == (
            amd.manifest,
            "application/vnd.docker.distribution.manifest.v2+json",
        )


async def test_missing_things(registry: RunningRegistry) -> None:
    async with RegistryClient(registry.host) as client:
        assert await client.head_blob("nothing/here", "sha256:" + "0" * 64) is None
        assert await client.head_manifest("nothing/here", "latest") is None
        with pytest.raises(RemoteResourceNotFound) as info:
            await client.get_manifest("nothing/here", "latest")
        assert info.value.context["resource_name"] == "nothing/here:latest"
        status = registry_status(info.value)
        assert status is not None and status.status == 404
        with pytest.raises(RemoteResourceNotFound):
            await client.read_blob("nothing/here", "sha256:" + "0" * 64)


async def test_bad_input_sends_nothing() -> None:
    # Port 9 on loopback: nothing listens; a request would fail with a connection error.
    async with RegistryClient("127.0.0.1:9", retry=RetryPolicy.none()) as client:
        with pytest.raises(InvalidInput) as info:
            await client.get_manifest("Bad/Name", "latest")
        assert info.value.context["field_name"] == "repo_name"
        with pytest.raises(InvalidInput) as info:
            await client.head_blob("ok", "sha256:nothex")
        assert info.value.context["field_name"] == "digest"
        with pytest.raises(InvalidInput) as info:
            await client.put_manifest("ok", "bad tag!", b"{}", "application/json")
        assert info.value.context["field_name"] == "reference"
        with pytest.raises(InvalidInput):
            await client.upload_blob("ok", sha256(b"x"), b"xy", size=1)


async def test_chunked_upload_50mib(registry: RunningRegistry, tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    block = os.urandom(1024 * 1024)
    with path.open("wb") as fh:
        for i in range(50):
            fh.write(block[i:] + block[:i])
    import hashlib

    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    digest = "sha256:" + h.hexdigest()
    size = path.stat().st_size
    events: list[tuple[int, int | None]] = []
    async with RegistryClient(registry.host) as client:
        result = await client.upload_blob(
            "big/blob",
            digest,
            file_source(path),
            size=size,
            chunk_size=8 * 1024 * 1024,
            progress=lambda done, total: events.append((done, total)),
        )
        assert result is UploadResult.UPLOADED
        assert events[-1] == (size, size)
        assert len(events) == 7  # 6 full chunks + the rest
        assert await client.head_blob("big/blob", digest) == size
        got = hashlib.sha256()
        n = 0
        async for chunk in client.get_blob("big/blob", digest):
            got.update(chunk)
            n += len(chunk)
        assert n == size and "sha256:" + got.hexdigest() == digest
        # A range read.
        part = b"".join(
            [c async for c in client.get_blob("big/blob", digest, offset=1000, length=5000)]
        )
        with path.open("rb") as fh:
            fh.seek(1000)
            assert part == fh.read(5000)
        # Present already: skipped.
        assert (
            await client.upload_blob("big/blob", digest, file_source(path), size=size)
            is UploadResult.EXISTS
        )


async def test_mount_and_fallback(registry: RunningRegistry) -> None:
    data = os.urandom(200_000)
    digest = sha256(data)
    async with RegistryClient(registry.host) as client:
        assert await client.upload_blob("src/repo", digest, data) is UploadResult.UPLOADED
        assert (
            await client.upload_blob("dst/repo", digest, data, mount_from="src/repo")
            is UploadResult.MOUNTED
        )
        assert await client.head_blob("dst/repo", digest) == len(data)
        # Mounting from a repository that lacks the blob falls back to an upload.
        other = os.urandom(1000)
        assert (
            await client.upload_blob("dst/repo", sha256(other), other, mount_from="src/repo")
            is UploadResult.UPLOADED
        )


async def test_monolithic_refused_falls_back_to_chunks(distribution: RunningRegistry) -> None:
    """A registry that refuses a PUT with a body and asks for 64 KiB chunks at least."""
    min_chunk = 64 * 1024

    def rule(seen: Seen, count: int) -> Response | None:
        if seen.method == "PUT" and "/blobs/uploads/" in seen.path and seen.body_size > 0:
            return Response(b'{"errors":[{"code":"UNSUPPORTED","message":"no"}]}', status_code=405)
        if seen.method == "PATCH":
            assert seen.body_size >= min_chunk or seen.headers["content-range"].endswith(
                str(size - 1)
            )
        return None

    data = os.urandom(300_000)
    size = len(data)
    proxy = FaultProxy(distribution.host, rule)

    with proxy.running() as host:
        async with RegistryClient(host) as client:
            assert await client.upload_blob("fb/repo", sha256(data), data) is UploadResult.UPLOADED
            assert await client.head_blob("fb/repo", sha256(data)) == size
    assert proxy.count("PATCH") >= 1
    assert proxy.count("PUT", "/blobs/uploads/") == 2


async def test_chunk_min_length_honoured(distribution: RunningRegistry) -> None:
    min_chunk = 128 * 1024

    def after(seen: Seen, response: Response) -> None:
        if seen.method == "POST":
            response.headers["OCI-Chunk-Min-Length"] = str(min_chunk)

    proxy = FaultProxy(distribution.host, after=after)
    data = os.urandom(600_000)
    with proxy.running() as host:
        async with RegistryClient(host) as client:
            await client.upload_blob("min/repo", sha256(data), data, chunk_size=10_000)
            assert await client.read_blob("min/repo", sha256(data)) == data
    patches = [s for s in proxy.seen if s.method == "PATCH"]
    assert [s.body_size for s in patches] == [min_chunk] * 4 + [600_000 - 4 * min_chunk]


async def test_retries_503_then_ok(distribution: RunningRegistry) -> None:
    def rule(seen: Seen, count: int) -> Response | None:
        if seen.method in ("GET", "HEAD") and "/manifests/" in seen.path and count <= 2:
            return Response(b"busy", status_code=503, headers={"Retry-After": "0"})
        return None

    image = make_image(b"retry me")
    proxy = FaultProxy(distribution.host, rule)
    with proxy.running() as host:
        async with RegistryClient(host, retry=FAST_RETRY) as client:
            await push_image(client, "retry/app", "v1", image)
            body, _ = await client.get_manifest("retry/app", "v1")
            assert body == image.manifest
    assert proxy.count("GET", "/manifests/v1") == 3


async def test_retries_exhausted_typed(distribution: RunningRegistry) -> None:
    def rule(seen: Seen, count: int) -> Response | None:
        if "/manifests/" in seen.path:
            return Response(b"", status_code=503 if "busy" in seen.path else 429)
        return None

    proxy = FaultProxy(distribution.host, rule)
    with proxy.running() as host:
        async with RegistryClient(host, retry=FAST_RETRY) as client:
            with pytest.raises(RemoteServiceUnavailable):
                await client.get_manifest("busy/app", "v1")
            with pytest.raises(RateLimitExceeded):
                await client.head_manifest("limited/app", "v1")
    assert proxy.count("GET", "busy/app") == FAST_RETRY.max_attempts
    assert proxy.count("HEAD", "limited/app") == FAST_RETRY.max_attempts


async def test_get_blob_resumes_and_verifies(distribution: RunningRegistry) -> None:
    data = os.urandom(3 * 1024 * 1024)
    digest = sha256(data)

    def rule(seen: Seen, count: int) -> Response | None:
        if seen.method == "GET" and seen.path.endswith(digest) and count == 1:

            async def partial() -> object:
                yield data[: len(data) // 3]
                raise RuntimeError("connection drops")

            return StreamingResponse(partial(), headers={"Content-Length": str(len(data))})  # type: ignore[arg-type]
        if seen.method == "GET" and "/blobs/sha256:" + "b" * 64 in seen.path:
            return Response(b"not what you asked for", headers={"Content-Length": "22"})
        return None

    proxy = FaultProxy(distribution.host, rule)
    with proxy.running() as host:
        async with RegistryClient(host, retry=FAST_RETRY) as client:
            await client.upload_blob("resume/app", digest, data)
            assert await client.read_blob("resume/app", digest, max_size=len(data)) == data
            with pytest.raises(CloudPlatformError, match="verification"):
                await client.read_blob("resume/app", "sha256:" + "b" * 64)
    ranges = [s.headers.get("range") for s in proxy.seen if s.method == "GET" and digest in s.path]
    assert ranges[0] is None and ranges[1] == f"bytes={len(data) // 3}-"


async def test_pagination(distribution: RunningRegistry) -> None:
    async with RegistryClient(distribution.host) as client:
        image = make_image(b"x")
        names = [f"page/r{i}" for i in range(5)]
        for name in names:
            await push_image(client, name, "t", image)
        assert sorted(await client.catalog(page_size=2)) == names
    proxy = FaultProxy(distribution.host)
    with proxy.running() as host:
        async with RegistryClient(host) as client:
            await client.list_tags("page/r0", page_size=5000)
    assert [s.query.get("n") for s in proxy.seen if "tags/list" in s.path] == ["1000"]


async def test_faulty_embedded_registry(tmp_path: Path) -> None:
    """503 then 200, 429 with Retry-After, and a download cut mid-body, on the embedded registry."""
    from tests.fakes.faults import faulty_registry

    data = os.urandom(2 * 1024 * 1024)
    digest = sha256(data)
    image = make_image(data)
    with faulty_registry(tmp_path) as (registry, faults):
        async with RegistryClient(registry.host, retry=FAST_RETRY) as client:
            await push_image(client, "faulty/app", "v1", image)
            faults.status(503, method="GET", path=r"/manifests/v1$")
            faults.rate_limit(retry_after=0, method="HEAD", path=r"/manifests/v1$")
            faults.drop(after_bytes=700_000, method="GET", path=r"/blobs/sha256:")
            assert (await client.get_manifest("faulty/app", "v1"))[0] == image.manifest
            head = await client.head_manifest("faulty/app", "v1")
            assert head is not None and head.digest == image.digest
            assert await client.read_blob("faulty/app", digest) == data
    gets = [p for m, p in faults.requests if m == "GET" and p.endswith("/manifests/v1")]
    assert len(gets) == 2
    assert [p for m, p, _ in faults.fired if m == "GET" and digest in p]
    assert len([p for m, p in faults.requests if m == "GET" and digest in p]) == 2


async def test_list_tags_pages(registry: RunningRegistry) -> None:
    image = make_image(b"tagged")
    tags = [f"t{i}" for i in range(7)]
    async with RegistryClient(registry.host) as client:
        for tag in tags:
            await push_image(client, "tags/app", tag, image)
        assert sorted(await client.list_tags("tags/app", page_size=2)) == tags
        assert sorted(await client.list_tags("tags/app")) == tags


async def test_credentials_stay_with_the_registry(distribution: RunningRegistry) -> None:
    """An upload Location on another host gets the data but never the Authorization header."""
    from artreg.oci import BearerToken

    storage = FaultProxy(distribution.host)
    front = FaultProxy(distribution.host)

    def after(seen: Seen, response: Response) -> None:
        if seen.method == "POST" and "location" in response.headers:
            response.headers["location"] = response.headers["location"].replace(
                front.host, storage.host
            )

    front.after = after
    data = os.urandom(50_000)
    with storage.running(), front.running() as host:
        async with RegistryClient(host, credentials=BearerToken("registry-only-token")) as client:
            await client.upload_blob("origin/app", sha256(data), data)
            assert await client.read_blob("origin/app", sha256(data)) == data
    assert all(s.headers.get("authorization") == "Bearer registry-only-token" for s in front.seen)
    assert storage.seen and all("authorization" not in s.headers for s in storage.seen)


async def test_empty_blob(registry: RunningRegistry) -> None:
    async with RegistryClient(registry.host) as client:
        assert await client.upload_blob("empty/app", sha256(b""), b"") is UploadResult.UPLOADED
        assert await client.head_blob("empty/app", sha256(b"")) == 0
        assert await client.read_blob("empty/app", sha256(b"")) == b""


async def test_head_manifest_without_digest_header(distribution: RunningRegistry) -> None:
    def after(seen: Seen, response: Response) -> None:
        if seen.method == "HEAD" and "docker-content-digest" in response.headers:
            del response.headers["docker-content-digest"]

    image = make_image(b"no digest header")
    proxy = FaultProxy(distribution.host, after=after)
    with proxy.running() as host:
        async with RegistryClient(host) as client:
            await push_image(client, "nodigest/app", "v1", image)
            head = await client.head_manifest("nodigest/app", "v1")
    assert head is not None and head.digest == image.digest
    assert proxy.count("GET", "/manifests/v1") == 1  # fetched and hashed instead


async def test_upload_one_shot_stream_of_unknown_size(registry: RunningRegistry) -> None:
    data = os.urandom(1_500_000)

    async def stream() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 100_000):
            yield data[start : start + 100_000]

    async with RegistryClient(registry.host) as client:
        assert (
            await client.upload_blob("stream/app", sha256(data), stream()) is UploadResult.UPLOADED
        )
        assert await client.read_blob("stream/app", sha256(data)) == data


async def test_failed_single_put_falls_back_to_chunks(distribution: RunningRegistry) -> None:
    """A registry that fails a large single PUT gets the blob in chunks; the failed upload
    session is cancelled."""

    def rule(seen: Seen, count: int) -> Response | None:
        if seen.method == "PUT" and "/blobs/uploads/" in seen.path and seen.body_size > 100_000:
            return Response(b"too big for me", status_code=500)
        return None

    data = os.urandom(300_000)
    proxy = FaultProxy(distribution.host, rule)
    with proxy.running() as host:
        async with RegistryClient(host, retry=FAST_RETRY) as client:
            assert await client.upload_blob("drop/app", sha256(data), data) is UploadResult.UPLOADED
            assert await client.read_blob("drop/app", sha256(data)) == data
    assert proxy.count("PATCH") >= 1
    assert proxy.count("DELETE", "/blobs/uploads/") == 1
