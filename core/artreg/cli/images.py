"""``artreg manifest get|head REF``, ``artreg blob head REF@DIGEST`` and ``artreg tags REPO``:
reading a registry directly. References are ``host[:port]/repo[:tag][@digest]``; see
:mod:`artreg.cli.remote` for where credentials come from."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from artreg.cli import app
from artreg.cli.common import EPILOG, Common, DebugOption, OutputOption, run
from artreg.cli.output import OutputFormat, emit, key_value_table, list_table, reader_gone
from artreg.digest import sha256_digest
from artreg.errors import InvalidInput, RemoteResourceNotFound
from artreg.oci.mediatypes import base_type, is_index
from artreg.oci.reference import Reference

__all__ = ["InsecureOption", "RemoteBindingOption", "parse_reference"]

RemoteBindingOption = Annotated[
    str | None,
    typer.Option(
        "--binding",
        "-b",
        envvar="ARTREG_BINDING",
        show_envvar=True,
        metavar="NAME",
        help="Prefer this binding's credentials when its registry endpoint has REF's host "
        "(otherwise every binding in the environment is tried, then Docker's config, then "
        "anonymous).",
    ),
]

InsecureOption = Annotated[
    bool,
    typer.Option(
        "--insecure",
        help="Allow plain HTTP and unverified TLS (loopback hosts use plain HTTP anyway).",
    ),
]

manifest_app = typer.Typer(
    name="manifest", help="Read manifests from a registry.", no_args_is_help=True
)
blob_app = typer.Typer(name="blob", help="Check blobs in a registry.", no_args_is_help=True)
app.add_typer(manifest_app, name="manifest", rich_help_panel="Registry reads")
app.add_typer(blob_app, name="blob", rich_help_panel="Registry reads")


def parse_reference(value: str, *, field: str = "reference") -> Reference:
    """A reference, with INVALID_INPUT (exit 2) naming ``field`` when it does not parse."""
    return Reference.parse(value, field=field)


def _common(binding: str | None, output: OutputFormat | None, debug: bool) -> Common:
    return Common.of(binding or "", output, debug)


def _manifest_summary(reference: Reference, data: bytes, content_type: str) -> dict[str, Any]:
    try:
        parsed: Any = json.loads(data)
    except ValueError:
        parsed = None
    return {
        "reference": str(reference),
        "digest": sha256_digest(data),
        "contentType": content_type,
        "size": len(data),
        "manifest": parsed,
    }


def _manifest_table(summary: dict[str, Any]) -> Any:
    from rich.console import Group

    manifest = summary["manifest"] if isinstance(summary["manifest"], dict) else {}
    head = key_value_table(
        {
            "reference": summary["reference"],
            "digest": summary["digest"],
            "mediaType": summary["contentType"],
            "size": summary["size"],
        }
    )
    if is_index(summary["contentType"]):
        rows = []
        for entry in manifest.get("manifests") or []:
            platform = entry.get("platform") or {}
            name = "/".join(
                p
                for p in (platform.get("os"), platform.get("architecture"), platform.get("variant"))
                if p
            )
            rows.append(
                (name or "-", entry.get("digest"), entry.get("size"), entry.get("mediaType"))
            )
        return Group(head, list_table(("platform", "digest", "size", "mediaType"), rows))
    rows = []
    config = manifest.get("config")
    if isinstance(config, dict):
        rows.append(("config", config.get("digest"), config.get("size"), config.get("mediaType")))
    for layer in manifest.get("layers") or []:
        rows.append(("layer", layer.get("digest"), layer.get("size"), layer.get("mediaType")))
    return Group(head, list_table(("kind", "digest", "size", "mediaType"), rows))


@manifest_app.command("get", epilog=EPILOG)
def manifest_get(
    ref: Annotated[str, typer.Argument(metavar="REF", help="host[:port]/repo[:tag][@digest]")],
    raw: Annotated[
        bool,
        typer.Option(
            "--raw", help="Write the manifest's exact bytes (their digest is the image's)."
        ),
    ] = False,
    binding: RemoteBindingOption = None,
    insecure: InsecureOption = False,
    output: OutputOption = None,
    debug: DebugOption = False,
) -> None:
    """Fetch a manifest (image manifest or index, OCI or Docker v2).

    JSON output: {reference, digest, contentType, size, manifest}; --raw writes the stored bytes verbatim instead. A tag defaults to "latest".
    """
    common = _common(binding, output, debug)

    async def action() -> tuple[Reference, bytes, str]:
        reference = parse_reference(ref)
        from artreg.cli.remote import open_client  # the OCI client: imported when used

        async with open_client(reference.registry, binding, insecure=insecure) as client:
            data, content_type = await client.get_manifest(
                reference.repository, reference.identifier
            )
        return reference, data, content_type

    reference, data, content_type = run(common, action)
    if raw:
        try:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        except BrokenPipeError:
            reader_gone()
        return
    summary = _manifest_summary(reference, data, base_type(content_type) or content_type)
    emit(summary, common.output, lambda: _manifest_table(summary))


@manifest_app.command("head", epilog=EPILOG)
def manifest_head(
    ref: Annotated[str, typer.Argument(metavar="REF", help="host[:port]/repo[:tag][@digest]")],
    binding: RemoteBindingOption = None,
    insecure: InsecureOption = False,
    output: OutputOption = None,
    debug: DebugOption = False,
) -> None:
    """Show a manifest's digest and media type without fetching it (exit 3 when absent)."""
    common = _common(binding, output, debug)

    async def action() -> dict[str, Any]:
        reference = parse_reference(ref)
        from artreg.cli.remote import open_client  # the OCI client: imported when used

        async with open_client(reference.registry, binding, insecure=insecure) as client:
            head = await client.head_manifest(reference.repository, reference.identifier)
        if head is None:
            raise RemoteResourceNotFound(
                operation_context="Head manifest",
                resource_type="manifest",
                resource_name=str(reference),
            )
        return {
            "reference": str(reference),
            "digest": head.digest,
            "contentType": head.content_type,
        }

    result = run(common, action)
    emit(result, common.output)


@blob_app.command("head", epilog=EPILOG)
def blob_head(
    ref: Annotated[str, typer.Argument(metavar="REF@DIGEST", help="host[:port]/repo@sha256:…")],
    binding: RemoteBindingOption = None,
    insecure: InsecureOption = False,
    output: OutputOption = None,
    debug: DebugOption = False,
) -> None:
    """Show a blob's size (exit 3 when the registry does not have it)."""
    common = _common(binding, output, debug)

    async def action() -> dict[str, Any]:
        reference = parse_reference(ref)
        if reference.digest is None:
            raise InvalidInput(
                operation_context="Head blob",
                details=f"{ref!r} names no blob: use host/repo@sha256:<hex>",
                field_name="reference",
            )
        from artreg.cli.remote import open_client  # the OCI client: imported when used

        async with open_client(reference.registry, binding, insecure=insecure) as client:
            size = await client.head_blob(reference.repository, reference.digest)
        if size is None:
            raise RemoteResourceNotFound(
                operation_context="Head blob", resource_type="blob", resource_name=str(reference)
            )
        return {"reference": str(reference), "digest": reference.digest, "size": size}

    result = run(common, action)
    emit(result, common.output)


@app.command("tags", epilog=EPILOG, rich_help_panel="Registry reads")
def tags(
    repo: Annotated[str, typer.Argument(metavar="REPO", help="host[:port]/repo")],
    binding: RemoteBindingOption = None,
    insecure: InsecureOption = False,
    output: OutputOption = None,
    debug: DebugOption = False,
) -> None:
    """List a repository's tags (every page), in the registry's order."""
    common = _common(binding, output, debug)

    async def action() -> tuple[Reference, list[str]]:
        reference = parse_reference(repo, field="repository")
        if reference.tag or reference.digest:
            raise InvalidInput(
                operation_context="List tags",
                details=f"{repo!r} names an image; give the repository only: host/repo",
                field_name="repository",
            )
        from artreg.cli.remote import open_client  # the OCI client: imported when used

        async with open_client(reference.registry, binding, insecure=insecure) as client:
            return reference, await client.list_tags(reference.repository)

    reference, found = run(common, action)
    emit(
        {"name": reference.name, "tags": found},
        common.output,
        lambda: "\n".join(found) if found else "(no tags)",
    )
