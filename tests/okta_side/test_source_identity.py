"""Issue 23, SourceIdentity end to end: the lab over HTTPS, `keyless` as a subprocess.

After `keyless apply` (both sides), a login's session carries SourceIdentity =
the Okta app username; CloudTrail shows it; a Deny on ``aws:SourceIdentity``
stops that person and nobody else; a chained AssumeRole keeps it and cannot
change it; a non-default username template set through the Apps API changes
RoleSessionName and (after apply) SourceIdentity; a role whose trust policy lacks
sts:SetSourceIdentity refuses the assertion as AWS does, and audit names it.
"""

from __future__ import annotations

import json
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
import yaml

from keyless.adapters.okta_admin import ApiToken, OktaAdmin
from keyless.spec import load_spec
from keyless_lab.runtime import Lab
from login_support import LabUser, add_lab_user, keyless
from okta_support import OktaLab, acme_with_okta

DEV = "333333333333"
CHAINED = f"arn:aws:iam::{DEV}:role/ChainedReadOnly"


@pytest.fixture(scope="module")
def si_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OktaLab]:
    """acme.yaml + `okta:`, the lab's Okta app set up as an admin would, then one
    `keyless apply --yes --adopt` of both sides (it takes the unmarked app over)."""
    root = tmp_path_factory.mktemp("si-lab")
    spec_path = root / "federation.yaml"
    spec_path.write_text(yaml.safe_dump(acme_with_okta(), sort_keys=False))
    lab = Lab(load_spec(spec_path), state_dir=root / "state", spec_path=spec_path)
    info = lab.start()
    try:
        okta_lab = OktaLab(lab=lab, info=info, spec_path=spec_path)
        applied = okta_lab.keyless("apply", "--yes", "--adopt")
        assert applied.returncode == 0, applied.stdout + applied.stderr
        _make_chained_role(okta_lab)
        yield okta_lab
    finally:
        lab.stop()


def _admin(okta_lab: OktaLab, service: str) -> Any:
    """A client for acme-dev as its administrator (the bootstrap key, then the org's role)."""
    info = okta_lab.info
    key = info.bootstrap_key
    session = boto3.Session(
        aws_access_key_id=key.access_key_id,
        aws_secret_access_key=key.secret_access_key,
        region_name="us-east-1",
    )
    sts = session.client("sts", endpoint_url=info.aws_endpoint_url, verify=info.ca_bundle)
    answer = sts.assume_role(
        RoleArn=f"arn:aws:iam::{DEV}:role/OrganizationAccountAccessRole", RoleSessionName="admin"
    )
    return _client(okta_lab, service, dict(answer["Credentials"]))


def _client(okta_lab: OktaLab, service: str, creds: dict[str, Any]) -> Any:
    client: Any = boto3.client  # the service name is a variable: no overload to pick
    return client(
        service,
        endpoint_url=okta_lab.info.aws_endpoint_url,
        verify=okta_lab.info.ca_bundle,
        region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def _make_chained_role(okta_lab: OktaLab) -> None:
    """A role in acme-dev that the account's sessions may chain into, source identity and all."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{DEV}:root"},
                "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
            }
        ],
    }
    iam = _admin(okta_lab, "iam")
    iam.create_role(RoleName="ChainedReadOnly", AssumeRolePolicyDocument=json.dumps(trust))
    iam.attach_role_policy(
        RoleName="ChainedReadOnly", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess"
    )


def _developer(okta_lab: OktaLab) -> LabUser:
    return add_lab_user(okta_lab.info, ("developers",), ("totp",))


def _login(
    okta_lab: OktaLab, user: LabUser, profile: str = "si"
) -> subprocess.CompletedProcess[str]:
    configured = keyless(
        "configure",
        "--profile",
        profile,
        "--lab",
        "--lab-dir",
        str(okta_lab.info.state_dir),
        "--username",
        user.login,
        "--role",
        "Developer",
        "--account",
        "acme-dev",
        "--mfa-factor",
        "totp",
    )
    assert configured.returncode == 0, configured.stderr
    return keyless(
        "login",
        "--profile",
        profile,
        "--no-write",
        "--password-stdin",
        "--mfa-code",
        user.totp(),
        "--json",
        input=user.password + "\n",
    )


def _session(profile: str = "si") -> dict[str, Any]:
    """The credentials `keyless credential-process` hands the AWS SDKs."""
    answer = keyless("credential-process", "--profile", profile)
    assert answer.returncode == 0, answer.stderr
    document: dict[str, Any] = json.loads(answer.stdout)
    return document


def _source_identity_events(okta_lab: OktaLab, identity: str) -> list[dict[str, Any]]:
    trail = _admin(okta_lab, "cloudtrail")
    events = [e for page in trail.get_paginator("lookup_events").paginate() for e in page["Events"]]
    found = []
    for event in events:
        record = json.loads(event["CloudTrailEvent"])
        context = (record.get("userIdentity") or {}).get("sessionContext") or {}
        response = record.get("responseElements") or {}
        if identity in (context.get("sourceIdentity"), response.get("sourceIdentity")):
            found.append(record)
    return found


def test_after_apply_a_login_carries_the_app_username_as_source_identity(
    si_lab: OktaLab,
) -> None:
    roles = _admin(si_lab, "iam").get_role(RoleName="Developer")["Role"]
    actions = roles["AssumeRolePolicyDocument"]["Statement"][0]["Action"]
    assert "sts:SetSourceIdentity" in actions
    user = _developer(si_lab)
    result = _login(si_lab, user)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["roles"][0]["source_identity"] == user.login
    session = _session()
    me = _client(si_lab, "sts", session).get_caller_identity()
    assert me["Arn"].endswith(f":assumed-role/Developer/{user.login}")
    # CloudTrail: AssumeRoleWithSAML's responseElements and the session's own calls.
    records = _source_identity_events(si_lab, user.login)
    saml = [r for r in records if r["eventName"] == "AssumeRoleWithSAML"]
    assert saml
    assert saml[0]["responseElements"]["sourceIdentity"] == user.login
    # The session's own calls carry it in userIdentity.sessionContext: see the chained test.


def test_text_output_shows_the_source_identity(si_lab: OktaLab) -> None:
    user = _developer(si_lab)
    configured = _login(si_lab, user, profile="si-text")
    assert configured.returncode == 0, configured.stderr
    # A second login (the Okta session is reused) in text form.
    again = keyless("login", "--profile", "si-text", "--no-write")
    assert again.returncode == 0, again.stderr
    assert f"source identity {user.login}" in again.stdout + again.stderr


def test_a_deny_on_aws_source_identity_stops_that_person_only(si_lab: OktaLab) -> None:
    leaver, colleague = _developer(si_lab), _developer(si_lab)
    assert _login(si_lab, leaver, "leaver").returncode == 0
    assert _login(si_lab, colleague, "colleague").returncode == 0
    iam = _admin(si_lab, "iam")
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceIdentity": [leaver.login]}},
            }
        ],
    }
    iam.put_role_policy(
        RoleName="Developer",
        PolicyName="test-deny-source-identity",
        PolicyDocument=json.dumps(deny),
    )
    try:
        with pytest.raises(Exception, match="AccessDenied"):
            _client(si_lab, "s3", _session("leaver")).list_buckets()
        _client(si_lab, "s3", _session("colleague")).list_buckets()
    finally:
        iam.delete_role_policy(RoleName="Developer", PolicyName="test-deny-source-identity")


def test_a_chained_session_keeps_the_source_identity_and_cannot_change_it(
    si_lab: OktaLab,
) -> None:
    user = _developer(si_lab)
    assert _login(si_lab, user, "chain").returncode == 0
    sts = _client(si_lab, "sts", _session("chain"))
    chained = sts.assume_role(RoleArn=CHAINED, RoleSessionName="renamed")
    assert chained["SourceIdentity"] == user.login
    with pytest.raises(Exception, match="AccessDenied"):
        sts.assume_role(RoleArn=CHAINED, RoleSessionName="renamed", SourceIdentity="mallory")
    second = _client(si_lab, "sts", chained["Credentials"])
    assert second.get_caller_identity()["Arn"].endswith("/ChainedReadOnly/renamed")
    records = _source_identity_events(si_lab, user.login)
    chaining = [r for r in records if r["eventName"] == "AssumeRole"]
    assert {r["userIdentity"]["sessionContext"]["sourceIdentity"] for r in chaining} == {user.login}
    refused = [r for r in chaining if r.get("errorCode")]
    assert [r["requestParameters"]["sourceIdentity"] for r in refused] == ["mallory"]
    granted = [r for r in chaining if not r.get("errorCode")]
    assert [r["responseElements"]["sourceIdentity"] for r in granted] == [user.login]


def test_a_username_template_set_through_the_apps_api_changes_session_name_and_source_identity(
    si_lab: OktaLab,
) -> None:
    info = si_lab.info
    with httpx.Client(verify=ssl.create_default_context(cafile=info.ca_bundle)) as http:
        admin = OktaAdmin(info.idp_url, ApiToken(info.okta_api_token), http=http)
        app = admin.get_app(info.app_id)
        original = app["credentials"]["userNameTemplate"]
        assert original == {"template": "${source.login}", "type": "BUILT_IN"}
        # Not a template the lab models: refused, nothing changed.
        odd = {**app, "credentials": {"userNameTemplate": {"template": "x", "type": "CUSTOM"}}}
        with pytest.raises(Exception, match="lab models only"):
            admin.update_app(info.app_id, odd)
        prefix = '${fn:substringBefore(source.email, "@")}'
        changed = {
            **app,
            "credentials": {"userNameTemplate": {"template": prefix, "type": "BUILT_IN"}},
        }
        admin.update_app(info.app_id, changed)
        try:
            user = _developer(si_lab)
            local_part = user.login.split("@")[0]
            user_id = admin.get_user(user.login)["id"]
            assert admin.app_user_name(info.app_id, user_id) == local_part
            # Okta already sends the new name; SourceIdentity follows once apply restates it.
            planned = si_lab.keyless("plan", "--target", "okta", "--json")
            assert "signOn.attributeStatements[SourceIdentity]" in planned.stdout, planned.stderr
            applied = si_lab.keyless("apply", "--yes", "--target", "okta")
            assert applied.returncode == 0, applied.stdout + applied.stderr
            result = _login(si_lab, user, "prefix")
            assert result.returncode == 0, result.stderr
            assert json.loads(result.stdout)["roles"][0]["source_identity"] == local_part
            me = _client(si_lab, "sts", _session("prefix")).get_caller_identity()
            assert me["Arn"].endswith(f":assumed-role/Developer/{local_part}")
        finally:
            restored = admin.get_app(info.app_id)
            restored["credentials"] = {"userNameTemplate": original}
            admin.update_app(info.app_id, restored)
            assert si_lab.keyless("apply", "--yes", "--target", "okta").returncode == 0


def test_a_role_without_set_source_identity_refuses_the_assertion_and_audit_names_it(
    si_lab: OktaLab, tmp_path: Path
) -> None:
    iam = _admin(si_lab, "iam")
    role = iam.get_role(RoleName="Developer")["Role"]
    trust = role["AssumeRolePolicyDocument"]
    old = json.loads(json.dumps(trust))
    old["Statement"][0]["Action"] = ["sts:AssumeRoleWithSAML", "sts:TagSession"]
    iam.update_assume_role_policy(RoleName="Developer", PolicyDocument=json.dumps(old))
    try:
        user = _developer(si_lab)
        refused = _login(si_lab, user, "old-trust")
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "AccessDenied" in refused.stderr
        assert "sts:SetSourceIdentity" in refused.stderr
        audit = si_lab.keyless("audit", "--json")
        report = json.loads(audit.stdout)
        text = json.dumps(report)
        assert "source-identity-fallback" in text, audit.stderr
        assert f"arn:aws:iam::{DEV}:role/Developer" in text
    finally:
        iam.update_assume_role_policy(RoleName="Developer", PolicyDocument=json.dumps(trust))
