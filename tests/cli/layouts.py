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
