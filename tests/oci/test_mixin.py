"""RegistryDataMixin with a provider's own short-lived credentials against a token-protected
registry: basic credentials drive the bearer-token flow; they are cached per repository and
refreshed after a 401; bearer credentials are sent as they are."""

from __future__ import annotations

from pathlib import Path

import pytest

from artreg.errors import Other, RemoteResourceNotFound
from artreg.oci import Basic, RegistryClient
from artreg.providers.local import LocalArtifactRegistry
from artreg.types import (
    ArtifactRegistryCredentials,
    ArtifactRegistryPermissions,
    RegistryAuthMethod,
    format_timestamp,
    utc_now,
)
from tests.fakes.token_server import User, token_protected_registry
from tests.oci.helpers import make_image


class RotatingProvider(LocalArtifactRegistry):
    """A provider whose credentials are a username/password pair that the test can rotate."""

    def __init__(self, endpoint: str, password: str) -> None:
        super().__init__("artifacts", endpoint)
        self.password = password
        self.calls: list[tuple[str, ArtifactRegistryPermissions, int | None]] = []

    async def generate_credentials(
        self, repo_id: str, permissions: ArtifactRegistryPermissions, ttl_seconds: int | None = None
    ) -> ArtifactRegistryCredentials:
        self.calls.append((repo_id, permissions, ttl_seconds))
        return ArtifactRegistryCredentials(
            auth_method=RegistryAuthMethod.BASIC,
            username="AWS",
            password=self.password,
            expires_at=format_timestamp(utc_now().timestamp() + 43200),
        )


async def test_mixin_with_token_registry(tmp_path: Path) -> None:
    user = User("first-password")
    with token_protected_registry(tmp_path, {"AWS": user}) as (registry, tokens):
        image = make_image(b"mixin layer")
        async with RegistryClient(registry.host, credentials=Basic("AWS", "first-password")) as c:
            for digest, data in image.blobs().items():
                await c.upload_blob("team/app", digest, data)
            await c.put_manifest("team/app", "v1", image.manifest, image.media_type)

        provider = RotatingProvider(f"http://{registry.host}", "first-password")
        assert await provider.get_manifest("team/app", "v1") == (image.manifest, image.media_type)
        head = await provider.head_manifest("team/app", "v1")
        assert head is not None and head.digest == image.digest
        assert await provider.head_blob("team/app", image.digest) is None
        with pytest.raises(RemoteResourceNotFound):
            await provider.get_manifest("team/app", "v2")
        # One credential request per repository, for pull, with a one-hour TTL.
        assert provider.calls == [("team/app", ArtifactRegistryPermissions.PULL, 3600)]

        # The registry's password rotates; cached tokens are dropped (a restarted token server
        # would do the same). The 401 makes the mixin ask the provider again.
        user.password = "second-password"
        provider.password = "second-password"
        provider.registry_data_client().transport.forget_tokens()
        assert (await provider.get_manifest("team/app", "v1"))[0] == image.manifest
        assert len(provider.calls) == 2

        # Refused for good: an Other naming the status.
        user.password = "third"
        provider.registry_data_client().transport.forget_tokens()
        with pytest.raises(Other, match="Upstream registry returned 401 for manifest team/app:v1"):
            await provider.get_manifest("team/app", "v1")
        await provider.aclose()
        assert any(r.account == "AWS" and r.status == 200 for r in tokens.requests)
