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

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field

from artreg.binding import bindings_from_env
from artreg.credhelper import normalize_host
from artreg.errors import ArtregError
from artreg.loader import load_artifact_registry
from artreg.oci import RegistryClient
from artreg.oci.auth import CredentialsProvider
from artreg.oci.image import ImageRegistry
from artreg.oci.keychain import Keychain
from artreg.registry import ArtifactRegistry
from artreg.types import ArtifactRegistryCredentials, ArtifactRegistryPermissions

__all__ = [
    "Credentials",
    "RoutedImageRegistry",
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


def _binding_names(preferred: str | None, env: Mapping[str, str]) -> list[str]:
    names = sorted(bindings_from_env(env))
    if preferred:
        if preferred in names:
            names.remove(preferred)
        names.insert(0, preferred)
    return names


def _provider(registry: ArtifactRegistry) -> CredentialsProvider:
    async def provide(
        repository: str, permissions: ArtifactRegistryPermissions
    ) -> ArtifactRegistryCredentials:
        from artreg.cli.errors import register_secret

        creds = await registry.generate_credentials(repository, permissions, 3600)
        register_secret(creds.password)
        return creds

    return provide


def _data_endpoint(registry: ArtifactRegistry, endpoint: str) -> str:
    """Where the provider itself reaches the registry API (an override, else the endpoint)."""
    method = getattr(registry, "registry_data_endpoint", None)
    if callable(method):
        with contextlib.suppress(Exception):
            value = method()
            if isinstance(value, str) and value:
                return value
    return endpoint


class RoutedImageRegistry(ImageRegistry):
    """An :class:`ImageRegistry` that reaches some hosts at another base URL (a binding's data
    endpoint), keeping the host's name for credentials."""

    def __init__(
        self,
        keychain: Keychain,
        routes: Mapping[str, str],
        *,
        insecure: bool = False,
        max_connections: int = 32,
    ) -> None:
        super().__init__(keychain, insecure=insecure, max_connections=max_connections)
        self._routes = dict(routes)
        self._routed: dict[str, RegistryClient] = {}
        self._route_lock = asyncio.Lock()
        self._route_insecure = insecure
        self._route_connections = max_connections

    async def client(self, host: str) -> RegistryClient:
        base = self._routes.get(host)
        if base is None:
            return await super().client(host)
        async with self._route_lock:
            client = self._routed.get(host)
            if client is None:
                client = RegistryClient(
                    base,
                    credentials=await self.keychain.resolve(host),
                    insecure=self._route_insecure,
                    max_connections=self._route_connections,
                )
                self._routed[host] = client
            return client

    async def aclose(self) -> None:
        routed, self._routed = list(self._routed.values()), {}
        for client in routed:
            await client.aclose()
        await super().aclose()


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
    wanted = {normalize_host(h): h for h in hosts}
    loaded: list[tuple[str, ArtifactRegistry, str]] = []
    for name in _binding_names(binding, env):
        try:
            registry = load_artifact_registry(name, env)
            endpoint = registry.registry_endpoint()
        except ArtregError:
            if name == binding:
                raise
            continue
        if endpoint:
            loaded.append((name, registry, endpoint))
    for key, host in wanted.items():
        for name, registry, endpoint in loaded:
            if normalize_host(endpoint) == key:
                result.keychain.add(host, _provider(registry))
                result.sources[host] = f"binding {name}"
                result.registries.append(registry)
                result.routes[host] = _data_endpoint(registry, endpoint)
                break
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
    images = RoutedImageRegistry(
        creds.keychain,
        creds.routes,
        insecure=insecure,
        max_connections=max(8, 2 * jobs),
    )
    try:
        async with images:
            yield images
    finally:
        await creds.aclose()
