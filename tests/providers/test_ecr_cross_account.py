# ruff: noqa: F811 - the moto fixtures are imported by name
"""ECR cross-account access against moto: the exact policy JSON stored after add, add again and
remove; tenants that must not disturb each other; statements other writers own; alien's policies;
replicas from the registry's replication rules (on the AWS rules stand-in, where a push creates
them); the policy size limit; and what is refused."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from artreg.errors import (
    BindingConfigInvalid,
    CloudPlatformError,
    InvalidInput,
    RemoteResourceNotFound,
)
from artreg.providers.ecr import EcrArtifactRegistry
from artreg.types import AwsCrossAccountAccess, ComputeServiceType, GcpCrossAccountAccess
from tests.fakes.moto_server import (  # noqa: F401
    ACCOUNT_ID,
    MotoServer,
    moto,
    moto_server,
    strict_moto,
    strict_moto_server,
)
from tests.providers.test_ecr import PUSH_ROLE, boto, make

WORKER = ComputeServiceType.WORKER
INSPECTOR = "inspector-key"  # the access key of the test's own reads and writes
A1 = "123456789012"
A2 = "987654321098"
T2 = "222222222222"
T3 = "333333333333"
ROLE1 = f"arn:aws:iam::{A1}:role/test-role"
ROLE2 = f"arn:aws:iam::{A2}:role/test-role"
PULL = '["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchCheckLayerAvailability"]'
LAMBDA = (
    '{"Sid":"LambdaECRImageCrossAccountRetrievalPolicy","Effect":"Allow",'
    '"Principal":{"Service":"lambda.amazonaws.com"},'
    '"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"],'
    '"Condition":{"StringLike":{"aws:sourceArn":%s}}}'
)
FOREIGN = (
    '{"Sid":"CrossAccountPermission","Effect":"Allow",'
    '"Principal":{"AWS":"arn:aws:iam::444444444444:root"},'
    '"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}'
)
SAME_ACCOUNT_LAMBDA = (
    '{"Sid":"LambdaECRImageRetrievalPolicy","Effect":"Allow",'
    '"Principal":{"Service":"lambda.amazonaws.com"},'
    '"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"],'
    '"Condition":{"StringLike":{"aws:sourceArn":"arn:aws:lambda:us-east-1:123456789012:function:*"}}}'
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
        '{"Sid":"ArtregCrossAccountPull","Effect":"Allow",'
        f'"Principal":{{"AWS":{json.dumps(list(arns), separators=(",", ":"))}}},'
        f'"Action":{PULL}}}'
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


def set_policy(server: MotoServer, repo: str, text: str, region: str = "us-east-1") -> None:
    boto(server, "ecr", region, access_key=INSPECTOR).set_repository_policy(
        repositoryName=repo, policyText=text
    )


@pytest.fixture
async def registry(moto: MotoServer) -> AsyncIterator[EcrArtifactRegistry]:
    reg = make(moto, push=PUSH_ROLE)
    yield reg
    await reg.aclose()


async def test_add_get_remove_sequence_with_exact_policy_json(
    registry: EcrArtifactRegistry, moto: MotoServer
) -> None:
    repo = (await registry.create_repository("xacct")).name
    assert (await registry.get_cross_account_access(repo)).access == aws([], [], [], False)

    await registry.add_cross_account_access(repo, aws([A1], ["us-east-1"], [ROLE1]))
    after_add = document(
        principals(f"arn:aws:iam::{A1}:root", ROLE1),
        lambda_arns(f"arn:aws:lambda:us-east-1:{A1}:function:*"),
    )
    assert stored_policy(moto, repo) == after_add
    got = await registry.get_cross_account_access(repo)
    assert got.last_updated is None
    assert got.access == aws([A1], ["us-east-1"], [ROLE1])

    writes = len(moto.calls("SetRepositoryPolicy"))
    await registry.add_cross_account_access(repo, aws([A1], ["us-east-1"], [ROLE1]))
    assert stored_policy(moto, repo) == after_add
    assert len(moto.calls("SetRepositoryPolicy")) == writes  # nothing to change, nothing written

    await registry.add_cross_account_access(repo, aws([A2], ["us-east-1"], [ROLE2]))
    assert stored_policy(moto, repo) == document(
        principals(f"arn:aws:iam::{A1}:root", f"arn:aws:iam::{A2}:root", ROLE1, ROLE2),
        lambda_arns(
            f"arn:aws:lambda:us-east-1:{A1}:function:*",
            f"arn:aws:lambda:us-east-1:{A2}:function:*",
        ),
    )

    await registry.remove_cross_account_access(repo, aws([A1], [], [ROLE1], worker=False))
    assert stored_policy(moto, repo) == document(
        principals(f"arn:aws:iam::{A2}:root", ROLE2),
        lambda_arns(f"arn:aws:lambda:us-east-1:{A2}:function:*"),
    )
    assert (await registry.get_cross_account_access(repo)).access == aws(
        [A2], ["us-east-1"], [ROLE2]
    )

    await registry.remove_cross_account_access(repo, aws([A2], ["us-east-1"], [ROLE2]))
    assert stored_policy(moto, repo) is None  # nothing left: deleted (ECR refuses no statements)
    assert moto.calls("DeleteRepositoryPolicy")[0].params == {"repositoryName": repo}

    sessions = {
        c.session.session_name if c.session else None
        for c in moto.calls()
        if c.service == "ecr" and c.access_key_id != INSPECTOR and c.operation != "CreateRepository"
    }
    assert sessions == {"alien-ecr-policy"}


async def test_revoking_one_tenant_keeps_the_others_lambda_statement(
    registry: EcrArtifactRegistry, moto: MotoServer
) -> None:
    repo = (await registry.create_repository("tenants")).name
    await registry.add_cross_account_access(repo, aws([T2], ["us-east-1"], []))
    await registry.add_cross_account_access(repo, aws([T3], ["us-east-1"], []))
    await registry.remove_cross_account_access(repo, aws([T2], ["us-east-1"], []))
    assert stored_policy(moto, repo) == document(
        principals(f"arn:aws:iam::{T3}:root"),
        lambda_arns(f"arn:aws:lambda:us-east-1:{T3}:function:*"),
    )


async def test_removing_a_region_narrows_and_never_widens(
    registry: EcrArtifactRegistry, moto: MotoServer
) -> None:
    repo = (await registry.create_repository("regions")).name
    await registry.add_cross_account_access(repo, aws([T2], ["us-east-1", "eu-west-1"], []))
    await registry.remove_cross_account_access(repo, aws([], ["eu-west-1"], [], worker=False))
    assert stored_policy(moto, repo) == document(
        principals(f"arn:aws:iam::{T2}:root"),
        lambda_arns(f"arn:aws:lambda:us-east-1:{T2}:function:*"),
    )


async def test_foreign_statements_survive_add_and_remove(
    registry: EcrArtifactRegistry, moto: MotoServer
) -> None:
    repo = (await registry.create_repository("shared")).name
    others = '{"Version":"2012-10-17","Statement":[' + FOREIGN + "," + SAME_ACCOUNT_LAMBDA + "]}"
    set_policy(moto, repo, others)
    await registry.add_cross_account_access(repo, aws([T2], ["us-east-1"], []))
    assert stored_policy(moto, repo) == document(
        FOREIGN,
        SAME_ACCOUNT_LAMBDA,
        principals(f"arn:aws:iam::{T2}:root"),
        lambda_arns(f"arn:aws:lambda:us-east-1:{T2}:function:*"),
    )
    # the foreign grants are not reported as artreg's
    assert (await registry.get_cross_account_access(repo)).access == aws([T2], ["us-east-1"], [])
    await registry.remove_cross_account_access(repo, aws([T2], ["us-east-1"], []))
    assert stored_policy(moto, repo) == document(FOREIGN, SAME_ACCOUNT_LAMBDA)


async def test_another_accounts_arn_in_the_shared_lambda_statement_is_kept(
    registry: EcrArtifactRegistry, moto: MotoServer
) -> None:
    repo = (await registry.create_repository("lambda")).name
    others = "arn:aws:lambda:eu-west-1:444444444444:function:*"
    set_policy(moto, repo, document(lambda_arns(others)))
    await registry.add_cross_account_access(repo, aws([T2], ["us-east-1"], []))
    assert stored_policy(moto, repo) == document(
        lambda_arns(others, f"arn:aws:lambda:us-east-1:{T2}:function:*"),
        principals(f"arn:aws:iam::{T2}:root"),
    )
    await registry.remove_cross_account_access(repo, aws([T2], ["us-east-1"], []))
    assert stored_policy(moto, repo) == document(lambda_arns(others))


async def test_grantees_get_no_policy_actions(
    registry: EcrArtifactRegistry, moto: MotoServer
) -> None:
    repo = (await registry.create_repository("least")).name
    await registry.add_cross_account_access(repo, aws([T2, T3], ["us-east-1"], [ROLE2]))
    text = stored_policy(moto, repo) or ""
    statement = json.loads(text)["Statement"][0]
    assert statement["Action"] == [
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
        "ecr:BatchCheckLayerAvailability",
    ]
    assert "SetRepositoryPolicy" not in text and "GetRepositoryPolicy" not in text


async def test_an_alien_policy_is_migrated_on_the_first_write(
    registry: EcrArtifactRegistry, moto: MotoServer
) -> None:
    repo = (await registry.create_repository("alien")).name
    alien = document(
        '{"Sid":"CrossAccountRolePermission","Effect":"Allow",'
        f'"Principal":{{"AWS":["arn:aws:iam::{T2}:root"]}},'
        '"Action":["ecr:BatchCheckLayerAvailability","ecr:GetDownloadUrlForLayer",'
        '"ecr:BatchGetImage","ecr:GetRepositoryPolicy","ecr:SetRepositoryPolicy"]}',
        lambda_arns(f"arn:aws:lambda:us-east-1:{T2}:function:*"),
    )
    set_policy(moto, repo, alien)
    assert (await registry.get_cross_account_access(repo)).access == aws([T2], ["us-east-1"], [])
    await registry.add_cross_account_access(repo, aws([T3], ["us-east-1"], []))
    assert stored_policy(moto, repo) == document(
        principals(f"arn:aws:iam::{T2}:root", f"arn:aws:iam::{T3}:root"),
        lambda_arns(
            f"arn:aws:lambda:us-east-1:{T2}:function:*",
            f"arn:aws:lambda:us-east-1:{T3}:function:*",
        ),
    )


async def test_a_policy_changed_between_read_and_write_is_merged_again(
    registry: EcrArtifactRegistry, moto: MotoServer
) -> None:
    repo = (await registry.create_repository("race")).name
    original = registry.policies.read
    reads: list[str | None] = []

    def read_then_someone_writes(client: Any, repo_id: str) -> str | None:
        text = original(client, repo_id)
        reads.append(text)
        if len(reads) == 1:  # another writer gets in after artreg's first read
            set_policy(moto, repo, document(FOREIGN))
        return text

    registry.policies.read = read_then_someone_writes  # type: ignore[method-assign]
    await registry.add_cross_account_access(repo, aws([T2], [], [], worker=False))
    assert reads[:3] == [None, document(FOREIGN), document(FOREIGN)]
    assert stored_policy(moto, repo) == document(FOREIGN, principals(f"arn:aws:iam::{T2}:root"))


async def test_concurrent_grants_on_one_repository_all_land(moto: MotoServer) -> None:
    first = make(moto, push=PUSH_ROLE)
    second = make(moto, push=PUSH_ROLE)  # another provider instance in the same process
    repo = (await first.create_repository("busy")).name
    accounts = [f"{n:012d}" for n in range(100000000001, 100000000009)]
    await asyncio.gather(
        *(
            (first if i % 2 else second).add_cross_account_access(repo, aws([a], [], [], False))
            for i, a in enumerate(accounts)
        )
    )
    granted = (await first.get_cross_account_access(repo)).access
    assert granted.account_ids == sorted(accounts)  # type: ignore[union-attr]
    await first.aclose()
    await second.aclose()


async def test_a_policy_over_ecrs_limit_is_refused_before_writing(
    registry: EcrArtifactRegistry, moto: MotoServer
) -> None:
    repo = (await registry.create_repository("big")).name
    await registry.add_cross_account_access(repo, aws([T2], ["us-east-1"], []))
    before = stored_policy(moto, repo)
    many = [f"{n:012d}" for n in range(100000000000, 100000000130)]
    with pytest.raises(InvalidInput) as info:
        await registry.add_cross_account_access(repo, aws(many, ["us-east-1"], []))
    assert "ECR allows 10240" in info.value.message
    assert info.value.context["field_name"] == "access"
    assert stored_policy(moto, repo) == before


async def test_group_principals_are_refused_and_nothing_is_written(
    registry: EcrArtifactRegistry, moto: MotoServer
) -> None:
    repo = (await registry.create_repository("group")).name
    before = len(moto.calls())
    with pytest.raises(InvalidInput) as info:
        await registry.add_cross_account_access(
            repo, aws([], [], [f"arn:aws:iam::{T2}:group/developers"], worker=False)
        )
    assert info.value.context["field_name"] == "roleArns"
    assert "IAM group" in info.value.message
    assert len(moto.calls()) == before


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
        assert info.value.context["binding_name"] == "artifacts"
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


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (aws(["12345"], [], []), "accountIds"),
        (aws([A1], ["not a region"], []), "regions"),
        (aws([A1], ["cn-north-1"], []), "regions"),
        (aws([], [], ["test-role"]), "roleArns"),
    ],
)
async def test_bad_access_is_invalid_input_and_writes_nothing(
    registry: EcrArtifactRegistry, moto: MotoServer, bad: AwsCrossAccountAccess, field: str
) -> None:
    repo = (await registry.create_repository("bad")).name
    before = len(moto.calls())
    with pytest.raises(InvalidInput) as info:
        await registry.add_cross_account_access(repo, bad)
    assert info.value.context["field_name"] == field
    assert len(moto.calls()) == before


async def test_china_principals_conditions_and_hosts(moto: MotoServer) -> None:
    reg = make(moto, env=moto.env(region="cn-north-1"))
    repo = await reg.create_repository("cn")
    assert repo.uri == f"{ACCOUNT_ID}.dkr.ecr.cn-north-1.amazonaws.com.cn/test-cn"
    assert reg.registry_endpoint() == f"https://{ACCOUNT_ID}.dkr.ecr.cn-north-1.amazonaws.com.cn"
    await reg.add_cross_account_access(repo.name, aws([T2], ["cn-north-1"], []))
    assert stored_policy(moto, repo.name, "cn-north-1") == document(
        principals(f"arn:aws-cn:iam::{T2}:root"),
        lambda_arns(f"arn:aws-cn:lambda:cn-north-1:{T2}:function:*"),
    )
    # read back and changed: the partition stays
    await reg.add_cross_account_access(repo.name, aws([T3], [], [], worker=False))
    text = stored_policy(moto, repo.name, "cn-north-1") or ""
    assert "arn:aws:" not in text and f"arn:aws-cn:iam::{T3}:root" in text
    await reg.aclose()


# -- replicas (on the AWS rules stand-in: replicas appear only after a push) -------------------


def replicate(server: MotoServer, rules: list[dict[str, Any]]) -> None:
    boto(server, "ecr", access_key=INSPECTOR).put_replication_configuration(
        replicationConfiguration={"rules": rules}
    )


def push(server: MotoServer, repo: str) -> None:
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 2,
            "digest": "sha256:" + "a" * 64,
        },
        "layers": [],
    }
    boto(server, "ecr", access_key=INSPECTOR).put_image(
        repositoryName=repo, imageManifest=json.dumps(manifest), imageTag="v1"
    )


def destination(region: str) -> dict[str, str]:
    return {"region": region, "registryId": ACCOUNT_ID}


async def test_replicas_come_from_the_replication_rules_and_are_applied_after_the_push(
    strict_moto: MotoServer,
) -> None:
    replicate(
        strict_moto,
        [
            {"destinations": [destination("us-west-2")]},
            {
                "destinations": [destination("eu-west-1"), destination("ap-south-1")],
                "repositoryFilters": [{"filter": "test-app", "filterType": "PREFIX_MATCH"}],
            },
            {
                "destinations": [destination("sa-east-1")],
                "repositoryFilters": [{"filter": "other-", "filterType": "PREFIX_MATCH"}],
            },
        ],
    )
    reg = make(strict_moto, push=PUSH_ROLE)
    repo = (await reg.create_repository("app")).name
    # granted before the first push, naming one region only: no wait, no error
    await asyncio.wait_for(reg.add_cross_account_access(repo, aws([T2], ["us-east-1"], [])), 10)
    source = stored_policy(strict_moto, repo)
    assert source == document(
        principals(f"arn:aws:iam::{T2}:root"),
        lambda_arns(f"arn:aws:lambda:us-east-1:{T2}:function:*"),
    )
    assert reg.pending_replica_regions(repo) == ["ap-south-1", "eu-west-1", "us-west-2"]

    push(strict_moto, repo)  # replication creates the replicas (without any policy)
    template = document(FOREIGN)  # as a repository creation template would
    set_policy(strict_moto, repo, template, "eu-west-1")

    await reg.get_cross_account_access(repo)  # the next call applies what was waiting
    assert reg.pending_replica_regions(repo) == []
    assert stored_policy(strict_moto, repo, "us-west-2") == source
    assert stored_policy(strict_moto, repo, "ap-south-1") == source
    assert stored_policy(strict_moto, repo, "eu-west-1") == document(
        FOREIGN,
        principals(f"arn:aws:iam::{T2}:root"),
        lambda_arns(f"arn:aws:lambda:us-east-1:{T2}:function:*"),
    )
    sa = boto(strict_moto, "ecr", "sa-east-1", access_key=INSPECTOR)
    with pytest.raises(sa.exceptions.RepositoryNotFoundException):
        sa.describe_repositories(repositoryNames=[repo])  # filtered out: never a replica

    # a revoke reaches every replica, keeping the template's statement
    await reg.remove_cross_account_access(repo, aws([T2], [], []))
    assert stored_policy(strict_moto, repo) is None
    assert stored_policy(strict_moto, repo, "us-west-2") is None
    assert stored_policy(strict_moto, repo, "eu-west-1") == template
    replica_ops = {
        c.operation
        for c in strict_moto.calls()
        if c.region == "us-west-2" and c.access_key_id not in (INSPECTOR, "replication")
    }
    assert replica_ops == {"GetRepositoryPolicy", "SetRepositoryPolicy", "DeleteRepositoryPolicy"}
    await reg.aclose()


async def test_a_failing_replica_is_reported_and_retried(strict_moto: MotoServer) -> None:
    replicate(strict_moto, [{"destinations": [destination("us-west-2")]}])
    reg = make(strict_moto)
    repo = (await reg.create_repository("flaky")).name
    push(strict_moto, repo)
    original = reg.policies.write

    def refuse_in_us_west_2(client: Any, repo_id: str, text: str | None) -> None:
        if client.meta.region_name == "us-west-2":
            raise InvalidInput(operation_context="write", details="refused", field_name="repo_id")
        original(client, repo_id, text)

    reg.policies.write = refuse_in_us_west_2  # type: ignore[method-assign]
    with pytest.raises(CloudPlatformError) as info:
        await reg.add_cross_account_access(repo, aws([T2], [], [], worker=False))
    assert info.value.message == (
        f"Cloud platform error: Cross-account access of ECR repository '{repo}' was changed in us-east-1 but not in "
        "its replica region(s) us-west-2: write: invalid input: refused; they are retried on "
        "the next cross-account call"
    )
    assert stored_policy(strict_moto, repo) is not None
    assert reg.pending_replica_regions(repo) == ["us-west-2"]
    reg.policies.write = original  # type: ignore[method-assign]
    await reg.get_cross_account_access(repo)
    assert stored_policy(strict_moto, repo, "us-west-2") == stored_policy(strict_moto, repo)
    await reg.aclose()


def test_the_stand_in_refuses_what_ecr_refuses(strict_moto: MotoServer) -> None:
    """The rules the provider is tested against hold: ECR's policy size limit and group
    principals (moto alone accepts both)."""
    client = boto(strict_moto, "ecr", access_key=INSPECTOR)
    client.create_repository(repositoryName="test-limits")
    with pytest.raises(client.exceptions.InvalidParameterException):
        client.set_repository_policy(repositoryName="test-limits", policyText="x" * 10241)
    group = document(
        '{"Sid":"G","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:group/g"},'
        '"Action":"ecr:BatchGetImage"}'
    )
    with pytest.raises(client.exceptions.InvalidParameterException):
        client.set_repository_policy(repositoryName="test-limits", policyText=group)


async def test_an_unreadable_replication_configuration_is_said_and_the_source_still_changes(
    registry: EcrArtifactRegistry, moto: MotoServer, caplog: pytest.LogCaptureFixture
) -> None:
    from botocore.exceptions import ClientError

    repo = (await registry.create_repository("norules")).name
    original = registry._policy_client

    class Denied:
        def __init__(self, client: Any) -> None:
            self._client = client

        def describe_registry(self) -> Any:
            error: Any = {
                "Error": {"Code": "AccessDeniedException", "Message": "no ecr:DescribeRegistry"},
                "ResponseMetadata": {"HTTPStatusCode": 400},
            }
            raise ClientError(error, "DescribeRegistry")

        def __getattr__(self, name: str) -> Any:
            return getattr(self._client, name)

    registry._policy_client = lambda region: Denied(original(region))  # type: ignore[assignment,method-assign,return-value]
    with caplog.at_level("WARNING", logger="artreg.providers.ecr"):
        await registry.add_cross_account_access(repo, aws([T2], [], [], worker=False))
    assert stored_policy(moto, repo) == document(principals(f"arn:aws:iam::{T2}:root"))
    assert any(
        "replicas not updated" in r.getMessage()
        and "ECR replication configuration" in r.getMessage()
        for r in caplog.records
    )
