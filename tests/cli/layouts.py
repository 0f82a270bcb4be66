"""Building small OCI image layouts on disk for the command-line tests."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


@dataclass
class Layout:
    path: Path
    tag: str
    manifest_digest: str
    blob_digests: list[str]


def _write_blob(root: Path, data: bytes) -> str:
    hexdigest = hashlib.sha256(data).hexdigest()
    blob = root / "blobs" / "sha256" / hexdigest
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(data)
    return f"sha256:{hexdigest}"


def build_layout(
    root: Path, *, tag: str = "v1", layer_sizes: tuple[int, ...] = (1024, 2048)
) -> Layout:
    """An OCI layout holding one image: a config and random layers of the given sizes."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    layers = []
    diff_ids = []
    for size in layer_sizes:
        # gzip of random bytes, so that no client recompresses it
        raw = os.urandom(size)
        diff_ids.append(f"sha256:{hashlib.sha256(raw).hexdigest()}")
        data = gzip.compress(raw, compresslevel=1, mtime=0)
        layers.append(
            {"mediaType": OCI_LAYER, "digest": _write_blob(root, data), "size": len(data)}
        )
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "config": {},
        }
    ).encode()
    config_desc = {
        "mediaType": OCI_CONFIG,
        "digest": _write_blob(root, config),
        "size": len(config),
    }
    manifest = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config_desc, "layers": layers},
        indent=1,
    ).encode()
    manifest_digest = _write_blob(root, manifest)
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": manifest_digest,
                "size": len(manifest),
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        ],
    }
    (root / "index.json").write_text(json.dumps(index))
    return Layout(
        root, tag, manifest_digest, [config_desc["digest"], *(layer["digest"] for layer in layers)]
    )


OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def build_index_layout(
    root: Path, *, tag: str = "multi", platforms: tuple[str, ...] = ("linux/amd64", "linux/arm64")
) -> Layout:
    """An OCI layout holding a multi-platform index of one small image per platform."""
    children = []
    blobs: list[str] = []
    for n, platform in enumerate(platforms):
        image = build_layout(root, tag=f"child-{n}", layer_sizes=(1500 + n,))
        os_name, arch = platform.split("/", 1)
        manifest = (root / "blobs" / "sha256" / image.manifest_digest[7:]).read_bytes()
        children.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": image.manifest_digest,
                "size": len(manifest),
                "platform": {"os": os_name, "architecture": arch},
            }
        )
        blobs.extend(image.blob_digests)
    index_bytes = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children}
    ).encode()
    digest = _write_blob(root, index_bytes)
    (root / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": OCI_INDEX,
                        "digest": digest,
                        "size": len(index_bytes),
                        "annotations": {"org.opencontainers.image.ref.name": tag},
                    }
                ],
            }
        )
    )
    return Layout(root, tag, digest, blobs)
