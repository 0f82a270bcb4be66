"""``artreg repo create|get|delete``: repositories of the binding's registry."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from artreg.cli import app
from artreg.cli.common import (
    DEFAULT_BINDING,
    EPILOG,
    BindingOption,
    Common,
    DebugOption,
    OutputOption,
    run_on_registry,
)
from artreg.cli.output import emit, key_value_table
from artreg.types import RepositoryResponse

repo_app = typer.Typer(
    name="repo",
    help="Create, describe and delete repositories of a binding's registry.",
    no_args_is_help=True,
)
app.add_typer(repo_app, name="repo", rich_help_panel="Through a binding")


def _repository_table(repo: RepositoryResponse) -> Any:
    return key_value_table({"name": repo.name, "uri": repo.uri, "created": repo.created_at})


@repo_app.command("create", epilog=EPILOG)
def create(
    name: Annotated[str, typer.Argument(help="The logical repository name, e.g. my-app.")],
    binding: BindingOption = DEFAULT_BINDING,
    output: OutputOption = None,
    debug: DebugOption = False,
) -> None:
    """Create a repository and print it; its NAME is the routable name the other commands take.

    Idempotent where the registry allows it (an existing repository is returned as is).
    """
    common = Common.of(binding, output, debug)
    repo = run_on_registry(common, lambda registry: registry.create_repository(name))
    emit(repo, common.output, lambda: _repository_table(repo))


@repo_app.command("get", epilog=EPILOG)
def get(
    repo_id: Annotated[
        str, typer.Argument(metavar="REPO", help="The routable name, as `repo create` printed it.")
    ],
    binding: BindingOption = DEFAULT_BINDING,
    output: OutputOption = None,
    debug: DebugOption = False,
) -> None:
    """Describe a repository (exit 3 when it does not exist)."""
    common = Common.of(binding, output, debug)
    repo = run_on_registry(common, lambda registry: registry.get_repository(repo_id))
    emit(repo, common.output, lambda: _repository_table(repo))


@repo_app.command("delete", epilog=EPILOG)
def delete(
    repo_id: Annotated[
        str, typer.Argument(metavar="REPO", help="The routable name, as `repo create` printed it.")
    ],
    binding: BindingOption = DEFAULT_BINDING,
    output: OutputOption = None,
    debug: DebugOption = False,
) -> None:
    """Delete a repository and its images (never the parent registry).

    On registries whose repositories are implicit (Local, Artifact Registry, ACR) this changes nothing, as the library does.
    """
    common = Common.of(binding, output, debug)
    run_on_registry(common, lambda registry: registry.delete_repository(repo_id))
    result = {"name": repo_id, "deleted": True}
    emit(result, common.output, lambda: f"Deleted repository {repo_id}")
