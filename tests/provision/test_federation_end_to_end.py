"""After `apply`, every person takes exactly the roles the spec maps to their groups.

The done-when of the provisioning issue, end to end: the lab IdP issues the
assertion from the user's groups, the login service takes every role in it,
and the strict STS refuses every other role of the spec in every account.
"""

from __future__ import annotations

import base64
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from keyless.adapters.secrets import FileSecretStore
from keyless.adapters.terminal import NonInteractivePrompter
from keyless.services.login.okta_signin import LoginInputs
from keyless.services.login.profiles import Settings
from keyless.services.login.wiring import fetch_assertion_with_kept_session, login_and_cache
from keyless.spec import grants_for_groups, load_spec, role_arn, saml_provider_arn
from keyless_lab.idp.directory import Directory
from lab_fixtures import fresh_totp

REPO = Path(__file__).resolve().parents[2]
ACME = REPO / "examples" / "acme.yaml"

GROUPS = [
    "aws-admins",
    "developers",
    "auditors",
    # Okta's naming convention: the group's name alone grants ReadOnly in acme-prod.
    "aws#acme-prod#ReadOnly#222222222222",
]


@pytest.mark.parametrize("group", GROUPS)
def test_each_user_takes_exactly_the_roles_of_their_groups(
    provisioned_lab: Any, tmp_path: Path, group: str
) -> None:
    spec = load_spec(ACME)
    directory = Directory(Path(provisioned_lab.state_dir) / "idp.sqlite")
    username = f"e2e-{uuid.uuid4().hex[:8]}@acme.example"
    _, password = directory.add_user(username, groups=[group], first_name="E", last_name="Two")
    secret = directory.enroll(username, "totp").secret
    assert secret is not None

    settings = Settings(
        profile=f"e2e-{group[:8]}",
        org_url=provisioned_lab.idp_url,
        app_url=provisioned_lab.app_url,
        username=username,
        spec=str(ACME),
        ca_bundle=provisioned_lab.ca_bundle,
        aws_endpoint_url=provisioned_lab.aws_endpoint_url,
        mfa_factor="totp",
    )
    secrets = FileSecretStore(tmp_path / "secrets")
    result = login_and_cache(
        settings,
        prompter=NonInteractivePrompter(mode="login", profile=settings.profile),
        secrets=secrets,
        inputs=LoginInputs(password=password, mfa_code=fresh_totp(secret)),
        all_roles=True,
        write_files=False,
    )
    expected = {grant.role_arn for grant in grants_for_groups(spec, [group])}
    assert expected, "every group under test maps to at least one role"
    taken = {entry.role.role_arn for entry in result.logins}
    assert taken == expected

    sts = boto3.client(
        "sts",
        endpoint_url=provisioned_lab.aws_endpoint_url,
        verify=provisioned_lab.ca_bundle,
        region_name="us-east-1",
        aws_access_key_id="unused",
        aws_secret_access_key="unused",  # AssumeRoleWithSAML is unsigned; boto3 wants a value
    )
    others = [
        (role_arn(account, role), saml_provider_arn(spec, account))
        for role in spec.roles
        for account in spec.role_accounts(role)
        if role_arn(account, role) not in expected
    ]
    assert others, "the spec has roles this user must not reach"
    for other_role, provider in others:
        saml_b64, _ = fetch_assertion_with_kept_session(settings, secrets=secrets)
        with pytest.raises(ClientError) as refused:
            sts.assume_role_with_saml(
                RoleArn=other_role, PrincipalArn=provider, SAMLAssertion=saml_b64
            )
        error = refused.value.response["Error"]
        assert error["Code"] == "AccessDenied", (other_role, error)
        # The assertion itself was genuine: only the role is wrong.
        assert other_role.encode() not in base64.b64decode(saml_b64)
