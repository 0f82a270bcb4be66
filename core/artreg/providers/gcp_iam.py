"""Artifact Registry IAM policy logic as pure functions (no I/O).

Policies are the JSON objects ``getIamPolicy`` returns (``{version?, etag?, bindings?: [{role,
members, condition?}], auditConfigs?...}``); the functions never mutate their input and keep every
field they do not understand, so a read-modify-write round trip loses nothing.

Member strings follow alien: ``serviceAccount:service-{projectNumber}@serverless-robot-prod.iam.
gserviceaccount.com`` (the Cloud Run service agent of that project) for each project number when
``worker`` is allowed, and ``serviceAccount:{email}`` for each service account email.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Final

from artreg.types import ComputeServiceType, GcpCrossAccountAccess

__all__ = [
    "READER_ROLE",
    "access_from_policy",
    "add_members",
    "members_for",
    "remove_members",
]

READER_ROLE: Final = "roles/artifactregistry.reader"
_ROBOT_DOMAIN: Final = "serverless-robot-prod.iam.gserviceaccount.com"
_ROBOT: Final = re.compile(r"^service-(\d+)@" + re.escape(_ROBOT_DOMAIN) + r"\Z")
_SA_PREFIX: Final = "serviceAccount:"

Policy = dict[str, Any]


def robot_member(project_number: str) -> str:
    """The Cloud Run service agent of a project, as an IAM member."""
    return f"{_SA_PREFIX}service-{project_number}@{_ROBOT_DOMAIN}"


def members_for(access: GcpCrossAccountAccess) -> list[str]:
    """The IAM members an access grant names, in order, without duplicates."""
    members: list[str] = []
    for service_type in access.allowed_service_types:
        if service_type == ComputeServiceType.WORKER:
            members.extend(robot_member(n) for n in access.project_numbers)
    members.extend(f"{_SA_PREFIX}{email}" for email in access.service_account_emails)
    return list(dict.fromkeys(members))


def _bindings(policy: Policy) -> list[dict[str, Any]]:
    bindings = policy.get("bindings") or []
    return [b for b in bindings if isinstance(b, dict)]


def add_members(policy: Policy, members: list[str]) -> Policy:
    """``policy`` with ``members`` granted the reader role.

    They join the first unconditional ``roles/artifactregistry.reader`` binding (members it
    already has are not repeated); without one, a new binding is appended.
    """
    result = copy.deepcopy(policy)
    if not members:
        return result
    bindings = _bindings(result)
    for binding in bindings:
        if binding.get("role") == READER_ROLE and not binding.get("condition"):
            present = list(binding.get("members") or [])
            binding["members"] = present + [m for m in members if m not in present]
            break
    else:
        bindings.append({"role": READER_ROLE, "members": list(members)})
    result["bindings"] = bindings
    return result


def _granted_by_artreg(binding: dict[str, Any]) -> bool:
    """Whether a binding is one artreg writes: the reader role, without a condition."""
    return binding.get("role") == READER_ROLE and not binding.get("condition")


def remove_members(policy: Policy, members: list[str]) -> Policy:
    """``policy`` with ``members`` taken out of every unconditional reader binding; bindings
    left empty go. Conditional bindings (which :func:`add_members` never writes) stay as
    they are."""
    result = copy.deepcopy(policy)
    if "bindings" not in result:
        return result
    gone = set(members)
    kept: list[dict[str, Any]] = []
    for binding in _bindings(result):
        if _granted_by_artreg(binding):
            remaining = [m for m in binding.get("members") or [] if m not in gone]
            if not remaining:
                continue
            binding["members"] = remaining
        kept.append(binding)
    result["bindings"] = kept
    return result


def access_from_policy(policy: Policy) -> GcpCrossAccountAccess:
    """The cross-account access a policy grants: exactly what :func:`add_members` writes.

    Only unconditional ``roles/artifactregistry.reader`` bindings count (a writer or admin
    binding, or a reader binding under a condition, is not artreg's pull grant); of their
    ``serviceAccount:`` members, Cloud Run service agents give project numbers (and
    ``worker``), any other service account is listed by email. Other member kinds (``user:``,
    ``allUsers``, ``deleted:…``) are not cross-account identities and are left out. Lists come
    back sorted and deduplicated.
    """
    projects: set[str] = set()
    emails: set[str] = set()
    for binding in _bindings(policy):
        if not _granted_by_artreg(binding):
            continue
        for member in binding.get("members") or []:
            if not isinstance(member, str) or not member.startswith(_SA_PREFIX):
                continue
            address = member[len(_SA_PREFIX) :]
            robot = _ROBOT.match(address)
            if robot:
                projects.add(robot.group(1))
            else:
                emails.add(address)
    return GcpCrossAccountAccess(
        project_numbers=sorted(projects),
        service_account_emails=sorted(emails),
        allowed_service_types=[ComputeServiceType.WORKER] if projects else [],
    )
