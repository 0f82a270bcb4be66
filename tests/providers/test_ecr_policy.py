"""ECR repository policies: artreg's own statements, the shared Lambda statement, alien's Sids,
foreign statements, (account, region) pairs and validation — pure functions, literal documents."""

from __future__ import annotations

import json
from typing import Any

import pytest

from artreg.providers import ecr_policy
from artreg.providers.ecr_config import Partition, partition_of
from artreg.providers.ecr_policy import (
    Grants,
    PolicyParseError,
    apply_grants,
    build_policy,
    document_text,
    granted,
    owned_grants,
    parse_document,
    parse_policy,
    revoked,
)
from artreg.types import AwsCrossAccountAccess, ComputeServiceType

WORKER = ComputeServiceType.WORKER
A = "123456789012"
B = "222222222222"
C = "333333333333"
ROLE_A = f"arn:aws:iam::{A}:role/test-role"
ROLE_B = f"arn:aws:iam::{B}:role/test-role"
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
LAMBDA = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]


def partition(region: str = "us-east-1") -> Partition:
    found = partition_of(region)
    assert found is not None
    return found


AWS = partition()


def access(
    accounts: list[str] | None = None,
    regions: list[str] | None = None,
    roles: list[str] | None = None,
    worker: bool = False,
) -> AwsCrossAccountAccess:
    return AwsCrossAccountAccess(
        account_ids=accounts or [],
        regions=regions or [],
        role_arns=roles or [],
        allowed_service_types=[WORKER] if worker else [],
    )


def pull_statement(*principals: str) -> dict[str, Any]:
    return {
        "Sid": "ArtregCrossAccountPull",
        "Effect": "Allow",
        "Principal": {"AWS": list(principals)},
        "Action": PULL,
    }


def lambda_statement(*arns: str, sid: str = "LambdaECRImageCrossAccountRetrievalPolicy") -> Any:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": LAMBDA,
        "Condition": {"StringLike": {"aws:sourceArn": list(arns)}},
    }


def change(document: dict[str, Any], update: Any, part: Partition = AWS) -> dict[str, Any]:
    """What the provider does: artreg's part of ``document`` changed by ``update``."""
    before = owned_grants(document)
    return apply_grants(document, before, update(before), part)


#: Someone else's statements: the Lambda guide's CrossAccountPermission and the statement Lambda
#: itself adds for same-account functions.
FOREIGN_PULL = {
    "Sid": "CrossAccountPermission",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::444444444444:root"},
    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
}
SAME_ACCOUNT_LAMBDA = {
    "Sid": "LambdaECRImageRetrievalPolicy",
    "Effect": "Allow",
    "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
    "Condition": {"StringLike": {"aws:sourceArn": f"arn:aws:lambda:us-east-1:{A}:function:*"}},
}
OTHERS_LAMBDA_ARN = "arn:aws:lambda:eu-west-1:444444444444:function:*"


def test_full_document_exact_text() -> None:
    text = document_text(build_policy(access([A], ["us-east-1", "eu-west-1"], [ROLE_A], True), AWS))
    assert text == (
        '{"Version":"2012-10-17","Statement":['
        '{"Sid":"ArtregCrossAccountPull","Effect":"Allow",'
        f'"Principal":{{"AWS":["arn:aws:iam::{A}:root","{ROLE_A}"]}},'
        '"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer",'
        '"ecr:BatchCheckLayerAvailability"]},'
        '{"Sid":"LambdaECRImageCrossAccountRetrievalPolicy","Effect":"Allow",'
        '"Principal":{"Service":"lambda.amazonaws.com"},'
        '"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"],'
        '"Condition":{"StringLike":{"aws:sourceArn":['
        f'"arn:aws:lambda:us-east-1:{A}:function:*","arn:aws:lambda:eu-west-1:{A}:function:*"'
        "]}}}]}"
    )


def test_grantees_never_get_policy_actions() -> None:
    text = document_text(build_policy(access([A, B], [], [ROLE_A], True), AWS)) or ""
    assert "SetRepositoryPolicy" not in text and "GetRepositoryPolicy" not in text


def test_role_only_grant_gets_lambda_pairs_of_the_role_account() -> None:
    doc = build_policy(access([], ["us-east-1"], [ROLE_B], worker=True), AWS)
    assert doc["Statement"] == [
        pull_statement(ROLE_B),
        lambda_statement(f"arn:aws:lambda:us-east-1:{B}:function:*"),
    ]


def test_wildcard_region_when_no_regions() -> None:
    doc = build_policy(access([A], [], [], worker=True), AWS)
    assert doc["Statement"][1] == lambda_statement(f"arn:aws:lambda:*:{A}:function:*")
    assert parse_policy(document_text(doc) or "").regions == []


def test_empty_grants_have_no_text() -> None:
    assert document_text(build_policy(access(), AWS)) is None


def test_china_partition_in_principals_and_conditions() -> None:
    cn = partition("cn-north-1")
    assert (cn.name, cn.dns_suffix) == ("aws-cn", "amazonaws.com.cn")
    doc = build_policy(access([A], ["cn-north-1"], [], worker=True), cn)
    assert doc["Statement"] == [
        pull_statement(f"arn:aws-cn:iam::{A}:root"),
        lambda_statement(f"arn:aws-cn:lambda:cn-north-1:{A}:function:*"),
    ]
    # read back and written again: stays aws-cn (alien rewrote it as arn:aws:)
    again = change(doc, lambda g: granted(g, access([B], [], [])), cn)
    assert again["Statement"][0]["Principal"]["AWS"] == [
        f"arn:aws-cn:iam::{A}:root",
        f"arn:aws-cn:iam::{B}:root",
    ]


# -- pairs -----------------------------------------------------------------------------------


def test_revoking_one_tenant_keeps_the_others_lambda_pairs() -> None:
    doc = build_policy(access([B, C], ["us-east-1"], [], worker=True), AWS)
    left = change(doc, lambda g: revoked(g, access([B], ["us-east-1"], [], worker=True)))
    assert left["Statement"] == [
        pull_statement(f"arn:aws:iam::{C}:root"),
        lambda_statement(f"arn:aws:lambda:us-east-1:{C}:function:*"),
    ]


def test_removing_a_region_never_widens_to_every_region() -> None:
    doc = build_policy(access([B], ["us-east-1", "eu-west-1"], [], worker=True), AWS)
    left = change(doc, lambda g: revoked(g, access([], ["eu-west-1"], [])))
    assert left["Statement"][1] == lambda_statement(f"arn:aws:lambda:us-east-1:{B}:function:*")
    gone = change(left, lambda g: revoked(g, access([], ["us-east-1"], [])))
    # the last region gone: no Lambda access at all, never arn:aws:lambda:*
    assert gone["Statement"] == [pull_statement(f"arn:aws:iam::{B}:root")]


def test_region_revoke_limited_to_named_accounts() -> None:
    grants = granted(Grants(), access([B, C], ["us-east-1", "eu-west-1"], [], worker=True))
    left = revoked(grants, access([B], ["eu-west-1"], []))
    # B is no longer granted at all, so none of its pairs stay; C keeps both regions
    assert left.lambda_pairs == (("333333333333", "us-east-1"), ("333333333333", "eu-west-1"))


def test_worker_alone_revokes_every_pair_but_keeps_principals() -> None:
    grants = granted(Grants(), access([B], ["us-east-1"], [ROLE_A], worker=True))
    left = revoked(grants, access([], [], [], worker=True))
    assert left == Grants((B,), (ROLE_A,), ())


def test_a_role_keeps_its_accounts_pairs_while_it_is_granted() -> None:
    grants = granted(Grants(), access([B], ["us-east-1"], [ROLE_B], worker=True))
    left = revoked(grants, access([B], [], []))
    assert left == Grants((), (ROLE_B,), ((B, "us-east-1"),))
    assert revoked(left, access([], [], [ROLE_B])) == Grants()


# -- other writers ---------------------------------------------------------------------------


def test_foreign_statements_survive_add_and_remove_untouched() -> None:
    doc = parse_document(json.dumps({"Version": "2008-10-17", "Statement": [FOREIGN_PULL]}))
    added = change(doc, lambda g: granted(g, access([B], ["us-east-1"], [], worker=True)))
    assert added["Version"] == "2008-10-17"
    assert added["Statement"][0] == FOREIGN_PULL
    removed = change(added, lambda g: revoked(g, access([B], ["us-east-1"], [], worker=True)))
    assert removed == {"Version": "2008-10-17", "Statement": [FOREIGN_PULL]}


def test_lambdas_same_account_statement_is_kept() -> None:
    doc = parse_document(json.dumps({"Statement": SAME_ACCOUNT_LAMBDA}))  # a single object
    added = change(doc, lambda g: granted(g, access([B], ["us-east-1"], [], worker=True)))
    assert added["Statement"][0] == SAME_ACCOUNT_LAMBDA
    assert owned_grants(added).accounts == (B,)  # A's same-account grant is not artreg's


def test_merges_into_the_shared_lambda_statement_keeping_others_arns() -> None:
    shared = lambda_statement(OTHERS_LAMBDA_ARN)
    doc = parse_document(json.dumps({"Version": "2012-10-17", "Statement": [shared]}))
    added = change(doc, lambda g: granted(g, access([B], ["us-east-1"], [], worker=True)))
    assert added["Statement"] == [
        lambda_statement(OTHERS_LAMBDA_ARN, f"arn:aws:lambda:us-east-1:{B}:function:*"),
        pull_statement(f"arn:aws:iam::{B}:root"),
    ]
    assert parse_policy(document_text(added) or "").regions == ["us-east-1"]
    removed = change(added, lambda g: revoked(g, access([B], [], [], worker=True)))
    assert removed["Statement"] == [shared]


def test_an_unmergeable_shared_statement_gets_a_statement_of_artregs_own() -> None:
    unconditioned = {
        "Sid": "LambdaECRImageCrossAccountRetrievalPolicy",
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": LAMBDA,
    }
    doc = parse_document(json.dumps({"Statement": [unconditioned]}))
    added = change(doc, lambda g: granted(g, access([B], ["us-east-1"], [], worker=True)))
    assert added["Statement"] == [
        unconditioned,
        pull_statement(f"arn:aws:iam::{B}:root"),
        lambda_statement(f"arn:aws:lambda:us-east-1:{B}:function:*", sid="ArtregLambdaPull"),
    ]
    assert owned_grants(added).lambda_pairs == ((B, "us-east-1"),)


def test_alien_sids_are_read_and_migrated_on_the_first_write() -> None:
    alien = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CrossAccountRolePermission",
                "Effect": "Allow",
                "Principal": {"AWS": [f"arn:aws:iam::{B}:root", ROLE_B]},
                "Action": [
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchGetImage",
                    "ecr:GetRepositoryPolicy",
                    "ecr:SetRepositoryPolicy",
                ],
            },
            lambda_statement(f"arn:aws:lambda:us-east-1:{B}:function:*", OTHERS_LAMBDA_ARN),
        ],
    }
    doc = parse_document(json.dumps(alien))
    assert parse_policy(json.dumps(alien)) == access([B], ["us-east-1"], [ROLE_B], worker=True)
    migrated = change(doc, lambda g: granted(g, access([C], [], [])))
    assert migrated["Statement"] == [
        pull_statement(f"arn:aws:iam::{B}:root", f"arn:aws:iam::{C}:root", ROLE_B),
        lambda_statement(f"arn:aws:lambda:us-east-1:{B}:function:*", OTHERS_LAMBDA_ARN),
    ]


def test_alien_legacy_lambda_sid_is_folded_into_the_shared_statement() -> None:
    legacy = lambda_statement(f"arn:aws:lambda:us-west-2:{B}:function:*", sid="LambdaServiceAccess")
    doc = parse_document(
        json.dumps({"Statement": [pull_statement(f"arn:aws:iam::{B}:root"), legacy]})
    )
    assert owned_grants(doc).lambda_pairs == ((B, "us-west-2"),)
    migrated = change(doc, lambda g: g)
    assert migrated["Statement"] == [
        pull_statement(f"arn:aws:iam::{B}:root"),
        lambda_statement(f"arn:aws:lambda:us-west-2:{B}:function:*"),
    ]


def test_a_legacy_lambda_statement_without_a_source_condition_is_left_alone() -> None:
    legacy = {
        "Sid": "LambdaServiceAccess",
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": LAMBDA,
    }
    doc = parse_document(json.dumps({"Statement": [legacy]}))
    added = change(doc, lambda g: granted(g, access([B], [], [])))
    assert added["Statement"] == [legacy, pull_statement(f"arn:aws:iam::{B}:root")]


def test_nothing_changes_when_the_grant_is_already_there() -> None:
    doc = build_policy(access([B], ["us-east-1"], [], worker=True), AWS)
    assert change(doc, lambda g: granted(g, access([B], ["us-east-1"], [], True))) == doc


def test_reading_skips_unique_ids_and_reads_bare_account_ids() -> None:
    text = json.dumps(
        {
            "Statement": [
                {
                    "Sid": "ArtregCrossAccountPull",
                    "Effect": "Allow",
                    "Principal": {"AWS": ["AROAEXAMPLEDELETEDROLE", B, ROLE_A]},
                    "Action": PULL,
                }
            ]
        }
    )
    assert parse_policy(text) == access([B], [], [ROLE_A])


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"Statement": 7}'])
def test_parse_rejects_non_documents(text: str) -> None:
    with pytest.raises(PolicyParseError):
        parse_policy(text)


# -- validation ------------------------------------------------------------------------------


def test_validate_access() -> None:
    assert ecr_policy.validate_access(access([A], ["us-east-1"], [ROLE_A]), AWS) == []
    eusc = partition("eusc-de-east-1")
    assert (eusc.name, eusc.dns_suffix) == ("aws-eusc", "amazonaws.eu")
    ok = access([A], ["eusc-de-east-1"], [f"arn:aws-eusc:iam::{A}:role/x"])
    assert ecr_policy.validate_access(ok, eusc) == []
    problems = ecr_policy.validate_access(access(["123"], ["moon"], ["role/x"]), AWS)
    assert [field for field, _ in problems] == ["accountIds", "regions", "roleArns"]


@pytest.mark.parametrize(
    ("arn", "message"),
    [
        (f"arn:aws:iam::{A}:group/admins", "is an IAM group"),
        (f"arn:aws:iam::{A}:policy/p", "is not an IAM role, user or role session"),
        (f"arn:aws-cn:iam::{A}:role/r", "is in partition 'aws-cn'"),
        (f"arn:nowhere:iam::{A}:role/r", "is not an IAM principal ARN"),
    ],
)
def test_principals_iam_refuses_are_refused(arn: str, message: str) -> None:
    ((field, text),) = ecr_policy.validate_access(access([], [], [arn]), AWS)
    assert field == "roleArns" and message in text


def test_principals_accepted() -> None:
    arns = [
        f"arn:aws:iam::{A}:role/path/r",
        f"arn:aws:iam::{A}:user/u",
        f"arn:aws:iam::{A}:root",
        f"arn:aws:sts::{A}:assumed-role/r/session",
    ]
    assert ecr_policy.validate_access(access([], [], arns), AWS) == []


def test_a_region_of_another_partition_is_refused() -> None:
    ((field, text),) = ecr_policy.validate_access(access([], ["cn-north-1"], []), AWS)
    assert field == "regions" and "partition 'aws-cn'" in text
