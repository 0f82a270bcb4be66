"""The proxy in front of registries that need credentials, minted by a ``local`` binding that
carries them: an embedded registry with htpasswd (Basic upstream), an embedded registry with a
token file, and Debian's distribution registry with token auth, where the proxy runs Docker's
token flow and injects Bearer tokens. Real clients push and pull through it: skopeo with
``--creds``, ``artreg push``/``pull``, and a chunked upload whose Location drops auth."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from artreg.localregistry import start_in_thread
from artreg.localregistry.auth import Authenticator
from tests.cli.layouts import build_layout
from tests.fakes.token_server import TokenServer, User, token_protected_registry
from tests.proxy.clients import artreg_pull, artreg_push, chunked_upload, skopeo_pull, skopeo_push
from tests.proxy.conftest import ProxyFactory, basic, hashed

TOKEN = "upstream-static-token-0123456789abcdef"


@dataclass
class Secured:
    """An upstream registry and the binding JSON (with its credentials) that reaches it."""

    kind: str
    url: str
    binding: str
    token_server: TokenServer | None = None


def binding(url: str, username: str, password: str) -> str:
    return json.dumps(
        {
            "service": "local",
            "registryUrl": url,
            "dataDir": None,
            "username": username,
            "password": password,
        }
    )


@pytest.fixture(params=["htpasswd", "token-file", "token-server"])
def secured(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Secured]:
    if request.param == "htpasswd":
        auth = Authenticator(users={"up": hashed("up-password").encode()})
        with start_in_thread(auth=auth) as registry:
            yield Secured("htpasswd", registry.url, binding(registry.url, "up", "up-password"))
    elif request.param == "token-file":
        with start_in_thread(auth=Authenticator(token=TOKEN)) as registry:
            yield Secured("token-file", registry.url, binding(registry.url, "ci", TOKEN))
    else:
        users = {"up": User("up-password")}
        with token_protected_registry(tmp_path, users) as (registry, tokens):
            url = registry.url
            yield Secured("token-server", url, binding(url, "up", "up-password"), tokens)


def test_clients_through_the_proxy_to_a_registry_that_needs_credentials(
    secured: Secured, run_proxy: ProxyFactory, users_file: Path, tmp_path: Path
) -> None:
    proxy = run_proxy({"ALIEN_MAIN_BINDING": secured.binding}, users_file=users_file)
    # the upstream refuses anonymous clients: what gets through is what the proxy injects
    assert httpx.get(f"{secured.url}/v2/").status_code == 401
    layout = build_layout(tmp_path / "src", layer_sizes=(4000, 20_000))

    pushed = skopeo_push(layout, f"{proxy.address}/main/app:v1", user="alice")
    assert pushed.returncode == 0, pushed.stderr
    pulled = skopeo_pull(f"{proxy.address}/main/app:v1", tmp_path / "sk", user="reader")
    assert pulled == layout.manifest_digest

    pushed_digest = artreg_push(layout, proxy.address, "main/ar:v1", tmp_path / "a")
    assert pushed_digest == layout.manifest_digest
    pulled_digest = artreg_pull(proxy.address, "main/ar:v1", tmp_path / "ar", tmp_path / "r")
    assert pulled_digest == layout.manifest_digest

    chunked_upload(proxy.url, "main/chunked", {"authorization": basic("alice", "alice-secret")})

    if secured.token_server is not None:
        # the proxy traded the binding's Basic credentials for scoped bearer tokens. It asks
        # for the scope distribution's challenge names, and distribution lists a scope's
        # actions in Go map order ("pull,push" or "push,pull"): compare the actions as sets.
        asked = {
            (r.account, tuple(_actions_as_set(scope) for scope in r.scopes))
            for r in secured.token_server.requests
        }
        assert ("up", (("repository", "main/app", frozenset({"pull", "push"})),)) in asked
        assert ("up", (("repository", "main/app", frozenset({"pull"})),)) in asked


def _actions_as_set(scope: str) -> tuple[str, str, frozenset[str]]:
    """``repository:NAME:a,b`` as (type, name, {a, b})."""
    kind, rest = scope.split(":", 1)
    name, actions = rest.rsplit(":", 1)
    return kind, name, frozenset(actions.split(","))
