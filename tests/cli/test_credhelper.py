"""`docker-credential-artreg`: Docker's credential-helper protocol over stdin/stdout, for a Local
binding (anonymous) and an ECR binding against moto's server (the secret is the decoded token);
plus skopeo using the helper through `credHelpers`."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from artreg import credhelper
from artreg.credhelper import CredentialCache, normalize_host
from artreg.localregistry import Authenticator
from artreg.types import parse_timestamp
from tests.cli.conftest import ACR_SECRET, Cli
from tests.cli.layouts import build_layout
from tests.fakes.moto_server import ACCOUNT_ID, MotoServer
from tests.peers import require_binary
from tests.registries import RunningRegistry, embedded_registry

ECR_HOST = f"{ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com"
ECR_TOKEN = f"{ACCOUNT_ID}-auth-token"
#: 2014-06-01: before moto's fixed token expiry (2015-01-01), so its tokens count as fresh
BEFORE_MOTO_EXPIRY = 1401580800.0


def ecr_env(server: MotoServer, **extra: str) -> dict[str, str]:
    env = server.env(AWS_ACCOUNT_ID=ACCOUNT_ID, **extra)
    env["ALIEN_AWS_IMAGES_BINDING"] = json.dumps({"service": "ecr", "repositoryPrefix": "team"})
    return env


def test_normalize_host() -> None:
    assert normalize_host("https://Example.com/v2/") == "example.com"
    assert normalize_host("https://example.com:443") == "example.com"
    assert normalize_host("http://localhost:5000") == "localhost:5000"
    assert normalize_host("registry.local:5000") == "registry.local:5000"
    assert normalize_host(" 127.0.0.1:8080\n") == "127.0.0.1:8080"
    assert normalize_host("") == ""


def test_local_binding_answers_anonymous(cli: Cli, registry: RunningRegistry) -> None:
    cli.local("artifacts", registry)
    got = cli.helper("get", input=f"http://{registry.host}\n")
    # Docker's "no credentials" answer, on stdout with exit 1: clients then pull anonymously
    assert got.code == 1
    assert got.stdout.strip() == credhelper.NOT_FOUND_MESSAGE
    listed = cli.helper("list")
    assert listed.code == 0, listed.stderr
    assert json.loads(listed.stdout) == {registry.host: ""}


def test_unknown_host_is_not_found(cli: Cli, registry: RunningRegistry) -> None:
    cli.local("artifacts", registry)
    got = cli.helper("get", input="https://registry.example.com")
    assert got.code == 1
    assert got.stdout.strip() == credhelper.NOT_FOUND_MESSAGE
    empty = cli.helper("get", input="")
    assert empty.code == 1
    assert "no server URL" in empty.stderr


def test_store_and_erase_refuse(cli: Cli) -> None:
    payload = json.dumps({"ServerURL": "https://x.example", "Username": "u", "Secret": "s3cret!!"})
    for verb, data in (("store", payload), ("erase", "https://x.example")):
        result = cli.helper(verb, input=data)
        assert result.code == 1
        assert f"'{verb}' is not supported" in result.stderr
        assert "s3cret" not in result.stderr + result.stdout
    unknown = cli.helper("frobnicate")
    assert unknown.code == 2
    no_verb = cli.helper()
    assert no_verb.code == 2 and "usage" in no_verb.stderr
    helped = cli.helper("--help")
    assert helped.code == 0 and "credHelpers" in helped.stdout and "<token>" in helped.stdout
    version = cli.helper("version")
    assert version.code == 0 and "artreg" in version.stdout


def test_ecr_binding_answers_the_decoded_token(cli: Cli, moto: MotoServer) -> None:
    cli.env.update(ecr_env(moto))
    for server_url in (f"https://{ECR_HOST}", ECR_HOST, f"https://{ECR_HOST}/v2/"):
        got = cli.helper("get", input=server_url)
        assert got.code == 0, got.stdout + got.stderr
        assert json.loads(got.stdout) == {
            "ServerURL": server_url,
            "Username": "AWS",
            "Secret": ECR_TOKEN,
        }
        assert ECR_TOKEN not in got.stderr
    assert len(moto.calls("GetAuthorizationToken")) == 3  # moto's tokens are already expired
    listed = cli.helper("list")
    assert json.loads(listed.stdout) == {ECR_HOST: ""}


def test_ecr_binding_failure_is_one_line_without_secrets(cli: Cli, moto: MotoServer) -> None:
    env = ecr_env(moto)
    env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"  # nothing listens there
    cli.env.update(env)
    got = cli.helper("get", input=ECR_HOST)
    assert got.code == 1
    assert got.stdout.startswith("docker-credential-artreg: error: ")
    assert "testing" not in got.stdout


def test_cache_is_private_and_used_until_near_expiry(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = ecr_env(moto)
    env["ARTREG_CACHE_DIR"] = str(tmp_path / "cache")
    now = [BEFORE_MOTO_EXPIRY]
    cache = CredentialCache(credhelper.cache_dir(env), clock=lambda: now[0])
    first = credhelper.get(ECR_HOST, env, cache=cache)
    assert first == {"ServerURL": ECR_HOST, "Username": "AWS", "Secret": ECR_TOKEN}
    directory = tmp_path / "cache" / "credhelper"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    files = list(directory.glob("*.json"))
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert len(moto.calls("GetAuthorizationToken")) == 1
    # a second call is answered from the cache
    assert credhelper.get(f"https://{ECR_HOST}", env, cache=cache) == {
        "ServerURL": f"https://{ECR_HOST}",
        "Username": "AWS",
        "Secret": ECR_TOKEN,
    }
    assert len(moto.calls("GetAuthorizationToken")) == 1
    assert credhelper.list_hosts(env, cache=cache) == {ECR_HOST: "AWS"}
    # a file others could read is ignored
    os.chmod(files[0], 0o644)
    credhelper.get(ECR_HOST, env, cache=cache)
    assert len(moto.calls("GetAuthorizationToken")) == 2
    # past 80 % of the lifetime the entry is not used
    now[0] = parse_timestamp("2014-12-31T23:59:30+00:00").timestamp()
    credhelper.get(ECR_HOST, env, cache=cache)
    assert len(moto.calls("GetAuthorizationToken")) == 3
    # another binding configuration misses the cache
    now[0] = BEFORE_MOTO_EXPIRY
    other = dict(env, AWS_SECRET_ACCESS_KEY="other")
    credhelper.get(ECR_HOST, other, cache=cache)
    assert len(moto.calls("GetAuthorizationToken")) == 4
    # ARTREG_CREDHELPER_CACHE=0 turns it off
    monkeypatch.setattr(credhelper, "cache_dir", lambda env=None: tmp_path / "unused")
    credhelper.get(ECR_HOST, dict(env, ARTREG_CREDHELPER_CACHE="0"))
    assert not (tmp_path / "unused").exists()


def test_bearer_credentials_use_the_identity_token_convention() -> None:
    answer = credhelper._answer("https://r.azurecr.io", "bearer", "", "eyJ.token")
    assert answer == {
        "ServerURL": "https://r.azurecr.io",
        "Username": "<token>",
        "Secret": "eyJ.token",
    }
    basic = credhelper._answer("r.example", "basic", "AWS", "pw")
    assert basic["Username"] == "AWS"


# -- skopeo with the helper in credHelpers ---------------------------------------------------------


def skopeo(cli: Cli, authfile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    binary = require_binary("skopeo")
    return subprocess.run(
        [binary, "--debug", *args]
        if os.environ.get("ARTREG_TEST_SKOPEO_DEBUG")
        else [binary, *args],
        capture_output=True,
        text=True,
        env={**cli.base_env(), "REGISTRY_AUTH_FILE": str(authfile)},
        timeout=60,
        check=False,
    )


@pytest.fixture
def protected(tmp_path: Path) -> Iterator[RunningRegistry]:
    """The embedded registry accepting only moto's ECR token (as Basic AWS:<token>)."""
    with embedded_registry(tmp_path / "protected", auth=Authenticator(token=ECR_TOKEN)) as reg:
        yield reg


def test_skopeo_pulls_through_the_helper_local(
    cli: Cli, registry: RunningRegistry, tmp_path: Path
) -> None:
    cli.local("artifacts", registry)
    layout = build_layout(tmp_path / "src")
    authfile = tmp_path / "auth.json"
    authfile.write_text(json.dumps({"credHelpers": {registry.host: "artreg"}}))
    ref = f"docker://{registry.host}/artifacts/helper-local:v1"
    pushed = skopeo(cli, authfile, "copy", "--dest-tls-verify=false", f"oci:{layout.path}:v1", ref)
    assert pushed.returncode == 0, pushed.stderr
    pulled = skopeo(
        cli, authfile, "copy", "--src-tls-verify=false", ref, f"oci:{tmp_path / 'out'}:v1"
    )
    assert pulled.returncode == 0, pulled.stderr
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    assert index["manifests"][0]["digest"] == layout.manifest_digest


def test_skopeo_pulls_through_the_helper_with_ecr_credentials(
    cli: Cli, moto: MotoServer, protected: RunningRegistry, tmp_path: Path
) -> None:
    # the ECR binding's registry data host is the protected embedded registry
    cli.env.update(ecr_env(moto, ARTREG_ECR_REGISTRY_ENDPOINT=f"http://{protected.host}"))
    layout = build_layout(tmp_path / "src")
    ref = f"docker://{protected.host}/team-app:v1"
    empty = tmp_path / "empty-auth.json"
    empty.write_text("{}")
    pushed = skopeo(
        cli,
        empty,
        "copy",
        "--dest-tls-verify=false",
        f"--dest-creds=AWS:{ECR_TOKEN}",
        f"oci:{layout.path}:v1",
        ref,
    )
    assert pushed.returncode == 0, pushed.stderr
    anonymous = skopeo(cli, empty, "inspect", "--raw", "--tls-verify=false", ref)
    assert anonymous.returncode != 0  # the registry wants credentials
    authfile = tmp_path / "auth.json"
    authfile.write_text(json.dumps({"credHelpers": {protected.host: "artreg"}}))
    pulled = skopeo(
        cli, authfile, "copy", "--src-tls-verify=false", ref, f"oci:{tmp_path / 'out'}:v1"
    )
    assert pulled.returncode == 0, pulled.stderr
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    assert index["manifests"][0]["digest"] == layout.manifest_digest
    assert moto.calls("GetAuthorizationToken")


# -- ACR: bearer tokens as Docker identity tokens ---------------------------------------------------


def test_acr_binding_answers_an_identity_token(
    cli: Cli, acr_env: tuple[dict[str, str], Any]
) -> None:
    env, fake = acr_env
    cli.env.update(env)
    got = cli.helper("get", input="registrytest.azurecr.io")
    assert got.code == 0, got.stdout + got.stderr
    answer = json.loads(got.stdout)
    assert answer["ServerURL"] == "registrytest.azurecr.io"
    assert answer["Username"] == "<token>"
    # the secret is ACR's access token, scoped to the binding's prefix, push and pull
    assert fake.scope_of(answer["Secret"]) == ("team", ["pull", "push"])
    assert ACR_SECRET not in got.stdout + got.stderr
    pull_only = cli.helper(
        "get",
        input="https://registrytest.azurecr.io",
        env={"ARTREG_CREDHELPER_PERMISSIONS": "pull", "ARTREG_CREDHELPER_REPOSITORY": "team/api"},
    )
    assert pull_only.code == 0, pull_only.stdout
    assert fake.scope_of(json.loads(pull_only.stdout)["Secret"]) == ("team/api", ["pull"])
    bad = cli.helper(
        "get", input="registrytest.azurecr.io", env={"ARTREG_CREDHELPER_PERMISSIONS": "all"}
    )
    assert bad.code == 1 and "ARTREG_CREDHELPER_PERMISSIONS" in bad.stderr


# -- GAR: the pull service account when the binding has no push one ---------------------------------


def test_gar_binding_falls_back_to_pull_credentials(cli: Cli) -> None:
    from tests.fakes.gcp import FakeGcp
    from tests.fakes.tls import LoopbackServer

    fake = FakeGcp(project_id="fake-project", location="us-central1")
    puller = "pull-sa@fake-project.iam.gserviceaccount.com"
    fake.add_target_service_account(puller)
    fake.add_repository("images")
    fake.fixed_access_token = "ya29.gar-access-token-for-tests"
    manager = fake.add_service_account_key("artreg-manager@fake-project.iam.gserviceaccount.com")
    with LoopbackServer(fake.app) as server:
        cli.env.update(
            {
                "GOOGLE_SERVICE_ACCOUNT_KEY": json.dumps(
                    manager.info("https://oauth2.googleapis.com/token")
                ),
                "GCP_REGION": "us-central1",
                "ARTREG_GCP_TOKEN_URI": f"{server.base_url}/token",
                "ARTREG_GAR_API_ENDPOINT": server.base_url,
                "ARTREG_GCP_IAM_CREDENTIALS_ENDPOINT": server.base_url,
            }
        )
        cli.bind(
            "gar", {"service": "gar", "repositoryName": "images", "pullServiceAccountEmail": puller}
        )
        got = cli.helper("get", input="https://us-central1-docker.pkg.dev")
        assert got.code == 0, got.stdout + got.stderr
        assert json.loads(got.stdout) == {
            "ServerURL": "https://us-central1-docker.pkg.dev",
            "Username": "oauth2accesstoken",
            "Secret": "ya29.gar-access-token-for-tests",
        }
        # push-pull was refused for want of a push service account; pull was minted
        assert [r["email"] for r in fake.generate_requests] == [puller]
    assert fake.violations == []
