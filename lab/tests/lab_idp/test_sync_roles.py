"""`keyless lab sync-roles`: the IdP lists roles with the provisioning user's key only."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import boto3
import pytest
import typer
from typer.testing import CliRunner

from keyless_lab.cli.lab_idp import register

PROVIDER = "arn:aws:iam::111111111111:saml-provider/Okta"


@pytest.mark.slow
def test_sync_roles_reports_both_directions(provisioned_lab: Any) -> None:
    lab = provisioned_lab
    admin = boto3.Session(
        aws_access_key_id=lab.bootstrap_credentials["aws_access_key_id"],
        aws_secret_access_key=lab.bootstrap_credentials["aws_secret_access_key"],
        region_name="us-east-1",
    )
    iam = admin.client("iam", endpoint_url=lab.aws_endpoint_url, verify=lab.ca_bundle)
    users = {u["UserName"] for u in iam.list_users()["Users"]}
    if "OktaProvisioningUser" not in users:
        pytest.skip("apply did not create the provisioning user in this lab")
    # A federated role that no group maps (the reverse direction of the report).
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": PROVIDER},
                "Action": "sts:AssumeRoleWithSAML",
            }
        ],
    }
    if iam.list_access_keys(UserName="OktaProvisioningUser")["AccessKeyMetadata"]:
        pytest.skip("another test already made the provisioning user's key")
    # The lab is shared by the whole session: what this test adds, it removes.
    iam.create_role(RoleName="ForgottenRole", AssumeRolePolicyDocument=json.dumps(trust))
    created = iam.create_access_key(UserName="OktaProvisioningUser")["AccessKey"]
    key = {"AccessKeyId": created["AccessKeyId"], "SecretAccessKey": created["SecretAccessKey"]}
    try:
        _check_report(lab, key)
    finally:
        iam.delete_access_key(UserName="OktaProvisioningUser", AccessKeyId=key["AccessKeyId"])
        iam.delete_role(RoleName="ForgottenRole")


def _check_report(lab: Any, key: Mapping[str, str]) -> None:
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(
        app,
        ["sync-roles", "--lab-dir", str(lab.state_dir), "--json"],
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
    assert management["not_in_spec"] == ["ForgottenRole"]
    # acme's provisioning principal is a user: like Okta, it reaches no member account.
    assert "reaches only the management account" in accounts["acme-prod"]["error"]
