"""Credentials the lab issues carry their role's permissions, in their own account only."""

from __future__ import annotations

import json
import secrets
import ssl
import subprocess
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from lab_aws_support import AWS, DEV, MANAGEMENT, PROD, Assertion, AwsLab, assume, role_pair


def session_for(aws_lab: AwsLab, assertion: Assertion, account: str, role: str) -> dict[str, Any]:
    """Credentials for ``role`` in ``account`` through the strict STS."""
    answer = assume(
        aws_lab, assertion(roles=[role_pair(account, role)]), role=role, account=account
    )
    credentials: dict[str, Any] = answer["Credentials"]
    return credentials


def error_code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


@pytest.mark.parametrize(("account", "role"), [(DEV, "ReadOnly"), (DEV, "Developer")])
def test_sessions_without_iam_write_cannot_create_users(
    aws_lab: AwsLab, assertion: Assertion, account: str, role: str
) -> None:
    iam = aws_lab.client("iam", session_for(aws_lab, assertion, account, role))
    assert any(r["RoleName"] == role for r in iam.list_roles()["Roles"])
    with pytest.raises(ClientError) as caught:
        iam.create_user(UserName="intruder")
    assert error_code(caught) == "AccessDenied"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    message = caught.value.response["Error"]["Message"]
    assert f"arn:aws:sts::{account}:assumed-role/{role}/alice@acme.example" in message
    assert "iam:CreateUser" in message


def test_admin_session_can_create_users(aws_lab: AwsLab, assertion: Assertion) -> None:
    iam = aws_lab.client("iam", session_for(aws_lab, assertion, PROD, "OktaAdminRole"))
    user = iam.create_user(UserName="created-by-admin")["User"]
    assert user["Arn"] == f"arn:aws:iam::{PROD}:user/created-by-admin"
    iam.delete_user(UserName="created-by-admin")


def test_developer_may_use_other_services_but_not_outside_its_regions(
    aws_lab: AwsLab, assertion: Assertion
) -> None:
    """PowerUserAccess allows S3; the spec's DenyLeavingTheRegion denies other regions only."""
    credentials = session_for(aws_lab, assertion, DEV, "Developer")
    aws_lab.client("s3", credentials).list_buckets()
    from lab_fixtures import lab_session

    far = lab_session(aws_lab.url, credentials, region="ap-southeast-2").client(
        "s3", endpoint_url=aws_lab.url, verify=aws_lab.ca_bundle
    )
    with pytest.raises(ClientError) as caught:
        far.list_buckets()
    assert error_code(caught) == "AccessDenied"


def test_aws_cli_create_user_is_denied_for_read_only(aws_lab: AwsLab, assertion: Assertion) -> None:
    credentials = session_for(aws_lab, assertion, DEV, "ReadOnly")
    done = subprocess.run(
        [AWS, "iam", "create-user", "--user-name", "cli-intruder"],
        env=aws_lab.cli_env(credentials),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "An error occurred (AccessDenied) when calling the CreateUser operation" in done.stderr


def test_accounts_stay_separate(aws_lab: AwsLab, assertion: Assertion) -> None:
    prod = aws_lab.client("iam", session_for(aws_lab, assertion, PROD, "OktaAdminRole"))
    dev = aws_lab.client("iam", session_for(aws_lab, assertion, DEV, "OktaAdminRole"))
    prod.create_user(UserName="only-in-prod")
    try:
        assert "only-in-prod" not in {u["UserName"] for u in dev.list_users()["Users"]}
        assert "Developer" not in {r["RoleName"] for r in prod.list_roles()["Roles"]}
        assert "Developer" in {r["RoleName"] for r in dev.list_roles()["Roles"]}
        assert prod.list_account_aliases()["AccountAliases"] == ["acme-prod"]
        assert dev.list_account_aliases()["AccountAliases"] == ["acme-dev"]
    finally:
        prod.delete_user(UserName="only-in-prod")


def test_organization_and_access_roles(aws_lab: AwsLab) -> None:
    accounts = aws_lab.client("organizations").list_accounts()["Accounts"]
    assert {(a["Id"], a["Name"]) for a in accounts} == {
        (MANAGEMENT, "acme-management"),
        (PROD, "acme-prod"),
        (DEV, "acme-dev"),
    }
    root = aws_lab.client("iam")
    assert root.list_account_aliases()["AccountAliases"] == ["acme-management"]
    # The bootstrap user only: acme uses group mapping, so `keyless apply` made no
    # role-listing user (issue 22: no static key).
    users = {u["UserName"] for u in root.list_users()["Users"]}
    assert users == {"lab-admin"}
    answer = aws_lab.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{DEV}:role/OrganizationAccountAccessRole", RoleSessionName="check"
    )
    member = aws_lab.client("iam", answer["Credentials"])
    role = member.get_role(RoleName="OrganizationAccountAccessRole")["Role"]
    trust = role["AssumeRolePolicyDocument"]
    if isinstance(trust, str):
        trust = json.loads(trust)
    assert trust["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{MANAGEMENT}:root"}
    attached = member.list_attached_role_policies(RoleName="OrganizationAccountAccessRole")
    assert [p["PolicyName"] for p in attached["AttachedPolicies"]] == ["AdministratorAccess"]
    # Only the management account has a long-lived key.
    assert member.list_users()["Users"] == []


def test_a_saml_session_cannot_assume_the_access_role(
    aws_lab: AwsLab, assertion: Assertion
) -> None:
    """The access role trusts the management account, not a member's federated session."""
    sts = aws_lab.client("sts", session_for(aws_lab, assertion, DEV, "OktaAdminRole"))
    with pytest.raises(ClientError) as caught:
        sts.assume_role(
            RoleArn=f"arn:aws:iam::{PROD}:role/OrganizationAccountAccessRole",
            RoleSessionName="hop",
        )
    assert error_code(caught) == "AccessDenied"


def test_unknown_key_wrong_secret_and_wrong_token_are_refused(
    aws_lab: AwsLab, assertion: Assertion
) -> None:
    unknown = {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key": "x" * 40}
    with pytest.raises(ClientError) as caught:
        aws_lab.client("sts", unknown).get_caller_identity()
    assert error_code(caught) == "InvalidClientTokenId"

    wrong_secret = dict(aws_lab.bootstrap, aws_secret_access_key="y" * 40)
    with pytest.raises(ClientError) as caught:
        aws_lab.client("sts", wrong_secret).get_caller_identity()
    assert error_code(caught) == "SignatureDoesNotMatch"

    credentials = session_for(aws_lab, assertion, PROD, "ReadOnly")
    forged = dict(credentials, SessionToken=credentials["SessionToken"][:-4] + "AAAA")
    with pytest.raises(ClientError) as caught:
        aws_lab.client("sts", forged).get_caller_identity()
    assert error_code(caught) == "InvalidClientTokenId"


def test_moto_control_api_is_not_reachable(aws_lab: AwsLab) -> None:
    """moto's /moto-api (reset, dashboard) is unauthenticated: the lab does not serve it."""
    trust = ssl.create_default_context(cafile=aws_lab.ca_bundle)
    response = httpx.post(f"{aws_lab.url}/moto-api/reset", verify=trust)
    assert response.status_code == 404
    iam = aws_lab.client("iam")
    assert iam.list_account_aliases()["AccountAliases"] == ["acme-management"]


def test_account_header_cannot_pick_an_account(aws_lab: AwsLab) -> None:
    iam = aws_lab.client("iam")

    def add_header(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = PROD

    iam.meta.events.register("before-sign.iam.*", add_header)
    assert iam.list_account_aliases()["AccountAliases"] == ["acme-management"]


def _signed_iam_call(
    aws_lab: AwsLab,
    credentials: dict[str, Any],
    *,
    body: str,
    query: str = "",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST a hand-made IAM request, SigV4-signed with ``credentials`` as any client would."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = f"{aws_lab.url}/" + (f"?{query}" if query else "")
    request = AWSRequest(
        method="POST",
        url=url,
        data=body.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})},
    )
    signer = Credentials(
        credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"]
    )
    SigV4Auth(signer, "iam", "us-east-1").add_auth(request)
    trust = ssl.create_default_context(cafile=aws_lab.ca_bundle)
    return httpx.post(url, content=body.encode(), headers=dict(request.headers), verify=trust)


@pytest.mark.parametrize(
    ("body", "query", "headers"),
    [
        # Two Actions: the front read the last, moto runs the first.
        ("Action=CreateUser&Version=2010-05-08&UserName={user}&Action=GetUser", "", {}),
        # An X-Amz-Target header: the front took the action from it, moto from Action.
        (
            "Action=CreateUser&Version=2010-05-08&UserName={user}",
            "",
            {"X-Amz-Target": "AWSIdentityManagementV20100508.GetUser"},
        ),
        # A Content-Type in capitals: the front skipped the body, moto parsed it.
        (
            "Action=CreateUser&Version=2010-05-08&UserName={user}",
            "Action=GetUser&Version=2010-05-08&UserName={user}",
            {"Content-Type": "Application/X-WWW-Form-Urlencoded"},
        ),
    ],
    ids=["duplicate-action", "x-amz-target", "content-type-case"],
)
def test_front_authorizes_the_action_moto_runs(
    aws_lab: AwsLab, assertion: Assertion, body: str, query: str, headers: dict[str, str]
) -> None:
    """Bug: the front read a request's action and parameters differently from moto (last
    duplicate wins vs first; X-Amz-Target before Action vs after; Content-Type matched
    case-sensitively), so a ReadOnly session could have iam:GetUser authorized while moto
    ran iam:CreateUser: any lab credential could escalate to IAM write in its account."""
    user = "smuggled-" + secrets.token_hex(3)
    credentials = session_for(aws_lab, assertion, DEV, "ReadOnly")
    answer = _signed_iam_call(
        aws_lab,
        credentials,
        body=body.format(user=user),
        query=query.format(user=user),
        headers=headers,
    )
    admin = aws_lab.client("iam", session_for(aws_lab, assertion, DEV, "OktaAdminRole"))
    created = [u["UserName"] for u in admin.list_users()["Users"]]
    if user in created:
        admin.delete_user(UserName=user)
    assert user not in created
    # Refused: as a denial, or as a request that names its action ambiguously.
    assert answer.status_code in (400, 403), answer.text
    refusals = ("AccessDenied", "InvalidQueryParameter", "InvalidParameterCombination")
    assert any(f"<Code>{code}</Code>" in answer.text for code in refusals), answer.text


def test_an_action_parameter_does_not_rename_a_rest_call(
    aws_lab: AwsLab, assertion: Assertion
) -> None:
    """Bug: the front took any request's action from an ``Action`` parameter, but REST
    services (S3) ignore it, so ``PUT /bucket?Action=ListBuckets`` from a ReadOnly session
    was authorized as s3:ListBuckets while moto created the bucket."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    credentials = session_for(aws_lab, assertion, DEV, "ReadOnly")
    bucket = "smuggled-" + secrets.token_hex(3)
    url = f"{aws_lab.url}/{bucket}?Action=ListBuckets"
    request = AWSRequest(method="PUT", url=url, data=b"")
    signer = Credentials(
        credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"]
    )
    S3SigV4Auth(signer, "s3", "us-east-1").add_auth(request)
    trust = ssl.create_default_context(cafile=aws_lab.ca_bundle)
    answer = httpx.put(url, content=b"", headers=dict(request.headers), verify=trust)
    admin = aws_lab.client("s3", session_for(aws_lab, assertion, DEV, "OktaAdminRole"))
    names = [b["Name"] for b in admin.list_buckets()["Buckets"]]
    if bucket in names:
        admin.delete_bucket(Bucket=bucket)
    assert bucket not in names
    assert answer.status_code == 403, answer.text
