"""``artreg access add|get|remove REPO``: cross-account pull access (ECR and Artifact Registry)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer

from artreg.cli import app
from artreg.cli.common import (
    DEFAULT_BINDING,
    EPILOG,
    BindingOption,
    Common,
    DebugOption,
    OutputOption,
    open_registry,
    run,
    run_on_registry,
)
from artreg.cli.output import emit, key_value_table
from artreg.errors import InvalidInput
from artreg.types import (
    AwsCrossAccountAccess,
    CrossAccountAccess,
    convert,
    cross_account_access_platform,
    to_builtins,
)

access_app = typer.Typer(
    name="access",
    help="Grant, show and revoke cross-account pull access to a repository (ECR, GAR).",
    no_args_is_help=True,
)
app.add_typer(access_app, name="access", rich_help_panel="Through a binding")

_CONTEXT = "Read cross-account access"

RepoArgument = Annotated[str, typer.Argument(metavar="REPO", help="The routable repository name.")]
AccessOption = Annotated[
    str,
    typer.Option(
        "--access",
        "-a",
        metavar="FILE|-",
        help='CrossAccountAccess JSON, from a file or "-" for stdin, e.g. {"type": "aws", '
        '"accountIds": [...], "regions": [...], "roleArns": [...], "allowedServiceTypes": '
        '["worker"]}. alien\'s "platform" tag is accepted too.',
    ),
]


def read_access(source: str) -> CrossAccountAccess:
    """Parse the CrossAccountAccess JSON named by ``--access`` (a path or ``-``)."""
    try:
        data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        raise InvalidInput(
            operation_context=_CONTEXT,
            details=f"cannot read {source!r}: {exc.strerror or exc}",
            field_name="access",
        ) from None
    where = "stdin" if source == "-" else source
    try:
        parsed = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise InvalidInput(
            operation_context=_CONTEXT, details=f"{where} is not JSON: {exc}", field_name="access"
        ) from None
    try:
        access: CrossAccountAccess = convert(parsed, CrossAccountAccess)  # type: ignore[arg-type]
    except msgspec.ValidationError as exc:
        raise InvalidInput(
            operation_context=_CONTEXT,
            details=f"{where} is not a CrossAccountAccess: {exc}",
            field_name="access",
        ) from None
    return access


def _access_rows(access: CrossAccountAccess) -> dict[str, Any]:
    rows: dict[str, Any] = {"type": cross_account_access_platform(access)}
    data = to_builtins(access)
    assert isinstance(data, dict)
    rows.update((k, v) for k, v in data.items() if k not in ("type", "platform"))
    return rows


@access_app.command("get", epilog=EPILOG)
def get(
    repo_id: RepoArgument,
    binding: BindingOption = DEFAULT_BINDING,
    output: OutputOption = None,
    debug: DebugOption = False,
) -> None:
    """Show the cross-account access granted on REPO."""
    common = Common.of(binding, output, debug)
    result = run_on_registry(common, lambda registry: registry.get_cross_account_access(repo_id))
    emit(
        result,
        common.output,
        lambda: key_value_table(
            {**_access_rows(result.access), "lastUpdated": result.last_updated}
        ),
    )


def _change(verb: str, repo_id: str, source: str, common: Common) -> None:
    async def action() -> CrossAccountAccess:
        access = read_access(source)
        async with open_registry(common.binding) as registry:
            if verb == "add":
                await registry.add_cross_account_access(repo_id, access)
            else:
                await registry.remove_cross_account_access(repo_id, access)
        return access

    access = run(common, action)
    result = {"repository": repo_id, "action": verb, "access": to_builtins(access)}
    done = "Granted" if verb == "add" else "Revoked"
    what = "accounts" if isinstance(access, AwsCrossAccountAccess) else "projects"
    emit(
        result,
        common.output,
        lambda: key_value_table(_access_rows(access), title=f"{done} on {repo_id} ({what})"),
    )


@access_app.command("add", epilog=EPILOG)
def add(
    repo_id: RepoArgument,
    access: AccessOption,
    binding: BindingOption = DEFAULT_BINDING,
    output: OutputOption = None,
    debug: DebugOption = False,
) -> None:
    """Grant the accounts, roles, projects and service accounts in --access pull access to REPO, merged with what is already granted."""
    _change("add", repo_id, access, Common.of(binding, output, debug))


@access_app.command("remove", epilog=EPILOG)
def remove(
    repo_id: RepoArgument,
    access: AccessOption,
    binding: BindingOption = DEFAULT_BINDING,
    output: OutputOption = None,
    debug: DebugOption = False,
) -> None:
    """Revoke the accounts, roles, projects and service accounts in --access from REPO."""
    _change("remove", repo_id, access, Common.of(binding, output, debug))
