"""Upstream credentials: minted through the binding that owns a repository, cached, injected.

``generate_credentials(repo, pull|push-pull, 3600)`` per (endpoint, repository, permission) —
never shared between repositories, since ACR and ECR scope them to one. An entry is kept until
80 % of its remaining lifetime has passed (300 s when the binding gives no expiry), and one
mint runs per key at a time: concurrent requests for the same key wait for it.

An upstream that answers the minted Basic credentials (or none) with a ``Bearer`` challenge runs
Docker's token flow, as registries with token auth do (distribution's ``auth.token``, Harbor,
Docker Hub): :meth:`CredentialCache.exchange` trades them at the challenge's realm for a bearer
token, which then stands in the cache for the key until 80 % of its ``expires_in``.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Final

import httpx

from artreg.errors import ArtregError
from artreg.oci.auth import Challenge, parse_challenges
from artreg.registry import ArtifactRegistry
from artreg.types import (
    ArtifactRegistryCredentials,
    ArtifactRegistryPermissions,
    RegistryAuthMethod,
    parse_timestamp,
)

__all__ = ["CredentialCache", "MintFailed", "authorization_header"]

log = logging.getLogger("artreg.proxy")

#: What the proxy asks for (alien's manager asks for the same).
REQUESTED_TTL: Final = 3600
#: Kept this long when the binding says nothing about expiry.
NO_EXPIRY_TTL: Final = 300.0
#: Share of the remaining lifetime an entry is used for.
LIFETIME_SHARE: Final = 0.8
MAX_ENTRIES: Final = 4096
#: Seconds a binding gets to mint (every request for the key waits on it meanwhile).
MINT_TIMEOUT: Final = 60.0

#: A token endpoint's answer without ``expires_in`` is valid this long (the token spec's default).
DEFAULT_TOKEN_TTL: Final = 60

Key = tuple[str, str, ArtifactRegistryPermissions]


class MintFailed(Exception):
    """The binding could not mint credentials; ``code`` is the artreg error code."""

    def __init__(self, binding: str, code: str) -> None:
        self.binding = binding
        self.code = code
        super().__init__(f"could not mint upstream credentials through binding {binding!r}")


def authorization_header(creds: ArtifactRegistryCredentials) -> str | None:
    """``Authorization`` for the upstream: Bearer, Basic when username or password is set,
    else None (an anonymous registry)."""
    if creds.auth_method == RegistryAuthMethod.BEARER:
        return f"Bearer {creds.password}"
    if not creds.username and not creds.password:
        return None
    raw = f"{creds.username}:{creds.password}".encode()
    return "Basic " + base64.b64encode(raw).decode()


class CredentialCache:
    """Upstream ``Authorization`` values by (endpoint, repository, permission)."""

    def __init__(
        self, *, clock: Callable[[], float] = time.time, max_entries: int = MAX_ENTRIES
    ) -> None:
        self._clock = clock
        self._max = max_entries
        self._entries: OrderedDict[Key, tuple[str | None, float]] = OrderedDict()
        self._inflight: dict[tuple[str, Key], asyncio.Future[str | None]] = {}

    def __repr__(self) -> str:
        return f"CredentialCache(entries={len(self._entries)})"

    async def authorization(
        self,
        registry: ArtifactRegistry,
        endpoint: str,
        repository: str,
        permission: ArtifactRegistryPermissions,
        *,
        fresh: bool = False,
    ) -> str | None:
        """The ``Authorization`` header value for the upstream request (None: anonymous).
        ``fresh`` forgets the cached entry first (the upstream refused it). Raises
        :class:`MintFailed`."""
        key: Key = (endpoint, repository, permission)
        if fresh:
            self._entries.pop(key, None)
        else:
            entry = self._entries.get(key)
            if entry is not None and entry[1] > self._clock():
                self._entries.move_to_end(key)
                return entry[0]
        return await self._once(("mint", key), lambda: self._mint(registry, key))

    async def exchange(
        self,
        client: httpx.AsyncClient,
        key: Key,
        challenge: str,
        sent: str | None,
        binding: str,
    ) -> str | None:
        """``Bearer TOKEN`` from the token endpoint a ``WWW-Authenticate: Bearer`` challenge
        names, asked with the credentials ``sent`` upstream (Basic, or None: anonymous), and
        cached under ``key``; None when the challenge offers no usable token endpoint or it
        refuses (the upstream's 401 then stands)."""
        bearer = next((c for c in parse_challenges(challenge) if c.scheme == "bearer"), None)
        if bearer is None or (sent is not None and not sent.lower().startswith("basic ")):
            return None
        realm = httpx.URL(bearer.realm) if bearer.realm else None
        endpoint = httpx.URL(key[0])
        if realm is None or realm.scheme not in ("http", "https"):
            return None
        if endpoint.scheme == "https" and realm.scheme != "https":
            return None  # never send credentials in clear for a registry reached over TLS
        return await self._once(
            ("exchange", key), lambda: self._exchange(client, key, bearer, sent, binding)
        )

    async def _once(
        self, key: tuple[str, Key], work: Callable[[], Awaitable[str | None]]
    ) -> str | None:
        task = self._inflight.get(key)
        if task is None:
            # A task of its own, so a requester that goes away does not cancel the others' work.
            task = asyncio.ensure_future(work())
            self._inflight[key] = task
            task.add_done_callback(lambda t: self._settled(key, t))
        return await asyncio.shield(task)

    async def _exchange(
        self,
        client: httpx.AsyncClient,
        key: Key,
        challenge: Challenge,
        sent: str | None,
        binding: str,
    ) -> str | None:
        _, repository, permission = key
        actions = "pull" if permission == ArtifactRegistryPermissions.PULL else "pull,push"
        params = {"scope": challenge.params.get("scope") or f"repository:{repository}:{actions}"}
        if challenge.params.get("service"):
            params["service"] = challenge.params["service"]
        headers = {"authorization": sent} if sent else {}
        try:
            answer = await client.get(challenge.realm, params=params, headers=headers)
            doc = answer.json() if answer.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            doc = None
        token = (doc.get("token") or doc.get("access_token")) if isinstance(doc, dict) else None
        if not isinstance(token, str) or not token:
            log.warning("the token endpoint of binding %r refused its credentials", binding)
            return None
        expires_in = doc.get("expires_in") if isinstance(doc, dict) else None
        ttl = DEFAULT_TOKEN_TTL
        if isinstance(expires_in, int) and not isinstance(expires_in, bool) and expires_in > 0:
            ttl = expires_in
        value = f"Bearer {token}"
        self._store(key, value, self._clock() + ttl * LIFETIME_SHARE)
        return value

    def _store(self, key: Key, value: str | None, until: float) -> None:
        if until <= self._clock():
            return
        self._entries[key] = (value, until)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def _settled(self, key: tuple[str, Key], task: asyncio.Future[str | None]) -> None:
        self._inflight.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved here: every waiter may have gone away

    async def _mint(self, registry: ArtifactRegistry, key: Key) -> str | None:
        _, repository, permission = key
        try:
            creds = await asyncio.wait_for(
                registry.generate_credentials(repository, permission, REQUESTED_TTL),
                MINT_TIMEOUT,
            )
        except TimeoutError:
            log.warning("binding %r did not mint credentials in time", registry.binding_name)
            raise MintFailed(registry.binding_name, "TIMEOUT") from None
        except ArtregError as exc:
            log.warning(
                "binding %r could not mint %s credentials for %r: %s",
                registry.binding_name,
                permission.value,
                repository,
                exc.code,
            )
            raise MintFailed(registry.binding_name, exc.code) from None
        value = authorization_header(creds)
        self._store(key, value, self._keep_until(creds))
        return value

    def _keep_until(self, creds: ArtifactRegistryCredentials) -> float:
        now = self._clock()
        if creds.expires_at is None:
            return now + NO_EXPIRY_TTL
        try:
            expires = parse_timestamp(creds.expires_at).timestamp()
        except ValueError:
            return now
        return now + max(0.0, expires - now) * LIFETIME_SHARE
