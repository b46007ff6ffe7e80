"""The whole lab: lab.json, the busy state dir, a restart that keeps the IAM state."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from keyless.errors import LabError
from keyless.saml.model import RolePair
from keyless.spec import load_spec
from keyless_lab.aws import LabAwsProcess
from keyless_lab.runtime import Lab, LabInfo, default_state_dir, lab_accounts, running_pid
from keyless_lab.saml.build import build_response, encode_response
from lab_fixtures import ACME, lab_session


def test_lab_json_describes_the_running_lab(lab: LabInfo) -> None:
    path = lab.state_dir / "lab.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    for name in (
        "idp_url",
        "aws_endpoint_url",
        "ca_bundle",
        "app_id",
        "app_url",
        "metadata_url",
        "management_account_id",
        "accounts",
        "provider_arns",
        "users",
    ):
        assert data[name], name
    assert data["management_account_id"] == "111111111111"
    assert [a["alias"] for a in data["accounts"]] == ["acme-management", "acme-prod", "acme-dev"]
    assert "arn:aws:iam::222222222222:saml-provider/Okta" in data["provider_arns"]
    alice = next(u for u in data["users"] if u["login"] == "alice@acme.example")
    assert alice["password"]
    assert alice["totp_secret"]
    assert Path(data["ca_bundle"]).read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert LabInfo.load(lab.state_dir) == lab
    assert running_pid(lab.state_dir) is not None


def test_bootstrap_key_reaches_the_management_account_only(lab: LabInfo) -> None:
    session = lab_session(lab.aws_endpoint_url, lab.bootstrap_credentials)
    identity = session.client(
        "sts", endpoint_url=lab.aws_endpoint_url, verify=lab.ca_bundle
    ).get_caller_identity()
    assert identity["Arn"] == "arn:aws:iam::111111111111:user/lab-admin"


def test_assertion_signed_with_the_lab_idps_key_is_accepted(provisioned_lab: LabInfo) -> None:
    from keyless_lab.idp.server import load_signing_key

    info = provisioned_lab
    key = load_signing_key(info.state_dir)
    pair = RolePair(
        role_arn="arn:aws:iam::222222222222:role/OktaAdminRole",
        principal_arn="arn:aws:iam::222222222222:saml-provider/Okta",
    )
    saml = encode_response(
        build_response(
            key=key,
            issuer=info.entity_id,
            subject="alice@acme.example",
            roles=[pair],
            session_name="alice@acme.example",
            now=datetime.now(UTC),
        )
    )
    sts = lab_session(info.aws_endpoint_url, info.bootstrap_credentials).client(
        "sts", endpoint_url=info.aws_endpoint_url, verify=info.ca_bundle
    )
    answer = sts.assume_role_with_saml(
        RoleArn=pair.role_arn, PrincipalArn=pair.principal_arn, SAMLAssertion=saml
    )
    who = lab_session(info.aws_endpoint_url, answer["Credentials"]).client(
        "sts", endpoint_url=info.aws_endpoint_url, verify=info.ca_bundle
    )
    assert who.get_caller_identity()["Arn"] == (
        "arn:aws:sts::222222222222:assumed-role/OktaAdminRole/alice@acme.example"
    )


def test_second_lab_on_a_busy_state_dir_says_so(lab: LabInfo) -> None:
    with pytest.raises(LabError) as caught:
        Lab(load_spec(ACME), state_dir=lab.state_dir).start()
    assert "already running" in caught.value.message
    assert str(lab.state_dir) in caught.value.message
    # The running lab is untouched.
    assert running_pid(lab.state_dir) is not None
    assert LabInfo.load(lab.state_dir) == lab


def test_load_without_a_lab_tells_how_to_start_one(tmp_path: Path) -> None:
    with pytest.raises(LabError) as caught:
        LabInfo.load(tmp_path)
    assert caught.value.fix is not None
    assert "keyless lab up" in caught.value.fix


def test_default_state_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_state_dir() == tmp_path / "keyless" / "lab"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_state_dir() == Path.home() / ".local" / "share" / "keyless" / "lab"


def test_restart_keeps_iam_state_and_the_bootstrap_key(tmp_path: Path) -> None:
    accounts = lab_accounts(load_spec(ACME))

    def clients(process: LabAwsProcess) -> Any:
        session = lab_session(process.url, process.bootstrap_credentials)
        return session.client("iam", endpoint_url=process.url)

    with LabAwsProcess(accounts=accounts, state_dir=tmp_path) as first:
        clients(first).create_user(UserName="survivor")
        key = dict(first.bootstrap_credentials)
    snapshot = tmp_path / "aws-state.json"
    assert stat.S_IMODE(snapshot.stat().st_mode) == 0o600
    with LabAwsProcess(accounts=accounts, state_dir=tmp_path) as second:
        assert second.bootstrap_credentials == key
        users = {u["UserName"] for u in clients(second).list_users()["Users"]}
        assert users == {"lab-admin", "survivor"}


def test_restart_keeps_aws_managed_policies_written_as_one_reference(tmp_path: Path) -> None:
    """The ~1,600 AWS managed policies of each account are one reference in the snapshot
    (they were 45 MB and 5.7 s under the state lock at 100 accounts), and come back whole:
    every one listed, an attachment and its count kept, the account's own policy after them."""
    accounts = lab_accounts(load_spec(ACME))
    read_only = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "*"}
            ],
        }
    )
    mine = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}],
        }
    )

    def iam(process: LabAwsProcess) -> Any:
        session = lab_session(process.url, process.bootstrap_credentials)
        return session.client("iam", endpoint_url=process.url)

    def aws_policies(client: Any) -> list[str]:
        pages = client.get_paginator("list_policies").paginate(Scope="AWS")
        return [p["Arn"] for page in pages for p in page["Policies"]]

    with LabAwsProcess(accounts=accounts, state_dir=tmp_path) as first:
        client = iam(first)
        client.create_role(RoleName="keeper", AssumeRolePolicyDocument=trust)
        client.attach_role_policy(RoleName="keeper", PolicyArn=read_only)
        own = client.create_policy(PolicyName="mine", PolicyDocument=mine)["Policy"]["Arn"]
        before = aws_policies(client)
    text = (tmp_path / "aws-state.json").read_text()
    # Only attachments and their counts name a policy (each was written twice an account:
    # thousands).
    assert text.count("arn:aws:iam::aws:policy/") < 50
    with LabAwsProcess(accounts=accounts, state_dir=tmp_path) as second:
        client = iam(second)
        assert aws_policies(client) == before
        assert len(before) > 1000
        attached = client.list_attached_role_policies(RoleName="keeper")["AttachedPolicies"]
        assert [p["PolicyArn"] for p in attached] == [read_only]
        assert client.get_policy(PolicyArn=read_only)["Policy"]["AttachmentCount"] == 1
        local = client.list_policies(Scope="Local")["Policies"]
        assert [p["Arn"] for p in local] == [own]
