"""The Local provider against a registry that needs credentials: the binding's ``username`` and
``password`` are used for its own calls and returned by ``generate_credentials``; without them
it stays anonymous (alien's behaviour) and a secured registry refuses it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from artreg.errors import BindingConfigInvalid, Other
from artreg.loader import clear_cache, load_artifact_registry
from artreg.localregistry import Authenticator
from artreg.providers.local import LocalArtifactRegistry
from artreg.types import ArtifactRegistryPermissions, RegistryAuthMethod
from tests.peers import write_htpasswd
from tests.registries import RunningRegistry, embedded_registry

PASSWORD = "local-Pa55word-for-tests"
TOKEN = "local-static-token-0123456789"


@pytest.fixture
def htpasswd_registry(tmp_path: Path) -> Iterator[RunningRegistry]:
    auth = Authenticator.from_files(htpasswd=write_htpasswd(tmp_path, "ci", PASSWORD))
    with embedded_registry(tmp_path, auth=auth) as reg:
        yield reg


@pytest.fixture
def token_registry(tmp_path: Path) -> Iterator[RunningRegistry]:
    with embedded_registry(tmp_path, auth=Authenticator(token=TOKEN)) as reg:
        yield reg


async def test_basic_auth_registry(htpasswd_registry: RunningRegistry) -> None:
    local = LocalArtifactRegistry(
        "artifacts", htpasswd_registry.host, username="ci", password=PASSWORD
    )
    repo = await local.create_repository("secured")
    assert repo.name == "artifacts/secured"
    assert (await local.get_repository("secured")).name == "artifacts/secured"
    body, _ = await local.get_manifest("artifacts/secured", "latest")
    assert b"dev.alien.marker" in body
    creds = await local.generate_credentials(repo.name, ArtifactRegistryPermissions.PUSH_PULL)
    assert creds.auth_method == RegistryAuthMethod.BASIC
    assert (creds.username, creds.password) == ("ci", PASSWORD)
    # the credentials it hands out work for a client of its own
    async with httpx.AsyncClient() as client:
        r = await client.get(
            f"{htpasswd_registry.url}/v2/artifacts/secured/tags/list",
            auth=(creds.username, creds.password),
        )
    assert r.json()["tags"] == ["latest"]
    assert PASSWORD not in repr(local)

    anonymous = LocalArtifactRegistry("artifacts", htpasswd_registry.host)
    with pytest.raises(Other) as refused:
        await anonymous.create_repository("refused")
    assert "Failed to push config blob" in refused.value.message
    creds = await anonymous.generate_credentials("x", ArtifactRegistryPermissions.PULL)
    assert (creds.username, creds.password) == ("", "")


async def test_token_registry_through_the_token_endpoint(token_registry: RunningRegistry) -> None:
    # the registry challenges Bearer: the client trades the credentials for a token
    async with httpx.AsyncClient() as client:
        challenge = (await client.get(f"{token_registry.url}/v2/")).headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    local = LocalArtifactRegistry("artifacts", token_registry.host, username="ci", password=TOKEN)
    repo = await local.create_repository("tokened")
    head = await local.head_manifest(repo.name, "latest")
    assert head is not None


async def test_binding_from_the_environment(htpasswd_registry: RunningRegistry) -> None:
    clear_cache()
    env = {
        "ALIEN_SECURED_BINDING": json.dumps(
            {
                "service": "local",
                "registryUrl": htpasswd_registry.host,
                "dataDir": None,
                "username": "ci",
                "password": PASSWORD,
            }
        )
    }
    registry = load_artifact_registry("secured", env)
    repo = await registry.create_repository("from-env")
    assert repo.name == "secured/from-env"
    creds = await registry.generate_credentials(repo.name, ArtifactRegistryPermissions.PULL)
    assert creds.password == PASSWORD


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (
            {"username": "ci"},
            "username and password go together: give both, or neither (anonymous)",
        ),
        ({"password": "x"}, "username and password go together: give both, or neither (anonymous)"),
        (
            {"username": "ci", "password": {"secretRef": {"name": "s", "key": "k"}}},
            "Failed to extract password from binding",
        ),
    ],
)
def test_bad_credential_fields(extra: dict[str, object], reason: str) -> None:
    clear_cache()
    binding = {"service": "local", "registryUrl": "localhost:5000", "dataDir": None, **extra}
    with pytest.raises(BindingConfigInvalid) as err:
        load_artifact_registry("bad", {"ALIEN_BAD_BINDING": json.dumps(binding)})
    assert err.value.context["reason"] == reason
