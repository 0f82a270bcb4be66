"""Authentication: the bearer-token flow against a token-protected distribution registry, Basic
auth against an htpasswd one, provider credentials refreshed on 401 and at half their life."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from artreg.errors import AuthenticationError, RemoteResourceNotFound
from artreg.oci import Anonymous, Basic, BearerToken, RegistryClient
from artreg.oci.auth import CredentialCache, parse_challenges
from artreg.types import (
    ArtifactRegistryCredentials,
    ArtifactRegistryPermissions,
    RegistryAuthMethod,
    format_timestamp,
)
from tests.fakes.token_server import TokenServer, User, token_protected_registry
from tests.oci.helpers import make_image
from tests.peers import htpasswd_line
from tests.registries import RunningRegistry, distribution_registry

SECRET = "s3cret-PASSWORD-value"


@pytest.fixture
def token_registry(tmp_path: Path) -> Iterator[tuple[RunningRegistry, TokenServer]]:
    users = {
        "alice": User(SECRET),
        "reader": User("reader-pass", {"*": {"pull"}}),
    }
    with token_protected_registry(tmp_path, users, anonymous={"public/*": {"pull"}}) as pair:
        yield pair


@pytest.fixture
def htpasswd_registry(tmp_path: Path) -> Iterator[RunningRegistry]:
    path = tmp_path / "htpasswd"
    path.write_text(htpasswd_line("bob", SECRET) + "\n")
    auth_yaml = f"auth:\n  htpasswd:\n    realm: artreg-test\n    path: {path}\n"
    with distribution_registry(tmp_path, auth_yaml=auth_yaml) as reg:
        yield reg


async def push(client: RegistryClient, repo: str, tag: str = "v1") -> str:
    image = make_image(b"auth layer " + repo.encode())
    for digest, data in image.blobs().items():
        await client.upload_blob(repo, digest, data)
    return await client.put_manifest(repo, tag, image.manifest, image.media_type)


def test_parse_challenges() -> None:
    [bearer] = parse_challenges(
        'Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push"'
    )
    assert bearer.scheme == "bearer"
    assert bearer.params == {
        "realm": "https://auth.example/token",
        "service": "reg",
        "scope": "repository:a/b:pull,push",
    }
    basic, other = parse_challenges('Basic realm="x y", Bearer realm="r"')
    assert (basic.scheme, basic.realm, other.scheme, other.realm) == ("basic", "x y", "bearer", "r")


def test_secrets_hidden() -> None:
    assert SECRET not in repr(Basic("u", SECRET))
    assert SECRET not in repr(BearerToken(SECRET))
    creds = ArtifactRegistryCredentials(
        auth_method=RegistryAuthMethod.BASIC, username="u", password=SECRET
    )
    assert SECRET not in repr(creds)


async def test_token_flow(token_registry: tuple[RunningRegistry, TokenServer]) -> None:
    registry, tokens = token_registry
    async with RegistryClient(registry.host, credentials=Basic("alice", SECRET)) as client:
        digest = await push(client, "team/app")
        assert (await client.get_manifest("team/app", "v1"))[0]
        assert await client.head_manifest("team/app", digest) is not None
        assert await client.list_tags("team/app") == ["v1"]
        assert "team/app" in await client.catalog()
    granted = [r for r in tokens.requests if r.status == 200]
    assert all(r.account == "alice" for r in granted)
    # Tokens are cached per scope: one for push+pull, one for pull, one for the catalog.
    scopes = sorted({" ".join(r.scopes) for r in granted})
    assert len(granted) == len(scopes)
    assert "repository:team/app:pull,push" in scopes
    assert "repository:team/app:pull" in scopes
    assert "registry:catalog:*" in scopes


async def test_token_flow_refusals(token_registry: tuple[RunningRegistry, TokenServer]) -> None:
    registry, tokens = token_registry
    async with RegistryClient(registry.host, credentials=Basic("alice", SECRET)) as client:
        await push(client, "public/base")
        await push(client, "private/app")
    async with RegistryClient(registry.host, credentials=Basic("alice", "wrong")) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.get_manifest("private/app", "v1")
        assert "wrong" not in str(info.value.to_dict())
    async with RegistryClient(registry.host) as anonymous:
        # Anonymous pull is allowed on public/*, refused elsewhere.
        assert (await anonymous.get_manifest("public/base", "v1"))[0]
        with pytest.raises(AuthenticationError):
            await anonymous.get_manifest("private/app", "v1")
    async with RegistryClient(registry.host, credentials=Basic("reader", "reader-pass")) as reader:
        assert (await reader.get_manifest("private/app", "v1"))[0]
        with pytest.raises(AuthenticationError):
            await push(reader, "private/other")
    assert any(r.status == 401 for r in tokens.requests)


async def test_basic_auth_and_provider_refresh(htpasswd_registry: RunningRegistry) -> None:
    async with RegistryClient(htpasswd_registry.host, credentials=Basic("bob", SECRET)) as client:
        await push(client, "basic/app")
    async with RegistryClient(htpasswd_registry.host, credentials=Anonymous()) as client:
        with pytest.raises(AuthenticationError):
            await client.get_manifest("basic/app", "v1")
    calls: list[tuple[str, ArtifactRegistryPermissions]] = []

    async def provider(
        repository: str, permissions: ArtifactRegistryPermissions
    ) -> ArtifactRegistryCredentials:
        calls.append((repository, permissions))
        # The first credentials handed out are stale (rotated): a 401 must fetch fresh ones.
        password = "stale" if len(calls) == 1 else SECRET
        return ArtifactRegistryCredentials(
            auth_method=RegistryAuthMethod.BASIC, username="bob", password=password
        )

    async with RegistryClient(htpasswd_registry.host, credentials=provider) as client:
        assert (await client.get_manifest("basic/app", "v1"))[0]
        assert await client.head_manifest("basic/app", "v1") is not None
        with pytest.raises(RemoteResourceNotFound):
            await client.get_manifest("basic/app", "v2")
    assert calls == [("basic/app", ArtifactRegistryPermissions.PULL)] * 2


async def test_credential_cache_half_life() -> None:
    now = [1_000_000.0]
    issued: list[int] = []

    async def provider(
        repository: str, permissions: ArtifactRegistryPermissions
    ) -> ArtifactRegistryCredentials:
        issued.append(1)
        return ArtifactRegistryCredentials(
            auth_method=RegistryAuthMethod.BEARER,
            username="",
            password=f"token-{len(issued)}",
            expires_at=format_timestamp(now[0] + 3600),
        )

    cache = CredentialCache(provider, clock=lambda: now[0])
    first = await cache.get("r", ArtifactRegistryPermissions.PULL)
    assert first == BearerToken("token-1")
    now[0] += 1799
    assert await cache.get("r", ArtifactRegistryPermissions.PULL) == first
    now[0] += 2  # past half the lifetime: refreshed proactively
    assert await cache.get("r", ArtifactRegistryPermissions.PULL) == BearerToken("token-2")

    # Empty basic credentials mean anonymous.
    async def empty(
        repository: str, permissions: ArtifactRegistryPermissions
    ) -> ArtifactRegistryCredentials:
        return ArtifactRegistryCredentials(
            auth_method=RegistryAuthMethod.BASIC, username="", password=""
        )

    assert await CredentialCache(empty).get("r", ArtifactRegistryPermissions.PULL) == Anonymous()


async def test_embedded_registry_auth(tmp_path: Path) -> None:
    """The same flows against the embedded registry with users and a static token."""
    from artreg.localregistry import Authenticator
    from tests.registries import embedded_registry

    user, _, hashed = htpasswd_line("bob", SECRET).partition(":")
    auth = Authenticator(users={user: hashed.encode()}, token="static-registry-token")
    with embedded_registry(tmp_path, auth=auth) as registry:
        async with RegistryClient(registry.host, credentials=Basic("bob", SECRET)) as client:
            digest = await push(client, "emb/app")
            assert await client.list_tags("emb/app") == ["v1"]
        async with RegistryClient(
            registry.host, credentials=BearerToken("static-registry-token")
        ) as client:
            head = await client.head_manifest("emb/app", "v1")
            assert head is not None and head.digest == digest
        for credentials in (Anonymous(), Basic("bob", "wrong"), BearerToken("nope")):
            async with RegistryClient(registry.host, credentials=credentials) as client:
                with pytest.raises(AuthenticationError):
                    await client.get_manifest("emb/app", "v1")


async def test_bearer_challenge_without_a_token_endpoint_is_an_authentication_error() -> None:
    """A registry that only takes a static bearer token names a plain realm: nothing to fetch."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(
            401,
            headers={"WWW-Authenticate": 'Bearer realm="artreg"'},
            json={"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
        )

    async with RegistryClient("127.0.0.1:9", transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.get_manifest("ns/app", "latest")
    assert "names no token endpoint" in info.value.message
    assert info.value.http_status_code == 401
    assert all(url.startswith("http://127.0.0.1:9/v2/") for url in seen)
