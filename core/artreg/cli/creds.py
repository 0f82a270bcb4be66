"""``artreg creds REPO --permissions pull|push-pull``: short-lived registry credentials."""

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
from artreg.cli.errors import register_secret
from artreg.cli.output import emit, key_value_table
from artreg.registry import ArtifactRegistry
from artreg.types import ArtifactRegistryCredentials, ArtifactRegistryPermissions

MASK = "********"


def _table(creds: ArtifactRegistryCredentials, registry: str, show_secret: bool) -> Any:
    password = creds.password if show_secret or not creds.password else MASK
    return key_value_table(
        {
            "registry": registry or None,
            "authMethod": str(creds.auth_method),
            "username": creds.username,
            "password": password,
            "expiresAt": creds.expires_at,
        }
    )


@app.command("creds", epilog=EPILOG, rich_help_panel="Through a binding")
def creds(
    repo_id: Annotated[str, typer.Argument(metavar="REPO", help="The routable repository name.")],
    permissions: Annotated[
        ArtifactRegistryPermissions,
        typer.Option("--permissions", "-p", help="pull or push-pull.", case_sensitive=False),
    ],
    ttl: Annotated[
        int | None,
        typer.Option(
            "--ttl",
            min=0,
            max=4294967295,
            metavar="SECONDS",
            help="Requested lifetime; the registry may cap it (ECR 12h, GAR 1h, ACR 5 min).",
        ),
    ] = None,
    show_secret: Annotated[
        bool, typer.Option("--show-secret", help="Show the password in table output too.")
    ] = False,
    binding: BindingOption = DEFAULT_BINDING,
    output: OutputOption = None,
    debug: DebugOption = False,
) -> None:
    """Generate short-lived credentials to pull (or push and pull) REPO.

    JSON output is for scripts and, like `aws ecr get-login-password` or `docker login --password-stdin` pipelines, includes the password: `artreg creds app -p pull | jq -r .password | docker login -u AWS --password-stdin HOST`. Table output (the default on a terminal) masks the password unless --show-secret is given. authMethod "bearer" (ACR) means the password is a bearer token, not a basic-auth password.
    """
    common = Common.of(binding, output, debug)

    async def action(registry: ArtifactRegistry) -> tuple[ArtifactRegistryCredentials, str]:
        result = await registry.generate_credentials(repo_id, permissions, ttl)
        return result, registry.registry_endpoint()

    result, endpoint = run_on_registry(common, action)
    register_secret(result.password)
    emit(result, common.output, lambda: _table(result, endpoint, show_secret))
