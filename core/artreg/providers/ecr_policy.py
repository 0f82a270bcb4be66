"""ECR repository policy documents for cross-account pull access: build, parse, merge, remove.

Pure functions, no I/O. The document is built statement by statement in a fixed key order:

1. ``CrossAccountRolePermission`` — when there is any principal: ``arn:aws:iam::{acct}:root``
   for each account, then each role ARN not already listed; five ECR actions.
2. ``LambdaECRImageCrossAccountRetrievalPolicy`` — once per ``worker`` service type, when there
   are accounts: Lambda may fetch images for functions of those accounts, in the given regions
   (``aws:sourceArn`` ``arn:aws:lambda:{region}:{acct}:function:*``; ``*`` when no region).

With neither, the document still reads ``{"Version": "2012-10-17", "Statement": []}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any, Final

from artreg.types import AwsCrossAccountAccess, ComputeServiceType

__all__ = [
    "CROSS_ACCOUNT_ACTIONS",
    "LAMBDA_ACTIONS",
    "LAMBDA_SERVICE",
    "SID_CROSS_ACCOUNT",
    "SID_LAMBDA",
    "SID_LAMBDA_LEGACY",
    "PolicyParseError",
    "build_policy",
    "empty_access",
    "has_statements",
    "merge_access",
    "parse_policy",
    "policy_text",
    "remove_access",
    "root_principal",
    "validate_access",
]

VERSION: Final = "2012-10-17"
SID_CROSS_ACCOUNT: Final = "CrossAccountRolePermission"
SID_LAMBDA: Final = "LambdaECRImageCrossAccountRetrievalPolicy"
SID_LAMBDA_LEGACY: Final = "LambdaServiceAccess"
LAMBDA_SERVICE: Final = "lambda.amazonaws.com"
CROSS_ACCOUNT_ACTIONS: Final = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchGetImage",
    # Lambda CreateFunction with a cross-account image checks and sets the repository policy.
    "ecr:GetRepositoryPolicy",
    "ecr:SetRepositoryPolicy",
)
LAMBDA_ACTIONS: Final = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")


_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_ROOT_RE = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):root")
_IAM_ARN = re.compile(r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:\S+$")


def validate_access(access: AwsCrossAccountAccess) -> list[tuple[str, str]]:
    """Problems with access to grant, as ``(field, message)``: account IDs are 12 digits,
    regions look like ``us-east-1``, role ARNs are IAM/STS ARNs."""
    problems: list[tuple[str, str]] = []
    problems += [
        ("accountIds", f"{a!r} is not a 12-digit AWS account ID")
        for a in access.account_ids
        if not _ACCOUNT.match(a)
    ]
    problems += [
        ("regions", f"{r!r} is not an AWS region name")
        for r in access.regions
        if not _REGION.match(r)
    ]
    problems += [
        ("roleArns", f"{r!r} is not an IAM principal ARN")
        for r in access.role_arns
        if not _IAM_ARN.match(r)
    ]
    return problems


class PolicyParseError(ValueError):
    """The policy text is not a JSON policy document."""


def root_principal(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:root"


def empty_access() -> AwsCrossAccountAccess:
    return AwsCrossAccountAccess(account_ids=[], regions=[], role_arns=[], allowed_service_types=[])


def build_policy(access: AwsCrossAccountAccess) -> dict[str, Any]:
    """The policy document granting ``access`` (dicts keep the documented key order)."""
    statements: list[dict[str, Any]] = []
    principals = [root_principal(acct) for acct in access.account_ids]
    for arn in access.role_arns:
        if arn not in principals:
            principals.append(arn)
    if principals:
        statements.append(
            {
                "Sid": SID_CROSS_ACCOUNT,
                "Effect": "Allow",
                "Principal": {"AWS": principals},
                "Action": list(CROSS_ACCOUNT_ACTIONS),
            }
        )
    if access.account_ids:
        if access.regions:
            source_arns = [
                f"arn:aws:lambda:{region}:{acct}:function:*"
                for acct in access.account_ids
                for region in access.regions
            ]
        else:
            source_arns = [f"arn:aws:lambda:*:{acct}:function:*" for acct in access.account_ids]
        for service_type in access.allowed_service_types:
            if service_type == ComputeServiceType.WORKER:
                statements.append(
                    {
                        "Sid": SID_LAMBDA,
                        "Effect": "Allow",
                        "Principal": {"Service": LAMBDA_SERVICE},
                        "Action": list(LAMBDA_ACTIONS),
                        "Condition": {"StringLike": {"aws:sourceArn": list(source_arns)}},
                    }
                )
    return {"Version": VERSION, "Statement": statements}


def policy_text(access: AwsCrossAccountAccess) -> str:
    """The document of :func:`build_policy` as compact JSON, keys in order."""
    return json.dumps(build_policy(access), separators=(",", ":"))


def has_statements(document: dict[str, Any]) -> bool:
    return bool(document.get("Statement"))


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _sorted_unique(values: Iterable[str]) -> list[str]:
    return sorted(set(values))


def parse_policy(text: str) -> AwsCrossAccountAccess:
    """The access a policy document grants, as this module writes it.

    In ``CrossAccountRolePermission``, an account's root principal (``arn:aws:iam::A:root``) gives
    back the account ``A`` and any other ARN a role; unique IDs (``AROA…``) that AWS writes for
    deleted roles are skipped. (alien reports root principals as roles and every principal's
    account as an account, so granting one role in account B turned into granting all of B on the
    next add; reading back what was written avoids that widening.) A Lambda statement (current or legacy Sid) adds
    ``worker``, and its ``aws:sourceArn`` conditions give back the regions (``*`` is none).
    Lists come back sorted and without duplicates. Other statements are ignored.
    """
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise PolicyParseError(str(exc)) from exc
    if not isinstance(document, dict):
        raise PolicyParseError("policy document is not a JSON object")
    raw_statements = document.get("Statement", [])
    if isinstance(raw_statements, dict):
        raw_statements = [raw_statements]
    if not isinstance(raw_statements, list):
        raise PolicyParseError("'Statement' is neither a list nor an object")
    accounts: list[str] = []
    roles: list[str] = []
    regions: list[str] = []
    worker = False
    for statement in raw_statements:
        if not isinstance(statement, dict):
            continue
        sid = statement.get("Sid")
        principal = statement.get("Principal")
        principal = principal if isinstance(principal, dict) else {}
        if sid == SID_CROSS_ACCOUNT:
            for arn in _strings(principal.get("AWS")):
                if not arn.startswith("arn:"):
                    continue
                root = _ROOT_RE.fullmatch(arn)
                if root:
                    accounts.append(root.group(1))
                else:
                    roles.append(arn)
        elif sid in (SID_LAMBDA, SID_LAMBDA_LEGACY) and LAMBDA_SERVICE in _strings(
            principal.get("Service")
        ):
            worker = True
            regions.extend(_condition_regions(statement.get("Condition")))
    return AwsCrossAccountAccess(
        account_ids=_sorted_unique(accounts),
        regions=_sorted_unique(regions),
        role_arns=_sorted_unique(roles),
        allowed_service_types=[ComputeServiceType.WORKER] if worker else [],
    )


def _condition_regions(condition: Any) -> list[str]:
    if not isinstance(condition, dict):
        return []
    regions: list[str] = []
    for operator in condition.values():
        if not isinstance(operator, dict):
            continue
        for key, value in operator.items():
            if key.lower() != "aws:sourcearn":
                continue
            for arn in _strings(value):
                parts = arn.split(":")
                if len(parts) > 3 and parts[0] == "arn" and parts[2] == "lambda":
                    region = parts[3]
                    if region and "*" not in region and "?" not in region:
                        regions.append(region)
    return regions


def _merge(existing: Sequence[str], new: Sequence[str]) -> list[str]:
    merged = list(existing)
    for item in new:
        if item not in merged:
            merged.append(item)
    return merged


def merge_access(
    current: AwsCrossAccountAccess, new: AwsCrossAccountAccess
) -> AwsCrossAccountAccess:
    """Each list: the existing items first, then the new ones not already present."""
    return AwsCrossAccountAccess(
        account_ids=_merge(current.account_ids, new.account_ids),
        regions=_merge(current.regions, new.regions),
        role_arns=_merge(current.role_arns, new.role_arns),
        allowed_service_types=[
            ComputeServiceType(s)
            for s in _merge(current.allowed_service_types, new.allowed_service_types)
        ],
    )


def remove_access(
    current: AwsCrossAccountAccess, removed: AwsCrossAccountAccess
) -> AwsCrossAccountAccess:
    """``current`` without every account, region, role ARN and service type ``removed`` names;
    the ``arn:aws:iam::{acct}:root`` principal of each removed account goes too."""
    gone_roles = set(removed.role_arns) | {root_principal(a) for a in removed.account_ids}
    return AwsCrossAccountAccess(
        account_ids=[a for a in current.account_ids if a not in removed.account_ids],
        regions=[r for r in current.regions if r not in removed.regions],
        role_arns=[r for r in current.role_arns if r not in gone_roles],
        allowed_service_types=[
            s for s in current.allowed_service_types if s not in removed.allowed_service_types
        ],
    )
