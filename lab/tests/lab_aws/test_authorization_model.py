"""Issue 21: the lab authorizes what AWS authorizes, derived from the request as AWS derives it.

Every case goes through the real interface (SigV4-signed HTTPS, boto3 or botocore
signing by hand), as bob's Developer session, the provisioning user, a narrowed
session or an admin, and every refusal is followed by an admin reading the state
back: a refused request changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import ssl
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from lab_aws_support import DEV, MANAGEMENT, Assertion, AwsLab, role_pair

ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY_POLICY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def _policy(*statements: Any) -> str:
    """A policy document (IAM's 2012-10-17 grammar) of ``statements``, as JSON."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _s3(aws_lab: AwsLab, credentials: dict[str, Any] | None = None) -> Any:
    """An S3 client that sends a Content-Length: the lab refuses bodies of unstated length
    (boto3's default aws-chunked upload with a trailing checksum is not modelled)."""
    from lab_fixtures import lab_session

    session = lab_session(aws_lab.url, credentials or aws_lab.bootstrap)
    config = Config(request_checksum_calculation="when_required")
    return session.client("s3", endpoint_url=aws_lab.url, verify=aws_lab.ca_bundle, config=config)


def _code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


def _saml(aws_lab: AwsLab, assertion: Assertion, role: str, who: str, **extra: Any) -> Any:
    pair = role_pair(DEV, role)
    return aws_lab.client("sts").assume_role_with_saml(
        RoleArn=pair.role_arn,
        PrincipalArn=pair.principal_arn,
        SAMLAssertion=assertion(roles=[pair], session_name=who),
        **extra,
    )


@pytest.fixture
def bob(aws_lab: AwsLab, assertion: Assertion) -> dict[str, Any]:
    """bob@acme.example's Developer session in acme-dev (PowerUserAccess + region guard)."""
    credentials: dict[str, Any] = _saml(aws_lab, assertion, "Developer", "bob@acme.example")[
        "Credentials"
    ]
    return credentials


@pytest.fixture
def dev_admin(aws_lab: AwsLab) -> dict[str, Any]:
    """The management account's way into acme-dev: OrganizationAccountAccessRole."""
    answer = aws_lab.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{DEV}:role/OrganizationAccountAccessRole",
        RoleSessionName="issue21-admin",
    )
    credentials: dict[str, Any] = answer["Credentials"]
    return credentials


@pytest.fixture
def management_bucket(aws_lab: AwsLab) -> Iterator[str]:
    """A bucket of the management account holding one object, ``secret.txt``."""
    s3 = _s3(aws_lab)
    name = f"acme-mgmt-{secrets.token_hex(4)}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="secret.txt", Body=b"management only")
    try:
        yield name
    finally:
        for item in s3.list_objects_v2(Bucket=name).get("Contents", []):
            s3.delete_object(Bucket=name, Key=item["Key"])
        s3.delete_bucket(Bucket=name)


def _bucket_policy(s3: Any, bucket: str) -> str | None:
    try:
        return str(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchBucketPolicy":
            raise
        return None


# -- 1. S3: bucket and object ARNs, the bucket's owner, bucket policies ----------------------


def test_bob_cannot_read_write_or_repolicy_a_management_bucket(
    aws_lab: AwsLab, bob: dict[str, Any], management_bucket: str
) -> None:
    """Bug: S3 was authorized as s3:* on bob's own PowerUserAccess and moto found the
    bucket globally, so a dev session read and overwrote management's object and set
    its bucket policy. Cross-account, the bucket's policy must allow too."""
    s3 = _s3(aws_lab, bob)
    calls: list[Callable[[], Any]] = [
        lambda: s3.get_object(Bucket=management_bucket, Key="secret.txt"),
        lambda: s3.put_object(Bucket=management_bucket, Key="secret.txt", Body=b"bob was here"),
        lambda: s3.put_bucket_policy(
            Bucket=management_bucket,
            Policy=_policy(
                {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}
            ),
        ),
    ]
    for call in calls:
        with pytest.raises(ClientError) as caught:
            call()
        assert _code(caught) == "AccessDenied"
        assert "no resource-based policy allows" in caught.value.response["Error"]["Message"]
    admin = _s3(aws_lab)
    body = admin.get_object(Bucket=management_bucket, Key="secret.txt")["Body"].read()
    assert body == b"management only"
    assert _bucket_policy(admin, management_bucket) is None


def test_a_bucket_policy_granting_the_dev_account_lets_bob_read_but_not_write(
    aws_lab: AwsLab, bob: dict[str, Any], management_bucket: str
) -> None:
    """Cross-account: identity (PowerUserAccess) and bucket policy both allow GetObject;
    only identity allows PutObject, so that stays refused."""
    admin = _s3(aws_lab)
    admin.put_bucket_policy(
        Bucket=management_bucket,
        Policy=_policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{DEV}:root"},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{management_bucket}/*",
            }
        ),
    )
    s3 = _s3(aws_lab, bob)
    assert s3.get_object(Bucket=management_bucket, Key="secret.txt")["Body"].read() == (
        b"management only"
    )
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=management_bucket, Key="secret.txt", Body=b"overwritten")
    assert _code(caught) == "AccessDenied"
    assert admin.get_object(Bucket=management_bucket, Key="secret.txt")["Body"].read() == (
        b"management only"
    )
    admin.delete_bucket_policy(Bucket=management_bucket)


def test_an_explicit_deny_on_put_bucket_policy_is_enforced(
    aws_lab: AwsLab, bob: dict[str, Any], dev_admin: dict[str, Any]
) -> None:
    """Bug: the request was checked as s3:*, which a Deny on s3:PutBucketPolicy never matched."""
    s3 = _s3(aws_lab, bob)
    bucket = f"bob-dev-{secrets.token_hex(4)}"
    s3.create_bucket(Bucket=bucket)
    iam = aws_lab.client("iam", dev_admin)
    iam.put_role_policy(
        RoleName="Developer",
        PolicyName="NoBucketPolicies",
        PolicyDocument=_policy({"Effect": "Deny", "Action": "s3:PutBucketPolicy", "Resource": "*"}),
    )
    try:
        with pytest.raises(ClientError) as caught:
            s3.put_bucket_policy(
                Bucket=bucket,
                Policy=_policy(
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{bucket}/*",
                    }
                ),
            )
        assert _code(caught) == "AccessDenied"
        assert "explicit deny in an identity-based policy" in str(caught.value)
        assert _bucket_policy(_s3(aws_lab, dev_admin), bucket) is None
        # Other bucket actions stay allowed by PowerUserAccess.
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    finally:
        iam.delete_role_policy(RoleName="Developer", PolicyName="NoBucketPolicies")
        s3.delete_bucket(Bucket=bucket)


def test_read_only_gets_objects_with_s3_get_star_and_cannot_put(
    aws_lab: AwsLab, assertion: Assertion, dev_admin: dict[str, Any]
) -> None:
    """Bug: ReadOnlyAccess's s3:Get* never matched the s3:* the lab asked about."""
    owner = _s3(aws_lab, dev_admin)
    bucket = f"dev-reports-{secrets.token_hex(4)}"
    owner.create_bucket(Bucket=bucket)
    owner.put_object(Bucket=bucket, Key="report.csv", Body=b"a,b\n")
    try:
        carol = _saml(aws_lab, assertion, "ReadOnly", "carol@acme.example")["Credentials"]
        s3 = _s3(aws_lab, carol)
        assert s3.get_object(Bucket=bucket, Key="report.csv")["Body"].read() == b"a,b\n"
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["report.csv"]
        with pytest.raises(ClientError) as caught:
            s3.put_object(Bucket=bucket, Key="report.csv", Body=b"tampered")
        assert _code(caught) == "AccessDenied"
        assert owner.get_object(Bucket=bucket, Key="report.csv")["Body"].read() == b"a,b\n"
    finally:
        owner.delete_object(Bucket=bucket, Key="report.csv")
        owner.delete_bucket(Bucket=bucket)


def test_the_provisioning_user_reaches_no_bucket(
    aws_lab: AwsLab, management_bucket: str, provisioning_user: dict[str, Any]
) -> None:
    """The IdP's role-listing user has iam:ListRoles only: no S3 at all."""
    s3 = _s3(aws_lab, provisioning_user)
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=management_bucket, Key="secret.txt")
    assert _code(caught) == "AccessDenied"
    with pytest.raises(ClientError) as caught:
        s3.list_buckets()
    assert "s3:ListAllMyBuckets" in str(caught.value)


@pytest.fixture(scope="module")
def provisioning_user(aws_lab: AwsLab) -> Iterator[dict[str, Any]]:
    """A role-listing user as role import provisions it (iam:ListRoles and
    iam:ListAccountAliases only), made here: the session lab's acme uses group mapping,
    which holds no such key."""
    iam = aws_lab.client("iam")
    name = "RoleListingUser"
    iam.create_user(UserName=name)
    iam.put_user_policy(
        UserName=name,
        PolicyName="list-roles",
        PolicyDocument=_policy(
            {
                "Effect": "Allow",
                "Action": ["iam:ListRoles", "iam:ListAccountAliases"],
                "Resource": "*",
            }
        ),
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    try:
        yield {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}
    finally:
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
        iam.delete_user_policy(UserName=name, PolicyName="list-roles")
        iam.delete_user(UserName=name)


def test_an_s3_operation_the_lab_does_not_model_is_refused(
    aws_lab: AwsLab, dev_admin: dict[str, Any]
) -> None:
    """Never authorized as s3:*: an operation without a permission mapping is refused."""
    s3 = _s3(aws_lab, dev_admin)
    bucket = f"dev-unmodelled-{secrets.token_hex(4)}"
    s3.create_bucket(Bucket=bucket)
    try:
        with pytest.raises(ClientError) as caught:
            s3.get_bucket_analytics_configuration(Bucket=bucket, Id="x")
        assert _code(caught) == "NotImplemented"
    finally:
        s3.delete_bucket(Bucket=bucket)


# -- 2. the region is the signed scope's ----------------------------------------------------


def _send(
    aws_lab: AwsLab,
    credentials: dict[str, Any],
    *,
    service: str,
    method: str = "POST",
    path: str = "/",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    region: str = "us-east-1",
    sent_body: bytes | None = None,
    unsigned_payload: bool = False,
) -> httpx.Response:
    """Sign ``body`` for ``service`` in ``region`` with real SigV4, send ``sent_body``.

    S3's signer sets X-Amz-Content-SHA256 itself: the body's hash, or UNSIGNED-PAYLOAD
    when payload signing is off (``unsigned_payload``), as boto3 does.
    """
    url = f"{aws_lab.url}{path}"
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    if unsigned_payload:
        request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    signer = S3SigV4Auth if service == "s3" else SigV4Auth
    token = credentials.get("SessionToken")
    signer(
        Credentials(credentials["AccessKeyId"], credentials["SecretAccessKey"], token),
        service,
        region,
    ).add_auth(request)
    trust = ssl.create_default_context(cafile=aws_lab.ca_bundle)
    return httpx.request(
        method,
        url,
        content=body if sent_body is None else sent_body,
        headers=dict(request.headers),
        verify=trust,
    )


def test_a_host_naming_another_region_than_the_scope_is_refused(
    aws_lab: AwsLab, bob: dict[str, Any], dev_admin: dict[str, Any]
) -> None:
    """Bug: moto took the region from the Host header, so a request signed for us-east-1
    but sent to ``s3.ap-south-1`` acted in ap-south-1, past bob's region guard."""
    bucket = f"bob-far-{secrets.token_hex(4)}"
    answer = _send(
        aws_lab,
        bob,
        service="s3",
        method="PUT",
        path=f"/{bucket}",
        headers={"Host": "s3.ap-south-1.amazonaws.com"},
    )
    assert answer.status_code == 400, answer.text
    assert "<Code>AuthorizationHeaderMalformed</Code>" in answer.text
    assert "expecting 'ap-south-1'" in answer.text
    names = [b["Name"] for b in _s3(aws_lab, dev_admin).list_buckets()["Buckets"]]
    assert bucket not in names
    lookup = json.dumps({"MaxResults": 1}).encode()
    target = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents",
    }
    answer = _send(
        aws_lab,
        bob,
        service="cloudtrail",
        body=lookup,
        headers={**target, "Host": "cloudtrail.ap-south-1.amazonaws.com"},
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["__type"] == "InvalidSignatureException"
    assert "Credential should be scoped to a valid region, not 'us-east-1'" in answer.text
    # Signed for ap-south-1, the region guard speaks; signed for us-east-1 at the lab, it works.
    answer = _send(
        aws_lab, bob, service="cloudtrail", body=lookup, headers=target, region="ap-south-1"
    )
    assert answer.status_code == 400, answer.text
    assert "explicit deny" in answer.text
    assert _send(aws_lab, bob, service="cloudtrail", body=lookup, headers=target).status_code == 200


# -- 3. IAM attachments are checked on the entity they change --------------------------------


@pytest.fixture
def guarded_engineer(aws_lab: AwsLab, dev_admin: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """An IAM user in acme-dev with iam:* but a guardrail Deny on role/ReadOnly."""
    iam = aws_lab.client("iam", dev_admin)
    name = f"guarded-{secrets.token_hex(3)}"
    iam.create_user(UserName=name)
    iam.put_user_policy(
        UserName=name,
        PolicyName="IamButNotReadOnly",
        PolicyDocument=_policy(
            {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": ["iam:Attach*Policy", "iam:Detach*Policy", "iam:Put*Policy"],
                "Resource": f"arn:aws:iam::{DEV}:role/ReadOnly",
            },
            {
                "Effect": "Deny",
                "Action": "iam:*PolicyVersion",
                "Resource": f"arn:aws:iam::{DEV}:policy/Guarded*",
            },
        ),
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    try:
        yield {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}
    finally:
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
        iam.delete_user_policy(UserName=name, PolicyName="IamButNotReadOnly")
        iam.delete_user(UserName=name)


def _attached(iam: Any, role: str) -> list[str]:
    return sorted(
        p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    )


def test_attach_policy_is_checked_against_the_role_it_changes(
    aws_lab: AwsLab, guarded_engineer: dict[str, Any], dev_admin: dict[str, Any]
) -> None:
    """Bug: iam:AttachRolePolicy was checked on the policy's ARN, so a Deny on role/ReadOnly
    did not stop attaching AdministratorAccess to it."""
    iam = aws_lab.client("iam", guarded_engineer)
    admin = aws_lab.client("iam", dev_admin)
    before = _attached(admin, "ReadOnly")
    with pytest.raises(ClientError) as caught:
        iam.attach_role_policy(RoleName="ReadOnly", PolicyArn=ADMIN_POLICY)
    assert _code(caught) == "AccessDenied"
    assert f"on resource: arn:aws:iam::{DEV}:role/ReadOnly" in str(caught.value)
    with pytest.raises(ClientError) as caught:
        iam.detach_role_policy(RoleName="ReadOnly", PolicyArn=READ_ONLY_POLICY)
    assert _code(caught) == "AccessDenied"
    assert _attached(admin, "ReadOnly") == before
    # The same user may still attach to other roles: the Deny names one role.
    iam.attach_role_policy(RoleName="Developer", PolicyArn=READ_ONLY_POLICY)
    iam.detach_role_policy(RoleName="Developer", PolicyArn=READ_ONLY_POLICY)


def test_policy_versions_are_checked_against_the_policy(
    aws_lab: AwsLab, guarded_engineer: dict[str, Any], dev_admin: dict[str, Any]
) -> None:
    """iam:CreatePolicyVersion acts on the policy (its resource type is policy*)."""
    admin = aws_lab.client("iam", dev_admin)
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:List*", "Resource": "*"}],
    }
    arn = admin.create_policy(
        PolicyName=f"Guarded{secrets.token_hex(3)}", PolicyDocument=json.dumps(document)
    )["Policy"]["Arn"]
    try:
        wider = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
        with pytest.raises(ClientError) as caught:
            aws_lab.client("iam", guarded_engineer).create_policy_version(
                PolicyArn=arn, PolicyDocument=json.dumps(wider), SetAsDefault=True
            )
        assert _code(caught) == "AccessDenied"
        versions = admin.list_policy_versions(PolicyArn=arn)["Versions"]
        assert [v["VersionId"] for v in versions] == ["v1"]
    finally:
        admin.delete_policy(PolicyArn=arn)


# -- 4. session policies, session tags, source identity -------------------------------------


def _users(iam: Any) -> set[str]:
    return {u["UserName"] for u in iam.list_users()["Users"]}


@pytest.mark.parametrize(
    "narrowing",
    [
        {"Policy": _policy({"Effect": "Allow", "Action": "iam:List*", "Resource": "*"})},
        {"PolicyArns": [{"arn": READ_ONLY_POLICY}]},
    ],
    ids=["inline", "managed"],
)
def test_assume_role_session_policies_narrow_the_session(
    aws_lab: AwsLab, dev_admin: dict[str, Any], narrowing: dict[str, Any]
) -> None:
    """Bug: AssumeRole's Policy and PolicyArns were dropped; the session had the role's
    AdministratorAccess. The session's permissions are the intersection."""
    answer = aws_lab.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{DEV}:role/OrganizationAccountAccessRole",
        RoleSessionName="narrowed",
        **narrowing,
    )
    iam = aws_lab.client("iam", answer["Credentials"])
    assert iam.list_roles()["Roles"]
    name = f"narrowed-{secrets.token_hex(3)}"
    with pytest.raises(ClientError) as caught:
        iam.create_user(UserName=name)
    assert _code(caught) == "AccessDenied"
    assert "no session policy allows the iam:CreateUser action" in str(caught.value)
    assert name not in _users(aws_lab.client("iam", dev_admin))


def test_assume_role_with_saml_policy_arns_narrow_the_session(
    aws_lab: AwsLab, assertion: Assertion, dev_admin: dict[str, Any]
) -> None:
    """Bug: AssumeRoleWithSAML's PolicyArns were ignored."""
    answer = _saml(
        aws_lab,
        assertion,
        "OktaAdminRole",
        "alice@acme.example",
        PolicyArns=[{"arn": READ_ONLY_POLICY}],
    )
    iam = aws_lab.client("iam", answer["Credentials"])
    assert iam.list_roles()["Roles"]
    name = f"saml-narrowed-{secrets.token_hex(3)}"
    with pytest.raises(ClientError) as caught:
        iam.create_user(UserName=name)
    assert "no session policy allows" in str(caught.value)
    assert name not in _users(aws_lab.client("iam", dev_admin))


def test_tags_and_source_identity_need_the_trust_policy_to_allow_them(aws_lab: AwsLab) -> None:
    """Bug: AssumeRole took Tags and SourceIdentity whatever the trust policy said.
    OrganizationAccountAccessRole trusts the management account for sts:AssumeRole only."""
    sts = aws_lab.client("sts")
    role = f"arn:aws:iam::{DEV}:role/OrganizationAccountAccessRole"
    for extra in ({"Tags": [{"Key": "team", "Value": "x"}]}, {"SourceIdentity": "mallory"}):
        with pytest.raises(ClientError) as caught:
            sts.assume_role(RoleArn=role, RoleSessionName="tagged", **extra)
        assert _code(caught) == "AccessDenied"


@pytest.fixture
def chain(aws_lab: AwsLab, dev_admin: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Two roles in acme-dev: A (trusted by management, may set source identity and tags,
    may assume B) and B (trusted by acme-dev; lists roles only for source identity alice)."""
    iam = aws_lab.client("iam", dev_admin)
    suffix = secrets.token_hex(3)
    first, second = f"ChainA-{suffix}", f"ChainB-{suffix}"
    actions = ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"]
    iam.create_role(
        RoleName=first,
        AssumeRolePolicyDocument=_policy(
            {
                "Effect": "Allow",
                "Action": actions,
                "Principal": {"AWS": f"arn:aws:iam::{MANAGEMENT}:root"},
            }
        ),
    )
    iam.put_role_policy(
        RoleName=first,
        PolicyName="chain",
        PolicyDocument=_policy(
            {
                "Effect": "Allow",
                "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
                "Resource": "*",
            }
        ),
    )
    iam.create_role(
        RoleName=second,
        AssumeRolePolicyDocument=_policy(
            {
                "Effect": "Allow",
                "Action": actions,
                "Principal": {"AWS": f"arn:aws:iam::{DEV}:root"},
            }
        ),
    )
    iam.put_role_policy(
        RoleName=second,
        PolicyName="alice-only",
        PolicyDocument=_policy(
            {
                "Effect": "Allow",
                "Action": "iam:ListRoles",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceIdentity": "alice"}},
            }
        ),
    )
    try:
        yield f"arn:aws:iam::{DEV}:role/{first}", f"arn:aws:iam::{DEV}:role/{second}"
    finally:
        for name, policy in ((first, "chain"), (second, "alice-only")):
            iam.delete_role_policy(RoleName=name, PolicyName=policy)
            iam.delete_role(RoleName=name)


def test_source_identity_is_kept_across_a_chain_and_cannot_change(
    aws_lab: AwsLab, chain: tuple[str, str], dev_admin: dict[str, Any]
) -> None:
    first, second = chain
    answer = aws_lab.client("sts").assume_role(
        RoleArn=first, RoleSessionName="alice", SourceIdentity="alice"
    )
    assert answer["SourceIdentity"] == "alice"
    sts = aws_lab.client("sts", answer["Credentials"])
    with pytest.raises(ClientError) as caught:
        sts.assume_role(RoleArn=second, RoleSessionName="mallory", SourceIdentity="mallory")
    assert _code(caught) == "AccessDenied"
    chained = sts.assume_role(RoleArn=second, RoleSessionName="chained")
    assert chained["SourceIdentity"] == "alice"
    iam = aws_lab.client("iam", chained["Credentials"])
    assert iam.list_roles()["Roles"]  # aws:SourceIdentity == alice in the request context
    with pytest.raises(ClientError):
        iam.create_user(UserName="never")
    events = aws_lab.client("cloudtrail", dev_admin).lookup_events(
        LookupAttributes=[
            {"AttributeKey": "AccessKeyId", "AttributeValue": chained["Credentials"]["AccessKeyId"]}
        ]
    )["Events"]
    records = [json.loads(e["CloudTrailEvent"]) for e in events]
    denied = [r for r in records if r.get("errorCode") == "AccessDenied"]
    assert denied
    assert denied[0]["userIdentity"]["sessionContext"]["sourceIdentity"] == "alice"
    assert "never" not in _users(aws_lab.client("iam", dev_admin))


def test_a_chained_session_with_a_source_identity_needs_set_source_identity(
    aws_lab: AwsLab, chain: tuple[str, str], dev_admin: dict[str, Any]
) -> None:
    """The source identity is passed on by every chained AssumeRole, so the next role's
    trust policy must allow sts:SetSourceIdentity."""
    first, second = chain
    iam = aws_lab.client("iam", dev_admin)
    name = second.rsplit("/", 1)[1]
    iam.update_assume_role_policy(
        RoleName=name,
        PolicyDocument=_policy(
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"AWS": f"arn:aws:iam::{DEV}:root"},
            }
        ),
    )
    answer = aws_lab.client("sts").assume_role(
        RoleArn=first, RoleSessionName="alice", SourceIdentity="alice"
    )
    with pytest.raises(ClientError) as caught:
        aws_lab.client("sts", answer["Credentials"]).assume_role(
            RoleArn=second, RoleSessionName="chained"
        )
    assert _code(caught) == "AccessDenied"


# -- 6. the lab hashes the payload ----------------------------------------------------------


def _create_user_body(name: str) -> bytes:
    return urlencode({"Action": "CreateUser", "Version": "2010-05-08", "UserName": name}).encode()


@pytest.mark.parametrize("claimed", ["UNSIGNED-PAYLOAD", "body-a"])
def test_an_iam_body_is_hashed_by_the_lab_not_the_client(
    aws_lab: AwsLab, dev_admin: dict[str, Any], claimed: str
) -> None:
    """Bug: botocore's canonical request takes X-Amz-Content-SHA256 as the payload hash, and
    the lab used it, so a request signed over body A (or UNSIGNED-PAYLOAD) ran body B."""
    signed, sent = f"signed-{secrets.token_hex(3)}", f"sent-{secrets.token_hex(3)}"
    body_a = _create_user_body(signed)
    header = (
        "UNSIGNED-PAYLOAD" if claimed == "UNSIGNED-PAYLOAD" else hashlib.sha256(body_a).hexdigest()
    )
    answer = _send(
        aws_lab,
        dev_admin,
        service="iam",
        body=body_a,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Amz-Content-SHA256": header,
        },
        sent_body=_create_user_body(sent),
    )
    assert answer.status_code == 403, answer.text
    assert "<Code>SignatureDoesNotMatch</Code>" in answer.text
    assert not {signed, sent} & _users(aws_lab.client("iam", dev_admin))


def test_s3_checks_a_claimed_payload_hash_and_takes_unsigned_payload(
    aws_lab: AwsLab, dev_admin: dict[str, Any]
) -> None:
    s3 = _s3(aws_lab, dev_admin)
    bucket = f"dev-hash-{secrets.token_hex(4)}"
    s3.create_bucket(Bucket=bucket)
    try:
        answer = _send(
            aws_lab,
            dev_admin,
            service="s3",
            method="PUT",
            path=f"/{bucket}/object",
            body=b"body A",
            sent_body=b"body B",
        )
        assert answer.status_code == 400, answer.text
        assert "<Code>XAmzContentSHA256Mismatch</Code>" in answer.text
        assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
        answer = _send(
            aws_lab,
            dev_admin,
            service="s3",
            method="PUT",
            path=f"/{bucket}/object",
            body=b"unsigned body",
            unsigned_payload=True,
        )
        assert answer.request.headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
        assert answer.status_code == 200, answer.text
        assert s3.get_object(Bucket=bucket, Key="object")["Body"].read() == b"unsigned body"
        s3.delete_object(Bucket=bucket, Key="object")
    finally:
        s3.delete_bucket(Bucket=bucket)
