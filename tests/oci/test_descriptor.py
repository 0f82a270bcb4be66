"""Manifest parsing: descriptors, images, indexes, and clear errors for anything else."""

from __future__ import annotations

import json

import pytest

from artreg.errors import InvalidInput
from artreg.oci import parse_manifest
from artreg.oci.descriptor import Descriptor
from tests.oci.helpers import make_image, make_index

DIGEST = "sha256:" + "a" * 64


def test_image_and_index() -> None:
    image = make_image(b"one", b"two")
    parsed = parse_manifest(image.manifest)
    assert not parsed.is_index
    assert parsed.config is not None and len(parsed.layers) == 2
    assert [d.digest for d in parsed.blobs][1:] == [d.digest for d in parsed.layers]
    index = parse_manifest(make_index({"amd64": image}))
    assert index.is_index and index.manifests[0].platform_string == "linux/amd64"
    # No mediaType field: the content type decides, then the shape.
    bare = json.dumps({"schemaVersion": 2, "manifests": []}).encode()
    assert parse_manifest(bare).is_index
    assert parse_manifest(bare, "application/vnd.oci.image.index.v1+json; charset=x").is_index


def test_descriptor_round_trip() -> None:
    raw = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": DIGEST,
        "size": 12,
        "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"},
        "annotations": {"a": "b"},
    }
    desc = Descriptor.from_json(raw)
    assert desc.to_json() == raw
    assert desc.platform_string == "linux/arm64/v8"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:short","size":1},"layers":[]}',
        b'{"schemaVersion":2,"config":{"mediaType":"x","digest":"'
        + DIGEST.encode()
        + b'","size":true},"layers":[]}',
        b'{"schemaVersion":2,"config":{"mediaType":"x","digest":"'
        + DIGEST.encode()
        + b'","size":-1},"layers":[]}',
        b'{"schemaVersion":2,"layers":[]}',
        b'{"mediaType":"application/vnd.oci.image.index.v1+json","manifests":{}}',
    ],
)
def test_bad_manifests(body: bytes) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_manifest(body)
    assert info.value.context["field_name"] == "manifest"
