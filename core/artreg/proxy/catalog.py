"""``GET /v2/_catalog`` through the proxy: the repositories the bindings' registries list.

Each binding's registry is asked for its catalog with pull credentials minted for the binding's
prefix; a repository is listed when it routes back to that binding and the caller may pull it.
Registries that do not list (ECR and GAR do not implement the catalog API; a registry that
refuses the credentials) contribute nothing — the proxy does not guess.
"""

from __future__ import annotations

import logging
from typing import Final
from urllib.parse import urljoin

import httpx

from artreg.types import ArtifactRegistryPermissions

from .auth import Caller
from .forward import Forwarder
from .routing import Route, RoutingTable
from .upstream import MintFailed

__all__ = ["merged_catalog"]

log = logging.getLogger("artreg.proxy")

PAGE: Final = 1000
MAX_PAGES: Final = 20


async def _list(forwarder: Forwarder, route: Route) -> list[str]:
    try:
        auth = await forwarder.credentials.authorization(
            route.registry, route.endpoint, route.prefix, ArtifactRegistryPermissions.PULL
        )
    except MintFailed:
        return []
    headers = {"accept": "application/json"}
    if auth is not None:
        headers["authorization"] = auth
    names: list[str] = []
    url: str | None = f"{route.endpoint}/v2/_catalog?n={PAGE}"
    for _ in range(MAX_PAGES):
        if url is None:
            break
        try:
            response = await forwarder.client.get(url, headers=headers)
        except httpx.HTTPError as exc:
            log.info("catalog of binding %r unavailable: %s", route.binding, type(exc).__name__)
            break
        if response.status_code != 200:
            log.info("catalog of binding %r unavailable: %d", route.binding, response.status_code)
            break
        try:
            page = response.json().get("repositories") or []
        except (ValueError, AttributeError):
            break
        names.extend(n for n in page if isinstance(n, str))
        link = response.links.get("next", {}).get("url")
        url = urljoin(route.endpoint + "/", link) if link else None
    return names


async def merged_catalog(forwarder: Forwarder, routes: RoutingTable, caller: Caller) -> list[str]:
    """Sorted repository names the caller may pull, from every binding that lists."""
    seen: set[str] = set()
    first: dict[int, Route] = {}
    for route in routes:
        first.setdefault(id(route.registry), route)
    for route in first.values():
        for name in await _list(forwarder, route):
            owner = routes.resolve(name)
            if owner is None or owner.registry is not route.registry:
                continue
            if caller.user is not None and not caller.user.may("pull", name):
                continue
            seen.add(name)
    return sorted(seen)
