"""Regression tests for issue 10 item 1: the lab AWS authorized one request and moto ran another.

The front read the action from a form body it did not decompress, from the query
string, or from X-Amz-Target; moto also gunzips, parses multipart forms, reads any
body as a query string, reads *headers* as parameters when nothing else is there,
and takes its account from any key id in the Authorization header. So a request
that showed the front ``ListRoles`` (or nothing: ``sts:*``) could run
``AssumeRole``, ``CreateUser`` or ``AttachUserPolicy`` in moto.

Each disguise is sent over real HTTPS to the running lab, SigV4-signed with
botocore's signer, as two principals: bob's Developer session in acme-dev and the
IdP's list-only provisioning user (``iam:ListRoles``, ``iam:ListAccountAliases``).
Each must be refused with a 4xx and leave IAM and STS as they were.
"""

from __future__ import annotations

import gzip
import json
import secrets
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from keyless.plan.desired import PROVISIONING_ACTIONS
from lab_aws_support import DEV, MANAGEMENT, PROD, Assertion, AwsLab, assume, role_pair

LISTER = "OktaProvisioningUser-smuggling"
ADMIN_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"


@dataclass(frozen=True)
class Principal:
    name: str
    account: str
    credentials: Credentials


def _session(aws_lab: AwsLab, assertion: Assertion, account: str, role: str) -> Credentials:
    answer = assume(
        aws_lab, assertion(roles=[role_pair(account, role)]), role=role, account=account
    )
    c = answer["Credentials"]
    return Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])


def _admin(aws_lab: AwsLab, assertion: Assertion, account: str) -> Any:
    c = _session(aws_lab, assertion, account, "OktaAdminRole")
    return aws_lab.client(
        "iam",
        {"AccessKeyId": c.access_key, "SecretAccessKey": c.secret_key, "SessionToken": c.token},
    )


@pytest.fixture(scope="module")
def lister(aws_lab: AwsLab, idp_key: Any) -> Iterator[Credentials]:
    """A user with exactly the IdP's role-listing rights, in acme-prod (as apply makes it)."""
    answer = aws_lab.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{PROD}:role/OrganizationAccountAccessRole", RoleSessionName="setup"
    )
    iam = aws_lab.client("iam", answer["Credentials"])
    iam.create_user(UserName=LISTER)
    iam.put_user_policy(
        UserName=LISTER,
        PolicyName="keyless-idp-list-roles",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": list(PROVISIONING_ACTIONS), "Resource": "*"}
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName=LISTER)["AccessKey"]
    yield Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    iam.delete_access_key(UserName=LISTER, AccessKeyId=key["AccessKeyId"])
    iam.delete_user_policy(UserName=LISTER, PolicyName="keyless-idp-list-roles")
    iam.delete_user(UserName=LISTER)


@pytest.fixture(params=["bob-developer", "idp-lister"])
def principal(
    request: pytest.FixtureRequest, aws_lab: AwsLab, assertion: Assertion, lister: Credentials
) -> Principal:
    if request.param == "bob-developer":
        return Principal("bob", DEV, _session(aws_lab, assertion, DEV, "Developer"))
    return Principal("lister", PROD, lister)


def send(
    aws_lab: AwsLab,
    credentials: Credentials,
    *,
    service: str,
    body: bytes = b"",
    query: str = "",
    headers: dict[str, str] | None = None,
    method: str = "POST",
    path: str = "/",
) -> httpx.Response:
    """Send a hand-made request, SigV4-signed with ``credentials`` as any client would."""
    url = f"{aws_lab.url}{path}" + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    signer = S3SigV4Auth if service == "s3" else SigV4Auth
    signer(credentials, service, "us-east-1").add_auth(request)
    trust = ssl.create_default_context(cafile=aws_lab.ca_bundle)
    return httpx.request(method, url, content=body, headers=dict(request.headers), verify=trust)


def _form(params: dict[str, str]) -> bytes:
    return urlencode(params).encode()


def _multipart(params: dict[str, str]) -> tuple[bytes, str]:
    boundary = "smuggle" + secrets.token_hex(4)
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in params.items()
    ]
    return ("".join(parts) + f"--{boundary}--\r\n").encode(), boundary


FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}

# How a request can show the front one thing while moto reads another. Each takes the
# parameters of the harmful call and of a harmless cover call, and gives
# (body, query, headers).
Disguise = Callable[[dict[str, str], dict[str, str]], tuple[bytes, str, dict[str, str]]]


def _gzip_under_query(
    harm: dict[str, str], cover: dict[str, str]
) -> tuple[bytes, str, dict[str, str]]:
    return gzip.compress(_form(harm)), urlencode(cover), {**FORM, "Content-Encoding": "gzip"}


def _gzip_uppercase(
    harm: dict[str, str], cover: dict[str, str]
) -> tuple[bytes, str, dict[str, str]]:
    return gzip.compress(_form(harm)), urlencode(cover), {**FORM, "Content-Encoding": "GZIP"}


def _deflate(harm: dict[str, str], cover: dict[str, str]) -> tuple[bytes, str, dict[str, str]]:
    import zlib

    return zlib.compress(_form(harm)), urlencode(cover), {**FORM, "Content-Encoding": "deflate"}


def _double_gzip(harm: dict[str, str], cover: dict[str, str]) -> tuple[bytes, str, dict[str, str]]:
    body = gzip.compress(_form(cover)) + gzip.compress(b"&" + _form(harm))
    return body, "", {**FORM, "Content-Encoding": "gzip"}


def _multipart_under_query(
    harm: dict[str, str], cover: dict[str, str]
) -> tuple[bytes, str, dict[str, str]]:
    body, boundary = _multipart(harm)
    return body, urlencode(cover), {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def _multipart_alone(
    harm: dict[str, str], cover: dict[str, str]
) -> tuple[bytes, str, dict[str, str]]:
    body, boundary = _multipart(harm)
    return body, "", {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def _text_plain(harm: dict[str, str], cover: dict[str, str]) -> tuple[bytes, str, dict[str, str]]:
    return _form(harm), "", {"Content-Type": "text/plain"}


def _no_content_type(
    harm: dict[str, str], cover: dict[str, str]
) -> tuple[bytes, str, dict[str, str]]:
    return _form(harm), "", {}


def _headers_as_parameters(
    harm: dict[str, str], cover: dict[str, str]
) -> tuple[bytes, str, dict[str, str]]:
    return b"", "", dict(harm)


def _body_and_query(
    harm: dict[str, str], cover: dict[str, str]
) -> tuple[bytes, str, dict[str, str]]:
    return _form(harm), urlencode(cover), FORM


def _two_actions(harm: dict[str, str], cover: dict[str, str]) -> tuple[bytes, str, dict[str, str]]:
    return _form(harm) + b"&" + _form({"Action": cover["Action"]}), "", FORM


def _two_actions_in_query(
    harm: dict[str, str], cover: dict[str, str]
) -> tuple[bytes, str, dict[str, str]]:
    return b"", urlencode(harm) + "&" + urlencode({"Action": cover["Action"]}), {}


def _target_header(
    harm: dict[str, str], cover: dict[str, str]
) -> tuple[bytes, str, dict[str, str]]:
    target = f"AWSIdentityManagementV20100508.{cover['Action']}"
    return _form(harm), "", {**FORM, "X-Amz-Target": target}


def _miscased(harm: dict[str, str], cover: dict[str, str]) -> tuple[bytes, str, dict[str, str]]:
    action = harm["Action"]
    return _form({**harm, "Action": action[0].lower() + action[1:]}), "", FORM


def _unknown_action(
    harm: dict[str, str], cover: dict[str, str]
) -> tuple[bytes, str, dict[str, str]]:
    return _form({**harm, "Action": harm["Action"] + "s"}), "", FORM


def _bad_utf8(harm: dict[str, str], cover: dict[str, str]) -> tuple[bytes, str, dict[str, str]]:
    return _form(harm) + b"&Note=%ff%fe", "", FORM


def _plain(harm: dict[str, str], cover: dict[str, str]) -> tuple[bytes, str, dict[str, str]]:
    """No disguise at all: the harmful call as a client sends it (denied by IAM)."""
    return _form(harm), "", FORM


DISGUISES: dict[str, Disguise] = {
    "gzip-body-cover-query": _gzip_under_query,
    "gzip-uppercase": _gzip_uppercase,
    "deflate": _deflate,
    "two-gzip-members": _double_gzip,
    "multipart-cover-query": _multipart_under_query,
    "multipart": _multipart_alone,
    "text-plain-body": _text_plain,
    "no-content-type": _no_content_type,
    "headers-as-parameters": _headers_as_parameters,
    "body-and-query": _body_and_query,
    "two-actions": _two_actions,
    "two-actions-in-query": _two_actions_in_query,
    "x-amz-target": _target_header,
    "miscased-action": _miscased,
    "unknown-action": _unknown_action,
    "bad-utf8": _bad_utf8,
    "plain": _plain,
}


def _attached(aws_lab: AwsLab, assertion: Assertion, account: str, user: str) -> list[str]:
    admin = _admin(aws_lab, assertion, account)
    policies = admin.list_attached_user_policies(UserName=user)["AttachedPolicies"]
    return [p["PolicyArn"] for p in policies]


@pytest.mark.parametrize("disguise", list(DISGUISES), ids=list(DISGUISES))
def test_iam_write_behind_a_harmless_action_is_refused(
    aws_lab: AwsLab, assertion: Assertion, principal: Principal, disguise: str
) -> None:
    """CreateUser and AttachUserPolicy(AdministratorAccess) disguised as ListRoles."""
    user = "smuggled-" + secrets.token_hex(3)
    cover = {"Action": "ListRoles", "Version": "2010-05-08"}
    for harm in (
        {"Action": "CreateUser", "Version": "2010-05-08", "UserName": user},
        {
            "Action": "AttachUserPolicy",
            "Version": "2010-05-08",
            "UserName": LISTER if principal.name == "lister" else user,
            "PolicyArn": ADMIN_ARN,
        },
    ):
        body, query, headers = DISGUISES[disguise](harm, cover)
        answer = send(
            aws_lab, principal.credentials, service="iam", body=body, query=query, headers=headers
        )
        assert 400 <= answer.status_code < 500, answer.text
        assert "<Code>" in answer.text
    admin = _admin(aws_lab, assertion, principal.account)
    assert user not in {u["UserName"] for u in admin.list_users()["Users"]}
    if principal.name == "lister":
        assert ADMIN_ARN not in _attached(aws_lab, assertion, PROD, LISTER)


@pytest.mark.parametrize("disguise", list(DISGUISES), ids=list(DISGUISES))
def test_assume_role_behind_a_harmless_action_is_refused(
    aws_lab: AwsLab, principal: Principal, disguise: str
) -> None:
    """AssumeRole into prod's OktaAdminRole disguised as GetCallerIdentity (or as nothing,
    which the front read as ``sts:*``, which Developer's PowerUserAccess allows)."""
    harm = {
        "Action": "AssumeRole",
        "Version": "2011-06-15",
        "RoleArn": f"arn:aws:iam::{PROD}:role/OktaAdminRole",
        "RoleSessionName": "smuggled",
    }
    cover = {"Action": "GetCallerIdentity", "Version": "2011-06-15"}
    body, query, headers = DISGUISES[disguise](harm, cover)
    if disguise == "x-amz-target":
        headers["X-Amz-Target"] = "AWSSecurityTokenServiceV20110615.GetCallerIdentity"
    answer = send(
        aws_lab, principal.credentials, service="sts", body=body, query=query, headers=headers
    )
    assert 400 <= answer.status_code < 500, answer.text
    assert "AccessKeyId" not in answer.text
    assert "SessionToken" not in answer.text


def test_a_key_id_smuggled_into_the_authorization_header_does_not_pick_the_account(
    aws_lab: AwsLab, principal: Principal
) -> None:
    """moto takes the account from the last key id anywhere in the Authorization header:
    one hidden in SignedHeaders (signed for, so the signature held) ran the caller's
    call as the management account's admin. The lab refuses a SignedHeaders list
    that is not canonical, and hands moto an Authorization header of its own."""
    victim = aws_lab.bootstrap["aws_access_key_id"]
    url = f"{aws_lab.url}/"
    body = _form({"Action": "GetCallerIdentity", "Version": "2011-06-15"})
    request = AWSRequest(method="POST", url=url, data=body, headers={**FORM, f"{victim}/": ""})
    SigV4Auth(principal.credentials, "sts", "us-east-1").add_auth(request)
    headers = {k: v for k, v in request.headers.items() if k != f"{victim}/"}
    headers["Authorization"] = headers["Authorization"].replace(f"{victim.lower()}/", f"{victim}/")
    assert f"SignedHeaders={victim}/;" in headers["Authorization"]
    trust = ssl.create_default_context(cafile=aws_lab.ca_bundle)
    answer = httpx.post(url, content=body, headers=headers, verify=trust)
    assert MANAGEMENT not in answer.text
    assert answer.status_code == 403, answer.text


@pytest.fixture(scope="module")
def org_reader(aws_lab: AwsLab) -> Iterator[Credentials]:
    """A management-account user who may only read the organization."""
    iam = aws_lab.client("iam")
    name = "org-reader-smuggling"
    iam.create_user(UserName=name)
    iam.put_user_policy(
        UserName=name,
        PolicyName="read-org",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["organizations:List*", "organizations:Describe*"],
                        "Resource": "*",
                    }
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    yield Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    iam.delete_user_policy(UserName=name, PolicyName="read-org")
    iam.delete_user(UserName=name)


def test_json_body_cannot_name_a_query_action(aws_lab: AwsLab, org_reader: Credentials) -> None:
    """moto reads any body as a query string when the form and URL are empty, so a JSON
    string holding ``&Action=CreateAccount&`` replaced X-Amz-Target's ListRoots: a
    reader of the organization could create accounts. The front re-serializes the JSON
    it authorized, so moto runs ListRoots."""
    document = {
        "AccountName": "smuggled",
        "Email": "smuggled@acme.example",
        "Tags": [{"Key": "k", "Value": "&Action=CreateAccount&"}],
    }
    answer = send(
        aws_lab,
        org_reader,
        service="organizations",
        body=json.dumps(document).encode(),
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AWSOrganizationsV20161128.ListRoots",
        },
    )
    assert answer.status_code < 500, answer.text
    assert "CreateAccountStatus" not in answer.text
    names = {a["Name"] for a in aws_lab.client("organizations").list_accounts()["Accounts"]}
    assert "smuggled" not in names


@pytest.mark.parametrize(
    ("target", "query", "code"),
    [
        ("AWSOrganizationsV20161128.listAccounts", "", "UnknownOperationException"),
        ("AWSOrganizationsV20161128.CreateAccounts", "", "UnknownOperationException"),
        ("AWSIdentityManagementV20100508.ListAccounts", "", "UnknownOperationException"),
        ("", "", "UnknownOperationException"),
        (
            "AWSOrganizationsV20161128.ListAccounts",
            "Action=CreateAccount",
            "SerializationException",
        ),
    ],
)
def test_json_calls_name_one_known_operation(
    aws_lab: AwsLab, assertion: Assertion, target: str, query: str, code: str
) -> None:
    c = _session(aws_lab, assertion, DEV, "Developer")
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    if target:
        headers["X-Amz-Target"] = target
    answer = send(aws_lab, c, service="organizations", body=b"{}", query=query, headers=headers)
    assert answer.status_code == 400, answer.text
    assert answer.json()["__type"] == code


@pytest.mark.parametrize(
    "body",
    [b"[]", b"{", b'{"a": NaN}', b"\xff{}", b"[" * 100_000 + b"]" * 100_000],
    ids=["array", "truncated", "nan", "bad-utf8", "deep"],
)
def test_malformed_json_bodies_are_400(aws_lab: AwsLab, assertion: Assertion, body: bytes) -> None:
    c = _session(aws_lab, assertion, DEV, "Developer")
    answer = send(
        aws_lab,
        c,
        service="organizations",
        body=body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AWSOrganizationsV20161128.ListAccounts",
        },
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["__type"] == "SerializationException"


def test_unserved_services_are_refused(aws_lab: AwsLab, principal: Principal) -> None:
    """A key scoped to a service the front does not read (moto would route it anyway)."""
    for service in ("IAM", "ec2", "events", "eventbridge"):
        answer = send(
            aws_lab,
            principal.credentials,
            service=service,
            body=_form({"Action": "CreateUser", "UserName": "x", "Version": "2010-05-08"}),
            headers=FORM,
        )
        assert answer.status_code == 403, answer.text
        assert "SignatureDoesNotMatch" in answer.text


def test_common_query_errors_have_aws_codes(aws_lab: AwsLab, principal: Principal) -> None:
    cases = {
        "": ("MissingAction", 400),
        "Action=ListRoles&Version=2010-05-08&Action=ListRoles": ("InvalidQueryParameter", 400),
        "Action=ListRole&Version=2010-05-08": ("InvalidAction", 400),
        "Action=ListRoles&Version=2011-06-15": ("InvalidAction", 400),
        "Action=ListRoles&Version": ("MalformedQueryString", 404),
    }
    for body, (code, status) in cases.items():
        answer = send(
            aws_lab, principal.credentials, service="iam", body=body.encode(), headers=FORM
        )
        assert (answer.status_code, f"<Code>{code}</Code>" in answer.text) == (status, True), (
            body,
            answer.text,
        )


def test_ordinary_clients_still_work(aws_lab: AwsLab, principal: Principal) -> None:
    """The strict reading accepts what boto3 sends: GET with a query, gzip once, JSON."""
    listed = send(
        aws_lab,
        principal.credentials,
        service="iam",
        method="GET",
        query="Action=ListRoles&Version=2010-05-08",
    )
    assert listed.status_code == 200, listed.text
    assert f"arn:aws:iam::{principal.account}:role/" in listed.text
    zipped = send(
        aws_lab,
        principal.credentials,
        service="iam",
        body=gzip.compress(b"Action=ListRoles&Version=2010-05-08"),
        headers={**FORM, "Content-Encoding": "gzip"},
    )
    assert zipped.status_code == 200, zipped.text
    assert f"arn:aws:iam::{principal.account}:role/" in zipped.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("Action=CreateUser&Version=2010-05-08", "userName"),
        ("Action=ListRoles&Version=2010-05-08&MaxItems=abc", "maxItems"),
        ("Action=GetRole&Version=2010-05-08&RoleName=", "roleName"),
        ("Action=SimulatePrincipalPolicy&Version=2010-05-08&PolicySourceArn=x", "policySourceArn"),
        ("Action=CreateAccountAlias&Version=2010-05-08&AccountAlias=%00", "accountAlias"),
    ],
)
def test_parameters_are_validated_against_the_model_before_moto(
    aws_lab: AwsLab, body: str, field: str
) -> None:
    """moto created a user named ``None`` for a CreateUser without UserName and answered
    500 to ``MaxItems=abc``; AWS answers ValidationError (400) before doing anything."""
    b = aws_lab.bootstrap
    admin = Credentials(b["aws_access_key_id"], b["aws_secret_access_key"])
    answer = send(aws_lab, admin, service="iam", body=body.encode(), headers=FORM)
    assert answer.status_code == 400, answer.text
    assert "<Code>ValidationError</Code>" in answer.text
    assert f"at '{field}' failed to satisfy constraint" in answer.text
    users = {u["UserName"] for u in aws_lab.client("iam").list_users()["Users"]}
    assert "None" not in users
