# ruff: noqa: F811 - the moto fixtures are imported by name
"""ECR cross-account access against moto: the exact policy JSON stored after add, add again and
remove (reference §7's sequence), replicated regions, and what is refused."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest

from artreg.errors import BindingConfigInvalid, RemoteResourceNotFound, Timeout
from artreg.providers.ecr import EcrArtifactRegistry
from artreg.types import AwsCrossAccountAccess, ComputeServiceType, GcpCrossAccountAccess
from tests.fakes.moto_server import ACCOUNT_ID, MotoServer, moto, moto_server  # noqa: F401
from tests.providers.test_ecr import PUSH_ROLE, boto, make

WORKER = ComputeServiceType.WORKER
INSPECTOR = "inspector-key"  # the access key of the test's own reads
A1 = "123456789012"
A2 = "987654321098"
ROLE1 = f"arn:aws:iam::{A1}:role/test-role"
ROLE2 = f"arn:aws:iam::{A2}:role/test-role"
ACTIONS = (
    '["ecr:BatchCheckLayerAvailability","ecr:GetDownloadUrlForLayer","ecr:BatchGetImage",'
    '"ecr:GetRepositoryPolicy","ecr:SetRepositoryPolicy"]'
)
LAMBDA = (
    '{"Sid":"LambdaECRImageCrossAccountRetrievalPolicy","Effect":"Allow",'
    '"Principal":{"Service":"lambda.amazonaws.com"},'
    '"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"],'
    '"Condition":{"StringLike":{"aws:sourceArn":%s}}}'
)


def aws(
    accounts: list[str], regions: list[str], roles: list[str], worker: bool = True
) -> AwsCrossAccountAccess:
    return AwsCrossAccountAccess(
        account_ids=accounts,
        regions=regions,
        role_arns=roles,
        allowed_service_types=[WORKER] if worker else [],
    )


def principals(*arns: str) -> str:
    return (
        '{"Sid":"CrossAccountRolePermission","Effect":"Allow",'
        f'"Principal":{{"AWS":{json.dumps(list(arns), separators=(",", ":"))}}},'
        f'"Action":{ACTIONS}}}'
    )


def lambda_arns(*arns: str) -> str:
    return LAMBDA % json.dumps(list(arns), separators=(",", ":"))


def document(*statements: str) -> str:
    return '{"Version":"2012-10-17","Statement":[' + ",".join(statements) + "]}"


def stored_policy(server: MotoServer, repo: str, region: str = "us-east-1") -> str | None:
    client = boto(server, "ecr", region, access_key=INSPECTOR)
    try:
        text: str = client.get_repository_policy(repositoryName=repo)["policyText"]
    except client.exceptions.RepositoryPolicyNotFoundException:
        return None
    return text


@pytest.fixture
async def registry(moto: MotoServer) -> AsyncIterator[EcrArtifactRegistry]:
    reg = make(moto, push=PUSH_ROLE, replica_poll_interval=0.05, replica_wait_timeout=5.0)
    yield reg
    await reg.aclose()


async def test_add_get_remove_sequence_with_exact_policy_json(
    registry: EcrArtifactRegistry, moto: MotoServer
) -> None:
    repo = (await registry.create_repository("xacct")).name
    assert (await registry.get_cross_account_access(repo)).access == aws([], [], [], False)

    # add 1
    await registry.add_cross_account_access(repo, aws([A1], ["us-east-1"], [ROLE1]))
    after_add = document(
        principals(f"arn:aws:iam::{A1}:root", ROLE1),
        lambda_arns(f"arn:aws:lambda:us-east-1:{A1}:function:*"),
    )
    assert stored_policy(moto, repo) == after_add
    got = await registry.get_cross_account_access(repo)
    assert got.last_updated is None
    # root principals read back as accounts, not roles (alien lists them among roleArns)
    assert got.access == aws([A1], ["us-east-1"], [ROLE1])

    # add the same again: nothing changes
    await registry.add_cross_account_access(repo, aws([A1], ["us-east-1"], [ROLE1]))
    assert stored_policy(moto, repo) == after_add

    # add 2: existing items first (read back sorted), then the new ones
    await registry.add_cross_account_access(repo, aws([A2], ["us-east-1"], [ROLE2]))
    after_add2 = document(
        principals(
            f"arn:aws:iam::{A1}:root",
            f"arn:aws:iam::{A2}:root",
            ROLE1,
            ROLE2,
        ),
        lambda_arns(
            f"arn:aws:lambda:us-east-1:{A1}:function:*",
            f"arn:aws:lambda:us-east-1:{A2}:function:*",
        ),
    )
    assert stored_policy(moto, repo) == after_add2
    got = await registry.get_cross_account_access(repo)
    assert got.access.account_ids == [A1, A2]  # type: ignore[union-attr]
    assert got.access.regions == ["us-east-1"]  # type: ignore[union-attr]

    # remove 1: account 1, its root principal and its role go; regions and worker stay
    await registry.remove_cross_account_access(repo, aws([A1], [], [ROLE1], worker=False))
    after_remove1 = document(
        principals(f"arn:aws:iam::{A2}:root", ROLE2),
        lambda_arns(f"arn:aws:lambda:us-east-1:{A2}:function:*"),
    )
    assert stored_policy(moto, repo) == after_remove1
    got = await registry.get_cross_account_access(repo)
    assert got.access == aws([A2], ["us-east-1"], [ROLE2])

    # remove 2: nothing left, so the policy itself goes (ECR refuses an empty statement list)
    await registry.remove_cross_account_access(repo, aws([A2], ["us-east-1"], [ROLE2]))
    assert stored_policy(moto, repo) is None
    assert (await registry.get_cross_account_access(repo)).access == aws([], [], [], False)
    assert moto.calls("DeleteRepositoryPolicy")[0].params == {"repositoryName": repo}

    # every policy call went through the push role's policy session
    sessions = {
        c.session.session_name if c.session else None
        for c in moto.calls()
        if c.operation.endswith("RepositoryPolicy") and c.access_key_id != INSPECTOR
    }
    assert sessions == {"alien-ecr-policy"}


async def test_roles_only_and_no_regions_use_the_wildcard_region(
    registry: EcrArtifactRegistry, moto: MotoServer
) -> None:
    repo = (await registry.create_repository("wild")).name
    await registry.add_cross_account_access(repo, aws([A2], [], []))
    assert stored_policy(moto, repo) == document(
        principals(f"arn:aws:iam::{A2}:root"),
        lambda_arns(f"arn:aws:lambda:*:{A2}:function:*"),
    )
    await registry.add_cross_account_access(repo, aws([], [], [ROLE1], worker=False))
    assert stored_policy(moto, repo) == document(
        principals(f"arn:aws:iam::{A2}:root", ROLE1),
        lambda_arns(f"arn:aws:lambda:*:{A2}:function:*"),
    )


async def test_non_aws_access_is_refused_and_changes_nothing(
    registry: EcrArtifactRegistry, moto: MotoServer
) -> None:
    repo = (await registry.create_repository("gcp")).name
    gcp = GcpCrossAccountAccess(
        project_numbers=["1"], service_account_emails=[], allowed_service_types=[]
    )
    before = len(moto.calls())
    for method in (registry.add_cross_account_access, registry.remove_cross_account_access):
        with pytest.raises(BindingConfigInvalid) as info:
            await method(repo, gcp)
        assert "only accept AWS cross-account access" in info.value.message
    assert len(moto.calls()) == before


async def test_add_on_a_missing_repository_is_not_found(registry: EcrArtifactRegistry) -> None:
    with pytest.raises(RemoteResourceNotFound) as info:
        await registry.add_cross_account_access("test-nothing", aws([A1], [], []))
    assert info.value.context["resource_name"] == "test-nothing"


async def test_get_on_a_missing_repository_reports_no_access(
    registry: EcrArtifactRegistry,
) -> None:
    got = await registry.get_cross_account_access("test-nothing")
    assert got.access == aws([], [], [], False)


async def test_replicated_region_gets_the_same_policy(
    registry: EcrArtifactRegistry, moto: MotoServer
) -> None:
    repo = (await registry.create_repository("replicated")).name
    boto(moto, "ecr", "us-west-2").create_repository(repositoryName=repo)  # the replica
    await registry.add_cross_account_access(repo, aws([A1], ["us-east-1", "us-west-2"], [ROLE1]))
    source = stored_policy(moto, repo, "us-east-1")
    assert source == document(
        principals(f"arn:aws:iam::{A1}:root", ROLE1),
        lambda_arns(
            f"arn:aws:lambda:us-east-1:{A1}:function:*",
            f"arn:aws:lambda:us-west-2:{A1}:function:*",
        ),
    )
    assert stored_policy(moto, repo, "us-west-2") == source
    replica_calls = [c for c in moto.calls() if c.region == "us-west-2" and c.session]
    assert [c.operation for c in replica_calls] == ["DescribeRepositories", "SetRepositoryPolicy"]
    assert all(c.session and c.session.session_name == "alien-ecr-policy" for c in replica_calls)

    # remove updates the replica too
    await registry.remove_cross_account_access(repo, aws([], ["us-west-2"], [], worker=False))
    narrowed = document(
        principals(f"arn:aws:iam::{A1}:root", ROLE1),
        lambda_arns(f"arn:aws:lambda:us-east-1:{A1}:function:*"),
    )
    assert stored_policy(moto, repo, "us-east-1") == narrowed
    assert stored_policy(moto, repo, "us-west-2") == narrowed


async def test_add_waits_for_the_replica_to_appear(
    registry: EcrArtifactRegistry, moto: MotoServer
) -> None:
    repo = (await registry.create_repository("late")).name
    client: Any = boto(moto, "ecr", "eu-west-1")
    timer = threading.Timer(0.3, lambda: client.create_repository(repositoryName=repo))
    timer.start()
    try:
        await registry.add_cross_account_access(repo, aws([A1], ["eu-west-1"], []))
    finally:
        timer.cancel()
    polls = [c for c in moto.calls("DescribeRepositories") if c.region == "eu-west-1"]
    assert len(polls) >= 2
    assert stored_policy(moto, repo, "eu-west-1") == stored_policy(moto, repo, "us-east-1")


async def test_a_replica_that_never_appears_is_a_timeout(moto: MotoServer) -> None:
    reg = make(moto, replica_poll_interval=0.05, replica_wait_timeout=0.3)
    repo = (await reg.create_repository("never")).name
    with pytest.raises(Timeout) as info:
        await reg.add_cross_account_access(repo, aws([A1], ["ap-south-1"], []))
    assert info.value.http_status_code == 408
    assert info.value.context["operation_context"] == (
        f"Waiting for replicated ECR repository '{repo}' in ap-south-1"
    )
    # the source region was written before waiting
    assert stored_policy(moto, repo) is not None
    await reg.aclose()


async def test_remove_skips_regions_without_a_replica(moto: MotoServer) -> None:
    reg = make(moto, replica_poll_interval=0.05, replica_wait_timeout=0.2)
    repo = (await reg.create_repository("gone")).name
    boto(moto, "ecr", "us-west-1").create_repository(repositoryName=repo)
    await reg.add_cross_account_access(repo, aws([A1], ["us-west-1"], []))
    boto(moto, "ecr", "us-west-1").delete_repository(repositoryName=repo, force=True)
    await asyncio.wait_for(reg.remove_cross_account_access(repo, aws([A1], [], [])), 5)
    assert stored_policy(moto, repo) is None
    await reg.aclose()


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (aws(["12345"], [], []), "accountIds"),
        (aws([A1], ["not a region"], []), "regions"),
        (aws([], [], ["test-role"]), "roleArns"),
    ],
)
async def test_bad_access_is_invalid_input_and_writes_nothing(
    registry: EcrArtifactRegistry, moto: MotoServer, bad: AwsCrossAccountAccess, field: str
) -> None:
    from artreg.errors import InvalidInput

    repo = (await registry.create_repository("bad")).name
    before = len(moto.calls())
    with pytest.raises(InvalidInput) as info:
        await registry.add_cross_account_access(repo, bad)
    assert info.value.context["field_name"] == field
    assert len(moto.calls()) == before
