"""Checking manifests and indexes before they are stored: JSON shape, media type, references."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final

from artreg.digest import Digest, DigestError
from artreg.serving.jsondepth import JsonTooDeep, check_depth

OCI_MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX: Final = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST: Final = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST: Final = "application/vnd.docker.distribution.manifest.list.v2+json"

IMAGE_TYPES: Final = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEX_TYPES: Final = frozenset({OCI_INDEX, DOCKER_LIST})
KNOWN_TYPES: Final = IMAGE_TYPES | INDEX_TYPES

#: Manifests larger than this are refused (CNCF distribution uses the same limit).
MAX_MANIFEST_SIZE: Final = 4 * 1024 * 1024
#: Deeper nesting is refused before parsing (a real manifest nests about five levels).
MAX_MANIFEST_DEPTH: Final = 64

_FOREIGN_LAYER_TYPES: Final = frozenset(
    {
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    }
)
_GENERIC_TYPES: Final = frozenset({"", "application/json", "application/octet-stream"})


class ManifestInvalid(ValueError):
    """The manifest cannot be accepted; the message says why."""


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    artifact_type: str | None = None
    annotations: dict[str, str] | None = None
    has_urls: bool = False


@dataclass(slots=True)
class ParsedManifest:
    """What the registry needs to know about a manifest it is asked to store."""

    media_type: str
    blobs: list[Descriptor] = field(default_factory=list)
    manifests: list[Descriptor] = field(default_factory=list)
    subject: Descriptor | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] | None = None

    def required_blobs(self) -> list[Digest]:
        """Blobs that must be present in the repository (foreign layers with URLs excepted)."""
        return [
            d.digest
            for d in self.blobs
            if not (d.has_urls and d.media_type in _FOREIGN_LAYER_TYPES)
        ]

    def referrer_descriptor(self, digest: Digest, size: int) -> dict[str, Any]:
        """This manifest as an entry of its subject's referrers index."""
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": str(digest), "size": size}
        artifact_type = self.artifact_type
        if artifact_type is None and self.media_type in IMAGE_TYPES and self.blobs:
            artifact_type = self.blobs[0].media_type  # the config's media type
        if artifact_type:
            out["artifactType"] = artifact_type
        if self.annotations:
            out["annotations"] = self.annotations
        return out


def _media_type_of(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise ManifestInvalid(f"{where} is not a descriptor object")
    media_type = value.get("mediaType")
    if not isinstance(media_type, str) or not media_type:
        raise ManifestInvalid(f"{where}.mediaType is missing")
    raw_digest = value.get("digest")
    if not isinstance(raw_digest, str):
        raise ManifestInvalid(f"{where}.digest is missing")
    try:
        digest = Digest.parse(raw_digest)
    except DigestError as exc:
        raise ManifestInvalid(f"{where}.digest: {exc}") from exc
    size = value.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestInvalid(f"{where}.size must be a non-negative integer")
    artifact_type = value.get("artifactType")
    annotations = value.get("annotations")
    urls = value.get("urls")
    return Descriptor(
        media_type=media_type,
        digest=digest,
        size=size,
        artifact_type=artifact_type if isinstance(artifact_type, str) else None,
        annotations=_annotations(annotations, where),
        has_urls=isinstance(urls, list) and bool(urls),
    )


def _annotations(value: Any, where: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ManifestInvalid(f"{where}.annotations must map strings to strings")
    return dict(value)


def _load(body: bytes) -> dict[str, Any]:
    """The manifest body as a JSON object of schema version 2, within the size and depth bounds."""
    if len(body) > MAX_MANIFEST_SIZE:
        raise ManifestInvalid(f"manifest is larger than {MAX_MANIFEST_SIZE} bytes")
    try:
        check_depth(body, MAX_MANIFEST_DEPTH)
        doc = json.loads(body)
    except JsonTooDeep as exc:
        raise ManifestInvalid(f"manifest is not accepted: {exc}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ManifestInvalid(f"manifest is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise ManifestInvalid("manifest is not a JSON object")
    if doc.get("schemaVersion") != 2:
        raise ManifestInvalid("unsupported schemaVersion (only 2 is accepted)")
    return doc


def _resolve_media_type(doc: dict[str, Any], content_type: str | None) -> str:
    """The manifest's media type: the header's, else the body's, else by shape (see
    :func:`parse_manifest`)."""
    header_type = _media_type_of(content_type)
    body_type = doc.get("mediaType")
    if body_type is not None and not isinstance(body_type, str):
        raise ManifestInvalid("mediaType must be a string")
    if header_type in _GENERIC_TYPES:
        media_type = body_type or (OCI_INDEX if "manifests" in doc else OCI_MANIFEST)
    else:
        media_type = header_type
        if body_type and body_type != header_type:
            raise ManifestInvalid(
                f"mediaType {body_type!r} in the body does not match Content-Type {header_type!r}"
            )
    if media_type not in KNOWN_TYPES:
        raise ManifestInvalid(f"unsupported manifest media type {media_type!r}")
    return media_type


def _add_references(parsed: ParsedManifest, doc: dict[str, Any]) -> None:
    """Fill ``parsed`` with the blobs of an image manifest or the children of an index."""
    if parsed.media_type in IMAGE_TYPES:
        if "config" not in doc:
            raise ManifestInvalid("image manifest has no config")
        parsed.blobs.append(_descriptor(doc["config"], "config"))
        layers = doc.get("layers")
        if not isinstance(layers, list):
            raise ManifestInvalid("image manifest has no layers array")
        parsed.blobs.extend(_descriptor(d, f"layers[{i}]") for i, d in enumerate(layers))
    else:
        children = doc.get("manifests")
        if not isinstance(children, list):
            raise ManifestInvalid("index has no manifests array")
        parsed.manifests.extend(_descriptor(d, f"manifests[{i}]") for i, d in enumerate(children))


def parse_manifest(body: bytes, content_type: str | None) -> ParsedManifest:
    """Validate ``body`` as a manifest or index sent with ``content_type``.

    The media type is the request's ``Content-Type``; when that is absent or generic, the body's
    ``mediaType``, and failing that the shape (``manifests`` → OCI index, else OCI manifest).
    A body ``mediaType`` that contradicts the header is refused.
    """
    doc = _load(body)
    media_type = _resolve_media_type(doc, content_type)
    artifact_type = doc.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise ManifestInvalid("artifactType must be a string")
    parsed = ParsedManifest(
        media_type=media_type,
        artifact_type=artifact_type,
        annotations=_annotations(doc.get("annotations"), "manifest"),
    )
    if "subject" in doc and doc["subject"] is not None:
        parsed.subject = _descriptor(doc["subject"], "subject")
    _add_references(parsed, doc)
    return parsed
