"""`artreg manifest get|head`, `blob head` and `tags` against the embedded registry: success and
every error class (usage, not found, auth, remote failure), credentials from a binding and from
Docker's config."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest

from artreg.localregistry import Authenticator
from tests.cli.conftest import Cli
from tests.cli.layouts import Layout, build_layout
from tests.fakes.moto_server import ACCOUNT_ID, MotoServer
from tests.peers import require_binary
from tests.registries import RunningRegistry, embedded_registry, free_port

TOKEN = f"{ACCOUNT_ID}-auth-token"


def skopeo_push(layout: Layout, ref: str, *extra: str) -> None:
    proc = subprocess.run(
        [
            require_binary("skopeo"),
            "--insecure-policy",
            "copy",
            "--dest-tls-verify=false",
            *extra,
            f"oci:{layout.path}:{layout.tag}",
            f"docker://{ref}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


@pytest.fixture
def image(registry: RunningRegistry, tmp_path: Path) -> tuple[str, Layout]:
    layout = build_layout(tmp_path / "layout", tag="v1")
    ref = f"{registry.host}/ns/app:v1"
    skopeo_push(layout, ref)
    return ref, layout


def test_manifest_get_and_head(cli: Cli, image: tuple[str, Layout]) -> None:
    ref, layout = image
    got = cli.artreg("manifest", "get", ref)
    assert got.code == 0, got.stderr
    summary = got.json()
    assert summary["reference"] == ref
    assert summary["digest"] == layout.manifest_digest
    assert summary["contentType"] == "application/vnd.oci.image.manifest.v1+json"
    assert [layer["digest"] for layer in summary["manifest"]["layers"]] == layout.blob_digests[1:]
    raw_bytes = cli.run_bytes("artreg", "manifest", "get", "--raw", ref)
    assert "sha256:" + hashlib.sha256(raw_bytes).hexdigest() == layout.manifest_digest
    by_digest = cli.artreg("manifest", "get", f"{ref.rsplit(':', 1)[0]}@{layout.manifest_digest}")
    assert by_digest.json()["digest"] == layout.manifest_digest
    head = cli.artreg("manifest", "head", ref)
    assert head.code == 0, head.stderr
    assert head.json() == {
        "reference": ref,
        "digest": layout.manifest_digest,
        "contentType": "application/vnd.oci.image.manifest.v1+json",
    }
    table = cli.artreg("manifest", "get", ref, "-o", "table")
    assert layout.blob_digests[1] in table.stdout and "layer" in table.stdout


def test_blob_head_and_tags(cli: Cli, registry: RunningRegistry, image: tuple[str, Layout]) -> None:
    _, layout = image
    repo = f"{registry.host}/ns/app"
    config = layout.blob_digests[0]
    head = cli.artreg("blob", "head", f"{repo}@{config}")
    assert head.code == 0, head.stderr
    assert head.json()["digest"] == config
    assert head.json()["size"] == (layout.path / "blobs" / "sha256" / config[7:]).stat().st_size
    tags = cli.artreg("tags", repo)
    assert tags.code == 0, tags.stderr
    assert tags.json() == {"name": repo, "tags": ["v1"]}
    assert cli.artreg("tags", repo, "-o", "table").stdout.strip() == "v1"


def test_not_found_is_exit_3(
    cli: Cli, registry: RunningRegistry, image: tuple[str, Layout]
) -> None:
    repo = f"{registry.host}/ns/app"
    missing_tag = cli.artreg("manifest", "head", f"{repo}:nope")
    assert missing_tag.code == 3
    assert missing_tag.stderr.startswith("error: REMOTE_RESOURCE_NOT_FOUND: ")
    assert cli.artreg("manifest", "get", f"{repo}:nope").code == 3
    missing_blob = cli.artreg("blob", "head", f"{repo}@sha256:{'0' * 64}")
    assert missing_blob.code == 3
    missing_repo = cli.artreg("tags", f"{registry.host}/ns/absent")
    assert missing_repo.code == 3


def test_bad_references_are_usage_errors(cli: Cli, registry: RunningRegistry) -> None:
    for args in (
        ("manifest", "get", "no-host-here"),
        ("manifest", "head", f"{registry.host}/UPPER/case"),
        ("blob", "head", f"{registry.host}/ns/app:v1"),  # no digest
        ("blob", "head", f"{registry.host}/ns/app@sha256:short"),
        ("tags", f"{registry.host}/ns/app:v1"),  # a tag where a repository is expected
    ):
        result = cli.artreg(*args)
        assert result.code == 2, (args, result.stderr)
        assert result.stderr.startswith("error: INVALID_INPUT: "), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_remote_failure_is_exit_6(cli: Cli) -> None:
    result = cli.artreg("manifest", "head", f"127.0.0.1:{free_port()}/ns/app:v1", timeout=120)
    assert result.code == 6, result.stderr
    assert result.stderr.startswith("error: REMOTE_SERVICE_UNAVAILABLE: ")


@pytest.fixture
def protected(tmp_path: Path) -> Iterator[RunningRegistry]:
    """The embedded registry with htpasswd-style users: AWS with moto's ECR token."""
    hashed = bcrypt.hashpw(TOKEN.encode(), bcrypt.gensalt(rounds=4))
    auth = Authenticator(users={"AWS": hashed})
    with embedded_registry(tmp_path / "protected", auth=auth) as reg:
        yield reg


def test_auth_from_binding_docker_config_or_exit_4(
    cli: Cli, moto: MotoServer, protected: RunningRegistry, tmp_path: Path
) -> None:
    layout = build_layout(tmp_path / "layout")
    ref = f"{protected.host}/team-app:v1"
    skopeo_push(layout, ref, f"--dest-creds=AWS:{TOKEN}")
    anonymous = cli.artreg("manifest", "head", ref)
    assert anonymous.code == 4, anonymous.stderr
    assert anonymous.stderr.startswith("error: AUTHENTICATION_ERROR: ")
    # Docker's config.json
    docker = cli.home / ".docker"
    docker.mkdir()
    auth = base64.b64encode(f"AWS:{TOKEN}".encode()).decode()
    (docker / "config.json").write_text(json.dumps({"auths": {protected.host: {"auth": auth}}}))
    from_docker = cli.artreg("manifest", "head", ref)
    assert from_docker.code == 0, from_docker.stderr
    (docker / "config.json").unlink()
    # an ECR binding whose registry data host is the protected registry
    cli.env.update(
        moto.env(AWS_ACCOUNT_ID=ACCOUNT_ID, ARTREG_ECR_REGISTRY_ENDPOINT=f"http://{protected.host}")
    )
    cli.bind("images", {"service": "ecr", "repositoryPrefix": "team"})
    from_binding = cli.artreg("manifest", "get", ref, "--binding", "images")
    assert from_binding.code == 0, from_binding.stderr
    assert from_binding.json()["digest"] == layout.manifest_digest
    assert moto.calls("GetAuthorizationToken")
    # any binding serving the host is found without --binding
    assert cli.artreg("tags", f"{protected.host}/team-app").json()["tags"] == ["v1"]
    # a named binding that does not exist is a usage error
    unknown = cli.artreg("tags", f"{protected.host}/team-app", "--binding", "nope")
    assert unknown.code == 2
    assert unknown.stderr.startswith("error: BINDING_NOT_CONFIGURED: ")


def test_ctrl_c_exits_130(cli: Cli) -> None:
    import signal
    import socket
    import time

    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        proc = subprocess.Popen(
            ["artreg", "manifest", "head", f"127.0.0.1:{port}/ns/app:v1"],
            env=cli.base_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 20
        conn = None
        silent.settimeout(0.5)
        while conn is None and time.monotonic() < deadline:
            try:
                conn, _ = silent.accept()
            except TimeoutError:
                continue
        assert conn is not None, "the command never connected"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
        conn.close()
    assert proc.returncode == 130, stderr
    assert stderr.strip() == "error: interrupted"


def test_acr_binding_reads_through_its_login_server(
    cli: Cli, acr_env: tuple[dict[str, str], Any]
) -> None:
    env, fake = acr_env
    cli.env.update(env)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": fake.put_blob("team/app", b"{}"),
                "size": 2,
            },
            "layers": [],
        }
    ).encode()
    digest = fake.put_manifest(
        "team/app", "v1", manifest, "application/vnd.oci.image.manifest.v1+json"
    )
    # the reference names the registry's public host; the binding's login server answers, with
    # an ACR access token scoped to the repository (the fake's certificate is private: --insecure)
    ref = "registrytest.azurecr.io/team/app:v1"
    got = cli.artreg("manifest", "get", ref, "--insecure")
    assert got.code == 0, got.stderr
    assert got.json()["digest"] == digest
    head = cli.artreg(
        "blob",
        "head",
        f"registrytest.azurecr.io/team/app@{got.json()['manifest']['config']['digest']}",
        "--insecure",
    )
    assert head.code == 0, head.stderr
    assert head.json()["size"] == 2
    assert any(form.get("scope") == "repository:team/app:pull" for form in fake.token_forms)
