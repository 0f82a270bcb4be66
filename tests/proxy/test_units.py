"""The proxy's pure pieces: routing, scopes, tokens, signed sessions, Location rewriting and
the upstream credential cache."""

from __future__ import annotations

import asyncio
import base64

import pytest

from artreg.errors import Other
from artreg.proxy.location import (
    SessionSignatureError,
    UploadSigner,
    proxy_base,
    rewrite_location,
    split_signature,
)
from artreg.proxy.routing import RoutingError, RoutingTable, parse_path
from artreg.proxy.tokens import Access, TokenIssuer, parse_scopes
from artreg.proxy.upstream import CredentialCache, MintFailed, authorization_header
from artreg.proxy.users import UserDirectory, UsersFileError, scope_covers
from artreg.registry import ArtifactRegistry
from artreg.types import (
    ArtifactRegistryCredentials,
    ArtifactRegistryPermissions,
    RegistryAuthMethod,
)

PULL = ArtifactRegistryPermissions.PULL
PUSH_PULL = ArtifactRegistryPermissions.PUSH_PULL


class Minting(ArtifactRegistry):
    """A registry that only mints credentials (counting calls), for the cache tests."""

    def __init__(self, name: str, prefix: str = "", expires_at: str | None = None) -> None:
        self.binding_name = name
        self.prefix = prefix
        self.expires_at = expires_at
        self.calls: list[tuple[str, ArtifactRegistryPermissions, int | None]] = []
        self.fail = False
        self.gate: asyncio.Event | None = None

    def upstream_repository_prefix(self) -> str:
        return self.prefix

    def registry_endpoint(self) -> str:
        return f"https://{self.binding_name}.example"

    async def generate_credentials(
        self, repo_id: str, permissions: ArtifactRegistryPermissions, ttl_seconds: int | None = None
    ) -> ArtifactRegistryCredentials:
        self.calls.append((repo_id, permissions, ttl_seconds))
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise Other(message="token service down")
        return ArtifactRegistryCredentials(
            auth_method=RegistryAuthMethod.BASIC,
            username="AWS",
            password=f"secret-{len(self.calls)}",
            expires_at=self.expires_at,
        )

    async def create_repository(self, repo_name: str):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    get_repository = add_cross_account_access = remove_cross_account_access = create_repository  # type: ignore[assignment]
    get_cross_account_access = delete_repository = create_repository  # type: ignore[assignment]


# -- routing -----------------------------------------------------------------------------------


def test_longest_prefix_wins_and_prefixes_end_at_a_separator() -> None:
    team, team_a, everything = Minting("team", "team"), Minting("team-a", "team-a"), Minting("all")
    table = RoutingTable.build([("all", everything), ("team", team), ("team-a", team_a)])
    assert [r.prefix for r in table] == ["team-a", "team", ""]
    assert table.resolve("team-a-web") is not None
    assert table.resolve("team-a-web").binding == "team-a"  # type: ignore[union-attr]
    assert table.resolve("team/web").binding == "team"  # type: ignore[union-attr]
    assert table.resolve("team").binding == "team"  # type: ignore[union-attr]
    assert table.resolve("teammate/web").binding == "all"  # type: ignore[union-attr]


def test_no_match_without_an_empty_prefix() -> None:
    table = RoutingTable.build([("gar", Minting("gar", "my-project/docker"))])
    assert table.resolve("my-project/docker/nested/image").binding == "gar"  # type: ignore[union-attr]
    assert table.resolve("other/image") is None


def test_duplicate_prefixes_are_refused_naming_both_bindings() -> None:
    with pytest.raises(RoutingError) as info:
        RoutingTable.build([("first", Minting("first", "x")), ("second", Minting("second", "x"))])
    assert "'first'" in str(info.value) and "'second'" in str(info.value)
    with pytest.raises(RoutingError):
        RoutingTable.build([("a", Minting("a")), ("b", Minting("b"))])  # two empty prefixes


def test_local_bindings_own_their_name_and_alien_constant_prefix() -> None:
    one = Minting("one", "artifacts/default")
    table = RoutingTable.build([("one", one)], local=["one"])
    assert {r.prefix for r in table} == {"one", "artifacts/default"}
    assert table.resolve("one/app").registry is one  # type: ignore[union-attr]
    assert table.resolve("artifacts/default/app").registry is one  # type: ignore[union-attr]
    two = Minting("two", "artifacts/default")
    shared = RoutingTable.build([("one", one), ("two", two)], local=["one", "two"])
    assert {r.prefix for r in shared} == {"one", "two"}
    assert shared.resolve("artifacts/default/app") is None
    with pytest.raises(RoutingError):  # a non-local binding claiming a local binding's name
        RoutingTable.build([("one", one), ("ecr", Minting("ecr", "one"))], local=["one"])


def test_paths_split_into_repository_and_operation() -> None:
    assert parse_path("a/b/c/manifests/v1") == ("a/b/c", "manifests", "v1")
    assert parse_path("a/blobs/uploads/") == ("a", "uploads", "")
    assert parse_path("a/blobs/uploads") == ("a", "uploads", "")
    assert parse_path("a/blobs/uploads/abc-123") == ("a", "uploads", "abc-123")
    assert parse_path("a/blobs/sha256:00") == ("a", "blobs", "sha256:00")
    assert parse_path("x/tags/manifests/latest") == ("x/tags", "manifests", "latest")
    assert parse_path("a/tags/list") == ("a", "tags", "list")
    assert parse_path("a/blobs/uploadsX") == ("a", "blobs", "uploadsX")  # a (bad) digest
    assert parse_path("justaname") is None


# -- users and scopes --------------------------------------------------------------------------


def test_scope_entries_cover_prefixes_at_separators() -> None:
    assert scope_covers("*", "anything/at/all")
    assert scope_covers("team-a", "team-a")
    assert scope_covers("team-a", "team-a/web")
    assert scope_covers("team-a", "team-a-web")
    assert not scope_covers("team-a", "team-ab")
    assert scope_covers("team-a/", "team-a/web")
    assert not scope_covers("", "x")


def test_users_file_errors_name_the_user() -> None:
    with pytest.raises(UsersFileError, match=r"user 'bob'.*bcrypt"):
        UserDirectory.from_mapping({"users": {"bob": {"password_hash": "plain", "pull": ["*"]}}})
    with pytest.raises(UsersFileError, match=r"user 'bob'.*unknown key"):
        UserDirectory.from_mapping({"users": {"bob": {"token_sha256": "00" * 32, "pul": []}}})
    with pytest.raises(UsersFileError, match="64 hex"):
        UserDirectory.from_mapping({"users": {"bob": {"token_sha256": "abc"}}})
    with pytest.raises(UsersFileError, match=r"no \[users\.NAME\]"):
        UserDirectory.from_mapping({})


def test_push_implies_pull_and_tokens_match_by_digest() -> None:
    digest = "948b8c2427cd29047839b8e4a27a08763f8befbafa86be5cce8e46217d75e58a"  # of "ci-token"
    users = UserDirectory.from_mapping(
        {"users": {"ci": {"token_sha256": digest, "push": ["team"]}}}
    )
    ci = users.check_token("ci-token")
    assert ci is not None and ci.name == "ci"
    assert ci.may("pull", "team/app") and ci.may("push", "team/app")
    assert not ci.may("pull", "other")
    assert users.check_token("not-it") is None
    assert users.check_token_password("ci", "ci-token") is ci
    assert users.check_token_password("ci", "wrong") is None
    assert "ci-token" not in repr(ci) and digest not in repr(ci)


# -- tokens ------------------------------------------------------------------------------------


def test_tokens_carry_the_granted_access_and_expire() -> None:
    now = [1_000_000.0]
    issuer = TokenIssuer(b"k" * 32, service="artreg-proxy", ttl=300, clock=lambda: now[0])
    token, ttl = issuer.issue("alice", [Access("repository", "a/b", ("pull", "push"))])
    assert ttl == 300
    claims = issuer.verify(token)
    assert claims is not None and claims.subject == "alice"
    assert claims.allows("a/b", "push") and not claims.allows("a/c", "pull")
    other = TokenIssuer(b"x" * 32, service="artreg-proxy", clock=lambda: now[0])
    assert other.verify(token) is None  # another key
    head, _payload, sig = token.split(".")
    forged = base64.urlsafe_b64encode(b'{"sub":"mallory"}').rstrip(b"=").decode()
    assert issuer.verify(f"{head}.{forged}.{sig}") is None
    now[0] += 301
    assert issuer.verify(token) is None


def test_scope_parameters() -> None:
    assert parse_scopes(["repository:a/b:pull,push registry:catalog:*"]) == [
        Access("repository", "a/b", ("pull", "push")),
        Access("registry", "catalog", ("pull", "push", "delete")),
    ]
    assert parse_scopes(["repository:host:5000/x:pull"]) == [
        Access("repository", "host:5000/x", ("pull",))
    ]
    assert parse_scopes(["garbage", "repository::pull"]) == []


# -- signed upload sessions and Location -------------------------------------------------------


def test_signed_sessions_verify_and_expire() -> None:
    now = [2_000_000.0]
    signer = UploadSigner(b"k" * 32, clock=lambda: now[0])
    url = signer.sign("http://proxy:5080/v2/a/b/blobs/uploads/u1?_state=xyz", "a/b")
    assert url.startswith("http://proxy:5080/v2/a/b/blobs/uploads/u1?_state=xyz&_artreg_v=1&")
    query = url.split("?", 1)[1]
    signature, rest = split_signature(query)
    assert rest == "_state=xyz"
    assert signature["_artreg_exp"] == "2003600"
    assert signer.verify("/v2/a/b/blobs/uploads/u1", signature) == "a/b"
    with pytest.raises(SessionSignatureError):
        signer.verify("/v2/a/b/blobs/uploads/u2", signature)  # another session
    with pytest.raises(SessionSignatureError):
        signer.verify("/v2/a/b/blobs/uploads/u1", {**signature, "_artreg_repo": "a/c"})
    with pytest.raises(SessionSignatureError):
        UploadSigner(b"z" * 32, clock=lambda: now[0]).verify("/v2/a/b/blobs/uploads/u1", signature)
    now[0] += 3601
    with pytest.raises(SessionSignatureError, match="expired"):
        signer.verify("/v2/a/b/blobs/uploads/u1", signature)


def test_location_rewrite() -> None:
    base = "https://proxy.example"
    up = "https://123.dkr.ecr.us-east-1.amazonaws.com"
    assert rewrite_location("/v2/r/blobs/uploads/1?x=1", up, base) == (
        "https://proxy.example/v2/r/blobs/uploads/1?x=1",
        True,
    )
    assert rewrite_location(f"{up}/v2/r/blobs/sha256:1", up, base) == (
        "https://proxy.example/v2/r/blobs/sha256:1",
        True,
    )
    s3 = "https://bucket.s3.amazonaws.com/layer?X-Amz-Signature=1"
    assert rewrite_location(s3, up, base) == (s3, False)


def test_proxy_base_from_forwarding_headers() -> None:
    assert proxy_base({"host": "p:5080"}, "http", "x") == "http://p:5080"
    assert (
        proxy_base(
            {"host": "p:5080", "x-forwarded-host": "reg.example, lb", "x-forwarded-proto": "https"},
            "http",
            "x",
        )
        == "https://reg.example"
    )
    assert (
        proxy_base(
            {"host": "p", "forwarded": 'for=1.2.3.4;host="reg.example:443";proto=https'},
            "http",
            "x",
        )
        == "https://reg.example:443"
    )
    assert proxy_base({"host": "evil/path"}, "https", "fallback:1") == "https://fallback:1"


# -- upstream credentials ----------------------------------------------------------------------


def test_authorization_headers() -> None:
    def creds(method: RegistryAuthMethod, user: str, password: str) -> ArtifactRegistryCredentials:
        return ArtifactRegistryCredentials(auth_method=method, username=user, password=password)

    assert authorization_header(creds(RegistryAuthMethod.BEARER, "", "tok")) == "Bearer tok"
    assert authorization_header(creds(RegistryAuthMethod.BASIC, "AWS", "pw")) == "Basic QVdTOnB3"
    assert authorization_header(creds(RegistryAuthMethod.BASIC, "", "")) is None


async def test_cache_per_repository_and_permission_until_80_percent_of_lifetime() -> None:
    now = [1_767_225_600.0]  # 2026-01-01T00:00:00Z
    registry = Minting("ecr", expires_at="2026-01-01T01:00:00+00:00")
    cache = CredentialCache(clock=lambda: now[0])
    first = await cache.authorization(registry, "https://e", "a", PULL)
    assert first == "Basic " + base64.b64encode(b"AWS:secret-1").decode()
    assert await cache.authorization(registry, "https://e", "a", PULL) == first
    await cache.authorization(registry, "https://e", "b", PULL)
    await cache.authorization(registry, "https://e", "a", PUSH_PULL)
    assert registry.calls == [("a", PULL, 3600), ("b", PULL, 3600), ("a", PUSH_PULL, 3600)]
    now[0] += 2879  # 80 % of 3600 s is 2880 s
    await cache.authorization(registry, "https://e", "a", PULL)
    assert len(registry.calls) == 3
    now[0] += 2
    await cache.authorization(registry, "https://e", "a", PULL)
    assert len(registry.calls) == 4
    await cache.authorization(registry, "https://e", "a", PULL, fresh=True)
    assert len(registry.calls) == 5


async def test_cache_without_expiry_keeps_300_seconds() -> None:
    now = [100.0]
    registry = Minting("local")
    cache = CredentialCache(clock=lambda: now[0])
    await cache.authorization(registry, "http://l", "a", PULL)
    now[0] += 299
    await cache.authorization(registry, "http://l", "a", PULL)
    assert len(registry.calls) == 1
    now[0] += 2
    await cache.authorization(registry, "http://l", "a", PULL)
    assert len(registry.calls) == 2


async def test_one_mint_per_key_at_a_time() -> None:
    registry = Minting("acr")
    registry.gate = asyncio.Event()
    cache = CredentialCache()
    waiting = [
        asyncio.ensure_future(cache.authorization(registry, "https://a", "r", PULL))
        for _ in range(20)
    ]
    other = asyncio.ensure_future(cache.authorization(registry, "https://a", "s", PULL))
    await asyncio.sleep(0.01)
    registry.gate.set()
    results = await asyncio.gather(*waiting, other)
    assert len(set(results[:20])) == 1
    assert sorted(c[0] for c in registry.calls) == ["r", "s"]


async def test_a_failed_mint_names_the_binding_not_the_secret() -> None:
    registry = Minting("images")
    registry.fail = True
    cache = CredentialCache()
    with pytest.raises(MintFailed) as info:
        await cache.authorization(registry, "https://e", "a", PULL)
    assert info.value.binding == "images" and info.value.code == "BINDINGS_ERROR"
    registry.fail = False
    assert await cache.authorization(registry, "https://e", "a", PULL) is not None  # not cached


# -- upstream refusals (a real upstream, a binding that hands out a stale credential first) ----


def test_upstream_401_is_retried_once_with_fresh_credentials() -> None:
    import bcrypt
    import httpx

    from artreg.localregistry import start_in_thread as start_registry
    from artreg.localregistry.auth import Authenticator
    from artreg.proxy import ProxyApp, ProxyConfig
    from artreg.proxy import start_in_thread as start_proxy
    from artreg.proxy.auth import ClientAuth
    from artreg.proxy.location import UploadSigner

    # The upstream accepts only the second credential the binding mints ("secret-2").
    hashed = bcrypt.hashpw(b"secret-2", bcrypt.gensalt(rounds=4))
    with start_registry(auth=Authenticator(users={"AWS": hashed})) as upstream:

        class Stale(Minting):
            def registry_endpoint(self) -> str:
                return upstream.url

        registry = Stale("ecr", "team")
        routes = RoutingTable.build([("ecr", registry)])
        key = b"k" * 32
        app = ProxyApp(
            routes,
            ClientAuth(None, TokenIssuer(key, service="artreg-proxy"), None),
            UploadSigner(key),
        )
        with start_proxy(ProxyConfig(port=0), app=app) as proxy:
            first = httpx.get(f"{proxy.url}/v2/team-app/tags/list")
            assert first.status_code == 404  # the upstream answered: the name is unknown there
            assert [c[:2] for c in registry.calls] == [("team-app", PULL), ("team-app", PULL)]
            again = httpx.get(f"{proxy.url}/v2/team-app/tags/list")
            assert again.status_code == 404 and len(registry.calls) == 2  # cached, still valid
            # fresh credentials refused too ("secret-3", "secret-4"): the upstream's 401 reaches
            # the client, with the OCI body and the proxy's own challenge (not the upstream's)
            refused = httpx.get(f"{proxy.url}/v2/team-other/tags/list")
            assert refused.status_code == 401
            assert refused.json()["errors"][0]["code"] == "UNAUTHORIZED"
            assert refused.headers["www-authenticate"].startswith(f'Bearer realm="{proxy.url}/')
            assert len(registry.calls) == 4


def test_upstream_urls_keep_ecr_trailing_slash() -> None:
    from artreg.proxy.forward import upstream_url

    route = RoutingTable.build([("ecr", Minting("ecr", "team"))]).routes[0]
    assert route.endpoint == "https://ecr.example"
    assert upstream_url(route, "/v2/team-a/blobs/uploads", "") == (
        "https://ecr.example/v2/team-a/blobs/uploads/"
    )
    assert upstream_url(route, "/v2/team-a/blobs/uploads/", "mount=x") == (
        "https://ecr.example/v2/team-a/blobs/uploads/?mount=x"
    )
    assert upstream_url(route, "/v2/team%2Fa/tags/list", "n=1") == (
        "https://ecr.example/v2/team%2Fa/tags/list?n=1"
    )


async def test_a_mint_that_hangs_fails_after_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    import artreg.proxy.upstream as upstream

    monkeypatch.setattr(upstream, "MINT_TIMEOUT", 0.05)
    registry = Minting("slow")
    registry.gate = asyncio.Event()  # never set
    with pytest.raises(MintFailed) as info:
        await CredentialCache().authorization(registry, "https://e", "a", PULL)
    assert (info.value.binding, info.value.code) == ("slow", "TIMEOUT")


def test_upstream_pool_fits_what_one_artreg_listener_serves_per_address() -> None:
    from artreg.proxy.app import UPSTREAM_POOL
    from artreg.serving.limits import Limits

    assert UPSTREAM_POOL.max_connections == 128
    assert UPSTREAM_POOL.max_connections <= Limits().max_connections_per_address
