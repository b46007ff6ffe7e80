"""Helpers for the lab AWS tests: the running endpoint, role pairs, one AssumeRoleWithSAML call."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keyless.saml.model import RolePair
from keyless.spec import FederationSpec
from keyless_lab.saml.keys import SigningKey
from lab_fixtures import lab_session

# The AWS CLI installed beside the interpreter running the tests (any venv).
AWS = str(Path(sys.executable).parent / "aws")

ENTITY_ID = "http://www.okta.com/exk1labtest0000000001"
PROD, DEV, MANAGEMENT = "222222222222", "333333333333", "111111111111"


@dataclass
class AwsLab:
    """A running lab AWS endpoint and what tests need to reach it."""

    url: str
    ca_bundle: str
    bootstrap: dict[str, str]
    state_dir: Path
    spec: FederationSpec
    idp_key: SigningKey

    def client(self, service: str, credentials: dict[str, Any] | None = None) -> Any:
        """A boto3 client for ``service`` with ``credentials`` (the bootstrap key by default)."""
        session = lab_session(self.url, credentials or self.bootstrap)
        # Any service by name: boto3's stubs type client() per literal service name.
        make_client: Callable[..., Any] = session.client
        return make_client(service, endpoint_url=self.url, verify=self.ca_bundle)

    def cli_env(self, credentials: dict[str, Any] | None = None) -> dict[str, str]:
        """Environment for the AWS CLI against the lab (no config files, lab CA)."""
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.state_dir / "home"),
            "AWS_ENDPOINT_URL": self.url,
            "AWS_CA_BUNDLE": self.ca_bundle,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(self.state_dir / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.state_dir / "no-credentials"),
        }
        if credentials is not None:
            env["AWS_ACCESS_KEY_ID"] = credentials["AccessKeyId"]
            env["AWS_SECRET_ACCESS_KEY"] = credentials["SecretAccessKey"]
            env["AWS_SESSION_TOKEN"] = credentials["SessionToken"]
        return env


def role_pair(account: str, role: str) -> RolePair:
    """The (role, provider) pair of ``role`` in ``account`` as the acme federation names it."""
    return RolePair(
        role_arn=f"arn:aws:iam::{account}:role/{role}",
        principal_arn=f"arn:aws:iam::{account}:saml-provider/Okta",
    )


Assertion = Callable[..., str]


def assume(
    aws_lab: AwsLab,
    saml: str,
    *,
    role: str = "OktaAdminRole",
    account: str = PROD,
    duration: int | None = None,
    **_: Any,
) -> dict[str, Any]:
    """Call AssumeRoleWithSAML (unsigned, as every client does) and return the answer."""
    pair = role_pair(account, role)
    extra: dict[str, Any] = {"DurationSeconds": duration} if duration else {}
    answer: dict[str, Any] = aws_lab.client("sts").assume_role_with_saml(
        RoleArn=pair.role_arn, PrincipalArn=pair.principal_arn, SAMLAssertion=saml, **extra
    )
    return answer
