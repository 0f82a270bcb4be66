"""Which replicas a registry's replication rules give one repository (the ECR guide's
replication.md: rules, PREFIX_MATCH filters, destinations per region and registry)."""

from __future__ import annotations

from typing import Any

from artreg.providers.ecr_replication import (
    Destinations,
    PendingReplicas,
    replica_destinations,
)

OWN = "123456789012"
OTHER = "210987654321"


def registry(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"registryId": OWN, "replicationConfiguration": {"rules": list(rules)}}


def to(region: str, account: str = OWN) -> dict[str, str]:
    return {"region": region, "registryId": account}


def prefixes(*names: str) -> list[dict[str, str]]:
    return [{"filter": name, "filterType": "PREFIX_MATCH"} for name in names]


def test_no_configuration_no_replicas() -> None:
    assert replica_destinations({"registryId": OWN}, "team-app", "us-east-1") == Destinations()
    assert replica_destinations(registry(), "team-app", "us-east-1") == Destinations()


def test_rules_without_filters_apply_to_every_repository_once_per_region() -> None:
    answer = registry(
        {"destinations": [to("us-west-2"), to("eu-west-1")]},
        {"destinations": [to("us-west-2"), to("ap-south-1")]},
    )
    got = replica_destinations(answer, "anything", "us-east-1")
    assert got == Destinations(("us-west-2", "eu-west-1", "ap-south-1"), ())


def test_prefix_filters_select_repositories() -> None:
    answer = registry(
        {"destinations": [to("eu-west-1")], "repositoryFilters": prefixes("team-", "shared")},
        {"destinations": [to("sa-east-1")], "repositoryFilters": prefixes("other-")},
    )
    assert replica_destinations(answer, "team-app", "us-east-1").regions == ("eu-west-1",)
    assert replica_destinations(answer, "shared-base", "us-east-1").regions == ("eu-west-1",)
    assert replica_destinations(answer, "app-team-", "us-east-1").regions == ()


def test_other_accounts_are_listed_apart_and_the_own_region_is_skipped() -> None:
    answer = registry({"destinations": [to("us-east-1"), to("eu-west-1", OTHER), to("eu-west-1")]})
    got = replica_destinations(answer, "repo", "us-east-1")
    assert got == Destinations(("eu-west-1",), (("eu-west-1", OTHER),))


def test_pending_regions() -> None:
    pending = PendingReplicas()
    pending.add("repo", "us-west-2")
    pending.add("repo", "eu-west-1")
    assert pending.regions("repo") == ["eu-west-1", "us-west-2"]
    pending.discard("repo", "eu-west-1")
    pending.discard("repo", "us-west-2")
    pending.discard("other", "us-west-2")
    assert pending.regions("repo") == []
