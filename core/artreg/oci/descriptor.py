"""Descriptors and manifest parsing: what a manifest or index references."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from artreg.errors import InvalidInput
from artreg.oci import mediatypes
from artreg.oci.reference import validate_digest

__all__ = ["Descriptor", "ParsedManifest", "parse_manifest"]


@dataclass(frozen=True)
class Descriptor:
    """A content descriptor: media type, digest and size, plus optional platform/annotations."""

    media_type: str
    digest: str
    size: int
    platform: dict[str, Any] | None = None
    annotations: dict[str, str] | None = None
    urls: list[str] | None = None
    artifact_type: str | None = None

    @classmethod
    def from_json(cls, obj: Any, *, context: str = "Parse manifest") -> Descriptor:
        if not isinstance(obj, dict):
            raise InvalidInput(
                operation_context=context,
                details="descriptor is not an object",
                field_name="manifest",
            )
        media = obj.get("mediaType")
        digest = obj.get("digest")
        size = obj.get("size")
        if (
            not isinstance(media, str)
            or not isinstance(digest, str)
            or not isinstance(size, int)
            or isinstance(size, bool)
            or size < 0
        ):
            raise InvalidInput(
                operation_context=context,
                details="descriptor needs mediaType (string), digest (string) and size (integer >= 0)",
                field_name="manifest",
            )
        validate_digest(digest, context=context, field="manifest")
        return cls(
            media,
            digest,
            size,
            obj.get("platform") if isinstance(obj.get("platform"), dict) else None,
            obj.get("annotations") if isinstance(obj.get("annotations"), dict) else None,
            obj.get("urls") if isinstance(obj.get("urls"), list) else None,
            obj.get("artifactType") if isinstance(obj.get("artifactType"), str) else None,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.platform is not None:
            out["platform"] = self.platform
        if self.annotations:
            out["annotations"] = self.annotations
        if self.urls:
            out["urls"] = self.urls
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        return out

    @property
    def platform_string(self) -> str:
        """``os/arch[/variant]`` or ``""``."""
        if not self.platform:
            return ""
        parts = [str(self.platform.get("os", "")), str(self.platform.get("architecture", ""))]
        if self.platform.get("variant"):
            parts.append(str(self.platform["variant"]))
        return "/".join(parts)


@dataclass(frozen=True)
class ParsedManifest:
    """The references of a manifest: ``config`` and ``layers`` for an image, ``manifests`` for
    an index. ``subject`` when the manifest refers to another."""

    media_type: str
    config: Descriptor | None = None
    layers: tuple[Descriptor, ...] = ()
    manifests: tuple[Descriptor, ...] = ()
    subject: Descriptor | None = None
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def is_index(self) -> bool:
        return mediatypes.is_index(self.media_type)

    @property
    def blobs(self) -> tuple[Descriptor, ...]:
        """Config then layers (an index has none)."""
        return ((self.config,) if self.config else ()) + self.layers


def parse_manifest(data: bytes, media_type: str | None = None) -> ParsedManifest:
    """Parse an OCI/Docker image manifest or index; INVALID_INPUT when it is not one."""
    context = "Parse manifest"
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(
            operation_context=context, details="manifest is not JSON", field_name="manifest"
        ) from None
    if not isinstance(obj, dict):
        raise InvalidInput(
            operation_context=context,
            details="manifest is not a JSON object",
            field_name="manifest",
        )
    media = obj.get("mediaType") if isinstance(obj.get("mediaType"), str) else None
    if media is None and media_type:
        media = mediatypes.base_type(media_type)
    if media is None:
        media = mediatypes.OCI_INDEX if "manifests" in obj else mediatypes.OCI_MANIFEST
    raw_annotations = obj.get("annotations")
    annotations: dict[str, str] = (
        {str(k): str(v) for k, v in raw_annotations.items()}
        if isinstance(raw_annotations, dict)
        else {}
    )
    subject = Descriptor.from_json(obj["subject"]) if isinstance(obj.get("subject"), dict) else None
    if mediatypes.is_index(media) or ("manifests" in obj and "config" not in obj):
        items = obj.get("manifests")
        if not isinstance(items, list):
            raise InvalidInput(
                operation_context=context,
                details="index has no manifests list",
                field_name="manifest",
            )
        return ParsedManifest(
            media,
            manifests=tuple(Descriptor.from_json(m) for m in items),
            subject=subject,
            annotations=annotations,
        )
    config = obj.get("config")
    layers = obj.get("layers", [])
    if config is None or not isinstance(layers, list):
        raise InvalidInput(
            operation_context=context,
            details="image manifest needs config and layers",
            field_name="manifest",
        )
    return ParsedManifest(
        media,
        config=Descriptor.from_json(config),
        layers=tuple(Descriptor.from_json(layer) for layer in layers),
        subject=subject,
        annotations=annotations,
    )
