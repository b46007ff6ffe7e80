"""The lab's IAM condition operators against the examples AWS documents.

Each row is a condition from AWS's IAM user guide (the page in ``source``), a
request context, and the outcome the page states or implies. The expectations
are written from the documentation, never computed with keyless's code:
the lab is the oracle keyless's policy evaluation is tested against.

Pages:
OPS   https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
LOGIC https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html
SETS  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
VARS  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
SAML  https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_saml_assertions.html
"""

from __future__ import annotations

from typing import Any

import pytest

from keyless_lab.aws.conditions import UnknownOperator, conditions_hold, wildcard_match

TAG_KEYS = ["environment", "cost-center"]

# (source, condition block, request context, expected); a table, laid out as one.
# fmt: off
CASES: list[tuple[str, dict[str, Any], dict[str, list[str]], bool]] = [
    # -- String (OPS, "String condition operators") ---------------------------------------
    ("OPS StringEquals", {"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}},
     {"aws:PrincipalTag/job-category": ["iamuser-admin"]}, True),
    ("OPS StringEquals: case-sensitive",
     {"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}},
     {"aws:PrincipalTag/job-category": ["IAMUser-Admin"]}, False),
    ("OPS Important: absent key, positive operator is false",
     {"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}}, {}, False),
    ("OPS Important: absent key, negated operator is true",
     {"StringNotLike": {"aws:PrincipalTag/job-category": "iamuser-*"}}, {}, True),
    ("OPS StringEqualsIgnoreCase", {"StringEqualsIgnoreCase": {"aws:PrincipalTag/dept": "HR"}},
     {"aws:PrincipalTag/dept": ["hr"]}, True),
    ("OPS StringNotEqualsIgnoreCase",
     {"StringNotEqualsIgnoreCase": {"aws:PrincipalTag/dept": "HR"}},
     {"aws:PrincipalTag/dept": ["hr"]}, False),
    ("OPS StringLike with a variable: s3:prefix home/${aws:username}/",
     {"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/"]}},
     {"s3:prefix": ["home/martha/"], "aws:username": ["martha"]}, True),
    ("OPS StringLike: another user's folder",
     {"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/"]}},
     {"s3:prefix": ["home/bob/"], "aws:username": ["martha"]}, False),
    ("OPS wildcards: ? is exactly one character", {"StringLike": {"aws:userid": "AIDA?"}},
     {"aws:userid": ["AIDAB"]}, True),
    ("OPS wildcards: ? is not zero characters", {"StringLike": {"aws:userid": "AIDA?"}},
     {"aws:userid": ["AIDA"]}, False),
    ("OPS StringEquals takes no wildcard", {"StringEquals": {"aws:userid": "AIDA*"}},
     {"aws:userid": ["AIDAXYZ"]}, False),
    # -- several values, several keys (LOGIC) ----------------------------------------------
    ("LOGIC: values of one key are OR-ed",
     {"StringEquals": {"aws:PrincipalTag/dept": ["Accounting", "Finance"]}},
     {"aws:PrincipalTag/dept": ["Finance"]}, True),
    ("LOGIC: a negated operator with several values is NOR",
     {"StringNotEquals": {"aws:PrincipalTag/dept": ["Accounting", "Finance"]}},
     {"aws:PrincipalTag/dept": ["Finance"]}, False),
    ("LOGIC: NOR holds for a value in neither",
     {"StringNotEquals": {"aws:PrincipalTag/dept": ["Accounting", "Finance"]}},
     {"aws:PrincipalTag/dept": ["HR"]}, True),
    ("LOGIC: keys are AND-ed",
     {"StringEquals": {"aws:PrincipalTag/dept": "HR", "aws:PrincipalTag/team": "a"}},
     {"aws:PrincipalTag/dept": ["HR"], "aws:PrincipalTag/team": ["b"]}, False),
    ("LOGIC: operators are AND-ed",
     {"StringEquals": {"aws:PrincipalTag/dept": "HR"}, "Bool": {"aws:SecureTransport": "true"}},
     {"aws:PrincipalTag/dept": ["HR"], "aws:SecureTransport": ["true"]}, True),
    ("LOGIC: condition key names are not case-sensitive",
     {"StringEquals": {"AWS:PRINCIPALTAG/dept": "HR"}}, {"aws:PrincipalTag/dept": ["HR"]}, True),
    # -- Numeric (OPS) -----------------------------------------------------------------------
    ("OPS NumericLessThanEquals s3:max-keys 10", {"NumericLessThanEquals": {"s3:max-keys": "10"}},
     {"s3:max-keys": ["10"]}, True),
    ("OPS NumericLessThanEquals s3:max-keys 10, asked 11",
     {"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": ["11"]}, False),
    ("OPS NumericEquals is numeric, not textual", {"NumericEquals": {"s3:max-keys": "10"}},
     {"s3:max-keys": ["10.0"]}, True),
    ("OPS NumericGreaterThan", {"NumericGreaterThan": {"aws:MultiFactorAuthAge": "3600"}},
     {"aws:MultiFactorAuthAge": ["3601"]}, True),
    ("OPS NumericNotEquals", {"NumericNotEquals": {"s3:max-keys": "10"}},
     {"s3:max-keys": ["9"]}, True),
    # -- Date (OPS: ISO 8601 or epoch) -------------------------------------------------------
    ("OPS DateGreaterThan aws:TokenIssueTime",
     {"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}},
     {"aws:TokenIssueTime": ["2024-05-01T12:00:00Z"]}, True),
    ("OPS DateLessThan aws:CurrentTime",
     {"DateLessThan": {"aws:CurrentTime": "2013-06-30T00:00:00Z"}},
     {"aws:CurrentTime": ["2013-07-01T00:00:00Z"]}, False),
    ("OPS dates may be epoch seconds", {"DateEquals": {"aws:EpochTime": "1577836800"}},
     {"aws:EpochTime": ["2020-01-01T00:00:00Z"]}, True),
    # -- Bool, Binary (OPS) ------------------------------------------------------------------
    ("OPS Bool aws:SecureTransport false", {"Bool": {"aws:SecureTransport": "false"}},
     {"aws:SecureTransport": ["false"]}, True),
    ("OPS Bool: a JSON boolean in the policy", {"Bool": {"aws:SecureTransport": False}},
     {"aws:SecureTransport": ["true"]}, False),
    ("OPS Bool aws:MultiFactorAuthPresent, key absent",
     {"Bool": {"aws:MultiFactorAuthPresent": "true"}}, {}, False),
    ("OPS BinaryEquals", {"BinaryEquals": {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}},
     {"key": ["QmluYXJ5VmFsdWVJbkJhc2U2NA=="]}, True),
    # -- IP address (OPS) --------------------------------------------------------------------
    ("OPS IpAddress 203.0.113.0/24", {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
     {"aws:SourceIp": ["203.0.113.77"]}, True),
    ("OPS IpAddress outside the range", {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
     {"aws:SourceIp": ["198.51.100.1"]}, False),
    ("OPS NotIpAddress", {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
     {"aws:SourceIp": ["198.51.100.1"]}, True),
    ("OPS IpAddress IPv6 2001:DB8:1234:5678::/64",
     {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]}},
     {"aws:SourceIp": ["2001:db8:1234:5678::1"]}, True),
    ("OPS a single address is its own /32", {"IpAddress": {"aws:SourceIp": "203.0.113.7"}},
     {"aws:SourceIp": ["203.0.113.7"]}, True),
    # -- ARN (OPS: six components, wildcards in each) ----------------------------------------
    ("OPS ArnEquals aws:SourceArn",
     {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:my-topic"}},
     {"aws:SourceArn": ["arn:aws:sns:us-east-1:123456789012:my-topic"]}, True),
    ("OPS ArnLike with wildcards per component",
     {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Okta*"}},
     {"aws:PrincipalArn": ["arn:aws:iam::111122223333:role/OktaAdminRole"]}, True),
    ("OPS ArnLike: a wildcard does not cross a component",
     {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"}},
     {"aws:SourceArn": ["arn:aws:sns:us-east-1:123456789012:my-topic"]}, False),
    ("OPS ArnLike: the resource keeps its colons",
     {"ArnLike": {"aws:SourceArn": "arn:aws:logs:us-east-1:123456789012:log-group:app:*"}},
     {"aws:SourceArn": ["arn:aws:logs:us-east-1:123456789012:log-group:app:log-stream:x"]},
     True),
    ("OPS ArnNotLike, key absent", {"ArnNotLike": {"aws:SourceArn": "arn:aws:s3:::*"}}, {}, True),
    # -- ...IfExists and Null (OPS) ----------------------------------------------------------
    ("OPS StringLikeIfExists ec2:InstanceType, key absent",
     {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}, {}, True),
    ("OPS StringLikeIfExists ec2:InstanceType t2.micro",
     {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}},
     {"ec2:InstanceType": ["t2.micro"]}, True),
    ("OPS StringLikeIfExists ec2:InstanceType m5.large",
     {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}},
     {"ec2:InstanceType": ["m5.large"]}, False),
    ("OPS Null true: temporary credentials absent",
     {"Null": {"aws:TokenIssueTime": "true"}}, {}, True),
    ("OPS Null true, key present", {"Null": {"aws:TokenIssueTime": "true"}},
     {"aws:TokenIssueTime": ["2024-05-01T12:00:00Z"]}, False),
    ("OPS Null false, key present", {"Null": {"aws:TokenIssueTime": "false"}},
     {"aws:TokenIssueTime": ["2024-05-01T12:00:00Z"]}, True),
    # -- set operators (SETS) ----------------------------------------------------------------
    ("SETS ForAllValues: every request value is listed",
     {"ForAllValues:StringEquals": {"aws:TagKeys": TAG_KEYS}},
     {"aws:TagKeys": ["environment"]}, True),
    ("SETS ForAllValues: one request value is not listed",
     {"ForAllValues:StringEquals": {"aws:TagKeys": TAG_KEYS}},
     {"aws:TagKeys": ["environment", "owner"]}, False),
    ("SETS ForAllValues: true when the key is absent",
     {"ForAllValues:StringEquals": {"aws:TagKeys": TAG_KEYS}}, {}, True),
    ("SETS ForAnyValue: one request value is listed",
     {"ForAnyValue:StringEquals": {"aws:TagKeys": TAG_KEYS}},
     {"aws:TagKeys": ["owner", "cost-center"]}, True),
    ("SETS ForAnyValue: none listed", {"ForAnyValue:StringEquals": {"aws:TagKeys": TAG_KEYS}},
     {"aws:TagKeys": ["owner"]}, False),
    ("SETS ForAnyValue: false when the key is absent",
     {"ForAnyValue:StringEquals": {"aws:TagKeys": TAG_KEYS}}, {}, False),
    ("SETS ForAllValues:StringNotEquals: no request value is listed",
     {"ForAllValues:StringNotEquals": {"aws:TagKeys": TAG_KEYS}},
     {"aws:TagKeys": ["owner", "project"]}, True),
    ("SETS ForAnyValue:StringNotEquals: some request value is not listed",
     {"ForAnyValue:StringNotEquals": {"aws:TagKeys": TAG_KEYS}},
     {"aws:TagKeys": ["environment", "owner"]}, True),
    # -- policy variables (VARS) -------------------------------------------------------------
    ("VARS default value when the key is absent",
     {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team, 'company-wide'}"}},
     {"aws:ResourceTag/team": ["company-wide"]}, True),
    ("VARS the key's value wins over the default",
     {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team, 'company-wide'}"}},
     {"aws:ResourceTag/team": ["company-wide"], "aws:PrincipalTag/team": ["audit"]}, False),
    ("VARS ${*} is a literal asterisk", {"StringLike": {"s3:prefix": "a${*}b"}},
     {"s3:prefix": ["axxb"]}, False),
    ("VARS ${*} matches the asterisk itself", {"StringLike": {"s3:prefix": "a${*}b"}},
     {"s3:prefix": ["a*b"]}, True),
    ("VARS a variable with no value and no default never matches",
     {"StringEquals": {"s3:prefix": "home/${aws:username}/"}},
     {"s3:prefix": ["home//"]}, False),
    ("VARS a substituted value is not a wildcard",
     {"StringLike": {"s3:prefix": "home/${aws:PrincipalTag/folder}"}},
     {"s3:prefix": ["home/everything"], "aws:PrincipalTag/folder": ["*"]}, False),
    # -- the SAML keys of a trust policy (SAML) ----------------------------------------------
    ("SAML SAML:aud is the Recipient",
     {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}},
     {"SAML:aud": ["https://signin.aws.amazon.com/saml"]}, True),
    ("SAML a regional SAML:aud against the global Recipient",
     {"StringEquals": {"SAML:aud": "https://us-east-2.signin.aws.amazon.com/saml"}},
     {"SAML:aud": ["https://signin.aws.amazon.com/saml"]}, False),
    ("SAML multivalued SAML:eduPersonAffiliation with ForAnyValue",
     {"ForAnyValue:StringLike": {"SAML:eduPersonAffiliation": "staff"}},
     {"SAML:eduPersonAffiliation": ["member", "staff"]}, True),
]
# fmt: on


@pytest.mark.parametrize(
    ("block", "context", "expected"),
    [
        pytest.param(block, context, expected, id=source)
        for source, block, context, expected in CASES
    ],
)
def test_documented_condition_examples(
    block: dict[str, Any], context: dict[str, list[str]], expected: bool
) -> None:
    assert conditions_hold(block, context) is expected


@pytest.mark.parametrize(
    "operator", ["StringEqualz", "ForSomeValues:StringEquals", "NullIfExists", "ForAllValues:Null"]
)
def test_an_operator_iam_does_not_define_is_refused(operator: str) -> None:
    with pytest.raises(UnknownOperator):
        conditions_hold({operator: {"aws:username": "x"}}, {"aws:username": ["x"]})


@pytest.mark.parametrize(
    ("value", "pattern", "expected"),
    [
        # OPS/Action element: "iam:*AccessKey*" style wildcards; Action names are
        # matched without regard to case by the caller, which lowers both sides.
        ("iam:createaccesskey", "iam:*accesskey*", True),
        ("iam:createuser", "iam:*accesskey*", False),
        ("arn:aws:s3:::bucket/home/martha/x", "arn:aws:s3:::bucket/home/${aws:username}/*", True),
    ],
)
def test_wildcard_match_for_actions_and_resources(value: str, pattern: str, expected: bool) -> None:
    assert wildcard_match(value, pattern, {"aws:username": ["martha"]}) is expected
