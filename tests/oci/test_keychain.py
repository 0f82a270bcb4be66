"""The keychain: explicit entries, Docker's config.json (auths, credHelpers, credsStore), bindings."""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from artreg.oci import (
    Anonymous,
    Basic,
    BearerToken,
    IdentityToken,
    ImageRegistry,
    Keychain,
    RegistryClient,
)
from artreg.oci.keychain import docker_config_path, normalize_host
from artreg.providers.local import LocalArtifactRegistry
from tests.oci.helpers import make_image
from tests.peers import write_htpasswd
from tests.registries import RunningRegistry, distribution_registry

SECRET = "kc-s3cret"


def write_helper(directory: Path, name: str, known: dict[str, tuple[str, str]]) -> None:
    """A docker-credential-NAME program answering ``get`` from ``known`` (server → user, secret)."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / f"docker-credential-{name}"
    table = json.dumps({k: {"Username": u, "Secret": s} for k, (u, s) in known.items()})
    script.write_text(
        "#!/usr/bin/env python3\n"
        "import json, sys\n"
        f"known = json.loads({table!r})\n"
        "assert sys.argv[1] == 'get'\n"
        "server = sys.stdin.read().strip()\n"
        "if server not in known:\n"
        "    print('credentials not found in native keychain'); sys.exit(1)\n"
        "entry = dict(known[server]); entry['ServerURL'] = server\n"
        "print(json.dumps(entry))\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def keychain_for(tmp_path: Path, config: dict[str, object]) -> Keychain:
    (tmp_path / "docker").mkdir(parents=True, exist_ok=True)
    (tmp_path / "docker" / "config.json").write_text(json.dumps(config))
    env = {
        "DOCKER_CONFIG": str(tmp_path / "docker"),
        "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}",
    }
    return Keychain(env=env)


def test_normalize_and_paths(tmp_path: Path) -> None:
    assert normalize_host("https://index.docker.io/v1/") == "index.docker.io"
    assert normalize_host("docker.io") == "index.docker.io"
    assert normalize_host("Registry.Example.com:5000") == "registry.example.com:5000"
    assert docker_config_path({"DOCKER_CONFIG": "/x"}) == Path("/x/config.json")
    assert docker_config_path({"HOME": "/home/u"}) == Path("/home/u/.docker/config.json")


async def test_docker_config_sources(tmp_path: Path) -> None:
    write_helper(tmp_path / "bin", "fake", {"helped.example": ("helper-user", SECRET)})
    write_helper(tmp_path / "bin", "store", {"stored.example": ("<token>", "identity-token")})
    keychain = keychain_for(
        tmp_path,
        {
            "auths": {
                "https://auth.example/v1/": {
                    "auth": base64.b64encode(f"u1:{SECRET}".encode()).decode()
                },
                "plain.example": {"username": "u2", "password": "p2"},
                "identity.example": {"identitytoken": "refresh-from-docker-login"},
                "stored.example": {},
            },
            "credHelpers": {"helped.example": "fake", "broken.example": "missing-helper"},
            "credsStore": "store",
        },
    )
    keychain.add("explicit.example", Basic("me", "mine"))
    keychain.add("auth.example", BearerToken("explicit wins"))
    assert await keychain.resolve("explicit.example") == Basic("me", "mine")
    assert await keychain.resolve("auth.example") == BearerToken("explicit wins")
    assert await keychain.resolve("plain.example") == Basic("u2", "p2")
    assert await keychain.resolve("identity.example") == IdentityToken("refresh-from-docker-login")
    assert await keychain.resolve("helped.example") == Basic("helper-user", SECRET)
    # Docker's identity token: a refresh token the client spends at the token endpoint
    assert await keychain.resolve("stored.example") == IdentityToken("identity-token")
    assert await keychain.resolve("nowhere.example") == Anonymous()
    assert await keychain.resolve("broken.example") == Anonymous()
    assert SECRET not in repr(keychain)
    other = keychain_for(
        tmp_path / "b", {"auths": {"auth.example": {"auth": base64.b64encode(b"a:b").decode()}}}
    )
    assert await other.resolve("auth.example") == Basic("a", "b")
    assert await Keychain(docker_config=None).resolve("auth.example") == Anonymous()


@pytest.fixture
def htpasswd_registry(tmp_path: Path) -> Iterator[RunningRegistry]:
    users = write_htpasswd(tmp_path, "carol", SECRET)
    auth_yaml = f"auth:\n  htpasswd:\n    realm: artreg-test\n    path: {users}\n"
    with distribution_registry(tmp_path, auth_yaml=auth_yaml) as reg:
        yield reg


async def test_keychain_drives_registry_access(
    htpasswd_registry: RunningRegistry, tmp_path: Path
) -> None:
    host = htpasswd_registry.host
    write_helper(tmp_path / "bin", "fake", {host: ("carol", SECRET)})
    keychain = keychain_for(tmp_path, {"credHelpers": {host: "fake"}})
    img = make_image(b"via keychain")
    async with ImageRegistry(keychain) as reg:
        client = await reg.client(host)
        for digest, data in img.blobs().items():
            await client.upload_blob("kc/app", digest, data)
        await client.put_manifest("kc/app", "v1", img.manifest, img.media_type)
        assert await reg.digest(f"{host}/kc/app:v1") == img.digest


async def test_binding_credentials(any_registry: RunningRegistry) -> None:
    local = LocalArtifactRegistry("artifacts", any_registry.host)
    keychain = Keychain(docker_config=None)
    assert keychain.add_binding(local) == any_registry.host
    created = await local.create_repository("kc-binding")
    async with ImageRegistry(keychain) as reg:
        assert await reg.list_tags(f"{any_registry.host}/{created.name}") == ["latest"]
    async with RegistryClient(
        any_registry.host, credentials=await keychain.resolve(any_registry.host)
    ) as c:
        assert await c.head_manifest(created.name, "latest") is not None
    await local.aclose()
