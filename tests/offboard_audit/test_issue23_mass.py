"""Issue 23, mass offboarding: fifty people who share a role, in one run or fifty.

A module of its own (with a lab of its own) so the suite's workers run it beside
the other issue-23 cases rather than after them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from keyless.plan.revocations import ROLE_POLICY_NAME
from keyless.services.offboard import Offboarder
from keyless.spec import load_spec
from offboard_support import (
    ACME,
    add_person,
    aws_client,
    keyless_scp_text,
    member_client,
    offboard_json,
    session_works,
    sessions_by_alias,
    sign_in,
)

PROD = "222222222222"


# -- mass offboarding: fifty people who share a role -------------------------------------------


def _crowd(lab: Any, prefix: str, tmp_path: Path) -> tuple[list[str], dict[str, Any]]:
    people = [f"{prefix}{n:02d}@acme.example" for n in range(50)]
    sessions: dict[str, Any] = {}
    for index, login in enumerate(people):
        password, secret = add_person(lab, login, ["aws-admins"])
        if index % 17 == 0:  # a few of them hold live sessions
            sessions[login] = sessions_by_alias(
                sign_in(lab, login, tmp_path, password=password, secret=secret)
            )
    return people, sessions


def test_fifty_people_sharing_a_role_in_one_run(org_lab: Any, tmp_path: Path) -> None:
    people, sessions = _crowd(org_lab, "one", tmp_path)
    report = offboard_json(org_lab, *people)
    assert report["ok"] is True
    text = keyless_scp_text(org_lab)
    assert all(f'"*:{p}"' in text for p in people)
    held = aws_client(org_lab, "iam").get_role_policy(
        RoleName="ReadOnly", PolicyName=ROLE_POLICY_NAME
    )
    assert all(f"*:{p}" in json.dumps(held["PolicyDocument"]) for p in people)
    for login, theirs in sessions.items():
        assert not session_works(org_lab, theirs["acme-prod"]), login


def test_fifty_people_sharing_a_role_in_fifty_runs(org_lab: Any, tmp_path: Path) -> None:
    people, sessions = _crowd(org_lab, "many", tmp_path)
    spec = load_spec(ACME)
    for login in people:  # AWS only, one at a time: the SCP and the role policy fill up
        report = Offboarder(spec, org_lab.connector()).offboard(login)
        assert report.ok, report.as_dict()
    text = keyless_scp_text(org_lab)
    assert all(f'"*:{p}"' in text for p in people)
    for login, theirs in sessions.items():
        assert not session_works(org_lab, theirs["acme-prod"]), login
    # A member account's role holds no per-person policy at all: the SCP does it.
    prod = member_client(org_lab, PROD, "iam")
    assert ROLE_POLICY_NAME not in prod.list_role_policies(RoleName="OktaAdminRole")["PolicyNames"]
