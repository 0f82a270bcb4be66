"""Upstream credentials: minted through the binding that owns a repository, cached, injected.

``generate_credentials(repo, pull|push-pull, 3600)`` per (endpoint, repository, permission) —
never shared between repositories, since ACR and ECR scope them to one. An entry is kept until
80 % of its remaining lifetime has passed (300 s when the binding gives no expiry), and one
mint runs per key at a time: concurrent requests for the same key wait for it.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

from artreg.errors import ArtregError
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
        self._inflight: dict[Key, asyncio.Future[str | None]] = {}

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
        task = self._inflight.get(key)
        if task is None:
            # A task of its own, so a requester that goes away does not cancel the others' mint.
            task = asyncio.ensure_future(self._mint(registry, key))
            self._inflight[key] = task
            task.add_done_callback(lambda t: self._settled(key, t))
        return await asyncio.shield(task)

    def _settled(self, key: Key, task: asyncio.Future[str | None]) -> None:
        self._inflight.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved here: every waiter may have gone away

    async def _mint(self, registry: ArtifactRegistry, key: Key) -> str | None:
        _, repository, permission = key
        try:
            creds = await registry.generate_credentials(repository, permission, REQUESTED_TTL)
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
        until = self._keep_until(creds)
        if until > self._clock():
            self._entries[key] = (value, until)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
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
