"""The binding commands on an ECR binding against moto's server: credentials (the password
only in JSON or with --show-secret), repositories and cross-account access."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Cli
from tests.fakes.moto_server import ACCOUNT_ID, MotoServer

TOKEN = f"{ACCOUNT_ID}-auth-token"


def ecr_cli(cli: Cli, moto: MotoServer, **extra: str) -> Cli:
    cli.env.update(moto.env(AWS_ACCOUNT_ID=ACCOUNT_ID, **extra))
    cli.bind("artifacts", {"service": "ecr", "repositoryPrefix": "team"})
    return cli


def test_creds_json_includes_the_password_table_masks_it(cli: Cli, moto: MotoServer) -> None:
    ecr_cli(cli, moto)
    as_json = cli.artreg("creds", "team-app", "--permissions", "pull", "--ttl", "3600")
    assert as_json.code == 0, as_json.stderr
    creds = as_json.json()
    assert creds["authMethod"] == "basic"
    assert creds["username"] == "AWS"
    assert creds["password"] == TOKEN
    assert creds["expiresAt"].endswith("+00:00")
    table = cli.artreg("creds", "team-app", "-p", "pull", "--output", "table")
    assert table.code == 0, table.stderr
    assert TOKEN not in table.stdout + table.stderr
    assert "********" in table.stdout
    assert f"https://{ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com" in table.stdout
    shown = cli.artreg("creds", "team-app", "-p", "push-pull", "-o", "table", "--show-secret")
    assert TOKEN in shown.stdout


def test_repo_and_endpoint_on_ecr(cli: Cli, moto: MotoServer) -> None:
    ecr_cli(cli, moto)
    created = cli.artreg("repo", "create", "app")
    assert created.code == 0, created.stderr
    repo = created.json()
    assert repo["name"] == "team-app"
    assert repo["uri"] == f"{ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/team-app"
    assert repo["createdAt"].endswith("+00:00")
    assert cli.artreg("prefix").json()["prefix"] == "team"
    assert cli.artreg("endpoint").json()["endpoint"] == (
        f"https://{ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com"
    )
    deleted = cli.artreg("repo", "delete", "team-app")
    assert deleted.code == 0, deleted.stderr
    again = cli.artreg("repo", "delete", "team-app")
    assert again.code == 3
    assert again.stderr.startswith("error: REMOTE_RESOURCE_NOT_FOUND: ")


def test_access_add_get_remove_on_ecr(cli: Cli, moto: MotoServer, tmp_path: Path) -> None:
    ecr_cli(cli, moto)
    assert cli.artreg("repo", "create", "shared").code == 0
    access = {
        "type": "aws",
        "accountIds": ["210987654321"],
        "regions": ["us-east-1"],
        "roleArns": [],
        "allowedServiceTypes": ["worker"],
    }
    path = tmp_path / "access.json"
    path.write_text(json.dumps(access))
    added = cli.artreg("access", "add", "team-shared", "--access", str(path))
    assert added.code == 0, added.stderr
    assert added.json() == {"repository": "team-shared", "action": "add", "access": access}
    got = cli.artreg("access", "get", "team-shared")
    assert got.code == 0, got.stderr
    granted = got.json()["access"]
    assert granted["type"] == "aws"
    assert granted["accountIds"] == ["210987654321"]
    assert granted["allowedServiceTypes"] == ["worker"]
    table = cli.artreg("access", "get", "team-shared", "-o", "table")
    assert "210987654321" in table.stdout
    # alien's platform-tagged form is accepted on stdin
    alien_form = {**{k: v for k, v in access.items() if k != "type"}, "platform": "aws"}
    removed = cli.artreg(
        "access", "remove", "team-shared", "--access", "-", input=json.dumps(alien_form)
    )
    assert removed.code == 0, removed.stderr
    after = cli.artreg("access", "get", "team-shared").json()["access"]
    assert after["accountIds"] == []
    assert after["allowedServiceTypes"] == []
    # GCP access on an ECR binding is refused as bad configuration
    gcp = {
        "type": "gcp",
        "projectNumbers": ["1"],
        "serviceAccountEmails": [],
        "allowedServiceTypes": [],
    }
    refused = cli.artreg("access", "add", "team-shared", "--access", "-", input=json.dumps(gcp))
    assert refused.code == 2, refused.stderr


def test_remote_failure_exit_code_and_debug_without_secrets(cli: Cli, moto: MotoServer) -> None:
    ecr_cli(cli, moto)
    cli.env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"  # nothing listens there
    cli.env["AWS_SECRET_ACCESS_KEY"] = "wJalrXUtnFEMI-very-secret-key"
    failed = cli.artreg("creds", "team-app", "-p", "pull", "--debug")
    assert failed.code == 6, failed.stderr
    lines = failed.stderr.strip().splitlines()
    assert lines[0].startswith("error: ")
    assert any("caused by" in line for line in lines[1:]), failed.stderr
    assert "very-secret-key" not in failed.stderr
    assert "testing" not in failed.stderr  # the access key id
