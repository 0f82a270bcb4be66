"""The token endpoint: the token spec's GET with Basic auth and its OAuth2 POST form (password
and refresh-token grants), and the rules that keep it from being abused — only a user name and
password (or a refresh token) buy a token, no flood of requests evicts a live token, and the
realm in challenges comes from configuration, never from the client's Host header."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from artreg.localregistry import Authenticator, start_in_thread
from artreg.localregistry.tokens import TokenService

TOKEN = "static-token-0123456789abcdef"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    auth = Authenticator(token=TOKEN)
    with start_in_thread(tmp_path / "data", auth=auth) as server:
        yield server.url


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_get_with_basic_auth_and_offline_token(registry: str) -> None:
    url = f"{registry}/v2/token"
    plain = httpx.get(url, params={"service": "artreg"}, auth=("ci", TOKEN))
    assert plain.status_code == 200
    assert "refresh_token" not in plain.json()
    offline = httpx.get(url, params={"offline_token": "true"}, auth=("ci", TOKEN)).json()
    assert httpx.get(f"{registry}/v2/", headers=bearer(offline["access_token"])).status_code == 200
    # a refresh token is no bearer token: it only buys access tokens at the endpoint
    assert httpx.get(f"{registry}/v2/", headers=bearer(offline["refresh_token"])).status_code == 401


def test_a_bearer_token_cannot_mint_another(registry: str) -> None:
    token = httpx.get(f"{registry}/v2/token", auth=("ci", TOKEN)).json()["token"]
    for header in (bearer(token), bearer(TOKEN)):
        r = httpx.get(f"{registry}/v2/token", headers=header)
        assert r.status_code == 401
        assert r.json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_post_password_and_refresh_grants(registry: str) -> None:
    url = f"{registry}/v2/token"
    r = httpx.post(
        url,
        content="grant_type=password&username=ci&password="
        + TOKEN
        + "&service=artreg&client_id=docker&access_type=offline"
        + "&scope=repository%3Ans%2Fapp%3Apull%2Cpush",
        headers=FORM,
    )
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["scope"] == "repository:ns/app:pull,push"
    assert doc["expires_in"] == 3600
    assert r.headers["cache-control"] == "no-store"
    refresh = doc["refresh_token"]
    assert httpx.get(f"{registry}/v2/", headers=bearer(doc["access_token"])).status_code == 200

    again = httpx.post(
        url,
        data={"grant_type": "refresh_token", "refresh_token": refresh, "service": "artreg"},
    )
    assert again.status_code == 200, again.text
    renewed = again.json()
    assert "refresh_token" not in renewed
    assert httpx.get(f"{registry}/v2/", headers=bearer(renewed["access_token"])).status_code == 200

    # an access token is not a refresh token, and a forged one is nothing
    for wrong in (doc["access_token"], refresh[:-2] + "xx", "artreg.e30.e30"):
        bad = httpx.post(url, data={"grant_type": "refresh_token", "refresh_token": wrong})
        assert bad.status_code == 401
    bad = httpx.post(url, data={"grant_type": "password", "username": "ci", "password": "nope"})
    assert bad.status_code == 401
    unknown = httpx.post(url, data={"grant_type": "client_credentials"})
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["code"] == "UNSUPPORTED"
    not_a_form = httpx.post(url, json={"grant_type": "password"})
    assert not_a_form.status_code == 400


def test_other_methods_are_refused_as_such_when_auth_is_on(registry: str) -> None:
    r = httpx.put(f"{registry}/v2/token", auth=("ci", TOKEN))
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, POST"
    assert "authentication is off" not in r.text
    assert "use GET or POST" in r.json()["errors"][0]["message"]


def test_a_flood_of_token_requests_evicts_no_live_token(registry: str) -> None:
    live = httpx.get(f"{registry}/v2/token", auth=("alice", TOKEN)).json()["token"]
    with httpx.Client(base_url=registry) as client:
        for _ in range(300):  # over HTTP, as an attacker would
            assert client.get("/v2/token", auth=("mallory", TOKEN)).status_code == 200
    # and far more than any cache could hold, straight through the service
    service = TokenService()
    first = service.issue("alice", "access")
    for _ in range(20_000):
        service.issue("mallory", "access")
    assert service.holder(first, "access") == "alice"
    assert httpx.get(f"{registry}/v2/", headers=bearer(live)).status_code == 200


def test_tokens_expire_and_are_bound_to_their_kind() -> None:
    now = [1_000_000.0]
    service = TokenService(access_ttl=60, refresh_ttl=600, clock=lambda: now[0])
    access, refresh = service.issue("u", "access"), service.issue("u", "refresh")
    assert service.holder(access, "access") == "u"
    assert service.holder(access, "refresh") is None
    assert service.holder(refresh, "refresh") == "u"
    now[0] += 61
    assert service.holder(access, "access") is None
    assert service.holder(refresh, "refresh") == "u"
    other = TokenService(clock=lambda: now[0])  # another process: another key
    assert other.holder(refresh, "refresh") is None
    grant = service.grant("u", offline=True)
    assert grant.refresh_token is not None
    assert grant.access_token not in repr(grant) and grant.refresh_token not in repr(grant)


def test_realm_comes_from_configuration_not_the_host_header(tmp_path: Path) -> None:
    auth = Authenticator(token=TOKEN)
    with start_in_thread(tmp_path / "d", auth=auth, allowed_hosts=["other.example"]) as server:
        for host in ("other.example", server.host):
            r = httpx.get(f"{server.url}/v2/", headers={"Host": host})
            assert r.status_code == 401
            assert r.headers["www-authenticate"] == (
                f'Bearer realm="{server.url}/v2/token",service="artreg"'
            )
    with start_in_thread(
        tmp_path / "e", auth=auth, realm="https://registry.example.com/v2/token"
    ) as server:
        r = httpx.get(f"{server.url}/v2/")
        assert 'realm="https://registry.example.com/v2/token"' in r.headers["www-authenticate"]


def test_basic_header_helper_rejects_garbage(registry: str) -> None:
    for header in ("Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode(), "Digest x"):
        r = httpx.get(f"{registry}/v2/token", headers={"Authorization": header})
        assert r.status_code == 401


def test_an_oversized_token_form_is_refused(registry: str) -> None:
    body = "grant_type=password&username=ci&password=" + "x" * (64 * 1024)
    r = httpx.post(f"{registry}/v2/token", content=body, headers=FORM)
    assert r.status_code == 413
    assert r.json()["errors"][0]["message"] == ("the token request form is larger than 65536 bytes")
