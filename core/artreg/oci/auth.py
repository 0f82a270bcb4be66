"""Registry authentication: static credentials, ``WWW-Authenticate`` challenges, bearer tokens
cached per registry and scope, and credentials from a provider refreshed at half their lifetime.

Secrets never appear in a ``repr``, a log line or an error message.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final, TypeAlias

from artreg.types import (
    ArtifactRegistryCredentials,
    ArtifactRegistryPermissions,
    RegistryAuthMethod,
    parse_timestamp,
)

__all__ = [
    "Anonymous",
    "Auth",
    "Basic",
    "BearerToken",
    "Challenge",
    "CredentialCache",
    "CredentialsProvider",
    "IdentityToken",
    "TokenCache",
    "auth_from_credentials",
    "parse_challenges",
    "scope_for",
]


@dataclass(frozen=True)
class Anonymous:
    """No credentials."""


@dataclass(frozen=True)
class Basic:
    """Username and password (or token as password); the password never shows in a repr."""

    username: str
    password: str = field(repr=False)

    def header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def __repr__(self) -> str:
        return f"Basic(username={self.username!r}, password='***')"


@dataclass(frozen=True)
class BearerToken:
    """A registry access token sent as ``Authorization: Bearer``; never shown in a repr."""

    token: str = field(repr=False)

    def header(self) -> str:
        return f"Bearer {self.token}"

    def __repr__(self) -> str:
        return "BearerToken('***')"


@dataclass(frozen=True)
class IdentityToken:
    """A Docker identity token (a credential helper's ``<token>`` answer, ``identitytoken`` in
    ``config.json``): an OAuth refresh token spent at the registry's token endpoint
    (``grant_type=refresh_token``) for an access token per scope; never shown in a repr."""

    token: str = field(repr=False)

    def __repr__(self) -> str:
        return "IdentityToken('***')"


Auth: TypeAlias = Anonymous | Basic | BearerToken | IdentityToken

#: ``async (repository, permissions) -> credentials``: e.g. a provider's ``generate_credentials``.
CredentialsProvider: TypeAlias = Callable[
    [str, ArtifactRegistryPermissions], Awaitable[ArtifactRegistryCredentials]
]


def auth_from_credentials(creds: ArtifactRegistryCredentials) -> Auth:
    """``bearer`` → a bearer token; ``basic`` → Basic, or anonymous when both fields are empty."""
    if creds.auth_method == RegistryAuthMethod.BEARER:
        return BearerToken(creds.password)
    if not creds.username and not creds.password:
        return Anonymous()
    return Basic(creds.username, creds.password)


def scope_for(repository: str, push: bool = False) -> str:
    """The token scope for a repository: ``repository:NAME:pull`` or ``…:pull,push``."""
    return f"repository:{repository}:{'pull,push' if push else 'pull'}"


# -- challenges ------------------------------------------------------------------------------------

_PARAM_RE: Final = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')


@dataclass(frozen=True)
class Challenge:
    """One ``WWW-Authenticate`` challenge: its scheme (lowercased) and parameters."""

    scheme: str
    params: dict[str, str]

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")


def parse_challenges(header: str) -> list[Challenge]:
    """Parse ``Bearer realm="…",service="…",scope="…"`` (and Basic) challenges."""
    result: list[Challenge] = []
    text = header.strip()
    while text:
        m = re.match(r"([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)\s*", text)
        if not m:
            break
        scheme = m.group(1).lower()
        text = text[m.end() :]
        params: dict[str, str] = {}
        while True:
            pm = _PARAM_RE.match(text)
            if not pm:
                break
            value = pm.group(2) if pm.group(2) is not None else (pm.group(3) or "")
            params[pm.group(1).lower()] = re.sub(r"\\(.)", r"\1", value)
            text = text[pm.end() :]
        result.append(Challenge(scheme, params))
        text = text.lstrip(", ")
    return result


# -- caches ----------------------------------------------------------------------------------------


class TokenCache:
    """Bearer tokens by (registry, scope), kept until shortly before they expire."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}

    def get(self, registry: str, scope: str) -> str | None:
        entry = self._tokens.get((registry, scope))
        if entry is None:
            return None
        token, expires = entry
        if self._clock() >= expires:
            del self._tokens[(registry, scope)]
            return None
        return token

    def put(self, registry: str, scope: str, token: str, expires_in: float) -> None:
        # Refresh a little early so a token never expires in flight.
        margin = min(30.0, expires_in / 5)
        self._tokens[(registry, scope)] = (token, self._clock() + max(1.0, expires_in - margin))

    def invalidate(self, registry: str, scope: str) -> None:
        self._tokens.pop((registry, scope), None)

    def __repr__(self) -> str:
        return f"TokenCache({len(self._tokens)} tokens)"


class CredentialCache:
    """Credentials from a :data:`CredentialsProvider`, per (repository, permissions), reused
    until half their lifetime has passed (forever when they carry no expiry) or until a 401."""

    def __init__(
        self, provider: CredentialsProvider, clock: Callable[[], float] = time.time
    ) -> None:
        self._provider = provider
        self._clock = clock
        self._entries: dict[tuple[str, ArtifactRegistryPermissions], tuple[Auth, float]] = {}
        self._locks: dict[tuple[str, ArtifactRegistryPermissions], asyncio.Lock] = {}

    async def get(self, repository: str, permissions: ArtifactRegistryPermissions) -> Auth:
        key = (repository, permissions)
        entry = self._entries.get(key)
        if entry is not None and self._clock() < entry[1]:
            return entry[0]
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            entry = self._entries.get(key)
            if entry is not None and self._clock() < entry[1]:
                return entry[0]
            now = self._clock()
            creds = await self._provider(repository, permissions)
            refresh_at = float("inf")
            if creds.expires_at:
                try:
                    expires = parse_timestamp(creds.expires_at).timestamp()
                except ValueError:
                    expires = now
                refresh_at = now + max(0.0, expires - now) / 2
            auth = auth_from_credentials(creds)
            self._entries[key] = (auth, refresh_at)
            return auth

    def invalidate(self, repository: str, permissions: ArtifactRegistryPermissions) -> None:
        self._entries.pop((repository, permissions), None)

    def __repr__(self) -> str:
        return f"CredentialCache({len(self._entries)} entries)"
