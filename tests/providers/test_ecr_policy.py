"""ECR policy documents: built statement by statement, read back, merged and reduced."""

from __future__ import annotations

import json

import pytest

from artreg.providers import ecr_policy
from artreg.providers.ecr_policy import (
    PolicyParseError,
    build_policy,
    merge_access,
    parse_policy,
    policy_text,
    remove_access,
)
from artreg.types import AwsCrossAccountAccess, ComputeServiceType

WORKER = ComputeServiceType.WORKER
A = "123456789012"
B = "987654321098"
ROLE_A = f"arn:aws:iam::{A}:role/test-role"
ROLE_B = f"arn:aws:iam::{B}:role/test-role"
ACTIONS = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchGetImage",
    "ecr:GetRepositoryPolicy",
    "ecr:SetRepositoryPolicy",
]


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


def test_full_document_exact_text() -> None:
    text = policy_text(access([A], ["us-east-1", "eu-west-1"], [ROLE_A], worker=True))
    assert text == (
        '{"Version":"2012-10-17","Statement":['
        '{"Sid":"CrossAccountRolePermission","Effect":"Allow",'
        f'"Principal":{{"AWS":["arn:aws:iam::{A}:root","{ROLE_A}"]}},'
        '"Action":["ecr:BatchCheckLayerAvailability","ecr:GetDownloadUrlForLayer",'
        '"ecr:BatchGetImage","ecr:GetRepositoryPolicy","ecr:SetRepositoryPolicy"]},'
        '{"Sid":"LambdaECRImageCrossAccountRetrievalPolicy","Effect":"Allow",'
        '"Principal":{"Service":"lambda.amazonaws.com"},'
        '"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"],'
        '"Condition":{"StringLike":{"aws:sourceArn":['
        f'"arn:aws:lambda:us-east-1:{A}:function:*","arn:aws:lambda:eu-west-1:{A}:function:*"'
        "]}}}]}"
    )


def test_key_order_statement_by_statement() -> None:
    doc = build_policy(access([A], [], [ROLE_A], worker=True))
    assert list(doc) == ["Version", "Statement"]
    first, second = doc["Statement"]
    assert list(first) == ["Sid", "Effect", "Principal", "Action"]
    assert list(second) == ["Sid", "Effect", "Principal", "Action", "Condition"]
    assert first["Action"] == ACTIONS


def test_principals_accounts_first_then_new_roles_only() -> None:
    doc = build_policy(access([A, B], [], [ROLE_A, f"arn:aws:iam::{A}:root", ROLE_A]))
    assert doc["Statement"][0]["Principal"]["AWS"] == [
        f"arn:aws:iam::{A}:root",
        f"arn:aws:iam::{B}:root",
        ROLE_A,
    ]


def test_lambda_condition_every_account_region_pair_account_major() -> None:
    doc = build_policy(access([A, B], ["us-east-1", "us-west-2"], [], worker=True))
    assert doc["Statement"][1]["Condition"]["StringLike"]["aws:sourceArn"] == [
        f"arn:aws:lambda:us-east-1:{A}:function:*",
        f"arn:aws:lambda:us-west-2:{A}:function:*",
        f"arn:aws:lambda:us-east-1:{B}:function:*",
        f"arn:aws:lambda:us-west-2:{B}:function:*",
    ]


def test_lambda_condition_wildcard_region_when_no_regions() -> None:
    doc = build_policy(access([A], [], [], worker=True))
    assert doc["Statement"][1]["Condition"]["StringLike"]["aws:sourceArn"] == [
        f"arn:aws:lambda:*:{A}:function:*"
    ]


def test_lambda_statement_needs_accounts() -> None:
    doc = build_policy(access([], ["us-east-1"], [ROLE_B], worker=True))
    assert [s["Sid"] for s in doc["Statement"]] == ["CrossAccountRolePermission"]


def test_roles_only_document() -> None:
    doc = build_policy(access([], [], [ROLE_B]))
    assert doc["Statement"] == [
        {
            "Sid": "CrossAccountRolePermission",
            "Effect": "Allow",
            "Principal": {"AWS": [ROLE_B]},
            "Action": ACTIONS,
        }
    ]


def test_empty_access_still_has_statement_list() -> None:
    assert policy_text(access()) == '{"Version":"2012-10-17","Statement":[]}'
    assert not ecr_policy.has_statements(build_policy(access(regions=["us-east-1"], worker=True)))


def test_parse_reads_back_roles_roots_accounts_regions_worker() -> None:
    text = policy_text(access([B], ["us-west-2", "eu-west-1"], [ROLE_B, ROLE_A], worker=True))
    got = parse_policy(text)
    # root principals give back accounts; a role does not grant its whole account (alien: [A, B]
    # and the root ARN among the roles, which widened the grant to account A on the next add)
    assert got.account_ids == [B]
    assert got.role_arns == sorted([ROLE_B, ROLE_A])
    assert got.regions == ["eu-west-1", "us-west-2"]  # read back from the Lambda condition
    assert got.allowed_service_types == [WORKER]


def test_parse_wildcard_region_is_no_region() -> None:
    assert parse_policy(policy_text(access([A], [], [], worker=True))).regions == []


def test_parse_skips_unique_ids_single_string_principal_and_legacy_sid() -> None:
    text = json.dumps(
        {
            "Version": "2008-10-17",
            "Statement": [
                {
                    "Sid": "CrossAccountRolePermission",
                    "Effect": "Allow",
                    "Principal": {"AWS": "AROAEXAMPLEDELETEDROLE"},
                    "Action": "ecr:BatchGetImage",
                },
                {
                    "Sid": "CrossAccountRolePermission",
                    "Effect": "Allow",
                    "Principal": {"AWS": ROLE_A},
                    "Action": "ecr:BatchGetImage",
                },
                {
                    "Sid": "LambdaServiceAccess",
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "ecr:BatchGetImage",
                },
                {"Sid": "SomethingElse", "Effect": "Allow", "Principal": "*", "Action": "ecr:*"},
            ],
        }
    )
    got = parse_policy(text)
    assert got.role_arns == [ROLE_A]
    assert got.account_ids == []
    assert got.allowed_service_types == [WORKER]
    assert got.regions == []


def test_parse_lambda_statement_needs_lambda_principal() -> None:
    text = json.dumps(
        {
            "Statement": [
                {
                    "Sid": "LambdaECRImageCrossAccountRetrievalPolicy",
                    "Principal": {"Service": "ecs.amazonaws.com"},
                }
            ]
        }
    )
    assert parse_policy(text).allowed_service_types == []


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"Statement": 7}'])
def test_parse_rejects_non_documents(text: str) -> None:
    with pytest.raises(PolicyParseError):
        parse_policy(text)


def test_merge_keeps_existing_first_then_new_unseen() -> None:
    current = access([B], ["us-west-2"], [ROLE_B], worker=True)
    new = access([A, B], ["us-east-1", "us-west-2"], [ROLE_A], worker=True)
    merged = merge_access(current, new)
    assert merged.account_ids == [B, A]
    assert merged.regions == ["us-west-2", "us-east-1"]
    assert merged.role_arns == [ROLE_B, ROLE_A]
    assert merged.allowed_service_types == [WORKER]


def test_remove_drops_root_principals_of_removed_accounts() -> None:
    current = parse_policy(
        policy_text(access([A, B], ["us-east-1"], [ROLE_A, ROLE_B], worker=True))
    )
    left = remove_access(current, access([A], [], [ROLE_A]))
    assert left.account_ids == [B]
    assert left.role_arns == [ROLE_B]
    assert left.regions == ["us-east-1"]
    assert left.allowed_service_types == [WORKER]
    # everything the add put there goes away with the same input
    gone = remove_access(left, access([B], ["us-east-1"], [ROLE_B], worker=True))
    assert gone == access()


def test_granting_a_role_does_not_widen_to_its_account_on_the_next_add() -> None:
    current = parse_policy(policy_text(access([], [], [ROLE_B])))
    assert current.account_ids == []
    merged = merge_access(current, access([A], [], []))
    document = json.loads(policy_text(merged))
    principals = document["Statement"][0]["Principal"]["AWS"]
    assert principals == [f"arn:aws:iam::{A}:root", ROLE_B]
    assert f"arn:aws:iam::{B}:root" not in principals


def test_round_trip_add_remove_leaves_nothing() -> None:
    granted = access([A], ["eu-central-1"], [ROLE_A], worker=True)
    current = parse_policy(policy_text(granted))
    assert remove_access(current, granted) == access()


def test_validate_access() -> None:
    assert ecr_policy.validate_access(access([A], ["us-east-1", "cn-north-1"], [ROLE_A])) == []
    assert (
        ecr_policy.validate_access(
            access([A], ["us-gov-west-1"], ["arn:aws-us-gov:iam::123456789012:role/x"])
        )
        == []
    )
    problems = ecr_policy.validate_access(access(["123"], ["moon"], ["role/x"]))
    assert [field for field, _ in problems] == ["accountIds", "regions", "roleArns"]
