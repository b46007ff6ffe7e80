"""An existing Okta CLI client from PyPI, unmodified, signs in to the lab and gets AWS credentials.

The client is tokendito (dowjones/tokendito), configured only as its README
says: the Okta tile URL, username, password, MFA method and answer, and the
role ARN, through its ``TOKENDITO_*`` environment variables; the lab CA through
``REQUESTS_CA_BUNDLE`` (requests) and ``AWS_CA_BUNDLE`` (botocore); the lab AWS
through ``AWS_ENDPOINT_URL`` (and a default region, as any AWS CLI set-up has).
It walks Okta's whole Classic flow against the lab IdP (okta-organization,
webfinger, authn, TOTP verify, sessions, sessionCookieRedirect, the AWS app's
SAML page), then calls the lab's strict STS and writes ~/.aws/credentials,
which boto3 then uses.
"""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import boto3
import pyotp
import pytest
import typer
from typer.testing import CliRunner

from keyless_lab.cli.lab_idp import register

pytest.importorskip(
    "tokendito", reason="tokendito (the PyPI Okta client under test) is not installed"
)
from peers import peer_script

LOGIN = "tokendito-user@acme.example"
PASSWORD = "Lab-only-password-1!"
ROLE = "arn:aws:iam::222222222222:role/OktaAdminRole"


def _lab_cli(state_dir: Path, *args: str, stdin: str | None = None) -> Any:
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, [*args, "--lab-dir", str(state_dir)], input=stdin)
    assert result.exit_code == 0, result.output
    return result


def _tokendito() -> str:
    return peer_script("tokendito")


@pytest.mark.slow
def test_tokendito_signs_in_with_password_and_totp_and_gets_lab_credentials(
    provisioned_lab: Any, tmp_path: Path
) -> None:
    lab = provisioned_lab
    # A user of its own (made with the lab CLI while the IdP runs), so no other
    # test's TOTP code can collide with this one's.
    _lab_cli(
        lab.state_dir,
        "user",
        "add",
        LOGIN,
        "--group",
        "aws-admins",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    enrolled = json.loads(
        _lab_cli(lab.state_dir, "mfa", "enroll", LOGIN, "--factor", "totp", "--json").stdout
    )
    secret = pyotp.parse_uri(enrolled["otpauth_uri"]).secret

    env = dict(os.environ)
    env.update(
        {
            "TOKENDITO_OKTA_TILE": lab.app_url,
            "TOKENDITO_OKTA_USERNAME": LOGIN,
            "TOKENDITO_OKTA_PASSWORD": PASSWORD,
            "TOKENDITO_OKTA_MFA": "GOOGLE",
            "TOKENDITO_OKTA_MFA_RESPONSE": pyotp.TOTP(secret).now(),
            "TOKENDITO_AWS_ROLE_ARN": ROLE,
            "TOKENDITO_AWS_PROFILE": "lab-admin",
            "REQUESTS_CA_BUNDLE": lab.ca_bundle,
            "AWS_CA_BUNDLE": lab.ca_bundle,
            "AWS_ENDPOINT_URL": lab.aws_endpoint_url,
            # As on any machine set up for the AWS CLI (tokendito's own STS check needs one).
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    started = time.time()
    run = subprocess.run(
        [_tokendito(), "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert run.returncode == 0, f"tokendito failed:\n{run.stdout}\n{run.stderr}"

    credentials = configparser.ConfigParser()
    credentials.read(os.environ["AWS_SHARED_CREDENTIALS_FILE"])
    profile = credentials["lab-admin"]
    assert profile["aws_access_key_id"]
    session = boto3.Session(
        aws_access_key_id=profile["aws_access_key_id"],
        aws_secret_access_key=profile["aws_secret_access_key"],
        aws_session_token=profile["aws_session_token"],
        region_name="us-east-1",
    )
    identity = session.client(
        "sts", endpoint_url=lab.aws_endpoint_url, verify=lab.ca_bundle
    ).get_caller_identity()
    assert identity["Account"] == "222222222222"
    assert identity["Arn"] == f"arn:aws:sts::222222222222:assumed-role/OktaAdminRole/{LOGIN}"

    # The lab IdP's audit log saw the sign-in and the assertion tokendito redeemed.
    audit = [
        json.loads(line) for line in (Path(lab.state_dir) / "audit.jsonl").read_text().splitlines()
    ]
    mine = [r for r in audit if r.get("login") == LOGIN and r["time"] >= _iso(started - 5)]
    assert ("authn", "MFA_REQUIRED") in [(r["event"], r.get("outcome")) for r in mine]
    assertion = [r for r in mine if r["event"] == "assertion"]
    assert len(assertion) == 1
    assert ROLE in assertion[0]["roles"]


def _iso(epoch: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).isoformat()
