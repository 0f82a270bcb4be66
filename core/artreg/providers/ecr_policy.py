"""ECR repository policies for cross-account pull access: what artreg owns in a policy, and how a
grant or a revoke changes it. Pure functions, no I/O.

A repository policy is shared: other tools, other people and Lambda itself write statements in
it. artreg owns only

1. its principal statement, Sid ``ArtregCrossAccountPull``: ``arn:{partition}:iam::{acct}:root``
   for each account, then each role ARN; the three actions a pull needs
   (``ecr:BatchGetImage``, ``ecr:GetDownloadUrlForLayer``, ``ecr:BatchCheckLayerAvailability``)
   and nothing that lets a grantee read or rewrite the policy;
2. its (account, region) pairs in the Lambda statement AWS's Lambda guide names,
   ``LambdaECRImageCrossAccountRetrievalPolicy``: ``lambda.amazonaws.com`` may fetch images for
   functions ``arn:{partition}:lambda:{region}:{acct}:function:*`` (region ``*`` when the grant
   names none). The statement is shared: artreg adds and removes only its own pairs — those of
   the accounts its principal statement grants (role accounts included) — and keeps every other
   ARN. When that statement has a shape artreg cannot merge into (no ``aws:sourceArn``
   condition, other keys), artreg's pairs go into a statement of its own, ``ArtregLambdaPull``.

alien's statements (``CrossAccountRolePermission``, and the legacy ``LambdaServiceAccess`` when
it has an ``aws:sourceArn`` condition) are read as artreg's and rewritten under artreg's Sids on
the first change. Every other statement is
left exactly as it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from artreg.providers.ecr_config import Partition, partition_named, partition_of
from artreg.types import AwsCrossAccountAccess, ComputeServiceType

__all__ = [
    "LAMBDA_ACTIONS",
    "LAMBDA_SERVICE",
    "MAX_POLICY_CHARS",
    "PULL_ACTIONS",
    "SID_ALIEN_LAMBDA_LEGACY",
    "SID_ALIEN_PRINCIPALS",
    "SID_LAMBDA",
    "SID_LAMBDA_OWN",
    "SID_PULL",
    "Grants",
    "PolicyParseError",
    "access_of",
    "apply_grants",
    "build_policy",
    "document_text",
    "empty_access",
    "granted",
    "owned_grants",
    "parse_document",
    "parse_policy",
    "revoked",
    "validate_access",
]

VERSION: Final = "2012-10-17"
SID_PULL: Final = "ArtregCrossAccountPull"
SID_LAMBDA_OWN: Final = "ArtregLambdaPull"
#: The Sid AWS's Lambda guide gives the cross-account statement (shared with other writers).
SID_LAMBDA: Final = "LambdaECRImageCrossAccountRetrievalPolicy"
#: alien's Sids: read as artreg's, replaced by artreg's on the first change.
SID_ALIEN_PRINCIPALS: Final = "CrossAccountRolePermission"
SID_ALIEN_LAMBDA_LEGACY: Final = "LambdaServiceAccess"
LAMBDA_SERVICE: Final = "lambda.amazonaws.com"
#: What pulling an image takes (the ECR guide's repository-policy examples), and no more.
PULL_ACTIONS: Final = (
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchCheckLayerAvailability",
)
LAMBDA_ACTIONS: Final = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
#: SetRepositoryPolicy's ``policyText`` limit (the ``ecr`` service model's max length).
MAX_POLICY_CHARS: Final = 10240
#: The region of a Lambda pair granted without regions.
ANY_REGION: Final = "*"

_OWNED_SIDS: Final = frozenset({SID_PULL, SID_LAMBDA_OWN, SID_ALIEN_PRINCIPALS})
_ACCOUNT = re.compile(r"\d{12}")
_ROOT = re.compile(r"arn:[a-z0-9-]+:iam::(\d{12}):root")
_PRINCIPAL_ARN = re.compile(r"arn:([a-z0-9-]+):(iam|sts)::(\d{12}):(.+)")
_LAMBDA_ARN = re.compile(r"arn:[a-z0-9-]+:lambda:([a-z0-9-]+|\*):(\d{12}):function:\*")
_SOURCE_ARN_OPERATORS: Final = ("StringLike", "ArnLike")


class PolicyParseError(ValueError):
    """The policy text is not a JSON policy document."""


@dataclass(frozen=True)
class Grants:
    """What artreg grants on one repository: root-principal accounts, other principal ARNs and
    Lambda (account, region) pairs, each in the order written."""

    accounts: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    lambda_pairs: tuple[tuple[str, str], ...] = ()

    def grantee_accounts(self) -> set[str]:
        """The accounts granted, directly or through a role: the owners of Lambda pairs."""
        return set(self.accounts) | {_account_of(arn) for arn in self.roles} - {""}

    def is_empty(self) -> bool:
        return not (self.accounts or self.roles or self.lambda_pairs)


# -- validation --------------------------------------------------------------------------------


def validate_access(access: AwsCrossAccountAccess, partition: Partition) -> list[tuple[str, str]]:
    """Problems with access to grant in ``partition``, as ``(field, message)``: account IDs are
    12 digits, regions are regions of the partition, principals are IAM roles or users (or STS
    role sessions) of the partition — never IAM groups, which IAM refuses as principals."""
    problems: list[tuple[str, str]] = [
        ("accountIds", f"{a!r} is not a 12-digit AWS account ID")
        for a in access.account_ids
        if not _ACCOUNT.fullmatch(a)
    ]
    for region in access.regions:
        found = partition_of(region) if re.fullmatch(r"[a-z0-9-]+", region) else None
        if found is None:
            problems.append(("regions", f"{region!r} is not an AWS region name"))
        elif found.name != partition.name:
            problems.append(
                (
                    "regions",
                    f"{region!r} is in partition {found.name!r}, not in the registry's "
                    f"{partition.name!r}",
                )
            )
    for arn in access.role_arns:
        problem = _principal_problem(arn, partition)
        if problem:
            problems.append(("roleArns", f"{arn!r} {problem}"))
    return problems


def _principal_problem(arn: str, partition: Partition) -> str | None:
    match = _PRINCIPAL_ARN.fullmatch(arn)
    if match is None or partition_named(match.group(1)) is None:
        return "is not an IAM principal ARN"
    arn_partition, service, _, resource = match.groups()
    if arn_partition != partition.name:
        return f"is in partition {arn_partition!r}, not in the registry's {partition.name!r}"
    if service == "iam" and resource.startswith("group/"):
        return "is an IAM group; IAM does not accept groups as principals"
    if service == "iam" and (resource == "root" or resource.startswith(("role/", "user/"))):
        return None
    if service == "sts" and resource.startswith(("assumed-role/", "federated-user/")):
        return None
    return "is not an IAM role, user or role session"


# -- reading -----------------------------------------------------------------------------------


def parse_document(text: str | None) -> dict[str, Any]:
    """The policy document in ``text`` (an empty one for None), with ``Statement`` as a list."""
    if text is None:
        return {"Version": VERSION, "Statement": []}
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise PolicyParseError(str(exc)) from exc
    if not isinstance(document, dict):
        raise PolicyParseError("policy document is not a JSON object")
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        raise PolicyParseError("'Statement' is neither a list nor an object")
    return {**document, "Statement": statements}


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _account_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[0] == "arn" else ""


def _source_arn_list(statement: dict[str, Any]) -> tuple[str, str, list[str]] | None:
    """(operator, key, ARNs) of a Lambda statement artreg can merge pairs into, else None: an
    Allow for exactly ``lambda.amazonaws.com``, with both Lambda actions, conditioned on nothing
    but one ``aws:sourceArn`` test (StringLike or ArnLike)."""
    if set(statement) - {"Sid", "Effect", "Principal", "Action", "Condition"}:
        return None
    principal = statement.get("Principal")
    if statement.get("Effect") != "Allow" or not isinstance(principal, dict):
        return None
    if list(principal) != ["Service"] or _strings(principal["Service"]) != [LAMBDA_SERVICE]:
        return None
    actions = set(_strings(statement.get("Action")))
    if not (set(LAMBDA_ACTIONS) <= actions or "ecr:*" in actions):
        return None
    condition = statement.get("Condition")
    if not isinstance(condition, dict) or len(condition) != 1:
        return None
    ((operator, tests),) = condition.items()
    if operator not in _SOURCE_ARN_OPERATORS or not isinstance(tests, dict) or len(tests) != 1:
        return None
    ((key, value),) = tests.items()
    if key.lower() != "aws:sourcearn" or not _strings(value) or not isinstance(value, str | list):
        return None
    return operator, key, _strings(value)


def _pair(arn: str) -> tuple[str, str] | None:
    match = _LAMBDA_ARN.fullmatch(arn)
    return (match.group(2), match.group(1)) if match else None


def _unique(items: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(dict.fromkeys(items))


def owned_grants(document: dict[str, Any]) -> Grants:
    """What artreg (or alien before it) granted in ``document``: the principals of its principal
    statement (a root principal, or a bare account ID, is an account; unique IDs such as
    ``AROA…`` that AWS leaves for deleted roles are skipped) and the Lambda pairs of those
    accounts."""
    accounts: list[str] = []
    roles: list[str] = []
    pairs: list[tuple[str, str]] = []
    shared: list[tuple[str, str]] = []
    for statement in document["Statement"]:
        if not isinstance(statement, dict):
            continue
        sid = statement.get("Sid")
        if sid in (SID_PULL, SID_ALIEN_PRINCIPALS):
            principal = statement.get("Principal")
            aws = principal.get("AWS") if isinstance(principal, dict) else None
            for arn in _strings(aws):
                root = _ROOT.fullmatch(arn)
                if root or _ACCOUNT.fullmatch(arn):
                    accounts.append(root.group(1) if root else arn)
                elif arn.startswith("arn:"):
                    roles.append(arn)
        elif sid == SID_LAMBDA_OWN:
            found = _source_arn_list(statement)
            pairs += [p for p in map(_pair, found[2] if found else []) if p]
        elif sid in (SID_LAMBDA, SID_ALIEN_LAMBDA_LEGACY):
            found = _source_arn_list(statement)
            shared += [p for p in map(_pair, found[2] if found else []) if p]
    grants = Grants(tuple(_unique(accounts)), tuple(_unique(roles)))
    mine = grants.grantee_accounts()
    return Grants(
        grants.accounts,
        grants.roles,
        _unique([*pairs, *(p for p in shared if p[0] in mine)]),
    )


def _condition_arns(statement: dict[str, Any]) -> list[str]:
    condition = statement.get("Condition")
    arns: list[str] = []
    for tests in (condition or {}).values() if isinstance(condition, dict) else ():
        if isinstance(tests, dict):
            for key, value in tests.items():
                if key.lower() == "aws:sourcearn":
                    arns += _strings(value)
    return arns


def access_of(grants: Grants) -> AwsCrossAccountAccess:
    """The wire form of ``grants``: sorted, without duplicates; ``regions`` from the Lambda pairs
    (a wildcard region is none); ``worker`` when there is any Lambda pair."""
    regions = {region for _, region in grants.lambda_pairs if region != ANY_REGION}
    return AwsCrossAccountAccess(
        account_ids=sorted(set(grants.accounts)),
        regions=sorted(regions),
        role_arns=sorted(set(grants.roles)),
        allowed_service_types=[ComputeServiceType.WORKER] if grants.lambda_pairs else [],
    )


def parse_policy(text: str) -> AwsCrossAccountAccess:
    """The access a policy text grants, as artreg (or alien) wrote it; other statements, and
    Lambda ARNs of accounts artreg does not grant, are ignored."""
    return access_of(owned_grants(parse_document(text)))


def empty_access() -> AwsCrossAccountAccess:
    return AwsCrossAccountAccess(account_ids=[], regions=[], role_arns=[], allowed_service_types=[])


# -- changing ----------------------------------------------------------------------------------


def granted(current: Grants, access: AwsCrossAccountAccess) -> Grants:
    """``current`` plus ``access``: its accounts and roles, and with ``worker`` a Lambda pair for
    every granted account (a role's account included) and every region (``*`` without
    regions). Existing entries keep their place; new ones follow."""
    pairs: list[tuple[str, str]] = list(current.lambda_pairs)
    if ComputeServiceType.WORKER in access.allowed_service_types:
        lambda_accounts = _unique(
            [*access.account_ids, *(a for a in map(_account_of, access.role_arns) if a)]
        )
        regions = list(access.regions) or [ANY_REGION]
        pairs += [(account, region) for account in lambda_accounts for region in regions]
    return Grants(
        _unique([*current.accounts, *access.account_ids]),
        _unique([*current.roles, *access.role_arns]),
        _unique(pairs),
    )


def revoked(current: Grants, access: AwsCrossAccountAccess) -> Grants:
    """``current`` without what ``access`` names. Accounts and roles go, and with them every
    Lambda pair of an account no longer granted (directly or through a role). Regions remove
    their pairs — of the named accounts when accounts are named, of every account otherwise —
    and ``worker`` with neither accounts nor regions removes every pair. Other accounts' pairs
    stay exactly as they are."""
    accounts = tuple(a for a in current.accounts if a not in access.account_ids)
    roles = tuple(r for r in current.roles if r not in access.role_arns)
    remaining = Grants(accounts, roles).grantee_accounts()
    named = set(access.account_ids)
    regions = set(access.regions)
    worker = ComputeServiceType.WORKER in access.allowed_service_types

    def revoked_pair(account: str, region: str) -> bool:
        if account not in remaining:
            return True
        if regions:
            return region in regions and (not named or account in named)
        return worker and not named

    pairs = tuple(p for p in current.lambda_pairs if not revoked_pair(*p))
    return Grants(accounts, roles, pairs)


def _principal_statement(grants: Grants, partition: Partition) -> dict[str, Any] | None:
    principals = [partition.arn("iam", "", account, "root") for account in grants.accounts]
    principals += [arn for arn in grants.roles if arn not in principals]
    if not principals:
        return None
    return {
        "Sid": SID_PULL,
        "Effect": "Allow",
        "Principal": {"AWS": principals},
        "Action": list(PULL_ACTIONS),
    }


def _lambda_arn(pair: tuple[str, str], partition: Partition) -> str:
    account, region = pair
    return partition.arn("lambda", region, account, "function:*")


def _lambda_statement(sid: str, arns: Sequence[str]) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": LAMBDA_SERVICE},
        "Action": list(LAMBDA_ACTIONS),
        "Condition": {"StringLike": {"aws:sourceArn": list(arns)}},
    }


def _without_owned(
    statements: list[Any],
) -> tuple[list[Any], int | None, list[str]]:
    """``statements`` without artreg's and alien's own; where the principal statement stood;
    and the ARNs of alien's legacy Lambda statement (to carry into the shared one)."""
    kept: list[Any] = []
    principal_at: int | None = None
    carried: list[str] = []
    for statement in statements:
        sid = statement.get("Sid") if isinstance(statement, dict) else None
        if sid in _OWNED_SIDS:
            if principal_at is None and sid != SID_LAMBDA_OWN:
                principal_at = len(kept)
        elif sid == SID_ALIEN_LAMBDA_LEGACY and _source_arn_list(statement) is not None:
            # alien's legacy statement, in a shape artreg writes: folded into the shared one
            carried += _condition_arns(statement)
        else:
            kept.append(statement)
    return kept, principal_at, carried


def _shared_index(statements: list[Any]) -> int | None:
    """Where the shared Lambda statement artreg can merge into stands, if anywhere."""
    return next(
        (
            i
            for i, s in enumerate(statements)
            if isinstance(s, dict) and s.get("Sid") == SID_LAMBDA and _source_arn_list(s)
        ),
        None,
    )


def _put_lambda_arns(
    statements: list[Any], carried: list[str], old: set[str], new: list[str]
) -> None:
    """Take ``old`` out of the shared Lambda statement (or artreg's own) and put ``new`` in; an
    ARN in both keeps its place (no rewrite when nothing changed), others' ARNs stay."""
    at = _shared_index(statements)
    if at is None:
        arns = list(_unique([*(a for a in carried if a not in old or a in new), *new]))
        if arns:
            taken = any(isinstance(s, dict) and s.get("Sid") == SID_LAMBDA for s in statements)
            statements.append(_lambda_statement(SID_LAMBDA_OWN if taken else SID_LAMBDA, arns))
        return
    statement = statements[at]
    operator, key, arns = _source_arn_list(statement) or ("StringLike", "aws:sourceArn", [])
    merged = list(_unique([*(a for a in [*arns, *carried] if a not in old or a in new), *new]))
    if merged:
        statements[at] = {**statement, "Condition": {operator: {key: merged}}}
    else:
        del statements[at]


def apply_grants(
    document: dict[str, Any], before: Grants, after: Grants, partition: Partition
) -> dict[str, Any]:
    """``document`` with artreg's part changed from ``before`` (what it owned there) to
    ``after``. Foreign statements are kept as they are, in place; alien's statements are
    replaced by artreg's; in the shared Lambda statement only ``before``'s pairs are taken out
    and ``after``'s put in, every other ARN staying where it was."""
    statements, principal_at, carried = _without_owned(document["Statement"])
    principal = _principal_statement(after, partition)
    if principal is not None:
        statements.insert(len(statements) if principal_at is None else principal_at, principal)
    _put_lambda_arns(
        statements,
        carried,
        {_lambda_arn(p, partition) for p in before.lambda_pairs},
        [_lambda_arn(p, partition) for p in after.lambda_pairs],
    )
    return {**document, "Version": document.get("Version", VERSION), "Statement": statements}


def document_text(document: dict[str, Any]) -> str | None:
    """The compact JSON ECR is sent, or None when there are no statements (ECR refuses an empty
    statement list: the policy is deleted instead)."""
    if not document.get("Statement"):
        return None
    return json.dumps(document, separators=(",", ":"))


def build_policy(access: AwsCrossAccountAccess, partition: Partition) -> dict[str, Any]:
    """The document granting ``access`` on a repository without a policy yet."""
    return apply_grants(parse_document(None), Grants(), granted(Grants(), access), partition)
