"""``artreg push LAYOUT_DIR REF``, ``artreg pull REF LAYOUT_DIR`` and ``artreg copy SRC_REF
DST_REF``: images and indexes between OCI image layouts and registries, blob by blob, streamed,
``--jobs`` blobs at a time, each blob once (present blobs are skipped, blobs on the same registry
are mounted)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from artreg.cli import app
from artreg.cli.common import EPILOG, Common, DebugOption, OutputOption, run
from artreg.cli.images import InsecureOption, RemoteBindingOption, parse_reference
from artreg.cli.output import emit
from artreg.cli.progress import ProgressMode, TransferProgress, human_size
from artreg.errors import InvalidInput
from artreg.oci.reference import Reference

if TYPE_CHECKING:  # the OCI client (httpx) is imported when a command runs, not at start-up
    from artreg.oci.copy import CopyResult
    from artreg.oci.image import Taggable

__all__ = ["blob_sizes"]

JobsOption = Annotated[
    int,
    typer.Option("--jobs", "-j", min=1, max=64, help="Blobs transferred in parallel."),
]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress output (the result is still printed).")
]
PlatformOption = Annotated[
    list[str] | None,
    typer.Option(
        "--platform",
        metavar="OS/ARCH[/VARIANT]",
        help="Of a multi-platform index, only these platforms (repeatable; default: all).",
    ),
]


def blob_sizes(taggable: Taggable) -> dict[str, int]:
    """Every blob an image or index references (children included): digest → size."""
    from artreg.imageops import blob_sizes as sizes  # when a command runs, not at start-up

    return sizes(taggable)


class _Transfer:
    """One push, pull or copy: its progress display, and the result printed once it has run."""

    def __init__(self, quiet: bool, verb: str) -> None:
        self.mode = ProgressMode.choose(quiet)
        self.verb = verb
        self.expected: dict[str, int] = {}
        self.progress: TransferProgress | None = None

    def track(self, taggable: Taggable) -> TransferProgress:
        """The progress display for moving ``taggable``'s blobs."""
        self.expected = blob_sizes(taggable)
        self.progress = TransferProgress(self.mode, verb=self.verb, expected=self.expected)
        return self.progress

    def run(self, common: Common, action: Callable[[], Awaitable[CopyResult]], source: str) -> None:
        """Run ``action`` and print its result (``source`` as the result names it)."""
        result = run(common, action)
        progress = self.progress
        assert progress is not None
        summary: dict[str, Any] = {
            "source": source,
            "destination": result.destination,
            "digest": result.digest,
            "mediaType": result.media_type,
            "blobs": len(self.expected),
            "bytes": progress.bytes_moved,
            "skipped": progress.skipped,
            "mounted": progress.mounted,
        }

        verb, seconds = self.verb.capitalize(), progress.elapsed

        def line() -> str:
            present = f", {summary['skipped']} already there" if summary["skipped"] else ""
            if summary["mounted"]:
                present += f", {summary['mounted']} mounted"
            return (
                f"{verb} {summary['destination']} ({summary['blobs']} blobs, "
                f"{human_size(summary['bytes'])} transferred{present}) in {seconds:.2f}s"
            )

        emit(summary, common.output, line)


def _platforms(values: list[str] | None) -> list[str] | None:
    return list(values) if values else None


@app.command("push", epilog=EPILOG, rich_help_panel="Images")
def push(
    layout_dir: Annotated[
        Path, typer.Argument(metavar="LAYOUT_DIR", help="An OCI image layout directory.")
    ],
    ref: Annotated[str, typer.Argument(metavar="REF", help="host[:port]/repo[:tag]")],
    source_tag: Annotated[
        str | None,
        typer.Option(
            "--source-tag",
            metavar="NAME",
            help="The image in the layout, by ref name or digest. Default: REF's tag when the "
            "layout has it, else the layout's only image.",
        ),
    ] = None,
    jobs: JobsOption = 4,
    quiet: QuietOption = False,
    platform: PlatformOption = None,
    binding: RemoteBindingOption = None,
    insecure: InsecureOption = False,
    output: OutputOption = None,
    debug: DebugOption = False,
) -> None:
    """Push an image or index from an OCI image layout to a registry.

    REF without a tag pushes to "latest". Blobs the repository already has are skipped.

    Progress goes to stderr: a bar per blob and an overall bar on a terminal, one line per blob otherwise ("VERB DIGEST SIZE", VERB being pushed, pulled, copied, exists or mounted), nothing with --quiet. The result goes to stdout: {source, destination, digest, mediaType, blobs, bytes, skipped, mounted}.
    """
    common = Common.of(binding or "", output, debug)
    transfer = _Transfer(quiet, "pushed")

    async def action() -> CopyResult:
        from artreg.cli.remote import open_images
        from artreg.oci.copy import copy_layout_to_registry
        from artreg.oci.layout import OciLayout

        dst = parse_reference(ref)
        if dst.digest:
            raise InvalidInput(
                operation_context="Push image",
                details="push to a tag, not a digest: host/repo[:tag]",
                field_name="reference",
            )
        layout = OciLayout(layout_dir)
        chosen, taggable = await layout.taggable_to_push(
            source_tag,
            dst.tag,
            platforms=_platforms(platform),
            how_to_choose="choose one with --source-tag",
        )
        if dst.tag is None:
            dst = dst.with_tag("latest")
        async with open_images([dst.registry], binding, insecure=insecure, jobs=jobs) as images:
            with transfer.track(taggable) as progress:
                return await copy_layout_to_registry(
                    layout,
                    dst,
                    source_reference=chosen,
                    jobs=jobs,
                    progress=progress,
                    registry=images,
                    platforms=_platforms(platform),
                    loaded=taggable,
                )

    transfer.run(common, action, f"oci:{layout_dir}")


@app.command("pull", epilog=EPILOG, rich_help_panel="Images")
def pull(
    ref: Annotated[str, typer.Argument(metavar="REF", help="host[:port]/repo[:tag][@digest]")],
    layout_dir: Annotated[
        Path,
        typer.Argument(metavar="LAYOUT_DIR", help="An OCI image layout (created when missing)."),
    ],
    tag: Annotated[
        str | None,
        typer.Option("--tag", metavar="NAME", help="Ref name in the layout (default: REF's tag)."),
    ] = None,
    jobs: JobsOption = 4,
    quiet: QuietOption = False,
    platform: PlatformOption = None,
    binding: RemoteBindingOption = None,
    insecure: InsecureOption = False,
    output: OutputOption = None,
    debug: DebugOption = False,
) -> None:
    """Pull an image or index from a registry into an OCI image layout.

    The manifests are stored byte for byte, so digests are unchanged; blobs the layout already has are skipped. REF without a tag or digest pulls "latest".

    Progress goes to stderr: a bar per blob and an overall bar on a terminal, one line per blob otherwise ("VERB DIGEST SIZE", VERB being pushed, pulled, copied, exists or mounted), nothing with --quiet. The result goes to stdout: {source, destination, digest, mediaType, blobs, bytes, skipped, mounted}.
    """
    common = Common.of(binding or "", output, debug)
    transfer = _Transfer(quiet, "pulled")

    async def action() -> CopyResult:
        from artreg.cli.remote import open_images
        from artreg.oci.copy import copy_registry_to_layout

        src = parse_reference(ref)
        if src.tag is None and src.digest is None:
            src = src.with_tag("latest")
        if tag is not None:
            from artreg.oci.reference import validate_tag

            validate_tag(tag, context="Pull image", field="tag")
        async with open_images([src.registry], binding, insecure=insecure, jobs=jobs) as images:
            taggable = await images.taggable(src, platforms=_platforms(platform))
            with transfer.track(taggable) as progress:
                return await copy_registry_to_layout(
                    src,
                    layout_dir,
                    tag=tag,
                    jobs=jobs,
                    progress=progress,
                    registry=images,
                    platforms=_platforms(platform),
                    loaded=taggable,
                )

    transfer.run(common, action, ref)


@app.command("copy", epilog=EPILOG, rich_help_panel="Images")
def copy(
    src_ref: Annotated[
        str, typer.Argument(metavar="SRC_REF", help="host[:port]/repo[:tag][@digest]")
    ],
    dst_ref: Annotated[
        str,
        typer.Argument(metavar="DST_REF", help="host[:port]/repo[:tag] (tag default: SRC_REF's)"),
    ],
    jobs: JobsOption = 4,
    quiet: QuietOption = False,
    platform: PlatformOption = None,
    binding: RemoteBindingOption = None,
    insecure: InsecureOption = False,
    output: OutputOption = None,
    debug: DebugOption = False,
) -> None:
    """Copy an image or index between repositories or registries.

    Blobs stream from source to destination without touching disk; on the same registry they are mounted instead of copied. Each registry's credentials are resolved separately.

    Progress goes to stderr: a bar per blob and an overall bar on a terminal, one line per blob otherwise ("VERB DIGEST SIZE", VERB being pushed, pulled, copied, exists or mounted), nothing with --quiet. The result goes to stdout: {source, destination, digest, mediaType, blobs, bytes, skipped, mounted}.
    """
    common = Common.of(binding or "", output, debug)
    transfer = _Transfer(quiet, "copied")

    async def action() -> CopyResult:
        from artreg.cli.remote import open_images
        from artreg.oci.copy import copy_registry_to_registry

        src = parse_reference(src_ref, field="source")
        dst = parse_reference(dst_ref, field="destination")
        if src.tag is None and src.digest is None:
            src = src.with_tag("latest")
        if dst.digest:
            raise InvalidInput(
                operation_context="Copy image",
                details="copy to a tag, not a digest: host/repo[:tag]",
                field_name="destination",
            )
        if dst.tag is None and src.tag is not None:
            dst = Reference(dst.registry, dst.repository, src.tag)
        hosts = {src.registry, dst.registry}
        async with open_images(hosts, binding, insecure=insecure, jobs=jobs) as images:
            taggable = await images.taggable(src, platforms=_platforms(platform))
            with transfer.track(taggable) as progress:
                return await copy_registry_to_registry(
                    src,
                    dst,
                    jobs=jobs,
                    progress=progress,
                    registry=images,
                    platforms=_platforms(platform),
                    loaded=taggable,
                )

    transfer.run(common, action, src_ref)
