"""`docker-credential-artreg`: Docker's credential-helper protocol over stdin/stdout, for a Local
binding (anonymous) and an ECR binding against moto's server (the secret is the decoded token);
plus skopeo using the helper through `credHelpers`."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
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
    assert got.stdout.strip() == "credentials not found in native keychain"
    listed = cli.helper("list")
    assert listed.code == 0, listed.stderr
    assert json.loads(listed.stdout) == {registry.host: ""}


def test_unknown_host_is_not_found(cli: Cli, registry: RunningRegistry) -> None:
    cli.local("artifacts", registry)
    got = cli.helper("get", input="https://registry.example.com")
    assert got.code == 1
    assert got.stdout.strip() == "credentials not found in native keychain"
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


# -- ACR: the refresh token, as docker-credential-acr-env answers ------------------------------------


def test_acr_binding_answers_the_refresh_token(
    cli: Cli, acr_env: tuple[dict[str, str], Any]
) -> None:
    from tests.fakes.azure import docker_style_pull

    env, fake = acr_env
    cli.env.update(env)
    manifest = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}'
    for repo in ("team/app", "other/api"):
        fake.put_manifest(repo, "v1", manifest, "application/vnd.oci.image.manifest.v1+json")
    got = cli.helper("get", input="registrytest.azurecr.io")
    assert got.code == 0, got.stdout + got.stderr
    answer = json.loads(got.stdout)
    assert answer["ServerURL"] == "registrytest.azurecr.io"
    assert answer["Username"] == "<token>"
    # the secret is the exchange's refresh token: no repository was named for it
    assert fake.refresh_token_valid(answer["Secret"])
    assert fake.token_forms == []
    assert ACR_SECRET not in got.stdout + got.stderr
    # a Docker-style client spends it for any repository the identity may read
    for repo in ("team/app", "other/api"):
        status, body = docker_style_pull(
            fake.base_url, answer["Secret"], repo, "v1", verify=env["ARTREG_AZURE_CA_BUNDLE"]
        )
        assert (status, body) == (200, manifest)
    # the login server's address (as configured for the binding) is served too
    by_address = cli.helper("get", input=fake.base_url)
    assert by_address.code == 0, by_address.stdout + by_address.stderr
    assert fake.refresh_token_valid(json.loads(by_address.stdout)["Secret"])
    bad = cli.helper(
        "get", input="registrytest.azurecr.io", env={"ARTREG_CREDHELPER_PERMISSIONS": "all"}
    )
    assert bad.code == 1 and "ARTREG_CREDHELPER_PERMISSIONS" in bad.stderr


def test_acr_oauth_refusal_is_an_authentication_error_with_exit_4(
    cli: Cli, acr_env: tuple[dict[str, str], Any]
) -> None:
    """An exchange the registry refuses with 401 (an ARM-audience token on a registry that
    disabled them) is AUTHENTICATION_ERROR, exit 4 — not an internal error."""
    env, fake = acr_env
    fake.arm_audience_disabled = True
    cli.env.update(env)
    cli.env["ARTREG_ACR_AUDIENCES"] = "https://management.azure.com"
    result = cli.artreg("creds", "team/app", "-p", "pull", "--binding", "acr")
    assert result.code == 4, result.stdout + result.stderr
    assert "AUTHENTICATION_ERROR" in result.stderr
    assert ACR_SECRET not in result.stdout + result.stderr
    # with the default audiences the same registry works
    del cli.env["ARTREG_ACR_AUDIENCES"]
    ok = cli.artreg("creds", "team/app", "-p", "pull", "--binding", "acr", "-o", "json")
    assert ok.code == 0, ok.stderr


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


# -- end to end: clients spend the helper's ACR refresh token themselves ---------------------------


@dataclass
class AcrImage:
    env: dict[str, str]
    fake: Any
    storage: Any
    host: str
    ca_dir: Path
    manifest: bytes
    blobs: dict[str, bytes]


@pytest.fixture
def acr_image(acr_env: tuple[dict[str, str], Any], tmp_path: Path) -> Iterator[AcrImage]:
    """The ACR fake holding ``team/app:v1``, its blobs served through 307 redirects to a storage
    host (``localhost``) that refuses credentials; the binding names no repository prefix."""
    import gzip
    import hashlib

    from tests.fakes.blob_storage import FakeBlobStorage
    from tests.fakes.tls import LoopbackServer, TestCertificate

    env, fake = acr_env
    env = dict(env)
    env["ALIEN_ACR_BINDING"] = json.dumps(
        {"service": "acr", "registryName": "registrytest", "resourceGroupName": "rg"}
    )
    ca = Path(env["ARTREG_AZURE_CA_BUNDLE"])
    tls = TestCertificate(ca, ca.parent / "server.pem", ca.parent / "server-key.pem")
    ca_dir = tmp_path / "certs.d"
    ca_dir.mkdir()
    (ca_dir / "ca.crt").write_bytes(ca.read_bytes())
    layer = gzip.compress(bytes(range(256)) * 4_000, mtime=0)  # already compressed: kept as is
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {
                "type": "layers",
                "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()],
            },
        }
    ).encode()
    blobs = {"sha256:" + hashlib.sha256(b).hexdigest(): b for b in (config, layer)}
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": "sha256:" + hashlib.sha256(layer).hexdigest(),
                    "size": len(layer),
                }
            ],
        },
        indent=1,
    ).encode()
    for data in blobs.values():
        fake.put_blob("team/app", data)
    fake.put_manifest("team/app", "v1", manifest, "application/vnd.oci.image.manifest.v1+json")
    storage = FakeBlobStorage()
    with LoopbackServer(storage.app, tls=tls) as server:
        storage.base_url = f"https://localhost:{server.port}"
        fake.storage = storage
        yield AcrImage(
            env, fake, storage, fake.base_url.removeprefix("https://"), ca_dir, manifest, blobs
        )
    assert storage.violations == []


def test_skopeo_pulls_from_acr_through_the_helper(
    cli: Cli, acr_image: AcrImage, tmp_path: Path
) -> None:
    """skopeo (containers/image) with docker-credential-artreg in credHelpers and no repository
    named anywhere: it spends the helper's refresh token at ACR's /oauth2/token for
    ``repository:team/app:pull``, reads the manifest, and follows the blob redirects to storage."""
    cli.env.update(acr_image.env)
    authfile = tmp_path / "auth.json"
    authfile.write_text(json.dumps({"credHelpers": {acr_image.host: "artreg"}}))
    out = tmp_path / "out"
    pulled = skopeo(
        cli,
        authfile,
        "copy",
        f"--src-cert-dir={acr_image.ca_dir}",
        f"docker://{acr_image.host}/team/app:v1",
        f"oci:{out}:v1",
    )
    assert pulled.returncode == 0, pulled.stderr
    index = json.loads((out / "index.json").read_text())
    digest = index["manifests"][0]["digest"]
    assert (out / "blobs" / "sha256" / digest.split(":")[1]).read_bytes() == acr_image.manifest
    for blob_digest, data in acr_image.blobs.items():
        assert (out / "blobs" / "sha256" / blob_digest.split(":")[1]).read_bytes() == data
    fake = acr_image.fake
    spent = [f for f in fake.token_forms if f.get("client_id") == "containers/image"]
    assert spent and {f["grant_type"] for f in spent} == {"refresh_token"}
    assert {f["scope"] for f in spent} == {"repository:team/app:pull"}
    assert all(fake.refresh_token_valid(f["refresh_token"]) for f in spent)
    downloads = [r for r in acr_image.storage.requests if r[0] == "GET"]
    assert len(downloads) == 2 and not any(authorized for *_, authorized in downloads)


async def test_artreg_client_spends_the_helper_identity_token(
    cli: Cli, acr_image: AcrImage, tmp_path: Path
) -> None:
    """artreg's own keychain reads the same credHelpers entry: ``<token>`` is an identity token,
    traded at the registry's token endpoint like Docker does."""
    import ssl

    import httpx

    from artreg.oci import IdentityToken, Keychain, RegistryClient

    cli.env.update(acr_image.env)
    config = tmp_path / "docker" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"credHelpers": {acr_image.host: "artreg"}}))
    keychain = Keychain(docker_config=config, env=cli.base_env())
    auth = await keychain.resolve(acr_image.host)
    assert isinstance(auth, IdentityToken)
    assert acr_image.fake.refresh_token_valid(auth.token)
    context = ssl.create_default_context(cafile=acr_image.env["ARTREG_AZURE_CA_BUNDLE"])
    async with RegistryClient(
        acr_image.fake.base_url,
        credentials=auth,
        transport=httpx.AsyncHTTPTransport(verify=context),
    ) as client:
        body, _ = await client.get_manifest("team/app", "v1")
        assert body == acr_image.manifest
        for digest, data in acr_image.blobs.items():
            assert await client.read_blob("team/app", digest) == data
    spent = [f for f in acr_image.fake.token_forms if f.get("client_id") == "artreg"]
    assert spent and {f["scope"] for f in spent} == {"repository:team/app:pull"}
