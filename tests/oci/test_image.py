"""imgpkg-style image read/write, multi_write with progress, registry→registry copies."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from artreg.errors import InvalidInput, RemoteResourceNotFound
from artreg.oci import (
    Image,
    ImageRegistry,
    Index,
    ProgressEvent,
    RegistryClient,
    bytes_source,
    copy,
    copy_registry_to_registry,
)
from artreg.oci.auth import Anonymous
from artreg.oci.descriptor import Descriptor
from artreg.oci.push import PushTarget, RecordingPushTarget, RegistryPushTarget
from artreg.types import ArtifactRegistryCredentials, RegistryAuthMethod
from tests.oci.helpers import FaultProxy, TestImage, make_image, make_index, sha256
from tests.registries import RunningRegistry, embedded_registry


def memory_image(img: TestImage) -> Image:
    blobs = img.blobs()

    def opener(desc: Descriptor) -> object:
        return bytes_source(blobs[desc.digest])

    return Image(img.manifest, img.media_type, opener)  # type: ignore[arg-type]


async def test_multi_write_each_blob_once(any_registry: RunningRegistry) -> None:
    shared = os.urandom(100_000)
    one = make_image(shared, b"only in one")
    two = make_image(shared, b"only in two", arch="arm64")
    events: list[ProgressEvent] = []
    proxy = FaultProxy(any_registry.host)
    with proxy.running() as host:
        async with ImageRegistry() as reg:
            result = await reg.multi_write(
                {
                    f"{host}/multi/one:v1": memory_image(one),
                    f"{host}/multi/two:v1": memory_image(two),
                    f"{host}/multi/one:again": memory_image(one),
                },
                concurrency=3,
                progress=events.append,
            )
    assert result == {
        f"{host}/multi/one:v1": one.digest,
        f"{host}/multi/two:v1": two.digest,
        f"{host}/multi/one:again": one.digest,
    }
    # Every distinct blob is uploaded (PUT with data) exactly once; the shared layer is mounted
    # into the second repository rather than sent again.
    uploads = [s for s in proxy.seen if s.method == "PUT" and "/blobs/uploads/" in s.path]
    distinct = set(one.blobs()) | set(two.blobs())
    assert len(uploads) == len(distinct)  # every blob is sent once, the shared one too...
    mounts = [s for s in proxy.seen if s.method == "POST" and "mount" in s.query]
    assert [m.query["mount"] for m in mounts] == [sha256(shared)]  # ...and mounted once
    done = {e.digest for e in events if e.total is not None and e.done == e.total}
    assert sha256(shared) in done and sha256(b"only in two") in done
    async with RegistryClient(any_registry.host) as client:
        assert sorted(await client.list_tags("multi/one")) == ["again", "v1"]
        assert (await client.get_manifest("multi/two", "v1"))[0] == two.manifest


async def test_read_api(any_registry: RunningRegistry) -> None:
    host = any_registry.host
    amd = make_image(b"amd", arch="amd64")
    arm = make_image(b"arm", arch="arm64")
    index_bytes = make_index({"amd64": amd, "arm64": arm})
    async with ImageRegistry() as reg:
        await reg.write_image(f"{host}/read/app:amd", memory_image(amd))
        await reg.write_image(f"{host}/read/app:arm", memory_image(arm))
        client = await reg.client(host)
        await client.put_manifest(
            "read/app", "multi", index_bytes, "application/vnd.oci.image.index.v1+json"
        )

        desc = await reg.get(f"{host}/read/app:amd")
        assert (desc.digest, desc.size, desc.media_type) == (
            amd.digest,
            len(amd.manifest),
            amd.media_type,
        )
        assert await reg.digest(f"{host}/read/app:arm") == arm.digest
        image = await reg.image(f"{host}/read/app:amd")
        assert image.manifest == amd.manifest and image.config is not None
        assert [layer.digest for layer in image.layers] == [sha256(b"amd")]
        index = await reg.index(f"{host}/read/app:multi")
        assert set(index.children) == {amd.digest, arm.digest}
        with pytest.raises(InvalidInput):
            await reg.image(f"{host}/read/app:multi")
        with pytest.raises(InvalidInput):
            await reg.index(f"{host}/read/app:amd")
        missing = f"{host}/read/app@sha256:" + "0" * 64
        assert await reg.first_image_exists([missing, f"{host}/read/app@{arm.digest}"]) == (
            f"{host}/read/app@{arm.digest}"
        )
        with pytest.raises(RemoteResourceNotFound):
            await reg.first_image_exists([missing])
        assert sorted(await reg.list_tags(f"{host}/read/app")) == ["amd", "arm", "multi"]
        assert await reg.write_tag(f"{host}/read/app:latest", index) == index.digest
        assert await reg.digest(f"{host}/read/app:latest") == sha256(index_bytes)
        # Writing the index elsewhere copies every child, then the index.
        written = await reg.write_index(f"{host}/read/copy:multi", index)
        assert written == sha256(index_bytes)
        assert (await client.get_manifest("read/copy", amd.digest))[0] == amd.manifest


async def test_copy_registry_to_registry_mounts(any_registry: RunningRegistry) -> None:
    host = any_registry.host
    img = make_image(os.urandom(300_000), b"second layer")
    async with ImageRegistry() as reg:
        await reg.write_image(f"{host}/src/app:v1", memory_image(img))
    proxy = FaultProxy(host)
    with proxy.running() as phost:
        async with ImageRegistry() as reg:
            # Seed the source through the proxy host name so source and target share a registry.
            result = await copy_registry_to_registry(
                f"{phost}/src/app:v1", f"{phost}/dst/app", registry=reg, jobs=2
            )
    assert result.digest == img.digest
    assert result.destination == f"{phost}/dst/app@{img.digest}"
    mounts = [s for s in proxy.seen if s.method == "POST" and s.query.get("from") == "src/app"]
    assert len(mounts) == 3  # the config and both layers
    assert not [
        s for s in proxy.seen if s.method in ("PUT", "PATCH") and "/blobs/uploads/" in s.path
    ]
    async with RegistryClient(host) as client:
        assert await client.list_tags("dst/app") == ["v1"]


async def test_copy_between_registries(distribution: RunningRegistry, tmp_path: Path) -> None:
    amd = make_image(b"amd64 bits", arch="amd64")
    arm = make_image(b"arm64 bits", arch="arm64")
    index_bytes = make_index({"amd64": amd, "arm64": arm})
    async with ImageRegistry() as reg:
        await reg.multi_write(
            {
                f"{distribution.host}/x/app@{amd.digest}": memory_image(amd),
                f"{distribution.host}/x/app@{arm.digest}": memory_image(arm),
            }
        )
        client = await reg.client(distribution.host)
        await client.put_manifest(
            "x/app", "multi", index_bytes, "application/vnd.oci.image.index.v1+json"
        )
    with embedded_registry(tmp_path / "other") as other:
        events: list[ProgressEvent] = []
        result = await copy(
            f"docker://{distribution.host}/x/app:multi",
            f"{other.host}/y/app",
            jobs=3,
            progress=events.append,
        )
        assert result.digest == sha256(index_bytes)
        async with RegistryClient(other.host) as client:
            assert (await client.get_manifest("y/app", "multi"))[0] == index_bytes
            assert (await client.get_manifest("y/app", arm.digest))[0] == arm.manifest
            assert await client.read_blob("y/app", sha256(b"arm64 bits")) == b"arm64 bits"
        assert {e.digest for e in events} >= {sha256(b"amd64 bits"), sha256(b"arm64 bits")}
        # Only one platform.
        partial = await copy(
            f"{distribution.host}/x/app:multi", f"{other.host}/z/app:one", platforms=["linux/arm64"]
        )
        assert partial.digest != sha256(index_bytes)  # an index of the kept platform only
        async with RegistryClient(other.host) as client:
            assert await client.head_manifest("z/app", amd.digest) is None
            assert await client.head_manifest("z/app", arm.digest) is not None
            body, _ = await client.get_manifest("z/app", "one")
            assert [m["digest"] for m in json.loads(body)["manifests"]] == [arm.digest]


async def test_push_target(any_registry: RunningRegistry) -> None:
    img = make_image(b"pushed through PushTarget", b"streamed layer" * 1000)
    host = any_registry.host
    blobs = list(img.blobs().items())
    async with PushTarget() as target:
        # bytes, with explicit anonymous auth
        await target.upload_blob(f"{host}/pt/app:v1", blobs[0][0], "cfg", blobs[0][1], Anonymous())
        # an async byte stream, with a binding's empty credentials (anonymous too)

        async def stream() -> AsyncIterator[bytes]:
            yield blobs[1][1][:5000]
            yield blobs[1][1][5000:]

        creds = ArtifactRegistryCredentials(
            auth_method=RegistryAuthMethod.BASIC, username="", password=""
        )
        await target.upload_blob(f"{host}/pt/app:v1", blobs[1][0], "layer", stream(), creds)
        await target.upload_blob(f"{host}/pt/app:v1", blobs[2][0], "layer", blobs[2][1], None)
        await target.put_manifest(f"{host}/pt/app:v1", img.manifest, img.media_type, None)
        await target.put_manifest(f"{host}/pt/app", img.manifest, img.media_type, None)
    assert RegistryPushTarget is PushTarget
    async with RegistryClient(host) as client:
        assert await client.get_manifest("pt/app", "v1") == (img.manifest, img.media_type)
        assert await client.get_manifest("pt/app", img.digest) == (img.manifest, img.media_type)
    recorder = RecordingPushTarget()
    assert isinstance(recorder, PushTarget)
    await recorder.upload_blob(f"{host}/pt/app:v1", sha256(b"abc"), "t", b"abc", Anonymous())
    await recorder.put_manifest(f"{host}/pt/app:v1", b"{ }", "application/json", Anonymous())
    assert recorder.blobs == {(f"{host}/pt/app", sha256(b"abc")): ("t", 3)}
    assert recorder.manifests == [(f"{host}/pt/app:v1", b"{ }", "application/json")]
    with pytest.raises(InvalidInput):
        await recorder.upload_blob(f"{host}/pt/app:v1", sha256(b"abc"), "t", b"abd", Anonymous())


def test_index_value() -> None:
    amd = make_image(b"a")
    index = Index(make_index({"amd64": amd}), "application/vnd.oci.image.index.v1+json")
    assert [d.digest for d in index.manifests] == [amd.digest]
