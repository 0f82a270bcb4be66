"""Credentials per registry host: explicit entries (static credentials or an artreg binding's
``generate_credentials``) first, then Docker's ``config.json`` (``auths``, ``credHelpers``,
``credsStore`` through ``docker-credential-<name> get``), then anonymous."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Final

from artreg.errors import InvalidInput
from artreg.hosts import normalize_host
from artreg.oci.auth import (
    Anonymous,
    Auth,
    Basic,
    BearerToken,
    CredentialsProvider,
    IdentityToken,
)
from artreg.types import ArtifactRegistryCredentials, ArtifactRegistryPermissions

if TYPE_CHECKING:
    from artreg.registry import ArtifactRegistry

__all__ = ["Keychain", "docker_config_path", "normalize_host"]

log = logging.getLogger("artreg.oci")

_HELPER_TIMEOUT: Final = 30.0


def docker_config_path(env: Mapping[str, str] | None = None) -> Path:
    """``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``."""
    env = os.environ if env is None else env
    base = env.get("DOCKER_CONFIG")
    if base:
        return Path(base) / "config.json"
    home = env.get("HOME")
    return (Path(home) if home else Path.home()) / ".docker" / "config.json"


def _binding_provider(registry: ArtifactRegistry, ttl_seconds: int) -> CredentialsProvider:
    async def provide(
        repository: str, permissions: ArtifactRegistryPermissions
    ) -> ArtifactRegistryCredentials:
        return await registry.generate_credentials(repository, permissions, ttl_seconds)

    return provide


class Keychain:
    """Resolves the credentials to use for a registry host.

    ``entries`` maps hosts to static :data:`Auth` or to a credentials provider. ``docker_config``
    is the path of Docker's ``config.json`` (default: found from the environment; ``None``: do
    not consult Docker's configuration).
    """

    def __init__(
        self,
        entries: Mapping[str, Auth | CredentialsProvider] | None = None,
        *,
        docker_config: Path | str | bool | None = True,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._entries: dict[str, Auth | CredentialsProvider] = {}
        for host, value in (entries or {}).items():
            self.add(host, value)
        self._env = dict(os.environ if env is None else env)
        if docker_config is True:
            self._docker_config: Path | None = docker_config_path(self._env)
        elif docker_config in (None, False):
            self._docker_config = None
        else:
            self._docker_config = Path(str(docker_config))
        self._helper_cache: dict[str, Auth] = {}

    def __repr__(self) -> str:
        return f"Keychain(hosts={sorted(self._entries)!r})"

    def add(self, host: str, credentials: Auth | CredentialsProvider) -> None:
        """Use ``credentials`` for ``host`` (explicit entries win over Docker's configuration)."""
        if not host:
            raise InvalidInput(
                operation_context="Add keychain entry",
                details="host must not be empty",
                field_name="host",
            )
        self._entries[normalize_host(host)] = credentials

    def add_basic(self, host: str, username: str, password: str) -> None:
        self.add(host, Basic(username, password))

    def add_binding(
        self, registry: ArtifactRegistry, *, host: str | None = None, ttl_seconds: int = 3600
    ) -> str:
        """Use an artreg binding's ``generate_credentials`` for its registry host (or ``host``).
        Returns the host the entry was added for."""
        target = host or registry.registry_endpoint()
        if not target:
            raise InvalidInput(
                operation_context="Add keychain entry",
                details="the binding has no registry endpoint; pass host=",
                field_name="host",
            )
        normalized = normalize_host(target)
        self._entries[normalized] = _binding_provider(registry, ttl_seconds)
        return normalized

    async def resolve(self, host: str) -> Auth | CredentialsProvider:
        """The credentials for ``host``: explicit, then Docker's configuration (``credHelpers``,
        ``auths``, ``credsStore``, in Docker's order), then anonymous."""
        key = normalize_host(host)
        if key in self._entries:
            return self._entries[key]
        config = self._read_docker_config()
        if config is None:
            return Anonymous()
        auths = config.get("auths")
        auths = auths if isinstance(auths, dict) else {}
        found = (
            await self._from_helpers(config.get("credHelpers"), key)
            or _from_auths(auths, key)
            or await self._from_store(config.get("credsStore"), auths, key, host)
        )
        return found or Anonymous()

    async def _from_helpers(self, helpers: object, key: str) -> Auth | None:
        if not isinstance(helpers, dict):
            return None
        for server, helper in helpers.items():
            if normalize_host(str(server)) == key and isinstance(helper, str) and helper:
                found = await self._run_helper(helper, server)
                if found is not None:
                    return found
        return None

    async def _from_store(
        self, store: object, auths: dict[str, object], key: str, host: str
    ) -> Auth | None:
        if not isinstance(store, str) or not store:
            return None
        # Docker stores Docker Hub credentials under its v1 index URL.
        servers = [str(s) for s in auths if normalize_host(str(s)) == key] or [
            "https://index.docker.io/v1/" if key == "index.docker.io" else host
        ]
        for server in servers:
            found = await self._run_helper(store, server)
            if found is not None:
                return found
        return None

    def _read_docker_config(self) -> dict[str, object] | None:
        path = self._docker_config
        if path is None or not path.is_file():
            return None
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable Docker config %s: %s", path, type(exc).__name__)
            return None
        return data if isinstance(data, dict) else None

    async def _run_helper(self, helper: str, server: str) -> Auth | None:
        cache_key = f"{helper}\0{server}"
        if cache_key in self._helper_cache:
            return self._helper_cache[cache_key]
        program = shutil.which(f"docker-credential-{helper}", path=self._env.get("PATH"))
        if program is None:
            log.warning("credential helper docker-credential-%s not found", helper)
            return None
        proc = await asyncio.create_subprocess_exec(
            program,
            "get",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._env,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(server.encode()), _HELPER_TIMEOUT)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            log.warning("credential helper docker-credential-%s timed out", helper)
            return None
        if proc.returncode != 0:
            # "credentials not found in native keychain" and the like: no entry for this host.
            return None
        try:
            data = json.loads(out)
        except ValueError:
            log.warning("credential helper docker-credential-%s printed no JSON", helper)
            return None
        if not isinstance(data, dict):
            return None
        username = str(data.get("Username") or "")
        secret = str(data.get("Secret") or "")
        auth: Auth
        if username == "<token>":
            # Docker's identity token: a refresh token for the registry's token endpoint
            auth = IdentityToken(secret)
        elif username or secret:
            auth = Basic(username, secret)
        else:
            return None
        self._helper_cache[cache_key] = auth
        return auth


def _from_auths(auths: dict[str, object], key: str) -> Auth | None:
    for server, entry in auths.items():
        if normalize_host(str(server)) == key and isinstance(entry, dict):
            decoded = _decode_auth_entry(entry)
            if decoded is not None:
                return decoded
    return None


def _decode_auth_entry(entry: Mapping[str, object]) -> Auth | None:
    raw = entry.get("auth")
    if isinstance(raw, str) and raw:
        try:
            decoded = base64.b64decode(raw).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        username, sep, password = decoded.partition(":")
        if not sep:
            return None
        return Basic(username, password)
    user = entry.get("username")
    secret = entry.get("password")
    if isinstance(user, str) and isinstance(secret, str) and (user or secret):
        return Basic(user, secret)
    identity = entry.get("identitytoken")
    if isinstance(identity, str) and identity:
        return IdentityToken(identity)
    token = entry.get("registrytoken")
    if isinstance(token, str) and token:
        return BearerToken(token)
    return None
