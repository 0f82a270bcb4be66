"""The pure IAM policy functions behind GAR cross-account access."""

from __future__ import annotations

import copy

from artreg.providers import gcp_iam
from artreg.types import ComputeServiceType, GcpCrossAccountAccess

READER = "roles/artifactregistry.reader"
ROBOT = "serviceAccount:service-{}@serverless-robot-prod.iam.gserviceaccount.com"


def access(projects: list[str], emails: list[str], worker: bool = True) -> GcpCrossAccountAccess:
    return GcpCrossAccountAccess(
        project_numbers=projects,
        service_account_emails=emails,
        allowed_service_types=[ComputeServiceType.WORKER] if worker else [],
    )


def test_members_follow_alien() -> None:
    assert gcp_iam.members_for(access(["1", "2"], ["a@x.iam.gserviceaccount.com"])) == [
        ROBOT.format(1),
        ROBOT.format(2),
        "serviceAccount:a@x.iam.gserviceaccount.com",
    ]
    # project numbers only count for worker; duplicates are dropped
    assert gcp_iam.members_for(access(["1"], ["a@x", "a@x"], worker=False)) == [
        "serviceAccount:a@x"
    ]


def test_add_joins_the_first_unconditional_reader_binding() -> None:
    policy = {
        "etag": "E",
        "bindings": [
            {"role": READER, "members": ["user:c@x"], "condition": {"expression": "true"}},
            {"role": READER, "members": ["user:u@x"]},
            {"role": READER, "members": ["user:v@x"]},
        ],
    }
    before = copy.deepcopy(policy)
    out = gcp_iam.add_members(policy, ["user:u@x", "serviceAccount:s@x"])
    assert policy == before  # input untouched
    assert out["bindings"][1] == {"role": READER, "members": ["user:u@x", "serviceAccount:s@x"]}
    assert out["bindings"][0] == before["bindings"][0]
    assert out["bindings"][2] == before["bindings"][2]
    assert out["etag"] == "E"


def test_add_creates_a_binding_when_none_fits() -> None:
    assert gcp_iam.add_members({"etag": "E"}, ["user:a@x"]) == {
        "etag": "E",
        "bindings": [{"role": READER, "members": ["user:a@x"]}],
    }
    assert gcp_iam.add_members({"version": 1}, []) == {"version": 1}


def test_remove_drops_members_and_empty_bindings() -> None:
    policy = {
        "bindings": [
            {"role": "roles/owner", "members": ["user:a@x"]},
            {"role": READER, "members": ["user:a@x", "user:b@x"]},
            {"role": READER, "members": ["user:a@x"]},
        ]
    }
    assert gcp_iam.remove_members(policy, ["user:a@x"]) == {
        "bindings": [
            {"role": "roles/owner", "members": ["user:a@x"]},
            {"role": READER, "members": ["user:b@x"]},
        ]
    }
    assert gcp_iam.remove_members({"etag": "E"}, ["user:a@x"]) == {"etag": "E"}
    assert gcp_iam.remove_members(policy, ["user:z@x"]) == policy


def test_access_counts_only_the_role_artreg_grants() -> None:
    """A writer, an admin or a conditional reader binding is not artreg's pull grant."""
    policy = {
        "version": 3,
        "bindings": [
            {
                "role": READER,
                "members": [ROBOT.format(9), ROBOT.format(3), "user:u@x", "group:g@x", "allUsers"],
            },
            {
                "role": "roles/artifactregistry.writer",
                "members": ["serviceAccount:push@x", ROBOT.format(4)],
            },
            {"role": "roles/artifactregistry.admin", "members": ["serviceAccount:admin@x"]},
            {"role": "roles/artifactregistry.repoAdmin", "members": ["serviceAccount:ra@x"]},
            {"role": "projects/p/roles/customReader", "members": ["serviceAccount:custom@x"]},
            {
                "role": READER,
                "members": ["serviceAccount:temp@x", ROBOT.format(5)],
                "condition": {"title": "t", "expression": "request.time < timestamp('2030')"},
            },
            {"role": READER, "members": ["deleted:serviceAccount:old@x?uid=1"]},
            {"role": "roles/owner", "members": ["serviceAccount:owner@x"]},
        ],
    }
    assert gcp_iam.access_from_policy(policy) == GcpCrossAccountAccess(
        project_numbers=["3", "9"],
        service_account_emails=[],
        allowed_service_types=[ComputeServiceType.WORKER],
    )
    assert gcp_iam.access_from_policy({}) == access([], [], worker=False)


def test_remove_leaves_conditional_bindings_alone() -> None:
    conditional = {
        "role": READER,
        "members": ["serviceAccount:s@x"],
        "condition": {"title": "t", "expression": "true"},
    }
    policy = {
        "version": 3,
        "bindings": [conditional, {"role": READER, "members": ["serviceAccount:s@x", "user:k@x"]}],
    }
    assert gcp_iam.remove_members(policy, ["serviceAccount:s@x"]) == {
        "version": 3,
        "bindings": [
            {
                "role": READER,
                "members": ["serviceAccount:s@x"],
                "condition": {"title": "t", "expression": "true"},
            },
            {"role": READER, "members": ["user:k@x"]},
        ],
    }
