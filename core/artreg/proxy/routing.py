"""Which binding owns a repository: a table of repository prefixes, longest first.

Each binding contributes its ``upstream_repository_prefix()``. A ``local`` binding also owns
``{binding}``: its prefix is alien's constant ``artifacts/default``, yet its ``create_repository``
answers ``{binding}/{name}``, and both must reach the same registry. A prefix owns a repository
named exactly like it or continuing after a separator (``/``, ``-``, ``_`` or ``.``), so the prefix
``team`` owns ``team-app`` and ``team/app`` but not ``teammate``; the empty prefix owns everything.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final

from artreg.registry import ArtifactRegistry

__all__ = ["Route", "RoutingError", "RoutingTable", "parse_path"]

log = logging.getLogger("artreg.proxy")

_SEPARATORS: Final = "/-_."
#: Paths under ``/v2/`` as the distribution spec lays them out: the repository, then what of it.
_PATHS: Final = [
    ("manifests", re.compile(r"^(?P<repo>.+)/manifests/(?P<rest>[^/]+)\Z")),
    ("uploads", re.compile(r"^(?P<repo>.+)/blobs/uploads(?:/(?P<rest>[^/]*))?\Z")),
    ("blobs", re.compile(r"^(?P<repo>.+)/blobs/(?P<rest>[^/]+)\Z")),
    ("tags", re.compile(r"^(?P<repo>.+)/tags/(?P<rest>list)\Z")),
    ("referrers", re.compile(r"^(?P<repo>.+)/referrers/(?P<rest>[^/]+)\Z")),
]


class RoutingError(ValueError):
    """Bindings that cannot share one proxy (two of them claim the same prefix)."""


@dataclass(frozen=True, slots=True)
class Route:
    """A prefix, the binding that owns it and the registry it was loaded into."""

    prefix: str
    binding: str
    registry: ArtifactRegistry
    #: The upstream base URL (``registry_endpoint()``, read once: ECR may ask STS for it).
    endpoint: str
    #: True for a ``local`` binding's ``artifacts/default``: it may be shared, and is then dropped.
    alias: bool = False

    def owns(self, repository: str) -> bool:
        prefix = self.prefix
        if not prefix or repository == prefix:
            return True
        if not repository.startswith(prefix):
            return False
        return prefix[-1] in _SEPARATORS or repository[len(prefix)] in _SEPARATORS


class RoutingTable:
    """Routes in resolution order (longest prefix first)."""

    def __init__(self, routes: Iterable[Route]) -> None:
        kept: dict[str, Route] = {}
        shared_aliases: set[str] = set()
        for route in routes:
            other = kept.get(route.prefix)
            if other is None:
                if route.prefix not in shared_aliases:
                    kept[route.prefix] = route
                continue
            if route.alias and other.alias:
                log.warning(
                    "bindings %r and %r both have the prefix %r; it is routed to neither "
                    "(their repositories stay reachable under %r and %r)",
                    other.binding,
                    route.binding,
                    route.prefix,
                    other.binding,
                    route.binding,
                )
                shared_aliases.add(route.prefix)
                del kept[route.prefix]
                continue
            raise RoutingError(
                f"bindings {other.binding!r} and {route.binding!r} both claim the repository "
                f"prefix {route.prefix!r}; serve them from separate proxies"
            )
        self.routes: tuple[Route, ...] = tuple(
            sorted(kept.values(), key=lambda r: len(r.prefix), reverse=True)
        )

    @classmethod
    def build(
        cls, registries: Iterable[tuple[str, ArtifactRegistry]], local: Iterable[str] = ()
    ) -> RoutingTable:
        """The table for ``(binding name, registry)`` pairs; ``local`` names the bindings of
        service ``local``, which also own ``{binding}``."""
        local_names = set(local)
        routes: list[Route] = []
        for name, registry in registries:
            prefix = registry.upstream_repository_prefix()
            endpoint = registry.registry_endpoint().rstrip("/")
            if name in local_names:
                routes.append(Route(name, name, registry, endpoint))
                routes.append(Route(prefix, name, registry, endpoint, alias=True))
            else:
                routes.append(Route(prefix, name, registry, endpoint))
        return cls(routes)

    def resolve(self, repository: str) -> Route | None:
        """The route owning ``repository``, or None."""
        for route in self.routes:
            if route.owns(repository):
                return route
        return None

    def __iter__(self) -> Iterator[Route]:
        return iter(self.routes)

    def __len__(self) -> int:
        return len(self.routes)


def parse_path(path: str) -> tuple[str, str, str] | None:
    """``repo/manifests/ref`` → ``("repo", "manifests", "ref")``; kinds are ``manifests``,
    ``uploads`` (rest: the session id, ``""`` to start one), ``blobs``, ``tags`` and
    ``referrers``. None when ``path`` (the part after ``/v2/``) is not a repository operation.
    Multi-segment names (GAR's) work."""
    for kind, pattern in _PATHS:
        match = pattern.match(path)
        if match is not None:
            return match["repo"], kind, match["rest"] or ""
    return None
