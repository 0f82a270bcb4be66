"""Copying images and indexes between OCI layouts and registries, blob by blob, streamed:
layout → registry, registry → layout, registry → registry (mounting blobs when source and
target are on the same registry). Used by ``artreg push``, ``pull`` and ``copy``.

Locations are written as skopeo does: ``oci:DIR[:TAG]`` for a layout, ``docker://HOST/REPO[:TAG]``
or plain ``HOST/REPO[:TAG][@DIGEST]`` for a registry.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path

from artreg.errors import InvalidInput
from artreg.oci.image import (
    ImageRegistry,
    ProgressCallback,
    RegistryTarget,
    Taggable,
    Target,
    write_all,
)
from artreg.oci.keychain import Keychain
from artreg.oci.layout import LayoutTarget, OciLayout
from artreg.oci.reference import Reference, validate_tag

__all__ = [
    "CopyResult",
    "Location",
    "copy",
    "copy_layout_to_registry",
    "copy_registry_to_layout",
    "copy_registry_to_registry",
    "parse_location",
]


@dataclass(frozen=True)
class Location:
    """Where an image is: a registry reference, or a layout directory plus an optional tag."""

    reference: Reference | None = None
    layout: Path | None = None
    tag: str | None = None

    @property
    def is_layout(self) -> bool:
        return self.layout is not None

    def __str__(self) -> str:
        if self.layout is not None:
            return f"oci:{self.layout}" + (f":{self.tag}" if self.tag else "")
        return f"docker://{self.reference}"


def parse_location(text: str, *, field: str = "location") -> Location:
    """``oci:DIR[:TAG]`` / ``oci-layout://DIR[:TAG]`` or a registry reference."""
    if not isinstance(text, str) or not text:
        raise InvalidInput(
            operation_context="Parse location",
            details="location must not be empty",
            field_name=field,
        )
    for prefix in ("oci:", "oci-layout://"):
        if text.startswith(prefix):
            rest = text[len(prefix) :]
            path, sep, tag = rest.partition(":")
            if not path:
                raise InvalidInput(
                    operation_context="Parse location",
                    details="oci: needs a directory",
                    field_name=field,
                )
            if sep and tag and not tag.startswith("sha256:"):
                validate_tag(tag, context="Parse location", field=field)
            return Location(layout=Path(path), tag=tag or None)
    return Location(reference=Reference.parse(text, field=field))


@dataclass(frozen=True)
class CopyResult:
    """What was copied: the root manifest's digest and media type, and where it went."""

    digest: str
    media_type: str
    destination: str


def _reference(value: str | Reference, field: str) -> Reference:
    return value if isinstance(value, Reference) else Reference.parse(value, field=field)


@contextlib.asynccontextmanager
async def _registry(
    registry: ImageRegistry | None, keychain: Keychain | None = None, insecure: bool = False
) -> AsyncIterator[ImageRegistry]:
    """``registry`` as it is, else a new one closed when the block ends."""
    if registry is not None:
        yield registry
        return
    async with ImageRegistry(keychain, insecure=insecure) as own:
        yield own


async def copy_layout_to_registry(
    layout: str | Path | OciLayout,
    destination: str | Reference,
    *,
    source_reference: str | None = None,
    jobs: int = 4,
    progress: ProgressCallback | None = None,
    registry: ImageRegistry | None = None,
    platforms: Iterable[str] | None = None,
    loaded: Taggable | None = None,
) -> CopyResult:
    """Push an image/index from a layout (by tag or digest; the only one when omitted).
    ``loaded``: the source as already read (by a caller that showed it first); not read again."""
    lay = layout if isinstance(layout, OciLayout) else OciLayout(layout)
    dst = _reference(destination, "destination")
    taggable = loaded or await lay.taggable(source_reference, platforms=platforms)
    async with _registry(registry) as reg:
        client = await reg.client(dst.registry)
        tag = dst.tag or (
            source_reference if source_reference and ":" not in source_reference else None
        )
        target: Target = RegistryTarget(client, dst.repository)
        [digest] = await write_all([(target, taggable, tag)], concurrency=jobs, progress=progress)
    return CopyResult(digest, taggable.media_type, str(dst.with_digest(digest)))


async def copy_registry_to_layout(
    source: str | Reference,
    layout: str | Path | OciLayout,
    *,
    tag: str | None = None,
    jobs: int = 4,
    progress: ProgressCallback | None = None,
    registry: ImageRegistry | None = None,
    platforms: Iterable[str] | None = None,
    loaded: Taggable | None = None,
) -> CopyResult:
    """Pull an image/index into a layout (created if missing), tagged ``tag`` (default: the
    source's tag; untagged when pulled by digest). ``loaded``: the source's manifests as already
    fetched (by a caller that showed them first); each manifest is fetched once."""
    src = _reference(source, "source")
    lay = layout if isinstance(layout, OciLayout) else OciLayout.create(layout)
    if not (lay.path / "index.json").exists():
        lay = OciLayout.create(lay.path)
    async with _registry(registry) as reg:
        taggable = loaded or await reg.taggable(src, platforms=platforms)
        ref_name = tag or src.tag
        [digest] = await write_all(
            [(LayoutTarget(lay), taggable, ref_name or taggable.digest)],
            concurrency=jobs,
            progress=progress,
        )
    return CopyResult(
        digest, taggable.media_type, f"oci:{lay.path}" + (f":{ref_name}" if ref_name else "")
    )


async def copy_registry_to_registry(
    source: str | Reference,
    destination: str | Reference,
    *,
    jobs: int = 4,
    progress: ProgressCallback | None = None,
    registry: ImageRegistry | None = None,
    platforms: Iterable[str] | None = None,
    loaded: Taggable | None = None,
) -> CopyResult:
    """Copy an image/index between repositories or registries, mounting blobs when both are on
    the same registry. The destination tag defaults to the source's. ``loaded``: the source's
    manifests as already fetched; each manifest is fetched once."""
    src = _reference(source, "source")
    dst = _reference(destination, "destination")
    async with _registry(registry) as reg:
        taggable = loaded or await reg.taggable(src, platforms=platforms)
        client = await reg.client(dst.registry)
        tag = dst.tag or (src.tag if not dst.digest else None)
        [digest] = await write_all(
            [(RegistryTarget(client, dst.repository), taggable, tag)],
            concurrency=jobs,
            progress=progress,
        )
    return CopyResult(digest, taggable.media_type, str(dst.with_digest(digest)))


async def copy(
    source: str | Location,
    destination: str | Location,
    *,
    jobs: int = 4,
    progress: ProgressCallback | None = None,
    keychain: Keychain | None = None,
    insecure: bool = False,
    registry: ImageRegistry | None = None,
    platforms: Iterable[str] | None = None,
) -> CopyResult:
    """Copy between any two locations (layout ↔ registry, registry ↔ registry, layout → layout)."""
    src = source if isinstance(source, Location) else parse_location(source, field="source")
    dst = (
        destination
        if isinstance(destination, Location)
        else parse_location(destination, field="destination")
    )
    if jobs < 1:
        raise InvalidInput(
            operation_context="Copy image", details="jobs must be at least 1", field_name="jobs"
        )
    async with _registry(registry, keychain, insecure) as reg:
        if src.layout is not None and dst.reference is not None:
            return await copy_layout_to_registry(
                src.layout,
                dst.reference,
                source_reference=src.tag,
                jobs=jobs,
                progress=progress,
                registry=reg,
                platforms=platforms,
            )
        if src.reference is not None and dst.layout is not None:
            return await copy_registry_to_layout(
                src.reference,
                dst.layout,
                tag=dst.tag,
                jobs=jobs,
                progress=progress,
                registry=reg,
                platforms=platforms,
            )
        if src.reference is not None and dst.reference is not None:
            return await copy_registry_to_registry(
                src.reference,
                dst.reference,
                jobs=jobs,
                progress=progress,
                registry=reg,
                platforms=platforms,
            )
        assert src.layout is not None and dst.layout is not None
        source_layout = OciLayout(src.layout)
        taggable = await source_layout.taggable(src.tag, platforms=platforms)
        target_layout = OciLayout.create(dst.layout)
        ref_name = dst.tag or src.tag
        [digest] = await write_all(
            [(LayoutTarget(target_layout), taggable, ref_name or taggable.digest)],
            concurrency=jobs,
            progress=progress,
        )
        return CopyResult(
            digest, taggable.media_type, str(Location(layout=dst.layout, tag=ref_name))
        )
