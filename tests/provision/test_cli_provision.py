"""`keyless plan` / `keyless apply` driven as a user would: the real CLI against moto's server.

These are the issue's done-when scenarios: apply creates everything, a plan
right after has no changes, a policy edit in the spec is exactly one change, a
hand-made same-name role is a conflict left alone, and a member account whose
access role is gone fails alone, by name, and a rerun converges.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from provision_support import KEYLESS, Federation


def keyless(
    fed: Federation, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KEYLESS, *args],
        env=fed.env(),
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        check=False,
    )


def plan_json(fed: Federation, *extra: str) -> dict[str, Any]:
    result = keyless(fed, "plan", "--spec", str(fed.spec_path), "--json", *extra)
    assert result.returncode in (0, 1), result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def iam_in(fed: Federation, account_id: str) -> Any:
    session = boto3.Session(
        aws_access_key_id=fed.access_key_id,
        aws_secret_access_key=fed.secret_access_key,
        region_name="us-east-1",
    )
    if account_id == fed.management_id:
        return session.client("iam", endpoint_url=fed.endpoint_url)
    creds = session.client("sts", endpoint_url=fed.endpoint_url).assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole",
        RoleSessionName="test",
    )["Credentials"]
    return session.client(
        "iam",
        endpoint_url=fed.endpoint_url,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def test_apply_creates_everything_then_plan_has_no_changes(
    make_federation: Callable[..., Federation],
) -> None:
    fed = make_federation(role_import=True)  # with the IdP's role-listing user to check
    spec = str(fed.spec_path)

    before = keyless(fed, "plan", "--spec", spec, "--detailed-exitcode")
    assert before.returncode == 3, before.stdout + before.stderr
    assert "+ create saml-provider Okta" in before.stdout
    assert "Plan:" in before.stdout

    applied = keyless(fed, "apply", "--spec", spec, "--yes")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "applied" in applied.stdout

    after = keyless(fed, "plan", "--spec", spec, "--detailed-exitcode")
    assert after.returncode == 0, after.stdout + after.stderr
    assert "0 to create, 0 to change, 0 to delete" in after.stdout

    prod, dev = fed.member_ids
    iam_dev = iam_in(fed, dev)
    roles = {r["RoleName"]: r for r in iam_dev.list_roles()["Roles"]}
    assert {"OktaAdminRole", "ReadOnly", "Developer"} <= set(roles)
    trust = roles["Developer"]["AssumeRolePolicyDocument"]
    statement = trust["Statement"][0]
    assert statement["Principal"] == {"Federated": f"arn:aws:iam::{dev}:saml-provider/Okta"}
    assert sorted(statement["Action"]) == [
        "sts:AssumeRoleWithSAML",
        "sts:SetSourceIdentity",
        "sts:TagSession",
    ]
    assert statement["Condition"] == {
        "StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}
    }
    assert roles["Developer"]["MaxSessionDuration"] == 14400
    tags = {t["Key"]: t["Value"] for t in iam_dev.list_role_tags(RoleName="Developer")["Tags"]}
    assert tags == {"keyless:managed-by": "acme", "team": "engineering"}
    assert iam_dev.list_role_policies(RoleName="Developer")["PolicyNames"] == [
        "DenyLeavingTheRegion"
    ]
    attached = iam_dev.list_attached_role_policies(RoleName="Developer")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == ["arn:aws:iam::aws:policy/PowerUserAccess"]
    assert iam_dev.list_account_aliases()["AccountAliases"] == [f"a{dev}"]

    # The IdP's provisioning user: management account only, ListRoles + ListAccountAliases only.
    iam_mgmt = iam_in(fed, fed.management_id)
    policy = iam_mgmt.get_user_policy(
        UserName="OktaProvisioningUser", PolicyName="keyless-idp-list-roles"
    )
    statements = policy["PolicyDocument"]["Statement"]
    assert [sorted(s["Action"]) for s in statements] == [
        ["iam:ListAccountAliases", "iam:ListRoles"]
    ]
    assert "OktaProvisioningUser" not in {
        u["UserName"] for u in iam_in(fed, prod).list_users()["Users"]
    }


def test_policy_edit_in_spec_is_exactly_that_change(
    make_federation: Callable[..., Federation],
) -> None:
    fed = make_federation()
    assert keyless(fed, "apply", "--spec", str(fed.spec_path), "--yes").returncode == 0
    data = fed.spec_data()
    developer = next(r for r in data["roles"] if r["name"] == "Developer")
    statement = developer["inline_policies"]["DenyLeavingTheRegion"]["Statement"][0]
    statement["Condition"]["StringNotEquals"]["aws:RequestedRegion"] = ["us-east-1"]
    fed.write_spec(data)

    plan = plan_json(fed)
    changes = [(a["alias"], c) for a in plan["accounts"] for c in a["changes"]]
    assert len(changes) == 1, changes
    alias, change = changes[0]
    assert alias == f"a{fed.member_ids[1]}"
    assert (change["action"], change["resource"], change["name"]) == ("update", "role", "Developer")
    assert [f["field"] for f in change["fields"]] == ["inline_policy DenyLeavingTheRegion"]
    assert [op["api"] for op in change["operations"]] == ["put_role_policy"]

    human = keyless(fed, "plan", "--spec", str(fed.spec_path), "--detailed-exitcode")
    assert human.returncode == 3
    # A readable JSON diff: the removed region is one '-' line.
    assert re.search(r'^\s+-\s+"eu-west-1"$', human.stdout, re.MULTILINE), human.stdout

    assert keyless(fed, "apply", "--spec", str(fed.spec_path), "--yes").returncode == 0
    assert keyless(fed, "plan", "--spec", str(fed.spec_path), "--detailed-exitcode").returncode == 0


def test_hand_made_role_with_a_spec_name_is_a_conflict_left_alone(
    make_federation: Callable[..., Federation],
) -> None:
    fed = make_federation()
    prod = fed.member_ids[0]
    iam = iam_in(fed, prod)
    hand_made_trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(RoleName="ReadOnly", AssumeRolePolicyDocument=json.dumps(hand_made_trust))

    result = keyless(fed, "apply", "--spec", str(fed.spec_path), "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "! conflict role ReadOnly" in result.stdout
    assert "--adopt" in result.stdout
    role = iam.get_role(RoleName="ReadOnly")["Role"]
    assert role["AssumeRolePolicyDocument"] == hand_made_trust
    assert iam.list_attached_role_policies(RoleName="ReadOnly")["AttachedPolicies"] == []

    # The conflict is not a pending change, so the plan settles; --adopt takes the role over.
    assert keyless(fed, "plan", "--spec", str(fed.spec_path), "--detailed-exitcode").returncode == 0
    adopted = keyless(fed, "apply", "--spec", str(fed.spec_path), "--yes", "--adopt")
    assert adopted.returncode == 0, adopted.stdout + adopted.stderr
    statement = iam.get_role(RoleName="ReadOnly")["Role"]["AssumeRolePolicyDocument"]["Statement"][
        0
    ]
    assert statement["Principal"] == {"Federated": f"arn:aws:iam::{prod}:saml-provider/Okta"}
    plan = plan_json(fed)
    assert all(not a["changes"] for a in plan["accounts"]), plan


def test_missing_access_role_fails_that_account_only_and_rerun_converges(
    make_federation: Callable[..., Federation],
) -> None:
    fed = make_federation()
    prod, dev = fed.member_ids
    fed.delete_access_role(prod)

    result = keyless(fed, "apply", "--spec", str(fed.spec_path), "--yes")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"a{prod} ({prod})" in result.stderr  # named in the final summary
    assert "OrganizationAccountAccessRole" in result.stdout  # the cause
    assert "AccessDenied" in result.stdout
    # The other accounts were applied.
    assert "Developer" in {r["RoleName"] for r in iam_in(fed, dev).list_roles()["Roles"]}

    fed.restore_access_role(prod)
    rerun = keyless(fed, "apply", "--spec", str(fed.spec_path), "--yes")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    final = keyless(fed, "plan", "--spec", str(fed.spec_path), "--detailed-exitcode")
    assert final.returncode == 0, final.stdout + final.stderr


def test_apply_asks_and_does_nothing_when_refused(
    make_federation: Callable[..., Federation],
) -> None:
    fed = make_federation(members=1)
    result = keyless(fed, "apply", "--spec", str(fed.spec_path), stdin="n\n")
    assert result.returncode == 1
    assert "nothing applied" in result.stderr
    assert keyless(fed, "plan", "--spec", str(fed.spec_path), "--detailed-exitcode").returncode == 3


def test_plan_json_and_account_filter(
    make_federation: Callable[..., Federation], tmp_path: Path
) -> None:
    fed = make_federation()
    dev = fed.member_ids[1]
    plan = plan_json(fed, "--account", f"a{dev}")
    assert [a["account_id"] for a in plan["accounts"]] == [dev]
    assert plan["has_changes"] is True
    bad = keyless(fed, "plan", "--spec", str(fed.spec_path), "--account", "nope")
    assert bad.returncode == 2
    assert "no account 'nope'" in bad.stderr


def test_apply_create_provisioning_key_json_carries_the_key_once(
    make_federation: Callable[..., Federation],
) -> None:
    """Regression: `apply --create-provisioning-key --json` crashed (TypeError) after
    creating the key, so the one copy of its secret was lost."""
    fed = make_federation(role_import=True)
    result = keyless(
        fed, "apply", "--spec", str(fed.spec_path), "--yes", "--create-provisioning-key", "--json"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    key = json.loads(result.stdout)["provisioning_key"]
    assert key["user"] == "OktaProvisioningUser"
    listed = iam_in(fed, fed.management_id).list_access_keys(UserName="OktaProvisioningUser")
    assert [k["AccessKeyId"] for k in listed["AccessKeyMetadata"]] == [key["access_key_id"]]
    assert key["secret_access_key"]
    assert key["secret_access_key"] not in result.stderr
