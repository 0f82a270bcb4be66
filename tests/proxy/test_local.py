"""The proxy in front of embedded registries, with real clients: skopeo, artreg push/pull and
plain HTTP for the corners (a chunked upload whose Location drops auth, refusals)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import ssl
from pathlib import Path

import httpx

from artreg.localregistry.server import ThreadedRegistry
from artreg.types import RepositoryResponse
from tests.cli.layouts import build_layout
from tests.proxy.clients import artreg_pull, artreg_push, chunked_upload, skopeo_pull, skopeo_push
from tests.proxy.conftest import PASSWORDS, ProxyFactory, basic, local_binding


def test_anonymous_proxy_round_trip_with_skopeo(
    upstream: ThreadedRegistry, run_proxy: ProxyFactory, tmp_path: Path
) -> None:
    env = {"ALIEN_MAIN_BINDING": local_binding(upstream)}
    proxy = run_proxy(env, bindings=["main"])
    layout = build_layout(tmp_path / "src", layer_sizes=(3000, 70_000))
    pushed = skopeo_push(layout, f"{proxy.address}/main/app:v1")
    assert pushed.returncode == 0, pushed.stderr
    # the blobs and manifest landed upstream, byte for byte
    manifest = httpx.get(
        f"{upstream.url}/v2/main/app/manifests/v1",
        headers={"accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert manifest.status_code == 200
    assert manifest.headers["docker-content-digest"] == layout.manifest_digest
    pulled = skopeo_pull(f"{proxy.address}/main/app:v1", tmp_path / "dst")
    assert pulled == layout.manifest_digest


def test_logged_in_users_push_and_pull_with_skopeo_and_artreg(
    upstream: ThreadedRegistry, run_proxy: ProxyFactory, users_file: Path, tmp_path: Path
) -> None:
    env = {"ALIEN_MAIN_BINDING": local_binding(upstream)}
    proxy = run_proxy(env, bindings=["main"], users_file=users_file)
    layout = build_layout(tmp_path / "src", layer_sizes=(5000,))
    pushed = skopeo_push(layout, f"{proxy.address}/main/sk:v1", user="alice")
    assert pushed.returncode == 0, pushed.stderr
    pulled = skopeo_pull(f"{proxy.address}/main/sk:v1", tmp_path / "sk", user="reader")
    assert pulled == layout.manifest_digest

    # artreg push/pull, credentials from Docker's config.json as `docker login` leaves them
    pushed_digest = artreg_push(layout, proxy.address, "main/ar:v1", tmp_path / "a")
    assert pushed_digest == layout.manifest_digest
    pulled_digest = artreg_pull(proxy.address, "main/ar:v1", tmp_path / "ar", tmp_path / "r")
    assert pulled_digest == layout.manifest_digest


def test_pull_only_user_is_refused_a_push(
    upstream: ThreadedRegistry, run_proxy: ProxyFactory, users_file: Path, tmp_path: Path
) -> None:
    proxy = run_proxy({"ALIEN_MAIN_BINDING": local_binding(upstream)}, users_file=users_file)
    layout = build_layout(tmp_path / "src", layer_sizes=(100,))
    refused = skopeo_push(layout, f"{proxy.address}/main/nope:v1", user="reader")
    assert refused.returncode != 0
    assert "denied" in refused.stderr.lower()
    auth = basic("reader", PASSWORDS["reader"])
    answer = httpx.post(f"{proxy.url}/v2/main/nope/blobs/uploads/", headers={"authorization": auth})
    assert answer.status_code == 403
    assert answer.json()["errors"][0]["code"] == "DENIED"
    assert httpx.get(f"{upstream.url}/v2/_catalog").json()["repositories"] == []


def test_anonymous_client_gets_401_with_a_bearer_challenge(
    upstream: ThreadedRegistry, run_proxy: ProxyFactory, users_file: Path
) -> None:
    proxy = run_proxy({"ALIEN_MAIN_BINDING": local_binding(upstream)}, users_file=users_file)
    answer = httpx.get(f"{proxy.url}/v2/")
    assert answer.status_code == 401
    assert answer.json()["errors"][0]["code"] == "UNAUTHORIZED"
    assert answer.headers["www-authenticate"] == (
        f'Bearer realm="{proxy.url}/v2/token",service="artreg-proxy"'
    )
    pull = httpx.get(f"{proxy.url}/v2/main/x/manifests/v1")
    assert pull.status_code == 401
    assert 'scope="repository:main/x:pull"' in pull.headers["www-authenticate"]
    wrong = httpx.get(f"{proxy.url}/v2/", headers={"authorization": basic("alice", "wrong")})
    assert wrong.status_code == 401
    assert httpx.get(f"{proxy.url}/healthz").json() == {"status": "ok"}


def test_chunked_upload_whose_location_drops_auth(
    upstream: ThreadedRegistry, run_proxy: ProxyFactory, users_file: Path
) -> None:
    proxy = run_proxy({"ALIEN_MAIN_BINDING": local_binding(upstream)}, users_file=users_file)
    auth = {"authorization": basic("alice", PASSWORDS["alice"])}
    digest, blob = chunked_upload(proxy.url, "main/chunked", auth)
    assert httpx.get(f"{upstream.url}/v2/main/chunked/blobs/{digest}").content == blob


def test_two_bindings_route_to_two_registries(
    run_proxy: ProxyFactory, users_file: Path, tmp_path: Path
) -> None:
    from artreg.localregistry import start_in_thread

    with start_in_thread() as first, start_in_thread() as second:
        env = {
            "ALIEN_ONE_BINDING": local_binding(first),
            "ALIEN_TWO_BINDING": local_binding(second),
        }
        proxy = run_proxy(env, users_file=users_file)  # every binding in the environment
        layout = build_layout(tmp_path / "src", layer_sizes=(500,))
        for name in ("one/app", "two/app"):
            done = skopeo_push(layout, f"{proxy.address}/{name}:v1", user="alice")
            assert done.returncode == 0, done.stderr
        assert httpx.get(f"{first.url}/v2/_catalog").json()["repositories"] == ["one/app"]
        assert httpx.get(f"{second.url}/v2/_catalog").json()["repositories"] == ["two/app"]
        auth = {"authorization": basic("reader", PASSWORDS["reader"])}
        # both bindings claim alien's constant prefix: it routes to neither
        missing = httpx.get(f"{proxy.url}/v2/artifacts/default/x/tags/list", headers=auth)
        assert missing.status_code == 404
        assert missing.json()["errors"][0]["code"] == "NAME_UNKNOWN"
        other = httpx.get(f"{proxy.url}/v2/three/app/tags/list", headers=auth)
        assert other.status_code == 404
        assert other.json()["errors"][0]["code"] == "NAME_UNKNOWN"
        catalog = httpx.get(f"{proxy.url}/v2/_catalog", headers=auth)
        assert catalog.json() == {"repositories": ["one/app", "two/app"]}


def test_a_repository_created_through_the_interface_is_pushed_through_the_proxy(
    upstream: ThreadedRegistry, run_proxy: ProxyFactory, tmp_path: Path
) -> None:
    from artreg.loader import load_artifact_registry

    env = {"ALIEN_MAIN_BINDING": local_binding(upstream)}
    registry = load_artifact_registry("main", env)

    async def create() -> RepositoryResponse:
        try:
            return await registry.create_repository("svc")
        finally:
            await registry.aclose()

    created = asyncio.run(create())
    assert created.name == "main/svc"
    assert registry.upstream_repository_prefix() == "artifacts/default"
    proxy = run_proxy(env)
    layout = build_layout(tmp_path / "src", layer_sizes=(700,))
    for name in (created.name, "artifacts/default/svc"):
        done = skopeo_push(layout, f"{proxy.address}/{name}:v2")
        assert done.returncode == 0, done.stderr
    tags = httpx.get(f"{upstream.url}/v2/main/svc/tags/list").json()["tags"]
    assert sorted(tags) == ["latest", "v2"]
    assert httpx.get(f"{upstream.url}/v2/artifacts/default/svc/tags/list").json()["tags"] == ["v2"]


def test_token_endpoint_get_and_post_forms(
    upstream: ThreadedRegistry, run_proxy: ProxyFactory, users_file: Path
) -> None:
    proxy = run_proxy({"ALIEN_MAIN_BINDING": local_binding(upstream)}, users_file=users_file)
    token_url = f"{proxy.url}/v2/token"
    scope = {"service": "artreg-proxy", "scope": "repository:main/app:pull,push"}
    with httpx.Client(timeout=30) as client:
        # reader asks for push too and gets pull only; its push is then refused outright
        got = client.get(
            token_url, params=scope, headers={"authorization": basic("reader", PASSWORDS["reader"])}
        )
        assert got.status_code == 200 and got.headers["cache-control"] == "no-store"
        reader_token = got.json()["token"]
        assert got.json()["access_token"] == reader_token and got.json()["expires_in"] == 300
        bearer = {"authorization": f"Bearer {reader_token}"}
        assert client.get(f"{proxy.url}/v2/main/app/tags/list", headers=bearer).status_code in (
            200,
            404,
        )
        denied = client.post(f"{proxy.url}/v2/main/app/blobs/uploads/", headers=bearer)
        assert denied.status_code == 403
        # docker login's request: GET with offline_token and client_id, a refresh token back
        login = client.get(
            token_url,
            params={
                "account": "alice",
                "client_id": "docker",
                "offline_token": "true",
                "service": "artreg-proxy",
            },
            headers={"authorization": basic("alice", PASSWORDS["alice"])},
        )
        assert login.status_code == 200 and login.json()["refresh_token"]
        # a token cannot mint its successor
        again = client.get(token_url, params=scope, headers=bearer)
        assert again.status_code == 401
        assert again.headers["www-authenticate"] == 'Basic realm="artreg-proxy"'

        # alice: password grant with a refresh token, then a refresh grant
        form = {
            "grant_type": "password",
            "username": "alice",
            "password": PASSWORDS["alice"],
            "service": "artreg-proxy",
            "scope": "repository:main/app:pull",
            "access_type": "offline",
            "client_id": "test",
        }
        posted = client.post(token_url, data=form)
        assert posted.status_code == 200, posted.text
        refresh = posted.json()["refresh_token"]
        pull_only = {"authorization": f"Bearer {posted.json()['token']}"}
        # alice may push, but this token only says pull: 401 naming the scope to ask for
        widen = client.post(f"{proxy.url}/v2/main/app/blobs/uploads/", headers=pull_only)
        assert widen.status_code == 401
        assert 'scope="repository:main/app:pull,push"' in widen.headers["www-authenticate"]
        assert 'error="insufficient_scope"' in widen.headers["www-authenticate"]
        assert (
            client.get(
                f"{proxy.url}/v2/", headers={"authorization": f"Bearer {refresh}"}
            ).status_code
            == 401
        )
        renewed = client.post(
            token_url,
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh,
                "service": "artreg-proxy",
                "scope": "repository:main/app:pull,push",
            },
        )
        assert renewed.status_code == 200, renewed.text
        push = {"authorization": f"Bearer {renewed.json()['token']}"}
        started = client.post(f"{proxy.url}/v2/main/app/blobs/uploads/", headers=push)
        assert started.status_code == 202
        bad = client.post(token_url, data={**form, "password": "wrong"})
        assert bad.status_code == 401
        assert PASSWORDS["alice"] not in bad.text


def test_failed_logins_are_throttled_per_user(
    upstream: ThreadedRegistry, run_proxy: ProxyFactory, users_file: Path
) -> None:
    proxy = run_proxy({"ALIEN_MAIN_BINDING": local_binding(upstream)}, users_file=users_file)
    wrong = {"authorization": basic("alice", "guess")}
    with httpx.Client(timeout=30) as client:
        statuses = [client.get(f"{proxy.url}/v2/", headers=wrong).status_code for _ in range(12)]
        assert statuses[:10] == [401] * 10
        assert statuses[-1] == 429
        limited = client.get(f"{proxy.url}/v2/", headers=wrong)
        assert limited.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
        assert int(limited.headers["retry-after"]) >= 1
        # another user is not held up by alice's guesses
        ok = client.get(
            f"{proxy.url}/v2/", headers={"authorization": basic("reader", PASSWORDS["reader"])}
        )
        assert ok.status_code == 200


def test_mounts_need_pull_rights_on_the_source(
    upstream: ThreadedRegistry, run_proxy: ProxyFactory, users_file: Path
) -> None:
    proxy = run_proxy({"ALIEN_MAIN_BINDING": local_binding(upstream)}, users_file=users_file)
    alice = {"authorization": basic("alice", PASSWORDS["alice"])}
    team = {"authorization": basic("team", PASSWORDS["team"])}
    blob = os.urandom(2000)
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    with httpx.Client(base_url=proxy.url, timeout=30) as client:
        put = client.post(
            f"/v2/main/secret/blobs/uploads/?digest={digest}", content=blob, headers=alice
        )
        assert put.status_code == 201, put.text
        # team may push main/team but not read main/secret: no mount, a plain upload session
        for query in (f"mount={digest}&from=main/secret", f"mount={digest}"):
            answer = client.post(f"/v2/main/team/blobs/uploads/?{query}", headers=team)
            assert answer.status_code == 202, answer.text
        assert client.head(f"/v2/main/team/blobs/{digest}", headers=team).status_code == 404
        mounted = client.post(
            f"/v2/main/copy/blobs/uploads/?mount={digest}&from=main/secret", headers=alice
        )
        assert mounted.status_code == 201, mounted.text


def test_tls_listener_advertises_https(
    upstream: ThreadedRegistry, run_proxy: ProxyFactory, users_file: Path, tmp_path: Path
) -> None:
    from tests.fakes.tls import make_certificate

    cert = make_certificate(tmp_path / "tls")
    proxy = run_proxy(
        {"ALIEN_MAIN_BINDING": local_binding(upstream)},
        users_file=users_file,
        tls_cert=cert.cert_file,
        tls_key=cert.key_file,
    )
    assert proxy.url.startswith("https://")
    context = ssl.create_default_context(cafile=str(cert.ca_file))
    with httpx.Client(verify=context, timeout=30) as client:
        hello = client.get(f"{proxy.url}/v2/")
        assert hello.status_code == 401
        assert hello.headers["www-authenticate"].startswith(f'Bearer realm="{proxy.url}/v2/token"')
        auth = {"authorization": basic("alice", PASSWORDS["alice"])}
        start = client.post(f"{proxy.url}/v2/main/tls/blobs/uploads/", headers=auth)
        assert start.status_code == 202
        assert start.headers["location"].startswith(f"{proxy.url}/v2/main/tls/blobs/uploads/")


def test_replicas_sharing_a_signing_key_accept_each_others_tokens_and_sessions(
    upstream: ThreadedRegistry, run_proxy: ProxyFactory, users_file: Path, tmp_path: Path
) -> None:
    key = tmp_path / "signing.key"
    key.write_text("0123456789abcdef" * 4)
    env = {"ALIEN_MAIN_BINDING": local_binding(upstream)}
    first = run_proxy(env, users_file=users_file, signing_key_file=key)
    second = run_proxy(env, users_file=users_file, signing_key_file=key)
    other = run_proxy(env, users_file=users_file)  # a key of its own
    scope = {"service": "artreg-proxy", "scope": "repository:main/rep:pull,push"}
    alice = ("alice", PASSWORDS["alice"])
    blob = os.urandom(5000)
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    with httpx.Client(timeout=30) as client:
        token = client.get(f"{first.url}/v2/token", params=scope, auth=alice).json()["token"]
        bearer = {"authorization": f"Bearer {token}"}
        assert client.get(f"{second.url}/v2/", headers=bearer).status_code == 200
        assert client.get(f"{other.url}/v2/", headers=bearer).status_code == 401
        start = client.post(f"{first.url}/v2/main/rep/blobs/uploads/", headers=bearer)
        assert start.status_code == 202
        # the load balancer sends the next request to the other replica, without credentials
        moved = start.headers["location"].replace(first.url, second.url)
        done = client.put(f"{moved}&digest={digest}", content=blob)
        assert done.status_code == 201, done.text
        elsewhere = start.headers["location"].replace(first.url, other.url)
        assert client.put(f"{elsewhere}&digest={digest}", content=blob).status_code == 403
    assert httpx.get(f"{upstream.url}/v2/main/rep/blobs/{digest}").content == blob
