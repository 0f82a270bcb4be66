"""Clients for registry-level commands (``manifest``, ``blob``, ``tags``, ``push``, ``pull``,
``copy``), whose references name a registry host directly: ``host[:port]/repo[:tag][@digest]``.

Credentials for a host come from, in order:

1. the binding whose ``registry_endpoint()`` has that host — ``--binding NAME`` (or
   ``ARTREG_BINDING``) first, then every other ``ALIEN_{NAME}_BINDING`` in the environment — through
   its ``generate_credentials`` for the repository being accessed (pull, or push-pull for writes),
   refreshed at half their lifetime and on a 401;
2. Docker's ``config.json`` (``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``:
   ``credHelpers``, ``auths``, ``credsStore``), through :class:`artreg.oci.keychain.Keychain`;
3. anonymous.

A host served by a binding is reached at the binding's registry data endpoint (the same as its
``registry_endpoint()`` unless the provider's configuration overrides it, e.g.
``ARTREG_ACR_LOGIN_SERVER``), with that endpoint's scheme. Plain HTTP is used for loopback
hosts, for such ``http://`` endpoints, and with ``--insecure`` (which also skips TLS checks).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field

from artreg.hosts import bindings_for_hosts
from artreg.oci import RegistryClient
from artreg.oci.auth import CredentialsProvider
from artreg.oci.image import ImageRegistry
from artreg.oci.keychain import Keychain
from artreg.registry import ArtifactRegistry
from artreg.types import ArtifactRegistryCredentials, ArtifactRegistryPermissions

__all__ = [
    "Credentials",
    "open_client",
    "open_images",
    "resolve_credentials",
]


@dataclass
class Credentials:
    """The keychain for a set of hosts, the base URL of each host a binding serves, the binding
    each host's credentials come from, and the registries to close afterwards."""

    keychain: Keychain
    routes: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    registries: list[ArtifactRegistry] = field(default_factory=list)

    async def aclose(self) -> None:
        for registry in self.registries:
            with contextlib.suppress(Exception):
                await registry.aclose()


def _provider(registry: ArtifactRegistry) -> CredentialsProvider:
    async def provide(
        repository: str, permissions: ArtifactRegistryPermissions
    ) -> ArtifactRegistryCredentials:
        from artreg.cli.errors import register_secret

        creds = await registry.generate_credentials(repository, permissions, 3600)
        register_secret(creds.password)
        return creds

    return provide


def resolve_credentials(
    hosts: Iterable[str], binding: str | None, env: Mapping[str, str] | None = None
) -> Credentials:
    """A keychain for ``hosts`` (``host[:port]``): each host the registry endpoint of a binding
    gets that binding's credentials; the others fall back to Docker's config, then anonymous.

    An explicitly named binding that fails to load is an error; other bindings that fail to
    load are skipped.
    """
    env = os.environ if env is None else env
    result = Credentials(Keychain(docker_config=True, env=env))
    hosts = list(hosts)
    found = bindings_for_hosts(hosts, env, preferred=binding, strict=True)
    for host in hosts:
        match = found.get(host)
        if match is None:
            continue
        result.keychain.add(host, _provider(match.registry))
        result.sources[host] = f"binding {match.name}"
        if match.registry not in result.registries:
            result.registries.append(match.registry)
        result.routes[host] = match.data_endpoint
    return result


@contextlib.asynccontextmanager
async def open_client(
    host: str, binding: str | None, *, insecure: bool = False
) -> AsyncIterator[RegistryClient]:
    """A :class:`RegistryClient` for ``host`` with the credentials resolved for it."""
    creds = resolve_credentials([host], binding)
    try:
        client = RegistryClient(
            creds.routes.get(host, host),
            credentials=await creds.keychain.resolve(host),
            insecure=insecure,
        )
        async with client:
            yield client
    finally:
        await creds.aclose()


@contextlib.asynccontextmanager
async def open_images(
    hosts: Iterable[str], binding: str | None, *, insecure: bool = False, jobs: int = 4
) -> AsyncIterator[ImageRegistry]:
    """An :class:`ImageRegistry` reading and writing images on ``hosts``."""
    creds = resolve_credentials(hosts, binding)
    images = ImageRegistry(
        creds.keychain,
        insecure=insecure,
        max_connections=max(8, 2 * jobs),
        routes=creds.routes,
    )
    try:
        async with images:
            yield images
    finally:
        await creds.aclose()
