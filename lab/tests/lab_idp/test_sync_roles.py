"""`keyless lab sync-roles`: the IdP lists roles with the provisioning user's key only."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
import pytest
import typer
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


@pytest.fixture
def provisioning_key(management_iam: Any) -> Iterator[dict[str, str]]:
    """An access key of this test's own on the provisioning user `keyless apply` made.

    IAM allows two keys a user; the lab is shared by the session, so the key is
    removed after the test whatever other keys exist.
    """
    users = {u["UserName"] for u in management_iam.list_users()["Users"]}
    assert "OktaProvisioningUser" in users, "apply creates the provisioning user"
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
    provisioned_lab: Any, provisioning_key: Mapping[str, str], forgotten_role: str
) -> None:
    _check_report(provisioned_lab, provisioning_key, forgotten_role)


def _check_report(lab: Any, key: Mapping[str, str], forgotten: str) -> None:
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
    assert management["not_in_spec"] == [forgotten]
    # acme's provisioning principal is a user: like Okta, it reaches no member account.
    assert "reaches only the management account" in accounts["acme-prod"]["error"]
