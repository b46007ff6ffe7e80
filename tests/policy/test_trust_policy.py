"""Trust policy evaluation for AssumeRoleWithSAML: principals, actions, Deny, conditions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from keyless.errors import InputError
from keyless.policy.conditions import evaluate
from keyless.policy.trust import evaluate_trust_policy

PROVIDER = "arn:aws:iam::222222222222:saml-provider/okta"
SIGNIN = "https://signin.aws.amazon.com/saml"
CONTEXT = {
    "SAML:aud": [SIGNIN],
    "SAML:iss": ["http://www.okta.com/exk1"],
    "SAML:sub": ["alice@example.com"],
    "SAML:sub_type": ["persistent"],
    "SAML:eduPersonAffiliation": ["staff", "member"],
}


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(condition: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Federated": PROVIDER},
        "Action": "sts:AssumeRoleWithSAML",
    }
    if condition is not None:
        statement["Condition"] = condition
    statement.update(extra)
    return statement


def decide(document: Any, action: str = "sts:AssumeRoleWithSAML", context: Any = None) -> Any:
    return evaluate_trust_policy(
        document,
        principal_arn=PROVIDER,
        action=action,
        context=CONTEXT if context is None else context,
    )


def test_the_standard_okta_trust_policy_allows() -> None:
    decision = decide(policy(allow({"StringEquals": {"SAML:aud": SIGNIN}}, Sid="Okta")))
    assert decision.allowed
    assert decision.statement == "Okta"


def test_json_text_and_single_statement_object() -> None:
    text = json.dumps({"Version": "2012-10-17", "Statement": allow()})
    assert decide(text).allowed


def test_wrong_audience_names_key_and_values() -> None:
    aud = "https://us-east-2.signin.aws.amazon.com/saml"
    decision = decide(policy(allow({"StringEquals": {"SAML:aud": aud}})))
    assert not decision.allowed
    assert decision.statement == "Statement[0]"
    assert "SAML:aud" in decision.explanation
    assert aud in decision.explanation
    assert SIGNIN in decision.explanation
    (failure,) = decision.failures
    assert failure.expected == (aud,)
    assert failure.actual == (SIGNIN,)


def test_other_principal_is_not_trusted() -> None:
    document = policy(allow(Principal={"Federated": "arn:aws:iam::222222222222:saml-provider/x"}))
    decision = decide(document)
    assert not decision.allowed
    assert "saml-provider/x" in decision.explanation


@pytest.mark.parametrize(
    ("action_field", "allowed"),
    [
        ("sts:AssumeRoleWithSAML", True),
        (["sts:TagSession", "sts:AssumeRoleWithSAML"], True),
        ("sts:AssumeRole*", True),
        ("STS:assumerolewithsaml", True),
        ("sts:*", True),
        ("*", True),
        ("sts:AssumeRoleWithWebIdentity", False),
    ],
)
def test_actions(action_field: Any, allowed: bool) -> None:
    assert decide(policy(allow(Action=action_field))).allowed is allowed


def test_not_action() -> None:
    statement = allow()
    del statement["Action"]
    statement["NotAction"] = "sts:TagSession"
    assert decide(policy(statement)).allowed
    assert not decide(policy(statement), action="sts:TagSession").allowed


def test_explicit_deny_wins() -> None:
    deny = {
        "Sid": "NoContractors",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sts:*",
        "Condition": {"StringLike": {"SAML:sub": "*@example.com"}},
    }
    decision = decide(policy(allow(), deny))
    assert not decision.allowed
    assert decision.statement == "NoContractors"
    assert "explicit Deny" in decision.explanation


def test_deny_whose_condition_fails_does_not_apply() -> None:
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "*",
        "Condition": {"StringEquals": {"SAML:sub": "mallory@example.com"}},
    }
    assert decide(policy(allow(), deny)).allowed


def test_condition_keys_are_case_insensitive() -> None:
    assert decide(policy(allow({"StringEquals": {"saml:AUD": SIGNIN}}))).allowed


def test_several_allow_failures_are_all_explained() -> None:
    decision = decide(
        policy(
            allow({"StringEquals": {"SAML:aud": "urn:x"}}, Sid="A"),
            allow({"StringEquals": {"SAML:iss": "urn:y"}}, Sid="B"),
        )
    )
    assert not decision.allowed
    assert "A: condition" in decision.explanation
    assert "B: condition" in decision.explanation


@pytest.mark.parametrize(
    ("condition", "allowed"),
    [
        ({"StringLike": {"SAML:sub": "*@example.com"}}, True),
        ({"StringNotLike": {"SAML:sub": "*@example.com"}}, False),
        ({"StringEqualsIgnoreCase": {"SAML:sub": "ALICE@EXAMPLE.COM"}}, True),
        ({"StringNotEquals": {"SAML:sub": "bob@example.com"}}, True),
        ({"ForAnyValue:StringEquals": {"SAML:eduPersonAffiliation": "staff"}}, True),
        ({"ForAllValues:StringEquals": {"SAML:eduPersonAffiliation": ["staff", "member"]}}, True),
        ({"ForAllValues:StringEquals": {"SAML:eduPersonAffiliation": ["staff"]}}, False),
        ({"StringEqualsIfExists": {"SAML:cn": "nobody"}}, True),
        ({"StringEquals": {"SAML:cn": "nobody"}}, False),
        ({"Null": {"SAML:cn": "true"}}, True),
        ({"Null": {"SAML:sub": "false"}}, True),
        ({"Null": {"SAML:sub": "true"}}, False),
        ({"StringLike": {"SAML:sub": "${SAML:sub}"}}, True),
        ({"Bool": {"aws:MultiFactorAuthPresent": True}}, False),
    ],
)
def test_conditions(condition: dict[str, Any], allowed: bool) -> None:
    assert decide(policy(allow(condition))).allowed is allowed


def test_date_operators() -> None:
    context = {"aws:CurrentTime": ["2024-05-01T12:00:00Z"]}
    assert evaluate("DateLessThan", "aws:CurrentTime", ["2025-01-01T00:00:00Z"], context)
    assert not evaluate("DateGreaterThan", "aws:CurrentTime", ["2025-01-01"], context)
    assert evaluate("DateEquals", "aws:CurrentTime", ["1714564800"], context)


def test_bad_documents_are_input_errors() -> None:
    with pytest.raises(InputError, match="not JSON"):
        decide("{")
    with pytest.raises(InputError, match="no Statement"):
        decide({"Version": "2012-10-17"})
    with pytest.raises(InputError, match="Effect"):
        decide(policy({"Effect": "Maybe"}))
    with pytest.raises(InputError, match="StringSortOf"):
        decide(policy(allow({"StringSortOf": {"SAML:aud": SIGNIN}})))


def test_policy_variables_bring_no_wildcards() -> None:
    """Regression: a substituted value or ${*} acted as a wildcard in StringLike, so a
    SAML subject named 'a*' satisfied a condition meant for the subject itself."""
    from keyless.policy.conditions import evaluate

    context = {"SAML:sub": ["a*"], "SAML:namequalifier": ["abc"]}
    # ${SAML:sub} is the literal text "a*": it matches itself, nothing else.
    assert evaluate("StringLike", "SAML:sub", ["${SAML:sub}"], context)
    assert not evaluate("StringLike", "SAML:namequalifier", ["${SAML:sub}"], context)
    # ${*} is a literal asterisk.
    assert not evaluate("StringLike", "SAML:namequalifier", ["${*}"], context)
    assert evaluate("StringLike", "SAML:sub", ["a${*}"], context)
    # The author's own wildcards still work, and exact operators see plain text.
    assert evaluate("StringLike", "SAML:namequalifier", ["a*"], context)
    assert evaluate("StringEquals", "SAML:sub", ["a${*}"], context)
    assert evaluate("StringNotLike", "SAML:namequalifier", ["${SAML:sub}"], context)
