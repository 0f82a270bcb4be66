"""Authentication: anonymous on loopback by default; htpasswd basic auth and a static bearer
token when configured; a non-loopback bind without credentials refuses to start; secrets never
reach the log."""

from __future__ import annotations

import asyncio
import base64
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from artreg.localregistry import (
    AuthConfigError,
    Authenticator,
    RegistryConfig,
    RegistryConfigError,
    is_loopback,
    start_in_thread,
)
from tests.localregistry.layout import Layout
from tests.peers import require_binary, write_htpasswd
from tests.registries import RunningRegistry, embedded_registry, free_port, wait_http

PASSWORD = "s3cret-Pa55word"
TOKEN = "tok-0123456789abcdef"


@pytest.fixture
def htpasswd_file(tmp_path: Path) -> Path:
    return write_htpasswd(tmp_path, "alice", PASSWORD)


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    return path


@pytest.fixture
def secured(tmp_path: Path, htpasswd_file: Path, token_file: Path) -> Iterator[RunningRegistry]:
    auth = Authenticator.from_files(htpasswd=htpasswd_file, token_file=token_file)
    with embedded_registry(tmp_path, auth=auth) as reg:
        yield reg


def test_anonymous_by_default(embedded: RunningRegistry) -> None:
    assert httpx.get(f"{embedded.url}/v2/").status_code == 200


def test_missing_or_wrong_credentials_get_a_challenge(secured: RunningRegistry) -> None:
    for auth in (None, ("alice", "wrong"), ("bob", PASSWORD)):
        r = httpx.get(f"{secured.url}/v2/", auth=auth)
        assert r.status_code == 401
        assert r.json()["errors"][0]["code"] == "UNAUTHORIZED"
        # a token is configured: clients are sent to the token endpoint (Docker's flow)
        assert r.headers.get_list("www-authenticate") == [
            f'Bearer realm="{secured.url}/v2/token",service="artreg"'
        ]
    r = httpx.get(f"{secured.url}/v2/ns/r/tags/list", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    r = httpx.get(f"{secured.url}/v2/", headers={"Authorization": "Basic !!notbase64"})
    assert r.status_code == 401


def test_valid_credentials(secured: RunningRegistry) -> None:
    assert httpx.get(f"{secured.url}/v2/", auth=("alice", PASSWORD)).status_code == 200
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(f"{secured.url}/v2/", headers=bearer).status_code == 200
    # the token also works as a Basic password (for clients that only do Basic)
    assert httpx.get(f"{secured.url}/v2/", auth=("anyone", TOKEN)).status_code == 200


def test_skopeo_pushes_with_basic_auth(secured: RunningRegistry, tmp_path: Path) -> None:
    skopeo = require_binary("skopeo")
    src = Layout(tmp_path / "src")
    src.tag(src.image({"f": b"auth"}), "v1")
    ref = f"docker://{secured.host}/ns/auth:v1"
    denied = subprocess.run(
        [skopeo, "--insecure-policy", "copy", "--dest-tls-verify=false", f"oci:{src.root}:v1", ref],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert denied.returncode != 0
    ok = subprocess.run(
        [
            skopeo,
            "--insecure-policy",
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            f"alice:{PASSWORD}",
            f"oci:{src.root}:v1",
            ref,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr


def test_secrets_never_logged(secured: RunningRegistry, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="artreg.localregistry")
    httpx.get(f"{secured.url}/v2/", auth=("alice", PASSWORD))
    httpx.get(f"{secured.url}/v2/", auth=("alice", "wrong-" + PASSWORD))
    httpx.get(f"{secured.url}/v2/", headers={"Authorization": f"Bearer {TOKEN}"})
    # each line is written just after its reply: wait for the last one
    deadline = time.monotonic() + 10
    while caplog.text.count('"GET /v2/"') < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    text = caplog.text
    assert text.count('"GET /v2/" 200') == 2 and '"GET /v2/" 401' in text
    for secret in (PASSWORD, TOKEN, base64.b64encode(f"alice:{PASSWORD}".encode()).decode()):
        assert secret not in text


def test_repr_hides_secrets(htpasswd_file: Path, token_file: Path) -> None:
    auth = Authenticator.from_files(htpasswd=htpasswd_file, token_file=token_file)
    assert TOKEN not in repr(auth)
    assert "$2" not in repr(auth)


def test_bad_auth_files(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_text("alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n")
    with pytest.raises(AuthConfigError, match="bcrypt"):
        Authenticator.from_files(htpasswd=plain)
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(AuthConfigError):
        Authenticator.from_files(token_file=empty)
    with pytest.raises(AuthConfigError, match="cannot read"):
        Authenticator.from_files(htpasswd=tmp_path / "missing")


def test_loopback_detection() -> None:
    hosts = ["127.0.0.1", "127.1.2.3", "::1", "localhost", "0.0.0.0", "::", "10.0.0.1"]
    assert [is_loopback(h) for h in [*hosts, "example.internal"]] == [
        *(True, True, True, True),
        *(False, False, False, False),
    ]


def test_non_loopback_needs_credentials(tmp_path: Path, token_file: Path) -> None:
    with pytest.raises(RegistryConfigError, match="without credentials"):
        RegistryConfig(host="0.0.0.0").authenticator()
    with pytest.raises(RegistryConfigError):
        start_in_thread(tmp_path / "d", host="0.0.0.0")
    public = RegistryConfig(host="0.0.0.0", token_file=token_file).authenticator()
    assert public is not None
    assert public.check(f"Bearer {TOKEN}") is True  # the file's token is what it accepts
    assert public.check("Bearer not-the-token") is False
    assert RegistryConfig(host="127.0.0.1").authenticator() is None


def test_cli_refuses_public_bind_without_credentials(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "artreg",
            "registry",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            str(free_port()),
            "--data-dir",
            str(tmp_path / "d"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "without credentials" in proc.stderr
    assert not (tmp_path / "d").exists()  # refused before touching anything


def test_cli_serves_with_token_file(tmp_path: Path, token_file: Path, htpasswd_file: Path) -> None:
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "artreg",
            "registry",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "d"),
            "--token-file",
            str(token_file),
            "--htpasswd",
            str(htpasswd_file),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}/v2/"
        wait_http(url)
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert httpx.get(url, auth=("alice", PASSWORD)).status_code == 200
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
    output = (tmp_path / "serve.log").read_text()
    assert "push with: skopeo copy" in output
    assert TOKEN not in output and PASSWORD not in output


def test_skopeo_with_static_bearer_token(secured: RunningRegistry, tmp_path: Path) -> None:
    skopeo = require_binary("skopeo")
    src = Layout(tmp_path / "src")
    src.tag(src.image({"f": b"token"}), "v1")
    ref = f"docker://{secured.host}/ns/token:v1"
    ok = subprocess.run(
        [
            skopeo,
            "--insecure-policy",
            "copy",
            "--dest-tls-verify=false",
            "--dest-registry-token",
            TOKEN,
            f"oci:{src.root}:v1",
            ref,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    r = httpx.get(
        f"{secured.url}/v2/ns/token/tags/list", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert r.json()["tags"] == ["v1"]


def test_htpasswd_only_challenges_basic(tmp_path: Path, htpasswd_file: Path) -> None:
    auth = Authenticator.from_files(htpasswd=htpasswd_file)
    with embedded_registry(tmp_path, auth=auth) as reg:
        r = httpx.get(f"{reg.url}/v2/")
        assert r.headers.get_list("www-authenticate") == ['Basic realm="artreg"']
        assert httpx.get(f"{reg.url}/v2/", auth=("alice", PASSWORD)).status_code == 200
        token = httpx.get(f"{reg.url}/v2/token", auth=("alice", PASSWORD)).json()["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{reg.url}/v2/", headers=bearer).status_code == 200


def test_token_endpoint(secured: RunningRegistry) -> None:
    url = f"{secured.url}/v2/token"
    params = {"service": "artreg", "scope": "repository:ns/r:pull,push"}
    for auth in (None, ("alice", "wrong")):
        r = httpx.get(url, params=params, auth=auth)
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == 'Basic realm="artreg"'
    for auth in (("alice", PASSWORD), ("anyone", TOKEN)):
        r = httpx.get(url, params=params, auth=auth)
        assert r.status_code == 200
        doc = r.json()
        assert doc["token"] == doc["access_token"]
        assert doc["expires_in"] == 3600
        assert r.headers["cache-control"] == "no-store"
        bearer = {"Authorization": f"Bearer {doc['token']}"}
        assert httpx.get(f"{secured.url}/v2/ns/r/tags/list", headers=bearer).status_code == 404
    assert httpx.get(url, headers={"Authorization": "Bearer forged"}).status_code == 401


def test_issued_tokens_expire() -> None:
    now = [1000.0]
    auth = Authenticator(token="static", token_ttl=60, clock=lambda: now[0])
    basic = "Basic " + base64.b64encode(b"x:static").decode()
    issued = asyncio.run(auth.issue_token(basic))
    assert issued is not None
    assert issued.expires_in == 60
    assert issued.refresh_token is None
    assert auth.check(f"Bearer {issued.access_token}") is True
    now[0] += 61
    assert auth.check(f"Bearer {issued.access_token}") is False
    assert asyncio.run(auth.issue_token("Basic " + base64.b64encode(b"x:wrong").decode())) is None


def test_no_token_service_without_auth(embedded: RunningRegistry) -> None:
    r = httpx.get(f"{embedded.url}/v2/token")
    assert r.status_code == 405
    assert r.json()["errors"][0]["code"] == "UNSUPPORTED"
