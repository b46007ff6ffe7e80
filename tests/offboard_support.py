"""Helpers for the offboard and audit tests: sign the spec's people in through the real
flow (password + TOTP at the lab IdP, AssumeRoleWithSAML at the lab's STS), reach
accounts with boto3, run the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from keyless.adapters.secrets import FileSecretStore
from keyless.adapters.terminal import NonInteractivePrompter
from keyless.core.credentials import AwsCredentials
from keyless.plan.revocations import SCP_PREFIX
from keyless.services.login.okta_signin import LoginInputs
from keyless.services.login.profiles import Settings
from keyless.services.login.wiring import login_and_cache
from keyless_lab.idp.directory import Directory
from lab_fixtures import fresh_totp

REPO = Path(__file__).resolve().parents[1]
ACME = REPO / "examples" / "acme.yaml"
KEYLESS = str(Path(sys.executable).parent / "keyless")


def add_person(lab: Any, login: str, groups: list[str]) -> tuple[str, str]:
    """A new person in the lab's directory, in ``groups``, with TOTP; (password, secret)."""
    directory = Directory(Path(lab.state_dir) / "idp.sqlite")
    try:
        _, password = directory.add_user(login, groups=groups)
        secret = directory.enroll(login, "totp").secret
    finally:
        directory.close()
    assert secret
    return password, secret


def sign_in(
    lab: Any,
    person: str,
    tmp_path: Path,
    *,
    password: str | None = None,
    secret: str | None = None,
    sts_factory: Any = None,
) -> list[AwsCredentials]:
    """``person`` logs in with password + TOTP and takes every role they may (a spec user,
    or one :func:`add_person` made, with its password and secret)."""
    if password is None:
        entry = lab.user(person)
        password, secret = entry.password, entry.totp_secret
    if not secret:
        # carol's factor is push; give her a TOTP factor too so a script can sign her in.
        directory = Directory(Path(lab.state_dir) / "idp.sqlite")
        try:
            secret = directory.enroll(person, "totp").secret
        finally:
            directory.close()
    assert secret
    settings = Settings(
        profile=person.split("@")[0].replace(".", "-"),
        org_url=lab.idp_url,
        app_url=lab.app_url,
        username=person,
        spec=str(ACME),
        ca_bundle=lab.ca_bundle,
        aws_endpoint_url=lab.aws_endpoint_url,
        mfa_factor="totp",
    )
    result = login_and_cache(
        settings,
        prompter=NonInteractivePrompter(mode="login", profile=settings.profile),
        secrets=FileSecretStore(tmp_path / f"secrets-{settings.profile}"),
        inputs=LoginInputs(password=password, mfa_code=fresh_totp(secret)),
        all_roles=True,
        write_files=False,
        sts_factory=sts_factory,
    )
    return [entry.credentials for entry in result.logins]


def aws_client(lab: Any, service: str, credentials: AwsCredentials | None = None) -> Any:
    """A boto3 client against the lab: with ``credentials``, else the bootstrap key."""
    import boto3

    if credentials is None:
        keys = lab.bootstrap_credentials
        session = boto3.Session(
            aws_access_key_id=keys["aws_access_key_id"],
            aws_secret_access_key=keys["aws_secret_access_key"],
            region_name="us-east-1",
        )
    else:
        session = boto3.Session(
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
            region_name="us-east-1",
        )
    # A service named at run time: boto3's stubs only type literal service names.
    return session.client(  # type: ignore[call-overload]
        service, endpoint_url=lab.aws_endpoint_url, verify=lab.ca_bundle
    )


def member_client(lab: Any, account_id: str, service: str) -> Any:
    """A client in a member account through its access role (as an administrator would)."""
    answer = aws_client(lab, "sts").assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole",
        RoleSessionName="test-admin",
    )
    creds = answer["Credentials"]
    return aws_client(
        lab,
        service,
        AwsCredentials(
            access_key_id=creds["AccessKeyId"],
            secret_access_key=creds["SecretAccessKey"],
            session_token=creds["SessionToken"],
            expiration=creds["Expiration"],
        ),
    )


def keyless(lab: Any, *args: str, spec: Path = ACME) -> subprocess.CompletedProcess[str]:
    """Run the CLI against ``lab`` as a user would."""
    return subprocess.run(
        [KEYLESS, *args, "--spec", str(spec), "--lab-dir", str(lab.state_dir)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=REPO,
    )


# -- issue 23: what the offboarding tests ask of the lab ----------------------------------


def session_works(lab: Any, credentials: AwsCredentials) -> bool:
    """True when the session may still call IAM; False when AWS answers AccessDenied."""
    code = ""
    try:
        aws_client(lab, "iam", credentials).list_roles()
    except ClientError as exc:
        code = str(exc.response["Error"]["Code"])
    assert code in ("", "AccessDenied"), code
    return not code


def sessions_by_alias(
    sessions: list[AwsCredentials], role: str = "OktaAdminRole"
) -> dict[str, Any]:
    return {str(c.account_alias): c for c in sessions if (c.role_arn or "").endswith(f"/{role}")}


def offboard_json(lab: Any, *people: str) -> dict[str, Any]:
    result = keyless(lab, "offboard", *people, "--yes", "--json")
    assert result.returncode == 0, result.stderr + result.stdout
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def keyless_scp_text(lab: Any) -> str:
    organizations = aws_client(lab, "organizations")
    texts = []
    for policy in organizations.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]:
        if policy["Name"].startswith(SCP_PREFIX):
            texts.append(organizations.describe_policy(PolicyId=policy["Id"])["Policy"]["Content"])
    return "\n".join(texts)
