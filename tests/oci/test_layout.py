"""OCI image layouts, copies layout ↔ registry, and skopeo as an independent client."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from artreg.errors import InvalidInput, RemoteResourceNotFound
from artreg.oci import (
    OciLayout,
    ProgressEvent,
    RegistryClient,
    copy,
    copy_layout_to_registry,
    copy_registry_to_layout,
    parse_location,
)
from artreg.oci.descriptor import Descriptor
from tests.oci.helpers import TestImage, make_image, make_index, sha256
from tests.peers import require_binary
from tests.registries import RunningRegistry

INDEX_TYPE = "application/vnd.oci.image.index.v1+json"


def skopeo(*args: str) -> bytes:
    binary = require_binary("skopeo")
    result = subprocess.run(
        [binary, "--insecure-policy", *args], capture_output=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


async def write_layout(
    path: Path, tag: str, *images: TestImage, index: bytes | None = None
) -> OciLayout:
    layout = OciLayout.create(path)
    for img in images:
        for digest, data in img.blobs().items():
            await layout.write_blob(digest, data)
        await layout.write_blob(img.digest, img.manifest)
    if index is not None:
        await layout.write_blob(sha256(index), index)
        layout.add_manifest(Descriptor(INDEX_TYPE, sha256(index), len(index)), tag)
    else:
        img = images[0]
        layout.add_manifest(Descriptor(img.media_type, img.digest, len(img.manifest)), tag)
    return layout


def layout_entry(path: Path, tag: str) -> dict[str, object]:
    index = json.loads((path / "index.json").read_text())
    [entry] = [
        m
        for m in index["manifests"]
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag
    ]
    assert isinstance(entry, dict)
    return entry


def test_parse_location(tmp_path: Path) -> None:
    loc = parse_location(f"oci:{tmp_path}:v1")
    assert (loc.layout, loc.tag, loc.is_layout) == (tmp_path, "v1", True)
    assert parse_location(f"oci:{tmp_path}").tag is None
    reg = parse_location("docker://localhost:5000/a/b:c")
    assert reg.reference is not None and reg.reference.repository == "a/b"
    for bad in ("", "oci:", "oci:/x:bad tag", "not a ref"):
        with pytest.raises(InvalidInput):
            parse_location(bad)


async def test_layout_basics(tmp_path: Path) -> None:
    img = make_image(b"layer")
    layout = await write_layout(tmp_path / "lay", "v1", img)
    assert json.loads((tmp_path / "lay" / "oci-layout").read_text()) == {
        "imageLayoutVersion": "1.0.0"
    }
    assert layout.tags() == ["v1"]
    assert layout.resolve("v1").digest == img.digest
    assert layout.resolve().digest == img.digest
    assert layout.resolve(img.digest).digest == img.digest
    # Re-tagging replaces the entry; untagged adds are not duplicated.
    layout.add_manifest(Descriptor(img.media_type, img.digest, len(img.manifest)), "v1")
    layout.add_manifest(Descriptor(img.media_type, img.digest, len(img.manifest)))
    layout.add_manifest(Descriptor(img.media_type, img.digest, len(img.manifest)))
    assert len(layout.manifests()) == 2
    with pytest.raises(InvalidInput):
        layout.resolve()  # two entries now
    with pytest.raises(RemoteResourceNotFound):
        layout.resolve("nope")
    # A blob that does not match its digest is refused and leaves nothing behind.
    with pytest.raises(InvalidInput):
        await layout.write_blob(sha256(b"right"), b"wrong")
    assert layout.has_blob(sha256(b"right")) is None
    assert not [
        p for p in (tmp_path / "lay" / "blobs" / "sha256").iterdir() if p.name.startswith(".tmp")
    ]
    with pytest.raises(InvalidInput):
        OciLayout(tmp_path / "missing").read_index()


async def test_artreg_push_skopeo_pull(any_registry: RunningRegistry, tmp_path: Path) -> None:
    host = any_registry.host
    img = make_image(b"pushed by artreg", b"second")
    layout = await write_layout(tmp_path / "src", "v1", img)
    events: list[ProgressEvent] = []
    result = await copy_layout_to_registry(layout, f"{host}/cross/app:v1", progress=events.append)
    assert result.digest == img.digest
    assert {e.digest for e in events} >= set(img.blobs())
    raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{host}/cross/app:v1")
    assert raw == img.manifest
    out = tmp_path / "skopeo-out"
    skopeo(
        "copy",
        "--preserve-digests",
        "--src-tls-verify=false",
        f"docker://{host}/cross/app:v1",
        f"oci:{out}:v1",
    )
    assert layout_entry(out, "v1")["digest"] == img.digest
    for digest, data in img.blobs().items():
        assert (out / "blobs" / "sha256" / digest.split(":")[1]).read_bytes() == data


async def test_skopeo_push_artreg_pull(any_registry: RunningRegistry, tmp_path: Path) -> None:
    host = any_registry.host
    img = make_image(b"pushed by skopeo", b"layer two" * 5000)
    await write_layout(tmp_path / "src", "v2", img)
    skopeo(
        "copy",
        "--dest-tls-verify=false",
        "--preserve-digests",
        f"oci:{tmp_path / 'src'}:v2",
        f"docker://{host}/skopeo/app:v2",
    )
    async with RegistryClient(host) as client:
        body, media = await client.get_manifest("skopeo/app", "v2")
        assert body == img.manifest and media == img.media_type
    result = await copy_registry_to_layout(f"{host}/skopeo/app:v2", tmp_path / "pulled")
    assert result.digest == img.digest
    pulled = OciLayout(tmp_path / "pulled")
    assert pulled.resolve("v2").digest == img.digest
    for digest, data in img.blobs().items():
        assert pulled.read_blob(digest) == data
    # And skopeo reads the layout artreg wrote.
    skopeo("inspect", f"oci:{tmp_path / 'pulled'}:v2")


async def test_multi_arch_round_trip(any_registry: RunningRegistry, tmp_path: Path) -> None:
    host = any_registry.host
    amd = make_image(b"amd64 layer", arch="amd64")
    arm = make_image(b"arm64 layer", arch="arm64")
    index = make_index({"amd64": amd, "arm64": arm})
    await write_layout(tmp_path / "multi", "all", amd, arm, index=index)
    result = await copy(f"oci:{tmp_path / 'multi'}:all", f"{host}/multi/app:all", jobs=2)
    assert result.digest == sha256(index) and result.media_type == INDEX_TYPE
    raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{host}/multi/app:all")
    assert raw == index
    out = tmp_path / "skopeo-multi"
    skopeo(
        "copy",
        "--all",
        "--preserve-digests",
        "--src-tls-verify=false",
        f"docker://{host}/multi/app:all",
        f"oci:{out}:all",
    )
    assert layout_entry(out, "all")["digest"] == sha256(index)
    # skopeo's layout back into another repository with artreg, then to a layout again.
    back = await copy(f"oci:{out}:all", f"{host}/multi/back:all")
    assert back.digest == sha256(index)
    again = await copy(f"{host}/multi/back:all", f"oci:{tmp_path / 'again'}:x")
    assert again.digest == sha256(index)
    assert OciLayout(tmp_path / "again").resolve("x").digest == sha256(index)
    local = await copy(f"oci:{tmp_path / 'again'}:x", f"oci:{tmp_path / 'copied'}")
    assert local.digest == sha256(index)
