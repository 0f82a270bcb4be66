"""Where ECR replicates a repository: the replica destinations of a registry's replication
configuration (``DescribeRegistry``) that apply to one repository. Pure, no I/O.

The ECR guide's ``replication.md``: a registry has up to 10 rules; a rule applies to a repository
when it has no repository filters or when any ``PREFIX_MATCH`` filter is a prefix of the
repository's name; each destination is a (region, registry ID) pair. Replica repositories appear
only after an image is pushed under a rule, and repository policies are not replicated — which
is why artreg writes its part of the policy to every replica itself.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Destinations", "PendingReplicas", "replica_destinations"]


@dataclass(frozen=True)
class Destinations:
    """The replicas of one repository: ``regions`` in the registry's own account (artreg keeps
    their policies) and ``other_accounts`` as (region, registry ID) pairs (artreg cannot)."""

    regions: tuple[str, ...] = ()
    other_accounts: tuple[tuple[str, str], ...] = ()


def _applies(rule: Mapping[str, Any], repository: str) -> bool:
    filters = rule.get("repositoryFilters") or []
    if not filters:
        return True
    return any(
        f.get("filterType", "PREFIX_MATCH") == "PREFIX_MATCH"
        and repository.startswith(str(f.get("filter", "")))
        for f in filters
        if isinstance(f, Mapping)
    )


def replica_destinations(
    answer: Mapping[str, Any], repository: str, own_region: str
) -> Destinations:
    """The destinations of ``DescribeRegistry``'s answer that replicate ``repository`` out of
    ``own_region``, each once, in the order the rules list them."""
    registry_id = str(answer.get("registryId") or "")
    rules = (answer.get("replicationConfiguration") or {}).get("rules") or []
    regions: list[str] = []
    other: list[tuple[str, str]] = []
    for rule in rules:
        if not isinstance(rule, Mapping) or not _applies(rule, repository):
            continue
        for destination in rule.get("destinations") or []:
            region = str(destination.get("region") or "")
            target = str(destination.get("registryId") or registry_id)
            if not region:
                continue
            if target != registry_id:
                if (region, target) not in other:
                    other.append((region, target))
            elif region != own_region and region not in regions:
                regions.append(region)
    return Destinations(tuple(regions), tuple(other))


class PendingReplicas:
    """Replica regions whose policy still waits for a change made earlier, per repository
    (thread-safe; kept in memory — every later change writes all replicas anyway)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._regions: dict[str, set[str]] = {}

    def regions(self, repository: str) -> list[str]:
        with self._lock:
            return sorted(self._regions.get(repository, ()))

    def add(self, repository: str, region: str) -> None:
        with self._lock:
            self._regions.setdefault(repository, set()).add(region)

    def discard(self, repository: str, region: str) -> None:
        with self._lock:
            waiting = self._regions.get(repository)
            if waiting is not None:
                waiting.discard(region)
                if not waiting:
                    del self._regions[repository]
