"""`keyless lab sync-roles`: the IdP lists roles with the provisioning user's key only.

Only role import has such a user (acme maps groups and has none), so the test runs
sync-roles on acme in role-import mode, with the role-listing user `keyless apply` makes
for it created in the shared lab for the test and removed after.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest
import typer
import yaml
from typer.testing import CliRunner

from keyless_lab.cli.lab_idp import register

PROVIDER = "arn:aws:iam::111111111111:saml-provider/Okta"


TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Federated": PROVIDER},
            "Action": "sts:AssumeRoleWithSAML",
        }
    ],
}


@pytest.fixture
def management_iam(provisioned_lab: Any) -> Any:
    """IAM in the management account with the lab's bootstrap keys."""
    lab = provisioned_lab
    admin = boto3.Session(
        aws_access_key_id=lab.bootstrap_credentials["aws_access_key_id"],
        aws_secret_access_key=lab.bootstrap_credentials["aws_secret_access_key"],
        region_name="us-east-1",
    )
    return admin.client("iam", endpoint_url=lab.aws_endpoint_url, verify=lab.ca_bundle)


LIST_ROLES = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["iam:ListRoles", "iam:ListAccountAliases"], "Resource": "*"}
    ],
}


@pytest.fixture
def role_import_spec(provisioned_lab: Any, tmp_path: Path) -> Path:
    """acme in role-import mode: the API integration lists roles with a user's key."""
    data = yaml.safe_load(Path(provisioned_lab.spec_path).read_text())
    data["mapping_mode"] = "role_import"
    data["group_convention"] = {**data["group_convention"], "enabled": False}
    data["provisioning_principal"] = {"kind": "user", "name": "OktaProvisioningUser"}
    path = tmp_path / "role-import.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def provisioning_key(management_iam: Any) -> Iterator[dict[str, str]]:
    """The role-listing user as `keyless apply` makes it for role import, and its key.

    The lab is shared by the session: user, policy and key are removed after the test.
    """
    users = {u["UserName"] for u in management_iam.list_users()["Users"]}
    assert "OktaProvisioningUser" not in users, "group mapping (acme) creates no such user"
    management_iam.create_user(UserName="OktaProvisioningUser")
    management_iam.put_user_policy(
        UserName="OktaProvisioningUser",
        PolicyName="list-roles",
        PolicyDocument=json.dumps(LIST_ROLES),
    )
    created = management_iam.create_access_key(UserName="OktaProvisioningUser")["AccessKey"]
    try:
        yield {
            "AccessKeyId": created["AccessKeyId"],
            "SecretAccessKey": created["SecretAccessKey"],
        }
    finally:
        management_iam.delete_access_key(
            UserName="OktaProvisioningUser", AccessKeyId=created["AccessKeyId"]
        )
        management_iam.delete_user_policy(UserName="OktaProvisioningUser", PolicyName="list-roles")
        management_iam.delete_user(UserName="OktaProvisioningUser")


@pytest.fixture
def forgotten_role(management_iam: Any) -> Iterator[str]:
    """A federated role that no group maps (the reverse direction of the report)."""
    management_iam.create_role(RoleName="ForgottenRole", AssumeRolePolicyDocument=json.dumps(TRUST))
    try:
        yield "ForgottenRole"
    finally:
        management_iam.delete_role(RoleName="ForgottenRole")


@pytest.mark.slow
def test_sync_roles_reports_both_directions(
    provisioned_lab: Any,
    role_import_spec: Path,
    provisioning_key: Mapping[str, str],
    forgotten_role: str,
) -> None:
    _check_report(provisioned_lab, role_import_spec, provisioning_key, forgotten_role)


def _check_report(lab: Any, spec: Path, key: Mapping[str, str], forgotten: str) -> None:
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(
        app,
        ["sync-roles", "--spec", str(spec), "--lab-dir", str(lab.state_dir), "--json"],
        env={
            "KEYLESS_PROVISIONING_ACCESS_KEY_ID": key["AccessKeyId"],
            "KEYLESS_PROVISIONING_SECRET_ACCESS_KEY": key["SecretAccessKey"],
        },
    )
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["in_sync"] is False
    accounts = {a["alias"]: a for a in report["accounts"]}
    management = accounts["acme-management"]
    assert management["error"] is None
    assert management["aws_alias"] == "acme-management"
    assert "ReadOnly" in management["roles_in_aws"]
    assert management["missing_in_aws"] == []
    assert management["not_in_spec"] == [forgotten]
    # acme's provisioning principal is a user: like Okta, it reaches no member account.
    assert "reaches only the management account" in accounts["acme-prod"]["error"]
