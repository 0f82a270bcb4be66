"""Building OCI image layouts on disk for skopeo to copy: real tar.gz layers made with tarfile,
config and manifest blobs, ``index.json`` with ``org.opencontainers.image.ref.name`` tags."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.platform:
            out["platform"] = self.platform
        return out


def tar_gz(files: dict[str, bytes]) -> bytes:
    """A gzip-compressed tar holding ``files`` (deterministic: fixed mtime, sorted names)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mtime = 1_700_000_000
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(files[name]))
    return gzip.compress(raw.getvalue(), mtime=0)


class Layout:
    """An OCI image layout directory being written."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
        self.refs: list[dict[str, Any]] = []

    def blob(self, data: bytes, media_type: str) -> Descriptor:
        digest = hashlib.sha256(data).hexdigest()
        (self.root / "blobs" / "sha256" / digest).write_bytes(data)
        return Descriptor(media_type, f"sha256:{digest}", len(data))

    def image(self, files: dict[str, bytes], *, arch: str = "amd64") -> Descriptor:
        """An image with one layer holding ``files``; returns the manifest's descriptor."""
        layer_bytes = tar_gz(files)
        diff_id = "sha256:" + hashlib.sha256(gzip.decompress(layer_bytes)).hexdigest()
        layer = self.blob(layer_bytes, OCI_LAYER_GZIP)
        config = {
            "architecture": arch,
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "config": {},
        }
        config_desc = self.blob(json.dumps(config).encode(), OCI_CONFIG)
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": config_desc.to_json(),
            "layers": [layer.to_json()],
        }
        desc = self.blob(json.dumps(manifest, indent=2).encode(), OCI_MANIFEST)
        return Descriptor(
            desc.media_type, desc.digest, desc.size, {"architecture": arch, "os": "linux"}
        )

    def index(self, manifests: list[Descriptor]) -> Descriptor:
        doc = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [m.to_json() for m in manifests],
        }
        return self.blob(json.dumps(doc).encode(), OCI_INDEX)

    def tag(self, desc: Descriptor, name: str) -> None:
        entry = desc.to_json()
        entry.pop("platform", None)
        entry["annotations"] = {REF_NAME: name}
        self.refs.append(entry)
        (self.root / "index.json").write_text(
            json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": self.refs})
        )


def read_tagged(root: Path, tag: str) -> dict[str, Any]:
    """The descriptor tagged ``tag`` in a layout's index.json."""
    index = json.loads((root / "index.json").read_text())
    for entry in index["manifests"]:
        if entry.get("annotations", {}).get(REF_NAME) == tag:
            return dict(entry)
    raise KeyError(tag)


def blob_bytes(root: Path, digest: str) -> bytes:
    algorithm, _, hexpart = digest.partition(":")
    return (root / "blobs" / algorithm / hexpart).read_bytes()
