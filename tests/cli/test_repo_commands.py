"""`artreg repo|creds|access|endpoint|prefix` run as a user runs them, against the embedded
registry through a Local binding (and ECR against moto where Local has nothing to show)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.cli.conftest import Cli
from tests.registries import RunningRegistry, free_port

AWS_ACCESS = {
    "type": "aws",
    "accountIds": ["210987654321"],
    "regions": [],
    "roleArns": [],
    "allowedServiceTypes": ["worker"],
}


def assert_one_error_line(stderr: str, code: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"error: {code}: "), stderr
    return lines[0]


def test_repo_create_get_delete_round_trip(cli: Cli, registry: RunningRegistry) -> None:
    cli.local("artifacts", registry)
    created = cli.artreg("repo", "create", "my-app")
    assert created.code == 0, created.stderr
    repo = created.json()
    assert repo == {
        "name": "artifacts/my-app",
        "uri": f"{registry.host}/artifacts/my-app",
        "createdAt": None,
    }
    got = cli.artreg("repo", "get", repo["name"])
    assert got.code == 0, got.stderr
    assert got.json()["name"] == repo["name"]
    deleted = cli.artreg("repo", "delete", repo["name"])
    assert deleted.code == 0, deleted.stderr
    assert deleted.json() == {"name": "artifacts/my-app", "deleted": True}


def test_repo_get_missing_is_not_found(cli: Cli, registry: RunningRegistry) -> None:
    cli.local("artifacts", registry)
    result = cli.artreg("repo", "get", "artifacts/absent")
    assert result.code == 3
    assert result.stdout == ""
    assert_one_error_line(result.stderr, "RESOURCE_NOT_FOUND")
    assert "artifacts/absent" in result.stderr


def test_binding_option_env_and_default(cli: Cli, registry: RunningRegistry) -> None:
    cli.local("team-regs", registry)
    named = cli.artreg("repo", "create", "svc", "--binding", "team-regs")
    assert named.code == 0, named.stderr
    assert named.json()["name"] == "team-regs/svc"
    from_env = cli.artreg("repo", "get", "team-regs/svc", env={"ARTREG_BINDING": "team-regs"})
    assert from_env.code == 0, from_env.stderr
    # the default binding is "artifacts", which this environment does not configure
    missing = cli.artreg("repo", "get", "team-regs/svc")
    assert missing.code == 2
    line = assert_one_error_line(missing.stderr, "BINDING_NOT_CONFIGURED")
    assert "ALIEN_ARTIFACTS_BINDING" in line


def test_invalid_binding_json_is_a_usage_error(cli: Cli) -> None:
    cli.env["ALIEN_ARTIFACTS_BINDING"] = "{not json"
    result = cli.artreg("endpoint")
    assert result.code == 2
    assert_one_error_line(result.stderr, "BINDING_CONFIG_INVALID")


def test_endpoint_and_prefix(cli: Cli, registry: RunningRegistry) -> None:
    cli.local("artifacts", registry)
    endpoint = cli.artreg("endpoint")
    assert endpoint.code == 0, endpoint.stderr
    assert endpoint.json() == {"binding": "artifacts", "endpoint": f"http://{registry.host}"}
    prefix = cli.artreg("prefix", "-o", "json")
    assert prefix.json() == {"binding": "artifacts", "prefix": "artifacts/default"}
    table = cli.artreg("endpoint", "--output", "table")
    assert table.stdout.strip() == f"http://{registry.host}"


def test_table_output(cli: Cli, registry: RunningRegistry) -> None:
    cli.local("artifacts", registry)
    result = cli.artreg("repo", "create", "tabled", "--output", "table")
    assert result.code == 0, result.stderr
    lines = [line.split() for line in result.stdout.splitlines()]
    assert ["name", "artifacts/tabled"] in lines
    assert ["uri", f"{registry.host}/artifacts/tabled"] in lines
    assert ["created", "-"] in lines


def test_usage_errors_exit_2(cli: Cli, registry: RunningRegistry) -> None:
    cli.local("artifacts", registry)
    missing_option = cli.artreg("creds", "artifacts/x")
    assert missing_option.code == 2
    assert "--permissions" in missing_option.stderr
    bad_choice = cli.artreg("creds", "artifacts/x", "--permissions", "write")
    assert bad_choice.code == 2
    bad_output = cli.artreg("endpoint", "--output", "yaml")
    assert bad_output.code == 2
    negative_ttl = cli.artreg("creds", "artifacts/x", "-p", "pull", "--ttl", "-5")
    assert negative_ttl.code == 2


def test_creds_local_is_anonymous(cli: Cli, registry: RunningRegistry) -> None:
    cli.local("artifacts", registry)
    result = cli.artreg("creds", "artifacts/app", "--permissions", "push-pull", "--ttl", "600")
    assert result.code == 0, result.stderr
    assert result.json() == {
        "authMethod": "basic",
        "username": "",
        "password": "",
        "expiresAt": None,
    }


def test_access_is_unsupported_on_local(
    cli: Cli, registry: RunningRegistry, tmp_path: Path
) -> None:
    cli.local("artifacts", registry)
    got = cli.artreg("access", "get", "artifacts/app")
    assert got.code == 5
    assert_one_error_line(got.stderr, "OPERATION_NOT_SUPPORTED")
    access_file = tmp_path / "access.json"
    access_file.write_text(json.dumps(AWS_ACCESS))
    added = cli.artreg("access", "add", "artifacts/app", "--access", str(access_file))
    assert added.code == 5
    removed = cli.artreg(
        "access", "remove", "artifacts/app", "--access", "-", input=json.dumps(AWS_ACCESS)
    )
    assert removed.code == 5


def test_access_file_errors(cli: Cli, registry: RunningRegistry, tmp_path: Path) -> None:
    cli.local("artifacts", registry)
    missing = cli.artreg("access", "add", "artifacts/app", "--access", str(tmp_path / "nope.json"))
    assert missing.code == 2
    assert_one_error_line(missing.stderr, "INVALID_INPUT")
    not_json = cli.artreg("access", "add", "artifacts/app", "--access", "-", input="{oops")
    assert not_json.code == 2
    assert "not JSON" in not_json.stderr
    wrong_shape = cli.artreg(
        "access", "add", "artifacts/app", "--access", "-", input='{"type": "azure"}'
    )
    assert wrong_shape.code == 2
    assert "CrossAccountAccess" in wrong_shape.stderr
    no_option = cli.artreg("access", "add", "artifacts/app")
    assert no_option.code == 2


def test_debug_shows_the_cause_chain(cli: Cli) -> None:
    cli.bind(
        "artifacts",
        {"service": "local", "registryUrl": {"Fn::GetAtt": ["x", "y"]}, "dataDir": None},
    )
    plain = cli.artreg("endpoint")
    assert plain.code == 2
    assert len(plain.stderr.strip().splitlines()) == 1
    debug = cli.artreg("endpoint", "--debug")
    assert debug.code == 2
    lines = debug.stderr.strip().splitlines()
    assert lines[0].startswith("error: BINDING_CONFIG_INVALID")
    assert any("caused by: BINDING_CONFIG_INVALID" in line for line in lines[1:])
    assert any("Template expressions not supported" in line for line in lines)
    # the same through the environment
    env_debug = cli.artreg("endpoint", env={"ARTREG_DEBUG": "1"})
    assert env_debug.stderr == debug.stderr


def test_help_documents_exit_codes(cli: Cli) -> None:
    for command in (("repo", "get"), ("creds",), ("manifest", "get"), ("access", "add")):
        result = cli.artreg(*command, "--help")
        assert result.code == 0
        text = " ".join(result.stdout.split())
        assert "Exit codes" in text
        for code in ("2 usage", "3 not found", "4 auth", "5 unsupported", "6 remote failure"):
            assert code in text, (command, code)


def test_not_configured_hint_names_the_way_out(cli: Cli, registry: RunningRegistry) -> None:
    fresh = cli.artreg("repo", "create", "x")
    assert fresh.code == 2
    assert "hint: set ALIEN_ARTIFACTS_BINDING" in fresh.stderr
    cli.local("other", registry)
    other = cli.artreg("repo", "create", "x")
    assert "configured bindings: other" in other.stderr


def test_repo_create_bad_name_and_registry_down(cli: Cli, registry: RunningRegistry) -> None:
    cli.local("artifacts", registry)
    bad = cli.artreg("repo", "create", "Bad Name")
    assert bad.code == 2
    assert_one_error_line(bad.stderr, "INVALID_INPUT")
    cli.bind(
        "down", {"service": "local", "registryUrl": f"127.0.0.1:{free_port()}", "dataDir": None}
    )
    down = cli.artreg("repo", "create", "x", "--binding", "down", timeout=120)
    # a generic BINDINGS_ERROR takes the exit code of its cause, which the line names
    assert down.code == 6, down.stderr
    line = assert_one_error_line(down.stderr, "BINDINGS_ERROR")
    assert "(cause: REMOTE_SERVICE_UNAVAILABLE: " in line


def test_a_closed_pipe_ends_quietly(cli: Cli, registry: RunningRegistry) -> None:
    import subprocess

    from tests.cli.conftest import BIN

    cli.local("artifacts", registry)
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the command writes
    proc = subprocess.run(
        [str(BIN / "artreg"), "endpoint"],
        stdout=write_end,
        stderr=subprocess.PIPE,
        env=cli.base_env(),
        timeout=60,
        check=False,
    )
    os.close(write_end)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == b""
