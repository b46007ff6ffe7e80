"""Issue 21, items 5 and 9: Organizations is a boundary, and IAM's and Organizations' quotas hold.

Every refusal is made through the real interface (boto3, signed, over HTTPS, as a
member account's admin or the management account's) and read back as an admin
afterwards: nothing changed. Sources are cited in
:mod:`keyless_lab.aws.organizations` and :mod:`keyless_lab.aws.quotas`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from keyless_lab.aws.organizations import evaluate_levels
from keyless_lab.aws.permissions import parse_document
from lab_aws_support import DEV, MANAGEMENT, PROD, AwsLab

ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _admin(aws_lab: AwsLab, account: str) -> dict[str, Any]:
    answer = aws_lab.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
        RoleSessionName="orgs-test",
    )
    credentials: dict[str, Any] = answer["Credentials"]
    return credentials


def _error(caught: pytest.ExceptionInfo[ClientError]) -> dict[str, Any]:
    response: dict[str, Any] = dict(caught.value.response)
    return dict(response["Error"])


def _reason(caught: pytest.ExceptionInfo[ClientError]) -> Any:
    """Organizations' ``Reason`` beside ``Error`` (botocore keeps it; the stubs don't know it)."""
    response: dict[str, Any] = dict(caught.value.response)
    return response.get("Reason")


def _orgs_state(aws_lab: AwsLab) -> Any:
    """The organization as the management admin reads it back."""
    orgs = aws_lab.client("organizations")
    root = orgs.list_roots()["Roots"][0]
    return (
        sorted(a["Id"] for a in orgs.list_accounts()["Accounts"]),
        root["PolicyTypes"],
        sorted(p["Id"] for p in orgs.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]),
        {
            target: sorted(
                p["Id"]
                for p in orgs.list_policies_for_target(
                    TargetId=target, Filter="SERVICE_CONTROL_POLICY"
                )["Policies"]
            )
            for target in (root["Id"], PROD, DEV)
        },
    )


@pytest.fixture
def scps(aws_lab: AwsLab) -> Iterator[Any]:
    """The management admin's Organizations client with SCPs enabled; undone afterwards."""
    orgs = aws_lab.client("organizations")
    root = orgs.list_roots()["Roots"][0]["Id"]
    orgs.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
    try:
        yield orgs
    finally:
        for policy in orgs.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]:
            if policy["AwsManaged"]:
                continue
            for target in orgs.list_targets_for_policy(PolicyId=policy["Id"])["Targets"]:
                orgs.detach_policy(PolicyId=policy["Id"], TargetId=target["TargetId"])
            orgs.delete_policy(PolicyId=policy["Id"])
        orgs.disable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")


# -- management-only operations (item 5) ----------------------------------------------


def test_a_member_admin_cannot_remove_its_account_and_nothing_changes(aws_lab: AwsLab) -> None:
    """Regression (issue 21, item 5): moto dropped the account from the org map anyway."""
    before = _orgs_state(aws_lab)
    member = aws_lab.client("organizations", _admin(aws_lab, DEV))
    with pytest.raises(ClientError) as caught:
        member.remove_account_from_organization(AccountId=DEV)
    assert _error(caught) == {
        "Code": "AccessDeniedException",
        "Message": "You don't have permissions to access this resource.",
    }
    assert _orgs_state(aws_lab) == before
    # The account is still in the organization, as its own principals see it.
    assert member.describe_organization()["Organization"]["MasterAccountId"] == MANAGEMENT


@pytest.mark.parametrize(
    ("operation", "kwargs"),
    [
        (
            "create_policy",
            {
                "Name": "x",
                "Description": "x",
                "Type": "SERVICE_CONTROL_POLICY",
                "Content": json.dumps(ALLOW_ALL),
            },
        ),
        ("list_policies_for_target", {"TargetId": DEV, "Filter": "SERVICE_CONTROL_POLICY"}),
        ("describe_policy", {"PolicyId": "p-FullAWSAccess"}),
        ("detach_policy", {"PolicyId": "p-FullAWSAccess", "TargetId": DEV}),
        ("list_accounts", {}),
    ],
)
def test_management_only_operations_are_refused_to_member_accounts(
    aws_lab: AwsLab, operation: str, kwargs: dict[str, Any]
) -> None:
    """Regression (issue 21, item 5): a member's CreatePolicy answered 500."""
    before = _orgs_state(aws_lab)
    member = aws_lab.client("organizations", _admin(aws_lab, PROD))
    with pytest.raises(ClientError) as caught:
        getattr(member, operation)(**kwargs)
    assert _error(caught)["Code"] == "AccessDeniedException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert _orgs_state(aws_lab) == before


def test_full_aws_access_is_there_and_scps_need_the_type_enabled(aws_lab: AwsLab) -> None:
    orgs = aws_lab.client("organizations")
    full = orgs.describe_policy(PolicyId="p-FullAWSAccess")["Policy"]
    assert full["PolicySummary"]["Name"] == "FullAWSAccess"
    assert full["PolicySummary"]["AwsManaged"] is True
    created = orgs.create_policy(
        Name="not-yet", Description="", Type="SERVICE_CONTROL_POLICY", Content=json.dumps(ALLOW_ALL)
    )["Policy"]["PolicySummary"]["Id"]
    try:
        before = _orgs_state(aws_lab)
        with pytest.raises(ClientError) as caught:
            orgs.attach_policy(PolicyId=created, TargetId=DEV)
        assert _error(caught)["Code"] == "PolicyTypeNotEnabledException"
        assert _orgs_state(aws_lab) == before
    finally:
        orgs.delete_policy(PolicyId=created)


# -- SCP evaluation through the lab (item 5) -------------------------------------------


def test_an_scp_deny_stops_a_member_admin_and_not_the_management_account(
    aws_lab: AwsLab, scps: Any
) -> None:
    deny = scps.create_policy(
        Name="deny-create-user",
        Description="",
        Type="SERVICE_CONTROL_POLICY",
        Content=_doc({"Effect": "Deny", "Action": "iam:CreateUser", "Resource": "*"}),
    )["Policy"]["PolicySummary"]["Id"]
    root = scps.list_roots()["Roots"][0]["Id"]
    scps.attach_policy(PolicyId=deny, TargetId=root)
    member = aws_lab.client("iam", _admin(aws_lab, DEV))
    with pytest.raises(ClientError) as caught:
        member.create_user(UserName="scp-blocked")
    assert _error(caught)["Code"] == "AccessDenied"
    assert "explicit deny in a service control policy" in _error(caught)["Message"]
    assert "scp-blocked" not in {u["UserName"] for u in member.list_users()["Users"]}
    # Everything else still works for the member's admin.
    assert member.list_roles()["Roles"]
    # SCPs never bound the management account.
    management = aws_lab.client("iam")
    management.create_user(UserName="scp-not-for-management")
    management.delete_user(UserName="scp-not-for-management")


def test_an_allow_list_scp_at_the_account_limits_it_to_what_every_level_allows(
    aws_lab: AwsLab, scps: Any
) -> None:
    only_iam_reads = scps.create_policy(
        Name="iam-reads-only",
        Description="",
        Type="SERVICE_CONTROL_POLICY",
        Content=_doc({"Effect": "Allow", "Action": ["iam:List*", "iam:Get*"], "Resource": "*"}),
    )["Policy"]["PolicySummary"]["Id"]
    scps.attach_policy(PolicyId=only_iam_reads, TargetId=PROD)
    scps.detach_policy(PolicyId="p-FullAWSAccess", TargetId=PROD)
    member = aws_lab.client("iam", _admin(aws_lab, PROD))
    assert member.list_roles()["Roles"]
    with pytest.raises(ClientError) as caught:
        member.create_user(UserName="not-allowed")
    assert "no service control policy allows the iam:CreateUser action" in _error(caught)["Message"]
    # The last SCP of a target cannot be detached while SCPs are enabled.
    before = _orgs_state(aws_lab)
    with pytest.raises(ClientError) as caught:
        scps.detach_policy(PolicyId=only_iam_reads, TargetId=PROD)
    assert _error(caught)["Code"] == "ConstraintViolationException"
    assert _reason(caught) == "MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED"
    assert _orgs_state(aws_lab) == before
    scps.attach_policy(PolicyId="p-FullAWSAccess", TargetId=PROD)
    # Another account of the organization is not affected.
    assert aws_lab.client("iam", _admin(aws_lab, DEV)).list_users() is not None


# -- Organizations' quotas (item 9) -------------------------------------------------------


def test_an_scp_larger_than_5120_characters_is_refused(aws_lab: AwsLab, scps: Any) -> None:
    before = _orgs_state(aws_lab)
    statement = {"Effect": "Deny", "Action": "iam:CreateUser", "Resource": "*"}
    content = _doc(*[{**statement, "Sid": f"S{i}"} for i in range(200)])
    assert len(content) > 5120
    with pytest.raises(ClientError) as caught:
        scps.create_policy(
            Name="too-big", Description="", Type="SERVICE_CONTROL_POLICY", Content=content
        )
    assert _error(caught) == {
        "Code": "ConstraintViolationException",
        "Message": "You have exceeded the maximum policy size.",
    }
    assert _reason(caught) == "POLICY_CONTENT_LIMIT_EXCEEDED"
    assert _orgs_state(aws_lab) == before
    # UpdatePolicy is held to the same size.
    small = scps.create_policy(
        Name="small", Description="", Type="SERVICE_CONTROL_POLICY", Content=_doc(statement)
    )["Policy"]["PolicySummary"]["Id"]
    with pytest.raises(ClientError) as caught:
        scps.update_policy(PolicyId=small, Content=content)
    assert _reason(caught) == "POLICY_CONTENT_LIMIT_EXCEEDED"
    assert scps.describe_policy(PolicyId=small)["Policy"]["Content"] == _doc(statement)


def test_a_target_holds_at_most_5_scps(aws_lab: AwsLab, scps: Any) -> None:
    ids = [
        scps.create_policy(
            Name=f"scp-{i}",
            Description="",
            Type="SERVICE_CONTROL_POLICY",
            Content=_doc({"Effect": "Allow", "Action": "*", "Resource": "*"}),
        )["Policy"]["PolicySummary"]["Id"]
        for i in range(5)
    ]
    for policy in ids[:4]:  # FullAWSAccess is the fifth
        scps.attach_policy(PolicyId=policy, TargetId=DEV)
    before = _orgs_state(aws_lab)
    with pytest.raises(ClientError) as caught:
        scps.attach_policy(PolicyId=ids[4], TargetId=DEV)
    assert _error(caught) == {
        "Code": "ConstraintViolationException",
        "Message": "You have attached the maximum number of policies to the specified target.",
    }
    assert _reason(caught) == "MAX_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED"
    assert _orgs_state(aws_lab) == before


# -- IAM's quotas (item 9) -------------------------------------------------------------------

TRUST = _doc(
    {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{MANAGEMENT}:root"},
        "Action": "sts:AssumeRole",
    }
)


@pytest.fixture
def scratch_role(aws_lab: AwsLab) -> Iterator[tuple[Any, str]]:
    """A role in a member account, through its admin; deleted afterwards."""
    iam = aws_lab.client("iam", _admin(aws_lab, PROD))
    name = "QuotaScratch"
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
    try:
        yield iam, name
    finally:
        for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            iam.delete_role_policy(RoleName=name, PolicyName=policy)
        for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
        iam.delete_role(RoleName=name)


def _sized(characters: int) -> str:
    """A policy of exactly ``characters`` non-white-space characters, padded with white space."""
    base = _doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::"})
    stripped = "".join(base.split())
    pad = characters - len(stripped)
    assert pad >= 0
    document = stripped.replace("arn:aws:s3:::", "arn:aws:s3:::" + "b" * pad)
    return document.replace(",", ",   \n  ")  # white space IAM does not count


def test_inline_policies_of_a_role_total_at_most_10240_characters(
    scratch_role: tuple[Any, str],
) -> None:
    iam, name = scratch_role
    iam.put_role_policy(RoleName=name, PolicyName="a", PolicyDocument=_sized(6000))
    iam.put_role_policy(RoleName=name, PolicyName="b", PolicyDocument=_sized(4240))  # 10,240
    with pytest.raises(ClientError) as caught:
        iam.put_role_policy(RoleName=name, PolicyName="c", PolicyDocument=_sized(200))
    assert _error(caught)["Code"] == "LimitExceeded"
    assert (
        _error(caught)["Message"] == f"Maximum policy size of 10240 bytes exceeded for role {name}"
    )
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert sorted(iam.list_role_policies(RoleName=name)["PolicyNames"]) == ["a", "b"]
    # Replacing a policy counts the new one instead of the old.
    iam.put_role_policy(RoleName=name, PolicyName="b", PolicyDocument=_sized(4000))
    with pytest.raises(ClientError):
        iam.put_role_policy(RoleName=name, PolicyName="b", PolicyDocument=_sized(4241))
    kept = iam.get_role_policy(RoleName=name, PolicyName="b")["PolicyDocument"]
    assert kept == json.loads(_sized(4000))


def test_a_role_holds_at_most_10_managed_policies(scratch_role: tuple[Any, str]) -> None:
    iam, name = scratch_role
    arns = [p["Arn"] for p in iam.list_policies(Scope="AWS", MaxItems=11)["Policies"]][:11]
    for arn in arns[:10]:
        iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    with pytest.raises(ClientError) as caught:
        iam.attach_role_policy(RoleName=name, PolicyArn=arns[10])
    assert _error(caught) == {
        "Type": "Sender",
        "Code": "LimitExceeded",
        "Message": "Cannot exceed quota for PoliciesPerRole: 10",
    }
    attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    assert sorted(p["PolicyArn"] for p in attached) == sorted(arns[:10])
    # Attaching one already there is not a new attachment.
    iam.attach_role_policy(RoleName=name, PolicyArn=arns[0])


def test_a_role_holds_at_most_50_tags(scratch_role: tuple[Any, str]) -> None:
    iam, name = scratch_role
    iam.tag_role(RoleName=name, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(30)])
    with pytest.raises(ClientError) as caught:
        iam.tag_role(RoleName=name, Tags=[{"Key": f"n{i}", "Value": "v"} for i in range(21)])
    assert _error(caught)["Code"] == "LimitExceeded"
    tags = iam.list_role_tags(RoleName=name)["Tags"]
    assert len(tags) == 30
    # Overwriting keys already there (any case) adds none.
    iam.tag_role(
        RoleName=name,
        Tags=[{"Key": f"K{i}", "Value": "w"} for i in range(20)]
        + [{"Key": f"n{i}", "Value": "v"} for i in range(20)],
    )


# -- SCP evaluation, case by case from AWS's documents (item 5) ---------------------------


def _levels(*levels: list[dict[str, Any]]) -> list[list[list[Any]]]:
    return [[parse_document(policy) for policy in level] for level in levels]


FULL = ALLOW_ALL
DENY_S3 = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}],
}
ALLOW_S3 = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}
ALLOW_EC2 = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}],
}
# Example SCPs, "Deny access to AWS based on the requested AWS Region" (trimmed to two services).
REGION_GUARD = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "DenyAllOutsideEU",
            "Effect": "Deny",
            "NotAction": ["iam:*", "organizations:*"],
            "Resource": "*",
            "Condition": {
                "StringNotEquals": {"aws:RequestedRegion": ["eu-central-1", "eu-west-1"]}
            },
        }
    ],
}
# Example SCPs, "Prevent member accounts from leaving the organization".
NO_LEAVING = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"}],
}


@pytest.mark.parametrize(
    ("source", "levels", "action", "region", "allowed"),
    [
        # SCP evaluation, "How SCPs work with Allow", figure 1: an Allow at the root, the
        # Production OU and account B: allowed.
        ("EVAL fig. 1", _levels([FULL], [FULL], [FULL]), "s3:GetObject", "us-east-1", True),
        # Figure 2: no Allow at the Production OU: denied for the accounts under it.
        ("EVAL fig. 2", _levels([FULL], [], [FULL]), "s3:GetObject", "us-east-1", False),
        # "How SCPs work with Deny": a Deny at the OU denies, whatever the other levels allow.
        ("EVAL deny", _levels([FULL], [FULL, DENY_S3], [FULL]), "s3:PutObject", "us-east-1", False),
        (
            "EVAL deny",
            _levels([FULL], [FULL, DENY_S3], [FULL]),
            "ec2:RunInstances",
            "us-east-1",
            True,
        ),
        # "Strategies for using SCPs", allow list: FullAWSAccess replaced by an allow of
        # S3 at the OU; the account allows everything; only S3 is allowed.
        ("EVAL allow list", _levels([FULL], [ALLOW_S3], [FULL]), "s3:GetObject", "us-east-1", True),
        (
            "EVAL allow list",
            _levels([FULL], [ALLOW_S3], [FULL]),
            "ec2:RunInstances",
            "us-east-1",
            False,
        ),
        # Allows at two levels that do not overlap allow nothing.
        (
            "EVAL allow list",
            _levels([FULL], [ALLOW_S3], [ALLOW_EC2]),
            "s3:GetObject",
            "us-east-1",
            False,
        ),
        # A Deny at the root reaches every account, even one whose own SCPs allow.
        (
            "EVAL deny",
            _levels([FULL, DENY_S3], [FULL], [ALLOW_S3]),
            "s3:GetObject",
            "us-east-1",
            False,
        ),
        # Example SCPs: the region guard.
        (
            "Examples region",
            _levels([FULL, REGION_GUARD], [FULL]),
            "ec2:RunInstances",
            "us-east-1",
            False,
        ),
        (
            "Examples region",
            _levels([FULL, REGION_GUARD], [FULL]),
            "ec2:RunInstances",
            "eu-west-1",
            True,
        ),
        (
            "Examples region",
            _levels([FULL, REGION_GUARD], [FULL]),
            "iam:CreateRole",
            "us-east-1",
            True,
        ),
        # Example SCPs: no leaving.
        (
            "Examples leave",
            _levels([FULL, NO_LEAVING], [FULL]),
            "organizations:LeaveOrganization",
            "us-east-1",
            False,
        ),
        (
            "Examples leave",
            _levels([FULL, NO_LEAVING], [FULL]),
            "organizations:DescribeOrganization",
            "us-east-1",
            True,
        ),
    ],
)
def test_scp_evaluation_as_aws_documents_it(
    source: str, levels: list[list[list[Any]]], action: str, region: str, allowed: bool
) -> None:
    """Sources: Organizations User Guide, "SCP evaluation" (orgs_manage_policies_scps_evaluation)
    and "Example SCPs" (orgs_manage_policies_scps_examples)."""
    decision = evaluate_levels(
        levels, action=action, resource="*", context={"aws:RequestedRegion": [region]}
    )
    assert decision.allowed is allowed, source
