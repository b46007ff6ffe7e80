"""The lab's evaluator against AWS's own documented examples of policy evaluation.

Each row is a case an AWS documentation page describes (cited in the row, by its
page under https://docs.aws.amazon.com/): the policies and the request context are
written here, by hand, from the page, never computed by keyless. The evaluator
runs in-process (:func:`keyless_lab.aws.permissions.evaluate`).

Organizations (SCP/RCP) cases belong to the organization-policies hook and live
with it; the two rows here only pin where the hook sits in the flowchart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from keyless_lab.aws.permissions import (
    Effect,
    OrganizationPolicies,
    Principal,
    Query,
    ResourcePolicy,
    evaluate,
    no_organization_policies,
)

IAM = "IAM/latest/UserGuide/"
EVAL = IAM + "reference_policies_evaluation-logic_policy-eval-denyallow.html"
BASICS = IAM + "reference_policies_evaluation-logic_policy-eval-basics.html"
CROSS = IAM + "reference_policies_evaluation-logic-cross-account.html"
IDENTITY_VS_RESOURCE = IAM + "access_policies_identity-vs-resource.html"
NOTACTION = IAM + "reference_policies_elements_notaction.html"
NOTRESOURCE = IAM + "reference_policies_elements_notresource.html"
ACTION = IAM + "reference_policies_elements_action.html"
RESOURCE = IAM + "reference_policies_elements_resource.html"
OPS = IAM + "reference_policies_elements_condition_operators.html"
LOGIC = IAM + "reference_policies_condition-logic-multiple-context-keys-or-values.html"
SETS = IAM + "reference_policies_condition-single-vs-multi-valued-context-keys.html"
VARS = IAM + "reference_policies_variables.html"
KEYS = IAM + "reference_policies_condition-keys.html"
REGION = IAM + "reference_policies_examples_aws_deny-requested-region.html"
MFA = IAM + "reference_policies_examples_aws_mfa_restrict-time.html"
MFA_API = IAM + "id_credentials_mfa_configure-api-require.html"
IP = IAM + "reference_policies_examples_aws_deny-ip.html"
REVOKE = IAM + "id_roles_use_revoke-sessions.html"
BOUNDARY = IAM + "access_policies_boundaries.html"
SESSION = IAM + "access_policies.html#policies_session"
PRINCIPAL = IAM + "reference_policies_elements_principal.html"
ROLE_XACCOUNT = IAM + "id_roles_common-scenarios_aws-accounts.html"
TAGS = IAM + "id_session-tags.html"
SOURCE_IDENTITY = IAM + "id_credentials_temp_control-access_monitor.html"
ABAC = IAM + "tutorial_attribute-based-access-control.html"
PASS_POLICY_ARN = IAM + "reference_policies_examples_iam_limit-managed.html"
S3_BUCKET_POLICIES = "AmazonS3/latest/userguide/example-bucket-policies.html"
S3_XACCOUNT = "AmazonS3/latest/userguide/example-walkthroughs-managing-access-example2.html"
S3_HOME = "AmazonS3/latest/userguide/example-policies-s3.html"

A, B = "111122223333", "444455556666"  # the accounts AWS's examples use
USER = f"arn:aws:iam::{A}:user/Bob"
ROLE = f"arn:aws:iam::{A}:role/MyRole"
SESSION_ARN = f"arn:aws:sts::{A}:assumed-role/MyRole/bob"
B_USER = f"arn:aws:iam::{B}:user/Carlos"
BUCKET = "arn:aws:s3:::amzn-s3-demo-bucket"
OBJECT = BUCKET + "/report.csv"

Statement = dict[str, Any]


def allow(action: object, resource: object = "*", **extra: Any) -> Statement:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: object, resource: object = "*", **extra: Any) -> Statement:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def bucket(*statements: Statement, owner: str = A) -> ResourcePolicy:
    return ResourcePolicy(tuple(statements), owner)


def trust(*statements: Statement) -> ResourcePolicy:
    return ResourcePolicy(tuple(statements), A, required=True)


@dataclass(frozen=True)
class Case:
    """One documented situation: who, what, and AWS's answer."""

    id: str
    doc: str
    policies: Sequence[Sequence[Statement]]
    action: str
    allowed: bool
    resource: str = "*"
    resource_account: str = A
    resource_policy: ResourcePolicy | None = None
    context: Mapping[str, Sequence[str]] = field(default_factory=dict)
    principal: str = USER
    account: str = A
    role_arn: str | None = None
    boundary: Sequence[Statement] | None = None
    session: Sequence[Sequence[Statement]] | None = None
    reason: str = ""  # part of AWS's "because ..." phrase, when it matters
    organization: OrganizationPolicies = no_organization_policies


def as_session(**kw: Any) -> dict[str, Any]:
    return {"principal": SESSION_ARN, "role_arn": ROLE, **kw}


REGION_GUARD = deny(
    "*",
    Condition={"StringNotEquals": {"aws:RequestedRegion": ["eu-central-1", "eu-west-1"]}},
)
NOT_IAM = {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
ALL = allow("*")

CASES: list[Case] = [
    # -- the default and explicit deny [EVAL] --------------------------------------------
    Case("no-policy-implicit-deny", EVAL, [], "s3:GetObject", False, OBJECT,
         reason="no identity-based policy allows the s3:GetObject action"),
    Case("identity-allow", EVAL, [[allow("s3:GetObject")]], "s3:GetObject", True, OBJECT),
    Case("deny-in-another-policy-wins", EVAL, [[allow("s3:*")], [deny("s3:GetObject")]],
         "s3:GetObject", False, OBJECT, reason="explicit deny in an identity-based policy"),
    Case("deny-in-same-policy-wins", EVAL, [[allow("s3:*"), deny("s3:GetObject", OBJECT)]],
         "s3:GetObject", False, OBJECT),
    Case("admin-minus-iam-denies-iam", EVAL, [[ALL, deny("iam:*")]], "iam:CreateUser", False),
    Case("admin-minus-iam-allows-s3", EVAL, [[ALL, deny("iam:*")]], "s3:ListBucket", True, BUCKET),
    # -- Action and Resource matching [ACTION] [RESOURCE] ---------------------------------
    Case("action-case-insensitive", ACTION, [[allow("S3:getobject")]], "s3:GetObject", True,
         OBJECT),
    Case("action-wildcard-get", ACTION, [[allow("s3:Get*")]], "s3:GetObjectAcl", True, OBJECT),
    Case("action-wildcard-no-put", ACTION, [[allow("s3:Get*")]], "s3:PutObject", False, OBJECT),
    Case("resource-object-wildcard", RESOURCE, [[allow("s3:*", BUCKET + "/*")]], "s3:GetObject",
         True, OBJECT),
    Case("object-wildcard-not-bucket", RESOURCE, [[allow("s3:*", BUCKET + "/*")]],
         "s3:ListBucket", False, BUCKET),
    Case("resource-question-mark", RESOURCE, [[allow("s3:GetObject", BUCKET + "/report.cs?")]],
         "s3:GetObject", True, OBJECT),
    Case("resource-list-any", RESOURCE, [[allow("s3:*", [BUCKET, BUCKET + "/*"])]],
         "s3:ListBucket", True, BUCKET),
    # -- NotAction / NotResource [NOTACTION] [NOTRESOURCE] --------------------------------
    Case("notaction-allow-other-services", NOTACTION, [[NOT_IAM]], "s3:ListBucket", True, BUCKET),
    Case("notaction-allow-not-iam", NOTACTION, [[NOT_IAM]], "iam:CreateUser", False),
    Case("notaction-deny-all-but-iam-denies-s3", NOTACTION,
         [[ALL, {"Effect": "Deny", "NotAction": "iam:*", "Resource": "*"}]], "s3:GetObject", False,
         OBJECT),
    Case("notaction-deny-all-but-iam-allows-iam", NOTACTION,
         [[ALL, {"Effect": "Deny", "NotAction": "iam:*", "Resource": "*"}]], "iam:ListRoles", True),
    Case("notresource-deny-except-payroll-other", NOTRESOURCE,
         [[ALL, {"Effect": "Deny", "Action": "s3:*",
                 "NotResource": [BUCKET + "/Payroll", BUCKET + "/Payroll/*"]}]],
         "s3:GetObject", False, OBJECT),
    Case("notresource-deny-except-payroll-payroll", NOTRESOURCE,
         [[ALL, {"Effect": "Deny", "Action": "s3:*",
                 "NotResource": [BUCKET + "/Payroll", BUCKET + "/Payroll/*"]}]],
         "s3:GetObject", True, BUCKET + "/Payroll/june.csv"),
    Case("notresource-allow-other-than", NOTRESOURCE,
         [[{"Effect": "Allow", "Action": "s3:*", "NotResource": BUCKET + "/secret/*"}]],
         "s3:GetObject", False, BUCKET + "/secret/key"),
    # -- condition operators [OPS] and the region guard [REGION] ---------------------------
    Case("region-guard-inside", REGION, [[ALL, REGION_GUARD]], "s3:ListBucket", True, BUCKET,
         context={"aws:RequestedRegion": ["eu-west-1"]}),
    Case("region-guard-outside", REGION, [[ALL, REGION_GUARD]], "s3:ListBucket", False, BUCKET,
         context={"aws:RequestedRegion": ["ap-south-1"]}, reason="explicit deny"),
    Case("string-equals-ignore-case", OPS,
         [[allow("s3:*", Condition={"StringEqualsIgnoreCase": {"aws:PrincipalTag/team": "ENG"}})]],
         "s3:ListBucket", True, BUCKET, context={"aws:PrincipalTag/team": ["eng"]}),
    Case("string-like-userid", OPS,
         [[allow("s3:*", Condition={"StringLike": {"aws:userid": "AROAEXAMPLE:*@acme.example"}})]],
         "s3:ListBucket", True, BUCKET, context={"aws:userid": ["AROAEXAMPLE:bob@acme.example"]}),
    Case("numeric-less-than-max-keys", OPS,
         [[allow("s3:ListBucket", Condition={"NumericLessThanEquals": {"s3:max-keys": "10"}})]],
         "s3:ListBucket", False, BUCKET, context={"s3:max-keys": ["50"]}),
    Case("date-revokes-older-session", REVOKE,
         [[ALL, deny("*", Condition={"DateLessThan": {
             "aws:TokenIssueTime": "2026-01-01T12:00:00Z"}})]],
         "s3:ListBucket", False, BUCKET, context={"aws:TokenIssueTime": ["2026-01-01T11:00:00Z"]}),
    Case("date-spares-newer-session", REVOKE,
         [[ALL, deny("*", Condition={"DateLessThan": {
             "aws:TokenIssueTime": "2026-01-01T12:00:00Z"}})]],
         "s3:ListBucket", True, BUCKET, context={"aws:TokenIssueTime": ["2026-01-01T13:00:00Z"]}),
    Case("bool-secure-transport-deny", S3_BUCKET_POLICIES,
         [[ALL, deny("s3:*", Condition={"Bool": {"aws:SecureTransport": "false"}})]],
         "s3:GetObject", False, OBJECT, context={"aws:SecureTransport": ["false"]}),
    Case("bool-secure-transport-https", S3_BUCKET_POLICIES,
         [[ALL, deny("s3:*", Condition={"Bool": {"aws:SecureTransport": "false"}})]],
         "s3:GetObject", True, OBJECT, context={"aws:SecureTransport": ["true"]}),
    Case("bool-if-exists-mfa-denies-long-term-keys", MFA_API,
         [[ALL, deny("*", Condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}})]],
         "ec2:StopInstances", False),
    Case("bool-without-if-exists-spares-long-term-keys", MFA_API,
         [[ALL, deny("*", Condition={"Bool": {"aws:MultiFactorAuthPresent": "false"}})]],
         "ec2:StopInstances", True),
    Case("bool-if-exists-mfa-present", MFA_API,
         [[ALL, deny("*", Condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}})]],
         "ec2:StopInstances", True, context={"aws:MultiFactorAuthPresent": ["true"]}),
    Case("bool-if-exists-mfa-false", MFA_API,
         [[ALL, deny("*", Condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}})]],
         "ec2:StopInstances", False, context={"aws:MultiFactorAuthPresent": ["false"]}),
    Case("string-equals-if-exists-absent", OPS,
         [[allow("ec2:RunInstances",
                 Condition={"StringEqualsIfExists": {"ec2:InstanceType": ["t2.micro"]}})]],
         "ec2:RunInstances", True),
    Case("string-equals-if-exists-mismatch", OPS,
         [[allow("ec2:RunInstances",
                 Condition={"StringEqualsIfExists": {"ec2:InstanceType": ["t2.micro"]}})]],
         "ec2:RunInstances", False, context={"ec2:InstanceType": ["m5.24xlarge"]}),
    Case("string-equals-absent-key-false", OPS,
         [[allow("ec2:RunInstances",
                 Condition={"StringEquals": {"ec2:InstanceType": "t2.micro"}})]],
         "ec2:RunInstances", False),
    Case("null-true-denies-long-term", OPS,
         [[ALL, deny("*", Condition={"Null": {"aws:TokenIssueTime": "true"}})]],
         "s3:ListBucket", False, BUCKET),
    Case("null-true-spares-temporary", OPS,
         [[ALL, deny("*", Condition={"Null": {"aws:TokenIssueTime": "true"}})]],
         "s3:ListBucket", True, BUCKET, context={"aws:TokenIssueTime": ["2026-01-01T11:00:00Z"]}),
    Case("ip-address-inside", IP,
         [[ALL, deny("*", Condition={"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24"]}})]],
         "s3:ListBucket", True, BUCKET, context={"aws:SourceIp": ["192.0.2.10"]}),
    Case("ip-address-outside", IP,
         [[ALL, deny("*", Condition={"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24"]}})]],
         "s3:ListBucket", False, BUCKET, context={"aws:SourceIp": ["203.0.113.7"]}),
    Case("arn-like-principal", OPS,
         [[allow("s3:*",
                 Condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Admin*"}})]],
         "s3:ListBucket", True, BUCKET,
         context={"aws:PrincipalArn": [f"arn:aws:iam::{A}:role/AdminOps"]}),
    Case("policy-arn-allowed", PASS_POLICY_ARN,
         [[allow("iam:AttachRolePolicy", Condition={"ArnEquals": {
             "iam:PolicyARN": "arn:aws:iam::aws:policy/ReadOnlyAccess"}})]],
         "iam:AttachRolePolicy", True, f"arn:aws:iam::{A}:role/Auditor",
         context={"iam:PolicyARN": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]}),
    Case("policy-arn-other-refused", PASS_POLICY_ARN,
         [[allow("iam:AttachRolePolicy", Condition={"ArnEquals": {
             "iam:PolicyARN": "arn:aws:iam::aws:policy/ReadOnlyAccess"}})]],
         "iam:AttachRolePolicy", False, f"arn:aws:iam::{A}:role/Auditor",
         context={"iam:PolicyARN": ["arn:aws:iam::aws:policy/AdministratorAccess"]}),
    Case("two-keys-and-both-hold", LOGIC,
         [[allow("s3:*", Condition={"StringEquals": {"aws:PrincipalTag/team": "eng",
                                                     "aws:RequestedRegion": "eu-west-1"}})]],
         "s3:ListBucket", True, BUCKET,
         context={"aws:PrincipalTag/team": ["eng"], "aws:RequestedRegion": ["eu-west-1"]}),
    Case("two-keys-and-one-fails", LOGIC,
         [[allow("s3:*", Condition={"StringEquals": {"aws:PrincipalTag/team": "eng",
                                                     "aws:RequestedRegion": "eu-west-1"}})]],
         "s3:ListBucket", False, BUCKET,
         context={"aws:PrincipalTag/team": ["eng"], "aws:RequestedRegion": ["us-east-1"]}),
    Case("values-are-or", LOGIC,
         [[allow("s3:*", Condition={"StringEquals": {"aws:RequestedRegion": ["eu-west-1",
                                                                            "us-east-1"]}})]],
         "s3:ListBucket", True, BUCKET, context={"aws:RequestedRegion": ["us-east-1"]}),
    Case("for-any-value-tag-keys", SETS,
         [[allow("sts:TagSession", Condition={"ForAnyValue:StringEquals": {
             "aws:TagKeys": ["team", "cost"]}})]],
         "sts:TagSession", True, context={"aws:TagKeys": ["team", "project"]}),
    Case("for-all-values-extra-key", SETS,
         [[allow("sts:TagSession", Condition={"ForAllValues:StringEquals": {
             "aws:TagKeys": ["team", "cost"]}})]],
         "sts:TagSession", False, context={"aws:TagKeys": ["team", "project"]}),
    Case("for-all-values-absent-key-true", SETS,
         [[allow("sts:TagSession", Condition={"ForAllValues:StringEquals": {
             "aws:TagKeys": ["team"]}})]],
         "sts:TagSession", True),
    Case("variable-own-home-folder", VARS,
         [[allow("s3:GetObject", BUCKET + "/home/${aws:username}/*")]], "s3:GetObject", True,
         BUCKET + "/home/Bob/notes.txt", context={"aws:username": ["Bob"]}),
    Case("variable-other-home-folder", VARS,
         [[allow("s3:GetObject", BUCKET + "/home/${aws:username}/*")]], "s3:GetObject", False,
         BUCKET + "/home/Alice/notes.txt", context={"aws:username": ["Bob"]}),
    Case("principal-tag-abac-match", ABAC,
         [[allow("s3:*", Condition={"StringEquals": {"aws:ResourceTag/team":
                                                     "${aws:PrincipalTag/team}"}})]],
         "s3:GetObject", True, OBJECT,
         context={"aws:PrincipalTag/team": ["eng"], "aws:ResourceTag/team": ["eng"]}),
    Case("principal-tag-abac-mismatch", ABAC,
         [[allow("s3:*", Condition={"StringEquals": {"aws:ResourceTag/team":
                                                     "${aws:PrincipalTag/team}"}})]],
         "s3:GetObject", False, OBJECT,
         context={"aws:PrincipalTag/team": ["eng"], "aws:ResourceTag/team": ["finance"]}),
    Case("source-identity-required-present", SOURCE_IDENTITY,
         [[allow("s3:*", Condition={"StringLike": {"aws:SourceIdentity": "*@acme.example"}})]],
         "s3:GetObject", True, OBJECT, context={"aws:SourceIdentity": ["bob@acme.example"]}),
    Case("source-identity-required-absent", SOURCE_IDENTITY,
         [[allow("s3:*", Condition={"StringLike": {"aws:SourceIdentity": "*@acme.example"}})]],
         "s3:GetObject", False, OBJECT),
    Case("unknown-operator-never-grants", OPS,
         [[allow("s3:*", Condition={"StringEqualz": {"aws:username": "Bob"}})]],
         "s3:GetObject", False, OBJECT, context={"aws:username": ["Bob"]}),
    # -- permissions boundaries [BOUNDARY] -------------------------------------------------
    Case("boundary-caps-identity", BOUNDARY, [[allow(["s3:*", "iam:*"])]], "iam:CreateUser", False,
         boundary=[allow("s3:*")], reason="no permissions boundary allows"),
    Case("boundary-and-identity-allow", BOUNDARY, [[allow(["s3:*", "iam:*"])]], "s3:GetObject",
         True, OBJECT, boundary=[allow("s3:*")]),
    Case("boundary-alone-grants-nothing", BOUNDARY, [], "s3:GetObject", False, OBJECT,
         boundary=[allow("s3:*")], reason="no identity-based policy allows"),
    Case("boundary-explicit-deny", BOUNDARY, [[ALL]], "s3:DeleteBucket", False, BUCKET,
         boundary=[ALL, deny("s3:DeleteBucket")], reason="explicit deny in a permissions boundary"),
    # -- session policies [SESSION] --------------------------------------------------------
    Case("session-intersection-allows", SESSION, [[allow("s3:*")]], "s3:GetObject", True, OBJECT,
         session=[[allow("s3:GetObject")]], **as_session()),
    Case("session-intersection-narrows", SESSION, [[allow("s3:*")]], "s3:PutObject", False, OBJECT,
         session=[[allow("s3:GetObject")]], reason="no session policy allows", **as_session()),
    Case("session-cannot-widen", SESSION, [[allow("s3:*")]], "iam:CreateUser", False,
         session=[[ALL]], reason="no identity-based policy allows", **as_session()),
    Case("session-explicit-deny", SESSION, [[ALL]], "s3:GetObject", False, OBJECT,
         session=[[ALL, deny("s3:GetObject")]], reason="explicit deny in a session policy",
         **as_session()),
    Case("session-inline-and-managed-are-one-set", SESSION, [[allow("s3:*")]], "s3:PutObject",
         True, OBJECT, session=[[allow("s3:GetObject")], [allow("s3:PutObject")]], **as_session()),
    Case("session-arn-in-resource-policy-not-limited", BASICS, [], "s3:PutObject", True, OBJECT,
         resource_policy=bucket(allow("s3:PutObject", OBJECT, Principal={"AWS": SESSION_ARN})),
         session=[[allow("s3:GetObject")]], **as_session()),
    Case("role-arn-in-resource-policy-limited-by-session", BASICS, [], "s3:PutObject", False,
         OBJECT, resource_policy=bucket(allow("s3:PutObject", OBJECT, Principal={"AWS": ROLE})),
         session=[[allow("s3:GetObject")]], reason="no session policy allows", **as_session()),
    # -- resource-based policies in one account [BASICS] [IDENTITY_VS_RESOURCE] ------------
    Case("bucket-policy-names-user", IDENTITY_VS_RESOURCE, [], "s3:GetObject", True, OBJECT,
         resource_policy=bucket(allow("s3:GetObject", OBJECT, Principal={"AWS": USER}))),
    Case("bucket-policy-names-account-needs-identity", PRINCIPAL, [], "s3:GetObject", False,
         OBJECT, resource_policy=bucket(allow("s3:GetObject", OBJECT,
                                              Principal={"AWS": f"arn:aws:iam::{A}:root"}))),
    Case("bucket-policy-names-account-identity-allows", PRINCIPAL, [[allow("s3:GetObject")]],
         "s3:GetObject", True, OBJECT,
         resource_policy=bucket(allow("s3:GetObject", OBJECT, Principal={"AWS": A}))),
    Case("same-account-identity-alone", BASICS, [[allow("s3:GetObject")]], "s3:GetObject", True,
         OBJECT, resource_policy=bucket(allow("s3:ListBucket", BUCKET, Principal="*"))),
    Case("bucket-policy-deny-beats-identity", BASICS, [[ALL]], "s3:DeleteObject", False, OBJECT,
         resource_policy=bucket(deny("s3:DeleteObject", BUCKET + "/*", Principal="*")),
         reason="explicit deny in a resource-based policy"),
    Case("user-arn-not-limited-by-boundary", BASICS, [], "s3:GetObject", True, OBJECT,
         boundary=[allow("ec2:*")],
         resource_policy=bucket(allow("s3:GetObject", OBJECT, Principal={"AWS": USER}))),
    Case("role-arn-limited-by-boundary", BASICS, [], "s3:GetObject", False, OBJECT,
         boundary=[allow("ec2:*")],
         resource_policy=bucket(allow("s3:GetObject", OBJECT, Principal={"AWS": ROLE})),
         **as_session()),
    Case("role-arn-stands-for-identity", BASICS, [], "s3:GetObject", True, OBJECT,
         resource_policy=bucket(allow("s3:GetObject", OBJECT, Principal={"AWS": ROLE})),
         **as_session()),
    Case("public-principal-star", S3_BUCKET_POLICIES, [], "s3:GetObject", True, OBJECT,
         resource_policy=bucket(allow("s3:GetObject", BUCKET + "/*", Principal="*"))),
    Case("not-principal-excludes", PRINCIPAL, [[ALL]], "s3:GetObject", False, OBJECT,
         resource_policy=bucket({"Effect": "Deny", "NotPrincipal": {"AWS": [B_USER]},
                                 "Action": "s3:*", "Resource": BUCKET + "/*"})),
    # -- across accounts [CROSS] [S3_XACCOUNT] ---------------------------------------------
    Case("cross-identity-only", CROSS, [[allow("s3:*")]], "s3:GetObject", False, OBJECT, A,
         principal=B_USER, account=B, reason="no resource-based policy allows"),
    Case("cross-both-allow", S3_XACCOUNT, [[allow("s3:GetObject")]], "s3:GetObject", True, OBJECT,
         A, bucket(allow("s3:GetObject", BUCKET + "/*",
                         Principal={"AWS": f"arn:aws:iam::{B}:root"})),
         principal=B_USER, account=B),
    Case("cross-resource-only", S3_XACCOUNT, [], "s3:GetObject", False, OBJECT, A,
         bucket(allow("s3:GetObject", BUCKET + "/*", Principal={"AWS": B})),
         principal=B_USER, account=B, reason="no identity-based policy allows"),
    Case("cross-named-user-still-needs-identity", CROSS, [], "s3:GetObject", False, OBJECT, A,
         bucket(allow("s3:GetObject", BUCKET + "/*", Principal={"AWS": B_USER})),
         principal=B_USER, account=B),
    Case("cross-bucket-grants-get-not-put", S3_XACCOUNT, [[allow("s3:*")]], "s3:PutObject", False,
         OBJECT, A, bucket(allow("s3:GetObject", BUCKET + "/*", Principal={"AWS": B})),
         principal=B_USER, account=B),
    Case("cross-bucket-explicit-deny", CROSS, [[allow("s3:*")]], "s3:GetObject", False, OBJECT, A,
         bucket(allow("s3:*", BUCKET + "/*", Principal={"AWS": B}),
                deny("s3:GetObject", OBJECT, Principal={"AWS": B_USER})),
         principal=B_USER, account=B, reason="explicit deny in a resource-based policy"),
    Case("resource-account-guard", KEYS,
         [[ALL, deny("s3:*", Condition={"StringNotEquals": {"aws:ResourceAccount": [B]}})]],
         "s3:GetObject", False, OBJECT, A,
         bucket(allow("s3:GetObject", BUCKET + "/*", Principal={"AWS": B})),
         context={"aws:ResourceAccount": [A]}, principal=B_USER, account=B),
    Case("principal-account-in-bucket-policy", KEYS, [[allow("s3:GetObject")]], "s3:GetObject",
         True, OBJECT, A,
         bucket(allow("s3:GetObject", BUCKET + "/*", Principal="*",
                      Condition={"StringEquals": {"aws:PrincipalAccount": [B]}})),
         context={"aws:PrincipalAccount": [B]}, principal=B_USER, account=B),
    # -- role trust policies [ROLE_XACCOUNT] [TAGS] [SOURCE_IDENTITY] ----------------------
    Case("trust-account-identity-allows", ROLE_XACCOUNT, [[allow("sts:AssumeRole", ROLE)]],
         "sts:AssumeRole", True, ROLE,
         resource_policy=trust({"Effect": "Allow", "Action": "sts:AssumeRole",
                                "Principal": {"AWS": f"arn:aws:iam::{A}:root"}})),
    Case("trust-account-identity-silent", ROLE_XACCOUNT, [], "sts:AssumeRole", False, ROLE,
         resource_policy=trust({"Effect": "Allow", "Action": "sts:AssumeRole",
                                "Principal": {"AWS": f"arn:aws:iam::{A}:root"}})),
    Case("trust-names-user", PRINCIPAL, [], "sts:AssumeRole", True, ROLE,
         resource_policy=trust({"Effect": "Allow", "Action": "sts:AssumeRole",
                                "Principal": {"AWS": USER}})),
    Case("trust-silent-identity-allows", ROLE_XACCOUNT, [[ALL]], "sts:AssumeRole", False, ROLE,
         resource_policy=trust({"Effect": "Allow", "Action": "sts:AssumeRole",
                                "Principal": {"AWS": B_USER}})),
    Case("trust-cross-account", ROLE_XACCOUNT, [[allow("sts:AssumeRole")]], "sts:AssumeRole",
         True, ROLE, A, trust({"Effect": "Allow", "Action": "sts:AssumeRole",
                               "Principal": {"AWS": f"arn:aws:iam::{B}:root"}}),
         principal=B_USER, account=B),
    Case("trust-without-tag-session", TAGS, [[ALL]], "sts:TagSession", False, ROLE,
         resource_policy=trust({"Effect": "Allow", "Action": "sts:AssumeRole",
                                "Principal": {"AWS": USER}})),
    Case("trust-with-tag-session", TAGS, [[ALL]], "sts:TagSession", True, ROLE,
         resource_policy=trust({"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"],
                                "Principal": {"AWS": USER}})),
    Case("trust-source-identity-condition", SOURCE_IDENTITY, [[ALL]], "sts:SetSourceIdentity",
         True, ROLE, context={"sts:SourceIdentity": ["bob@acme.example"]},
         resource_policy=trust({"Effect": "Allow", "Action": "sts:SetSourceIdentity",
                                "Principal": {"AWS": USER},
                                "Condition": {"StringLike": {
                                    "sts:SourceIdentity": "*@acme.example"}}})),
    Case("trust-source-identity-refused", SOURCE_IDENTITY, [[ALL]], "sts:SetSourceIdentity",
         False, ROLE, context={"sts:SourceIdentity": ["mallory"]},
         resource_policy=trust({"Effect": "Allow", "Action": "sts:SetSourceIdentity",
                                "Principal": {"AWS": USER},
                                "Condition": {"StringLike": {
                                    "sts:SourceIdentity": "*@acme.example"}}})),
    # -- where the organization-policies hook sits [EVAL] (SCP cases live with the hook) ---
    Case("organization-implicit-deny", EVAL, [[ALL]], "s3:GetObject", False, OBJECT,
         organization=lambda principal, query: Effect.NONE,
         reason="no service control policy allows"),
    Case("organization-deny-beats-resource-policy", EVAL, [], "s3:GetObject", False, OBJECT,
         resource_policy=bucket(allow("s3:GetObject", OBJECT, Principal={"AWS": USER})),
         organization=lambda principal, query: Effect.DENY,
         reason="explicit deny in a service control policy"),
]  # fmt: skip


def test_the_table_is_large_enough_and_ids_are_unique() -> None:
    assert len(CASES) >= 60
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_documented_case(case: Case) -> None:
    principal = Principal(
        arn=case.principal,
        account_id=case.account,
        identity_policies=[tuple(p) for p in case.policies],
        role_arn=case.role_arn,
        boundary=tuple(case.boundary) if case.boundary is not None else None,
        session_policies=[tuple(p) for p in case.session] if case.session is not None else None,
    )
    query = Query(
        action=case.action,
        resource=case.resource,
        resource_account=case.resource_account,
        context=case.context,
        resource_policy=case.resource_policy,
    )
    decision = evaluate(principal, query, organization_policies=case.organization)
    assert decision.allowed is case.allowed, f"{case.doc}: {decision.reason}"
    assert case.reason in decision.reason
