"""The pure IAM policy functions behind GAR cross-account access."""

from __future__ import annotations

import copy

from artreg.providers import gcp_iam
from artreg.types import ComputeServiceType, GcpCrossAccountAccess

READER = gcp_iam.READER_ROLE
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


def test_access_from_policy_reads_like_alien() -> None:
    policy = {
        "bindings": [
            {
                "role": READER,
                "members": [ROBOT.format(9), ROBOT.format(3), "user:u@x", "group:g@x"],
            },
            {
                "role": "roles/artifactregistry.writer",
                "members": ["serviceAccount:w@x", ROBOT.format(3)],
            },
            {"role": "roles/owner", "members": ["serviceAccount:owner@x"]},
            {"role": "roles/viewer", "members": ["deleted:serviceAccount:old@x?uid=1"]},
        ]
    }
    assert gcp_iam.access_from_policy(policy) == GcpCrossAccountAccess(
        project_numbers=["3", "9"],
        service_account_emails=["w@x"],
        allowed_service_types=[ComputeServiceType.WORKER],
    )
    assert gcp_iam.access_from_policy({}) == access([], [], worker=False)
