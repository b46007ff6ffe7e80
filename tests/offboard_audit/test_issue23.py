"""Issue 23: offboarding that holds in a real organization, through the CLI and the lab.

The lab's organization has service control policies enabled, so acme-prod and
acme-dev (members) are covered by the keyless SCP at the root and
acme-management by the per-role Denies. Each case from the issue: the person's
sessions are refused afterwards, a colleague on the same role keeps working.
"""

from __future__ import annotations

import json
import ssl
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from keyless.core.credentials import AwsCredentials
from keyless.plan.revocations import (
    REVOCATION_TAG_PREFIX,
    ROLE_POLICY_NAME,
    policy_name,
    revocation_policy,
)
from keyless_lab.idp.directory import Directory
from offboard_support import (
    ACME,
    KEYLESS,
    add_person,
    aws_client,
    keyless,
    keyless_scp_text,
    member_client,
    offboard_json,
    session_works,
    sessions_by_alias,
    sign_in,
)

PROD, DEV = "222222222222", "333333333333"
ALICE, CAROL = "alice@acme.example", "carol@acme.example"
PRINCIPAL = f"arn:aws:iam::{PROD}:saml-provider/Okta"


def test_without_yes_or_a_terminal_offboard_refuses_and_changes_nothing(org_lab: Any) -> None:
    result = keyless(org_lab, "offboard", CAROL, "--json")
    assert result.returncode == 2
    assert "--yes" in result.stderr
    directory = Directory(Path(org_lab.state_dir) / "idp.sqlite")
    try:
        user = directory.get_user(CAROL)
        assert user is not None
        assert user.status == "ACTIVE"
    finally:
        directory.close()
    assert "carol" not in keyless_scp_text(org_lab)


def test_a_case_variant_login_revokes_the_name_okta_sends(org_lab: Any, tmp_path: Path) -> None:
    """Regression (issue 23, 1): the Deny was keyed on what the operator typed."""
    password, secret = add_person(org_lab, "dave@acme.example", ["aws-admins"])
    alice = sessions_by_alias(sign_in(org_lab, ALICE, tmp_path))
    dave = sessions_by_alias(
        sign_in(org_lab, "dave@acme.example", tmp_path, password=password, secret=secret)
    )
    carol = {c.account_alias: c for c in sign_in(org_lab, CAROL, tmp_path)}
    assert session_works(org_lab, alice["acme-prod"])
    report = offboard_json(org_lab, "Alice@acme.example")
    assert report["keys"]["Alice@acme.example"]["name"] == [ALICE]
    assert not session_works(org_lab, alice["acme-prod"])
    assert not session_works(org_lab, alice["acme-dev"])
    # Colleagues on the same role, and on another, keep working.
    assert session_works(org_lab, dave["acme-prod"])
    assert session_works(org_lab, dave["acme-dev"])
    assert session_works(org_lab, carol["acme-management"])
    assert session_works(org_lab, carol["acme-prod"])
    # Member accounts by one SCP at the root, the management account per role.
    assert [s["status"] for s in report["scps"]] == ["attached"]
    assert all(s["verified"] for s in report["scps"])
    assert f'"*:{ALICE}"' in keyless_scp_text(org_lab)
    covered = {a["alias"]: a["roles"] for a in report["accounts"]}
    assert covered["acme-prod"] == []
    assert covered["acme-dev"] == []
    assert [r["role"] for r in covered["acme-management"]] == ["ReadOnly"]
    assert "last few minutes" in report["evidence_note"]


def test_release_before_the_longest_session_could_end_is_refused(org_lab: Any) -> None:
    """Regression (issue 23, 5): release lifted the Deny after one hour whatever the role."""
    refused = keyless(org_lab, "offboard", "--release", ALICE, "--yes", "--json")
    assert refused.returncode == 1, refused.stderr
    report = json.loads(refused.stdout)
    kept = report["scps"] + [r for a in report["accounts"] for r in a["roles"]]
    assert kept
    assert {r["status"] for r in kept} == {"kept"}
    soonest = min(datetime.fromisoformat(r["releasable_at"].replace("Z", "+00:00")) for r in kept)
    # The SCP stops any role in the organization: up to 12 hours, plus the assertion window.
    assert soonest >= datetime.now(UTC) + timedelta(hours=12)
    assert f'"*:{ALICE}"' in keyless_scp_text(org_lab)


def _capturing_sts(held: list[tuple[str, str, str]]) -> Any:
    """An STS that keeps the assertions it is given and redeems none (a held assertion)."""

    class Holder:
        def assume_role_with_saml(
            self, *, role_arn: str, principal_arn: str, saml_assertion: str, duration_seconds: int
        ) -> AwsCredentials:
            held.append((role_arn, principal_arn, saml_assertion))
            return AwsCredentials(
                access_key_id="ASIAHELD0000000000",
                secret_access_key="held",
                session_token="held",
                expiration=datetime.now(UTC) + timedelta(hours=1),
                role_arn=role_arn,
            )

    return lambda region, endpoint_url: Holder()


def test_an_assertion_held_before_offboarding_yields_a_refused_session(
    org_lab: Any, tmp_path: Path
) -> None:
    """Regression (issue 23, 2): redeemed after the cut-off, it gave a fresh admin session."""
    password, secret = add_person(org_lab, "erin@acme.example", ["aws-admins"])
    held: list[tuple[str, str, str]] = []
    sign_in(
        org_lab,
        "erin@acme.example",
        tmp_path,
        password=password,
        secret=secret,
        sts_factory=_capturing_sts(held),
    )
    role_arn, principal_arn, assertion = next(h for h in held if PROD in h[0])
    offboard_json(org_lab, "erin@acme.example")
    answer = aws_client(org_lab, "sts").assume_role_with_saml(
        RoleArn=role_arn, PrincipalArn=principal_arn, SAMLAssertion=assertion
    )
    creds = answer["Credentials"]
    session = AwsCredentials(
        access_key_id=creds["AccessKeyId"],
        secret_access_key=creds["SecretAccessKey"],
        session_token=creds["SessionToken"],
        expiration=creds["Expiration"],
    )
    assert not session_works(org_lab, session)


def test_groups_stripped_before_offboarding(org_lab: Any, tmp_path: Path) -> None:
    """Regression (issue 23, 3): only roles the *current* groups reach got the Deny."""
    password, secret = add_person(org_lab, "frank@acme.example", ["aws-admins"])
    frank = sessions_by_alias(
        sign_in(org_lab, "frank@acme.example", tmp_path, password=password, secret=secret)
    )
    directory = Directory(Path(org_lab.state_dir) / "idp.sqlite")
    try:
        directory.remove_member("frank@acme.example", "aws-admins")  # HR automation, first
    finally:
        directory.close()
    offboard_json(org_lab, "frank@acme.example")
    assert not session_works(org_lab, frank["acme-prod"])
    assert not session_works(org_lab, frank["acme-dev"])


def test_a_session_chained_before_offboarding_is_found_and_refused(
    org_lab: Any, tmp_path: Path
) -> None:
    """Regression (issue 23, 4): chained sessions were neither revoked nor reported."""
    password, secret = add_person(org_lab, "gina@acme.example", ["aws-admins"])
    gina = sessions_by_alias(
        sign_in(org_lab, "gina@acme.example", tmp_path, password=password, secret=secret)
    )
    iam = aws_client(org_lab, "iam", gina["acme-prod"])
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{PROD}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(RoleName="Hideout", AssumeRolePolicyDocument=json.dumps(trust))
    iam.attach_role_policy(
        RoleName="Hideout", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"
    )
    chained = aws_client(org_lab, "sts", gina["acme-prod"]).assume_role(
        RoleArn=f"arn:aws:iam::{PROD}:role/Hideout", RoleSessionName="innocent"
    )
    creds = chained["Credentials"]
    hideout = AwsCredentials(
        access_key_id=creds["AccessKeyId"],
        secret_access_key=creds["SecretAccessKey"],
        session_token=creds["SessionToken"],
        expiration=creds["Expiration"],
    )
    assert session_works(org_lab, hideout)
    report = offboard_json(org_lab, "gina@acme.example")
    assert not session_works(org_lab, hideout)
    assert not session_works(org_lab, gina["acme-prod"])
    seen = [s for a in report["accounts"] for s in a["sessions_cleared"] if s["chained"]]
    assert [s["session"].split(":")[1] for s in seen] == ["innocent"]
    assert seen[0]["role_arn"].endswith("role/Hideout")
    assert (
        chained["AssumedRoleUser"]["AssumedRoleId"]
        in report["keys"]["gina@acme.example"]["chained_sessions"]
    )


def test_a_spec_naming_a_reserved_policy_is_refused(org_lab: Any, tmp_path: Path) -> None:
    """Regression (issue 23, 7): plan showed it as an update replacing the Deny."""
    text = ACME.read_text().replace(
        "      DenyLeavingTheRegion:", "      keyless-revoke-user-alice@acme.example:"
    )
    spec = tmp_path / "reserved.yaml"
    spec.write_text(text)
    validate = subprocess.run(
        [KEYLESS, "spec", "validate", str(spec)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert validate.returncode == 2
    assert "reserved" in validate.stderr + validate.stdout
    plan = keyless(org_lab, "plan", "--json", spec=spec)
    assert plan.returncode == 2
    # And plan against the real spec leaves the revocations alone.
    plan = keyless(org_lab, "plan", "--json", "--detailed-exitcode")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert ROLE_POLICY_NAME not in plan.stdout


def _okta(lab: Any) -> tuple[httpx.Client, str]:
    client = httpx.Client(
        base_url=lab.idp_url,
        verify=ssl.create_default_context(cafile=lab.ca_bundle),
        headers={"Authorization": f"SSWS {lab.okta_api_token}", "Accept": "application/json"},
    )
    return client, str(lab.app_id)


def test_a_non_default_app_username_template_is_what_gets_revoked(
    org_lab: Any, tmp_path: Path
) -> None:
    """Regression (issue 23, 1): Okta sends the app username, from the app's template."""
    client, app_id = _okta(org_lab)
    with client:
        original = client.get(f"/api/v1/apps/{app_id}").json()
        app = json.loads(json.dumps(original))
        app.setdefault("credentials", {})["userNameTemplate"] = {
            "template": 'String.substringBefore(user.login, "@")',
            "type": "CUSTOM",
        }
        assert client.put(f"/api/v1/apps/{app_id}", json=app).status_code == 200
        try:
            _revoke_by_template(org_lab, client, app_id, tmp_path)
        finally:  # the module's other people keep the default template
            client.put(f"/api/v1/apps/{app_id}", json=original)


def _revoke_by_template(org_lab: Any, client: httpx.Client, app_id: str, tmp_path: Path) -> None:
    password, secret = add_person(org_lab, "Hana.Lee@acme.example", ["aws-admins"])
    user_id = client.get("/api/v1/users/Hana.Lee@acme.example").json()["id"]
    assigned = client.get(f"/api/v1/apps/{app_id}/users/{user_id}")
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["credentials"]["userName"] == "Hana.Lee"
    hana = sessions_by_alias(
        sign_in(org_lab, "Hana.Lee@acme.example", tmp_path, password=password, secret=secret)
    )
    report = offboard_json(org_lab, "hana.lee@acme.example")
    assert report["keys"]["hana.lee@acme.example"]["name"] == ["Hana.Lee"]
    assert not session_works(org_lab, hana["acme-prod"])


def test_release_removes_a_revocation_in_the_previous_format(org_lab: Any, tmp_path: Path) -> None:
    """`--release` removes the older `keyless-revoke-user-<name as typed>` inline policy and
    its tag too (found from the name Okta sends though typed in another case here), by the
    same rules: kept before its time, gone with --force, then the person's session works."""
    password, secret = add_person(org_lab, "ivan@acme.example", ["aws-admins"])
    iam = member_client(org_lab, PROD, "iam")
    legacy = policy_name("ivan@acme.example")
    # As the previous offboard wrote it: sessions issued before the cut-off are denied.
    cut = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    iam.put_role_policy(
        RoleName="OktaAdminRole",
        PolicyName=legacy,
        PolicyDocument=json.dumps(revocation_policy("ivan@acme.example", cut)),
    )
    tag = f"{REVOCATION_TAG_PREFIX}ivan@acme.example"
    iam.tag_role(RoleName="OktaAdminRole", Tags=[{"Key": tag, "Value": cut.isoformat()}])

    def ivan() -> AwsCredentials:
        sessions = sign_in(org_lab, "ivan@acme.example", tmp_path, password=password, secret=secret)
        prod: AwsCredentials = sessions_by_alias(sessions)["acme-prod"]
        return prod

    assert not session_works(org_lab, ivan())
    kept = keyless(org_lab, "offboard", "--release", "Ivan@acme.example", "--yes", "--json")
    assert kept.returncode == 1, kept.stderr
    roles = [r for a in json.loads(kept.stdout)["accounts"] for r in a["roles"]]
    assert [(r["policy"], r["status"]) for r in roles] == [(legacy, "kept")]
    assert legacy in iam.list_role_policies(RoleName="OktaAdminRole")["PolicyNames"]

    released = keyless(
        org_lab, "offboard", "--release", "Ivan@acme.example", "--force", "--yes", "--json"
    )
    assert released.returncode == 0, released.stderr + released.stdout
    roles = [r for a in json.loads(released.stdout)["accounts"] for r in a["roles"]]
    assert [(r["policy"], r["status"]) for r in roles] == [(legacy, "released")]
    assert legacy not in iam.list_role_policies(RoleName="OktaAdminRole")["PolicyNames"]
    tags = iam.list_role_tags(RoleName="OktaAdminRole")["Tags"]
    assert tag not in {t["Key"] for t in tags}
    assert session_works(org_lab, ivan())
