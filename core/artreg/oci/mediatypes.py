"""Media types of OCI and Docker v2 manifests, indexes, configs and layers."""

from __future__ import annotations

from typing import Final

OCI_MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX: Final = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG: Final = "application/vnd.oci.image.config.v1+json"
OCI_LAYER: Final = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP: Final = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD: Final = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_EMPTY: Final = "application/vnd.oci.empty.v1+json"

DOCKER_MANIFEST: Final = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST: Final = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG: Final = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP: Final = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER: Final = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

#: Manifests that describe one image.
IMAGE_MANIFESTS: Final = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
#: Manifests that list other manifests (multi-platform images).
INDEX_MANIFESTS: Final = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
#: Every manifest type the client reads and writes.
MANIFESTS: Final = IMAGE_MANIFESTS | INDEX_MANIFESTS

#: The ``Accept`` header sent when fetching a manifest by tag or digest.
MANIFEST_ACCEPT: Final = ", ".join((OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST))


def is_index(media_type: str) -> bool:
    """True for OCI indexes and Docker manifest lists."""
    return base_type(media_type) in INDEX_MANIFESTS


def is_image_manifest(media_type: str) -> bool:
    """True for OCI and Docker v2 image manifests."""
    return base_type(media_type) in IMAGE_MANIFESTS


def base_type(content_type: str) -> str:
    """A Content-Type without parameters (``; charset=…``), lowercased."""
    return content_type.split(";", 1)[0].strip().lower()
