"""The lab's AssumeRoleWithSAML refuses what AWS STS refuses, with AWS's error codes.

Each refusal is produced by a concrete bad assertion or trust policy, sent by
boto3 (and, for the headline cases, the AWS CLI) to the lab's HTTPS endpoint.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from keyless_lab.saml.keys import SigningKey
from lab_aws_support import AWS, DEV, PROD, Assertion, AwsLab, assume, role_pair


def refused(aws_lab: AwsLab, saml: str, **kwargs: Any) -> tuple[str, int, str]:
    """(error code, HTTP status, message) of a refused AssumeRoleWithSAML."""
    with pytest.raises(ClientError) as caught:
        assume(aws_lab, saml, **kwargs)
    error = caught.value.response
    return (
        error["Error"]["Code"],
        error["ResponseMetadata"]["HTTPStatusCode"],
        error["Error"]["Message"],
    )


def test_valid_assertion_gives_credentials_in_the_roles_account(
    aws_lab: AwsLab, assertion: Assertion
) -> None:
    answer = assume(aws_lab, assertion())
    assert answer["AssumedRoleUser"]["Arn"] == (
        f"arn:aws:sts::{PROD}:assumed-role/OktaAdminRole/alice@acme.example"
    )
    assert answer["Issuer"] == "http://www.okta.com/exk1labtest0000000001"
    assert answer["Audience"] == "https://signin.aws.amazon.com/saml"
    assert answer["Subject"] == "alice@acme.example"
    lifetime = answer["Credentials"]["Expiration"] - datetime.now(UTC)
    assert timedelta(minutes=55) < lifetime <= timedelta(hours=1)
    identity = aws_lab.client("sts", answer["Credentials"]).get_caller_identity()
    assert identity["Account"] == PROD
    assert identity["Arn"] == answer["AssumedRoleUser"]["Arn"]


def test_duration_seconds_sets_the_expiry(aws_lab: AwsLab, assertion: Assertion) -> None:
    saml = assertion(roles=[role_pair(DEV, "ReadOnly")])
    answer = assume(aws_lab, saml, role="ReadOnly", account=DEV, duration=7200)
    lifetime = answer["Credentials"]["Expiration"] - datetime.now(UTC)
    assert timedelta(minutes=115) < lifetime <= timedelta(hours=2)


def test_unsigned_assertion_is_invalid_identity_token(
    aws_lab: AwsLab, assertion: Assertion
) -> None:
    code, status, message = refused(aws_lab, assertion(sign_assertion=False, sign_response=False))
    assert (code, status) == ("InvalidIdentityToken", 400)
    assert message == "Response signature invalid"


def test_assertion_signed_by_another_key_is_refused(
    aws_lab: AwsLab, assertion: Assertion, other_key: SigningKey
) -> None:
    code, status, _ = refused(aws_lab, assertion(key=other_key))
    assert (code, status) == ("InvalidIdentityToken", 400)


def test_expired_assertion(aws_lab: AwsLab, assertion: Assertion, past: datetime) -> None:
    code, status, _ = refused(aws_lab, assertion(now=past))
    assert (code, status) == ("ExpiredTokenException", 400)


def test_wrong_recipient_is_access_denied(aws_lab: AwsLab, assertion: Assertion) -> None:
    code, status, message = refused(aws_lab, assertion(recipient="https://evil.example/saml"))
    assert (code, status) == ("AccessDenied", 403)
    assert message == "Not authorized to perform sts:AssumeRoleWithSAML"


def test_role_not_in_assertion_is_access_denied(aws_lab: AwsLab, assertion: Assertion) -> None:
    saml = assertion(roles=[role_pair(DEV, "OktaAdminRole")])
    code, status, _ = refused(aws_lab, saml, role="OktaAdminRole", account=PROD)
    assert (code, status) == ("AccessDenied", 403)


def test_role_that_does_not_exist_is_access_denied(aws_lab: AwsLab, assertion: Assertion) -> None:
    saml = assertion(roles=[role_pair(PROD, "NoSuchRole")])
    code, _, _ = refused(aws_lab, saml, role="NoSuchRole", account=PROD)
    assert code == "AccessDenied"


def test_duration_over_the_roles_maximum_is_validation_error(
    aws_lab: AwsLab, assertion: Assertion
) -> None:
    # OktaAdminRole's MaxSessionDuration is 3600 in examples/acme.yaml.
    code, status, message = refused(aws_lab, assertion(), duration=7200)
    assert (code, status) == ("ValidationError", 400)
    assert "MaxSessionDuration" in message


def test_replayed_assertion_is_refused(aws_lab: AwsLab, assertion: Assertion) -> None:
    saml = assertion()
    assume(aws_lab, saml)
    code, _, _ = refused(aws_lab, saml)
    assert code == "InvalidIdentityToken"


def test_regional_audience_in_trust_policy_is_access_denied(
    aws_lab: AwsLab, assertion: Assertion
) -> None:
    """The classic mistake: SAML:aud names a regional sign-in URL, the IdP's Recipient is global."""
    iam = aws_lab.client("iam", _admin_in(aws_lab, PROD))
    provider = f"arn:aws:iam::{PROD}:saml-provider/Okta"
    regional = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider},
                "Action": "sts:AssumeRoleWithSAML",
                "Condition": {
                    "StringEquals": {"SAML:aud": "https://us-east-2.signin.aws.amazon.com/saml"}
                },
            }
        ],
    }
    iam.create_role(RoleName="RegionalAudience", AssumeRolePolicyDocument=json.dumps(regional))
    saml = assertion(roles=[role_pair(PROD, "RegionalAudience")])
    code, status, _ = refused(aws_lab, saml, role="RegionalAudience", account=PROD)
    assert (code, status) == ("AccessDenied", 403)
    # The same assertion is fine once the IdP's Recipient is the regional URL too.
    fixed = assertion(
        roles=[role_pair(PROD, "RegionalAudience")],
        recipient="https://us-east-2.signin.aws.amazon.com/saml",
    )
    answer = assume(aws_lab, fixed, role="RegionalAudience", account=PROD)
    assert answer["AssumedRoleUser"]["Arn"].endswith(
        ":assumed-role/RegionalAudience/alice@acme.example"
    )


def test_swapped_role_and_provider_is_validation_error(
    aws_lab: AwsLab, assertion: Assertion
) -> None:
    sts = aws_lab.client("sts")
    with pytest.raises(ClientError) as caught:
        sts.assume_role_with_saml(
            RoleArn=f"arn:aws:iam::{PROD}:saml-provider/Okta",
            PrincipalArn=f"arn:aws:iam::{PROD}:role/OktaAdminRole",
            SAMLAssertion=assertion(),
        )
    assert caught.value.response["Error"]["Code"] == "ValidationError"


def _admin_in(aws_lab: AwsLab, account: str) -> dict[str, Any]:
    """Credentials of the member account's OrganizationAccountAccessRole, from the bootstrap key."""
    answer = aws_lab.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
        RoleSessionName="tests",
    )
    credentials: dict[str, Any] = answer["Credentials"]
    return credentials


# -- the AWS CLI, as a user runs it ------------------------------------------------------


def _cli(
    aws_lab: AwsLab, args: list[str], credentials: dict[str, Any] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AWS, *args, "--output", "json"],
        env=aws_lab.cli_env(credentials),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_aws_cli_valid_then_get_caller_identity(
    aws_lab: AwsLab, assertion: Assertion, tmp_path: Path
) -> None:
    saml_file = tmp_path / "saml.b64"
    saml_file.write_text(assertion())
    done = _cli(
        aws_lab,
        [
            "sts",
            "assume-role-with-saml",
            "--role-arn",
            f"arn:aws:iam::{PROD}:role/OktaAdminRole",
            "--principal-arn",
            f"arn:aws:iam::{PROD}:saml-provider/Okta",
            "--saml-assertion",
            f"file://{saml_file}",
        ],
    )
    assert done.returncode == 0, done.stderr
    credentials = json.loads(done.stdout)["Credentials"]
    who = _cli(aws_lab, ["sts", "get-caller-identity"], credentials)
    assert who.returncode == 0, who.stderr
    assert json.loads(who.stdout)["Arn"] == (
        f"arn:aws:sts::{PROD}:assumed-role/OktaAdminRole/alice@acme.example"
    )


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("unsigned", "InvalidIdentityToken"),
        ("other-key", "InvalidIdentityToken"),
        ("expired", "ExpiredTokenException"),
        ("wrong-recipient", "AccessDenied"),
        ("role-not-in-assertion", "AccessDenied"),
    ],
)
def test_aws_cli_refusals(
    aws_lab: AwsLab,
    assertion: Assertion,
    other_key: SigningKey,
    past: datetime,
    tmp_path: Path,
    case: str,
    code: str,
) -> None:
    saml = {
        "unsigned": lambda: assertion(sign_assertion=False, sign_response=False),
        "other-key": lambda: assertion(key=other_key),
        "expired": lambda: assertion(now=past),
        "wrong-recipient": lambda: assertion(recipient="https://evil.example/saml"),
        "role-not-in-assertion": lambda: assertion(roles=[role_pair(DEV, "OktaAdminRole")]),
    }[case]()
    saml_file = tmp_path / "saml.b64"
    saml_file.write_text(saml)
    done = _cli(
        aws_lab,
        [
            "sts",
            "assume-role-with-saml",
            "--role-arn",
            f"arn:aws:iam::{PROD}:role/OktaAdminRole",
            "--principal-arn",
            f"arn:aws:iam::{PROD}:saml-provider/Okta",
            "--saml-assertion",
            f"file://{saml_file}",
        ],
    )
    assert done.returncode != 0
    assert (
        f"An error occurred ({code}) when calling the AssumeRoleWithSAML operation" in done.stderr
    )


def test_source_identity_is_returned_and_a_malformed_one_is_refused(
    aws_lab: AwsLab, assertion: Assertion
) -> None:
    """Issue 23: STS keeps the assertion's SourceIdentity, and validates it first [CLAIMS]."""
    answer = assume(aws_lab, assertion(source_identity="Alice.Admin@acme.example"))
    assert answer["SourceIdentity"] == "Alice.Admin@acme.example"
    for bad in ("a", "x" * 65, "has space", "aws:alice"):
        code, status, message = refused(aws_lab, assertion(source_identity=bad))
        assert (code, status) == ("InvalidIdentityToken", 400), bad
        assert "SourceIdentity" in message
