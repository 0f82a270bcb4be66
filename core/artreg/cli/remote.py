"""Clients for registry-level commands (``manifest``, ``blob``, ``tags``, ``push``, ``pull``,
``copy``), whose references name a registry host directly: ``host[:port]/repo[:tag][@digest]``.

Credentials for a host come from, in order:

1. the binding whose ``registry_endpoint()`` has that host — ``--binding NAME`` (or
   ``ARTREG_BINDING``) first, then every other ``ALIEN_{NAME}_BINDING`` in the environment — through
   its ``generate_credentials`` for the repository being accessed (pull, or push-pull for writes),
   refreshed at half their lifetime and on a 401;
2. Docker's ``config.json`` (``auths``, ``credHelpers``, ``credsStore``), when the OCI keychain
   is available;
3. anonymous.

Plain HTTP is used for loopback hosts, for a binding whose endpoint says ``http://``, and with
``--insecure``.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from artreg.binding import bindings_from_env
from artreg.credhelper import normalize_host
from artreg.errors import ArtregError
from artreg.loader import load_artifact_registry
from artreg.oci import RegistryClient
from artreg.oci.auth import Auth, CredentialsProvider
from artreg.registry import ArtifactRegistry
from artreg.types import ArtifactRegistryCredentials, ArtifactRegistryPermissions

__all__ = ["HostCredentials", "open_client", "resolve_credentials"]


@dataclass
class HostCredentials:
    """Where a host's credentials come from; ``source`` is shown in diagnostics."""

    source: str
    credentials: Auth | CredentialsProvider | None
    base_url: str | None = None
    registry: ArtifactRegistry | None = None


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

        creds = await registry.generate_credentials(repository, permissions)
        register_secret(creds.password)
        return creds

    return provide


def _docker_keychain(host: str) -> Auth | None:
    """Credentials for ``host`` from Docker's configuration, when the keychain module exists."""
    try:
        keychain: Any = importlib.import_module("artreg.oci.keychain")
    except ImportError:
        return None
    resolve = getattr(keychain, "docker_config_auth", None) or getattr(
        keychain, "resolve_docker_config", None
    )
    if resolve is None:
        return None
    try:
        auth: Auth | None = resolve(host)
    except ArtregError:
        return None
    return auth


def resolve_credentials(
    host: str, binding: str | None, env: Mapping[str, str] | None = None
) -> HostCredentials:
    """Credentials for ``host`` (``host[:port]``) as the module docstring orders them.

    An explicitly named binding that fails to load is an error; other bindings that fail to
    load are skipped.
    """
    import os

    env = os.environ if env is None else env
    wanted = normalize_host(host)
    for name in _binding_names(binding, env):
        try:
            registry = load_artifact_registry(name, env)
            endpoint = registry.registry_endpoint()
        except ArtregError:
            if name == binding:
                raise
            continue
        if endpoint and normalize_host(endpoint) == wanted:
            base = endpoint if endpoint.startswith("http://") else None
            return HostCredentials(f"binding {name}", _provider(registry), base, registry)
    auth = _docker_keychain(wanted)
    if auth is not None:
        return HostCredentials("docker config", auth)
    return HostCredentials("anonymous", None)


@contextlib.asynccontextmanager
async def open_client(
    host: str, binding: str | None, *, insecure: bool = False, jobs: int = 4
) -> AsyncIterator[RegistryClient]:
    """A :class:`RegistryClient` for ``host`` with the credentials resolved for it."""
    found = resolve_credentials(host, binding)
    client = RegistryClient(
        found.base_url or host,
        credentials=found.credentials,
        insecure=insecure,
        max_connections=max(8, jobs * 2),
    )
    try:
        yield client
    finally:
        await client.aclose()
        if found.registry is not None:
            with contextlib.suppress(Exception):
                await found.registry.aclose()
