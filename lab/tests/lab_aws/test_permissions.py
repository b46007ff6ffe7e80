"""IAM permission evaluation for lab credentials (pure: no server)."""

from __future__ import annotations

from typing import Any

from keyless_lab.aws.permissions import decide, parse_document, trust_allows

ADMIN = [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
POWER_USER = [
    {"Effect": "Allow", "NotAction": ["iam:*", "organizations:*", "account:*"], "Resource": "*"},
    {
        "Effect": "Allow",
        "Action": ["iam:ListRoles", "organizations:DescribeOrganization"],
        "Resource": "*",
    },
]
REGION_GUARD = [
    {
        "Effect": "Deny",
        "NotAction": ["iam:*", "sts:*", "organizations:*"],
        "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}},
    }
]


def allowed(
    policies: list[list[dict[str, Any]]], action: str, region: str = "us-east-1", **kw: Any
) -> bool:
    context = {"aws:RequestedRegion": [region]}
    return decide(
        policies,
        boundary=kw.get("boundary"),
        action=action,
        resource=kw.get("resource", "*"),
        context=context,
    ).allowed


def test_power_user_cannot_write_iam_but_can_list_roles() -> None:
    assert not allowed([POWER_USER], "iam:CreateUser")
    assert allowed([POWER_USER], "iam:ListRoles")
    assert allowed([POWER_USER], "s3:ListBuckets")


def test_a_deny_whose_condition_does_not_hold_denies_nothing() -> None:
    """moto's evaluator treats an unmet Condition as a Deny; IAM does not."""
    assert allowed([POWER_USER, REGION_GUARD], "s3:ListBuckets", region="us-east-1")
    assert not allowed([POWER_USER, REGION_GUARD], "s3:ListBuckets", region="ap-southeast-2")


def test_explicit_deny_beats_allow_and_actions_are_case_insensitive() -> None:
    deny_users = [{"Effect": "Deny", "Action": "iam:*User", "Resource": "*"}]
    assert not allowed([ADMIN, deny_users], "iam:createuser")
    assert allowed([ADMIN, deny_users], "iam:CreateRole")


def test_permissions_boundary_must_allow_too() -> None:
    boundary = [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]
    assert allowed([ADMIN], "s3:GetObject", boundary=boundary)
    assert not allowed([ADMIN], "iam:CreateUser", boundary=boundary)


def test_unknown_condition_operator_never_grants_and_always_denies() -> None:
    odd_allow = [
        {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"Bogus": {"k": "v"}}}
    ]
    odd_deny = [
        {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"Bogus": {"k": "v"}}}
    ]
    assert not allowed([odd_allow], "s3:ListBuckets")
    assert not allowed([ADMIN, odd_deny], "s3:ListBuckets")


def test_resource_patterns_match_arns() -> None:
    own = [
        {"Effect": "Allow", "Action": "iam:*", "Resource": "arn:aws:iam::111111111111:user/ci-*"}
    ]
    assert allowed([own], "iam:CreateAccessKey", resource="arn:aws:iam::111111111111:user/ci-bot")
    assert not allowed(
        [own], "iam:CreateAccessKey", resource="arn:aws:iam::111111111111:user/alice"
    )


def test_url_encoded_documents_are_read() -> None:
    assert parse_document("%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%7D%5D%7D") == [
        {"Effect": "Allow"}
    ]
    assert parse_document("not json") == []


def test_trust_by_account_root_matches_any_principal_of_that_account() -> None:
    trust = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                "Action": "sts:AssumeRole",
            }
        ]
    }
    caller = {
        "arn:aws:iam::111111111111:user/lab-admin",
        "arn:aws:iam::111111111111:root",
        "111111111111",
    }
    other = {"arn:aws:iam::222222222222:user/x", "arn:aws:iam::222222222222:root", "222222222222"}
    assert trust_allows(
        trust, caller_candidates=caller, action="sts:AssumeRole", resource="r", context={}
    )
    assert not trust_allows(
        trust, caller_candidates=other, action="sts:AssumeRole", resource="r", context={}
    )
    assert not trust_allows(
        trust, caller_candidates=caller, action="sts:TagSession", resource="r", context={}
    )
