"""`keyless offboard` in the lab: the issue's done-when, through the CLI and boto3.

alice holds live sessions in acme-prod and acme-dev, carol one in acme-prod.
`keyless offboard alice@acme.example` makes both of alice's sessions get
AccessDenied on their next call while carol's keeps working, and its report
lists each step with a timestamp. A rerun finishes the job; `--release`
refuses while a stopped session could still be alive.
"""

from __future__ import annotations

import importlib.util
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from offboard_support import aws_client, keyless, member_client, sign_in

from keyless.plan.revocations import policy_name
from keyless.services.credentials import AwsCredentials

PROD, DEV = "222222222222", "333333333333"
ALICE, CAROL = "alice@acme.example", "carol@acme.example"


@pytest.fixture(scope="module")
def offboarded(
    own_lab: Any, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], dict[str, AwsCredentials], Path]:
    """Sessions taken, then `keyless offboard alice` run once; the report and the sessions."""
    tmp = tmp_path_factory.mktemp("offboard")
    alice = {c.account_alias or "": c for c in sign_in(own_lab, ALICE, tmp)}
    carol = {c.account_alias or "": c for c in sign_in(own_lab, CAROL, tmp)}
    sessions = {"alice-prod": alice["acme-prod"], "alice-dev": alice["acme-dev"]}
    sessions["carol-prod"] = carol["acme-prod"]
    for credentials in sessions.values():  # every session works before
        aws_client(own_lab, "iam", credentials).list_roles()
    report_file = tmp / "evidence.json"
    result = keyless(own_lab, "offboard", ALICE, "--json", "--report", str(report_file))
    assert result.returncode == 0, result.stderr + result.stdout
    report = json.loads(result.stdout)
    assert json.loads(report_file.read_text()) == report
    return report, sessions, report_file


def _denied(lab: Any, credentials: AwsCredentials) -> str:
    with pytest.raises(ClientError) as caught:
        aws_client(lab, "iam", credentials).list_roles()
    return str(caught.value.response["Error"]["Code"])


def test_alices_live_sessions_are_denied_and_carols_keeps_working(
    own_lab: Any, offboarded: tuple[dict[str, Any], dict[str, AwsCredentials], Path]
) -> None:
    _, sessions, _ = offboarded
    assert _denied(own_lab, sessions["alice-prod"]) == "AccessDenied"
    assert _denied(own_lab, sessions["alice-dev"]) == "AccessDenied"
    assert aws_client(own_lab, "iam", sessions["carol-prod"]).list_roles()["Roles"]


def test_the_report_lists_each_step_with_timestamps(
    offboarded: tuple[dict[str, Any], dict[str, AwsCredentials], Path],
) -> None:
    report, sessions, _ = offboarded
    assert report["ok"] is True
    assert report["unreached_accounts"] == []
    steps = report["steps"]
    times = [datetime.fromisoformat(s["at"].replace("Z", "+00:00")) for s in steps]
    assert times == sorted(times)
    started = datetime.fromisoformat(report["started_at"].replace("Z", "+00:00"))
    finished = datetime.fromisoformat(report["finished_at"].replace("Z", "+00:00"))
    assert started <= times[0]
    assert times[-1] <= finished
    # The Okta step is reported, skipped with its reason when no Okta client is wired.
    okta = [s for s in steps if s["where"] == "okta"]
    assert len(okta) == 1
    assert okta[0]["outcome"] in ("done", "skipped")
    # alice's groups (aws-admins) reach OktaAdminRole in acme-prod and acme-dev only.
    attached = {(s["where"], s["target"]) for s in steps if s["action"] == "attach deny"}
    name = policy_name(ALICE)
    assert attached == {
        ("acme-prod", f"OktaAdminRole/{name}"),
        ("acme-dev", f"OktaAdminRole/{name}"),
    }
    confirmed = {(s["where"], s["outcome"]) for s in steps if s["action"] == "verify deny"}
    assert confirmed == {("acme-prod", "confirmed"), ("acme-dev", "confirmed")}
    # The sessions cut off are named from CloudTrail, keys masked.
    cleared = {
        a["alias"]: [s["access_key_id"] for s in a["sessions_cleared"]] for a in report["accounts"]
    }
    for alias, key in (("acme-prod", "alice-prod"), ("acme-dev", "alice-dev")):
        key_id = sessions[key].access_key_id
        assert f"{key_id[:4]}****{key_id[-4:]}" in cleared[alias]
    assert sessions["alice-prod"].secret_access_key not in json.dumps(report)


def test_plan_leaves_the_revocations_alone(
    own_lab: Any, offboarded: tuple[dict[str, Any], dict[str, AwsCredentials], Path]
) -> None:
    result = keyless(own_lab, "plan", "--json", "--detailed-exitcode")
    assert result.returncode == 0, result.stdout + result.stderr
    assert policy_name(ALICE) not in result.stdout


def test_a_rerun_finishes_the_job_and_a_dry_run_changes_nothing(
    own_lab: Any, offboarded: tuple[dict[str, Any], dict[str, AwsCredentials], Path]
) -> None:
    iam = member_client(own_lab, PROD, "iam")
    before = iam.get_role_policy(RoleName="OktaAdminRole", PolicyName=policy_name(ALICE))
    dry = keyless(own_lab, "offboard", ALICE, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert {s["outcome"] for s in json.loads(dry.stdout)["steps"]} <= {"would-do", "skipped"}
    unchanged = iam.get_role_policy(RoleName="OktaAdminRole", PolicyName=policy_name(ALICE))
    assert unchanged["PolicyDocument"] == before["PolicyDocument"]
    # Someone removed it in one account by hand: a rerun puts it back.
    member_client(own_lab, DEV, "iam").delete_role_policy(
        RoleName="OktaAdminRole", PolicyName=policy_name(ALICE)
    )
    again = keyless(own_lab, "offboard", ALICE, "--json")
    assert again.returncode == 0, again.stderr
    held = member_client(own_lab, DEV, "iam").get_role_policy(
        RoleName="OktaAdminRole", PolicyName=policy_name(ALICE)
    )
    assert held["PolicyDocument"]["Statement"][0]["Effect"] == "Deny"


def test_release_refuses_while_a_session_could_be_alive(
    own_lab: Any, offboarded: tuple[dict[str, Any], dict[str, AwsCredentials], Path]
) -> None:
    refused = keyless(own_lab, "offboard", "--release", ALICE, "--json")
    assert refused.returncode == 1
    kept = [r for a in json.loads(refused.stdout)["accounts"] for r in a["roles"]]
    assert {r["status"] for r in kept} == {"kept"}
    assert "--force" in refused.stderr
    # Still in place.
    _, sessions, _ = offboarded
    assert _denied(own_lab, sessions["alice-prod"]) == "AccessDenied"


def test_an_unknown_option_mix_is_refused_before_anything_happens(own_lab: Any) -> None:
    result = keyless(own_lab, "offboard", ALICE, "--all-sessions", "ReadOnly")
    assert result.returncode == 2
    assert "exactly one of USER or --all-sessions" in result.stderr


def test_alices_next_sign_in_fails_at_the_idp(
    own_lab: Any,
    offboarded: tuple[dict[str, Any], dict[str, AwsCredentials], Path],
    tmp_path: Path,
) -> None:
    if importlib.util.find_spec("keyless.adapters.okta_admin") is None:
        pytest.skip(
            "needs the Okta management client (keyless.adapters.okta_admin, issue 13) for "
            "offboard's Okta step; without it offboard reports that step as skipped"
        )
    report, _, _ = offboarded
    okta = [s for s in report["steps"] if s["where"] == "okta"]
    assert okta[0]["outcome"] == "done"
    from keyless.errors import KeylessError

    with pytest.raises(KeylessError):
        sign_in(own_lab, ALICE, tmp_path)
