"""`keyless offboard` in the lab: the issue's done-when, through the CLI and boto3.

alice holds live sessions in acme-prod and acme-dev, carol one in acme-prod.
`keyless offboard alice@acme.example` makes both of alice's sessions get
AccessDenied on their next call while carol's keeps working, and its report
lists each step with a timestamp. A rerun finishes the job; `--release`
refuses while a stopped session could still be alive.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from keyless.core.credentials import AwsCredentials, mask
from keyless.errors import RemoteError
from keyless.plan.revocations import ROLE_POLICY_NAME
from keyless.services.offboard import Offboarder, OktaOutcome
from keyless.spec import load_spec
from offboard_support import ACME, aws_client, keyless, member_client, sign_in

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
    result = keyless(own_lab, "offboard", ALICE, "--yes", "--json", "--report", str(report_file))
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
    # The Okta step is reported: the lab's Okta org deactivated alice.
    okta = [s for s in steps if s["where"] == "okta"]
    assert len(okta) == 1
    assert okta[0]["outcome"] == "done"
    # Every federated role gets the packed Deny, not only those alice's groups reach
    # (issue 23: groups are often stripped before offboarding).
    attached = {(s["where"], s["target"]) for s in steps if s["action"] == "attach deny"}
    assert attached == {
        ("acme-management", f"ReadOnly/{ROLE_POLICY_NAME}"),
        ("acme-prod", f"OktaAdminRole/{ROLE_POLICY_NAME}"),
        ("acme-prod", f"ReadOnly/{ROLE_POLICY_NAME}"),
        ("acme-dev", f"OktaAdminRole/{ROLE_POLICY_NAME}"),
        ("acme-dev", f"ReadOnly/{ROLE_POLICY_NAME}"),
        ("acme-dev", f"Developer/{ROLE_POLICY_NAME}"),
    }
    confirmed = {(s["where"], s["outcome"]) for s in steps if s["action"] == "verify deny"}
    assert confirmed == {
        ("acme-management", "confirmed"),
        ("acme-prod", "confirmed"),
        ("acme-dev", "confirmed"),
    }
    # The sessions cut off are named from CloudTrail, keys masked.
    cleared = {
        a["alias"]: [s["access_key_id"] for s in a["sessions_cleared"]] for a in report["accounts"]
    }
    for alias, key in (("acme-prod", "alice-prod"), ("acme-dev", "alice-dev")):
        key_id = sessions[key].access_key_id
        assert mask(key_id) in cleared[alias]
    assert sessions["alice-prod"].secret_access_key not in json.dumps(report)


def test_plan_leaves_the_revocations_alone(
    own_lab: Any, offboarded: tuple[dict[str, Any], dict[str, AwsCredentials], Path]
) -> None:
    result = keyless(own_lab, "plan", "--json", "--detailed-exitcode")
    assert result.returncode == 0, result.stdout + result.stderr
    assert ROLE_POLICY_NAME not in result.stdout


def test_a_rerun_finishes_the_job_and_a_dry_run_changes_nothing(
    own_lab: Any, offboarded: tuple[dict[str, Any], dict[str, AwsCredentials], Path]
) -> None:
    iam = member_client(own_lab, PROD, "iam")
    before = iam.get_role_policy(RoleName="OktaAdminRole", PolicyName=ROLE_POLICY_NAME)
    dry = keyless(own_lab, "offboard", ALICE, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert {s["outcome"] for s in json.loads(dry.stdout)["steps"]} <= {"would-do", "skipped"}
    unchanged = iam.get_role_policy(RoleName="OktaAdminRole", PolicyName=ROLE_POLICY_NAME)
    assert unchanged["PolicyDocument"] == before["PolicyDocument"]
    # Someone removed it in one account by hand: a rerun puts it back.
    member_client(own_lab, DEV, "iam").delete_role_policy(
        RoleName="OktaAdminRole", PolicyName=ROLE_POLICY_NAME
    )
    again = keyless(own_lab, "offboard", ALICE, "--yes", "--json")
    assert again.returncode == 0, again.stderr
    held = member_client(own_lab, DEV, "iam").get_role_policy(
        RoleName="OktaAdminRole", PolicyName=ROLE_POLICY_NAME
    )
    assert held["PolicyDocument"]["Statement"][0]["Effect"] == "Deny"


def test_release_refuses_while_a_session_could_be_alive(
    own_lab: Any, offboarded: tuple[dict[str, Any], dict[str, AwsCredentials], Path]
) -> None:
    refused = keyless(own_lab, "offboard", "--release", ALICE, "--yes", "--json")
    assert refused.returncode == 1
    kept = [r for a in json.loads(refused.stdout)["accounts"] for r in a["roles"]]
    assert {r["status"] for r in kept} == {"kept"}
    assert "--force" in refused.stderr
    # Still in place.
    _, sessions, _ = offboarded
    assert _denied(own_lab, sessions["alice-prod"]) == "AccessDenied"


def test_an_unknown_option_mix_is_refused_before_anything_happens(own_lab: Any) -> None:
    result = keyless(own_lab, "offboard", ALICE, "--all-sessions", "ReadOnly", "--yes")
    assert result.returncode == 2
    assert "exactly one of USER or --all-sessions" in result.stderr


def test_alices_next_sign_in_fails_at_the_idp(
    own_lab: Any,
    offboarded: tuple[dict[str, Any], dict[str, AwsCredentials], Path],
    tmp_path: Path,
) -> None:
    report, _, _ = offboarded
    okta = [s for s in report["steps"] if s["where"] == "okta"]
    assert okta[0]["outcome"] == "done"
    from keyless.errors import KeylessError

    with pytest.raises(KeylessError):
        sign_in(own_lab, ALICE, tmp_path)


class FakeOkta:
    """The Okta step's seam, as h13's management client will fill it (a protocol fake)."""

    def __init__(self, groups: tuple[str, ...], *, fail: bool = False) -> None:
        self.groups = groups
        self.fail = fail
        self.calls: list[tuple[str, bool, bool]] = []

    def offboard_user(self, login: str, *, suspend: bool, dry_run: bool) -> OktaOutcome:
        self.calls.append((login, suspend, dry_run))
        if self.fail:
            raise RemoteError("cannot reach https://acme.okta.com: connection refused")
        return OktaOutcome(
            status_before="ACTIVE",
            status_after="ACTIVE" if dry_run else ("SUSPENDED" if suspend else "DEPROVISIONED"),
            sessions_cleared=not dry_run,
            groups=self.groups,
        )


def test_the_okta_step_reports_status_and_every_federated_role_is_revoked(own_lab: Any) -> None:
    okta = FakeOkta(groups=("developers",))
    offboarder = Offboarder(load_spec(ACME), own_lab.connector(), okta=okta)
    report = offboarder.offboard("bob@acme.example", suspend=True).as_dict()
    # Read first (nothing changed until everything is sized), then the change.
    assert okta.calls == [("bob@acme.example", False, True), ("bob@acme.example", True, False)]
    assert report["okta"]["status_before"] == "ACTIVE"
    assert report["okta"]["status_after"] == "SUSPENDED"
    assert report["okta"]["sessions_cleared"] is True
    steps = report["steps"]
    assert steps[0]["where"] == "okta"
    assert steps[0]["outcome"] == "done"
    attached = {
        (s["where"], s["target"].split("/")[0]) for s in steps if s["action"] == "attach deny"
    }
    # Regression (issue 23): not only the groups' Developer: every federated role.
    assert ("acme-dev", "Developer") in attached
    assert ("acme-prod", "OktaAdminRole") in attached
    assert report["ok"] is True
    released = offboarder.release("bob@acme.example", force=True)
    assert released.ok, released.as_dict()


def test_an_okta_failure_is_reported_and_aws_is_still_done(own_lab: Any) -> None:
    offboarder = Offboarder(
        load_spec(ACME), own_lab.connector(), okta=FakeOkta(groups=(), fail=True)
    )
    report = offboarder.offboard("dan@acme.example")
    assert report.ok is False
    assert "connection refused" in (report.okta_error or "")
    # Groups unknown: every federated role of the spec gets dan's Deny.
    assert "every federated role" in report.role_source
    assert all(r.verified for a in report.accounts for r in a.roles)
    assert offboarder.release("dan@acme.example", force=True).ok


def test_an_account_that_cannot_be_reached_is_named_and_the_others_are_done(
    own_lab: Any, tmp_path: Path
) -> None:
    text = ACME.read_text().replace(
        '  - id: "333333333333"',
        '  - id: "444444444444"\n    alias: acme-gone\n  - id: "333333333333"',
    )
    spec = tmp_path / "acme-gone.yaml"
    spec.write_text(text)
    result = keyless(own_lab, "offboard", "erin@acme.example", "--yes", "--json", spec=spec)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["unreached_accounts"] == ["acme-gone (444444444444)"]
    assert "acme-gone (444444444444)" in result.stderr
    reached = [a for a in report["accounts"] if a["reached"]]
    assert reached
    assert all(r["verified"] for a in reached for r in a["roles"])


def test_all_sessions_of_a_role_for_an_incident_and_release(own_lab: Any, tmp_path: Path) -> None:
    bob = {c.account_alias: c for c in sign_in(own_lab, "bob@acme.example", tmp_path)}
    session = bob["acme-dev"]
    assert aws_client(own_lab, "iam", session).list_roles()["Roles"]
    result = keyless(own_lab, "offboard", "--all-sessions", "Developer", "--yes", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["okta_skipped"]
    assert _denied(own_lab, session) == "AccessDenied"
    released = keyless(
        own_lab,
        "offboard",
        "--release",
        "--all-sessions",
        "Developer",
        "--force",
        "--yes",
        "--json",
    )
    assert released.returncode == 0, released.stderr
    statuses = {r["status"] for a in json.loads(released.stdout)["accounts"] for r in a["roles"]}
    assert statuses == {"released"}
    # The Deny is gone, so the (still unexpired) session works again.
    assert aws_client(own_lab, "iam", session).list_roles()["Roles"]
