"""keyless.plan.review: the rules of the plan a person reviews, on plans built by hand.

Issue 24 item 6: a first plan was about 290 lines for a dozen creations, values
printed as Python reprs (``None``, ``['…']``), and every account repeated the
same trust policy in full.
"""

from __future__ import annotations

import json
from typing import Any

from keyless.plan.diff import AccountPlan, Change, FieldChange
from keyless.plan.okta import OktaPlan
from keyless.plan.review import pretty_json, review, show_value, text_of
from keyless.spec.model import Account

DEV, PROD = "333333333333", "222222222222"


def _trust(account_id: str, audience: str = "https://signin.aws.amazon.com/saml") -> Any:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:aws:iam::{account_id}:saml-provider/Okta"},
                "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession"],
                "Condition": {"StringEquals": {"SAML:aud": audience}},
            }
        ],
    }


def _role(account_id: str, name: str = "ReadOnly", **kwargs: Any) -> Change:
    return Change(
        action="create",
        resource="role",
        name=name,
        fields=(
            FieldChange("trust_policy", None, _trust(account_id, **kwargs), "document"),
            FieldChange("max_session_duration", None, 3600),
            FieldChange("managed_policies", None, ["arn:aws:iam::aws:policy/ReadOnlyAccess"]),
            FieldChange("permissions_boundary", None, None),
        ),
    )


def _account(account_id: str, alias: str, *changes: Change, unchanged: int = 0) -> AccountPlan:
    return AccountPlan(
        account=Account(id=account_id, alias=alias), changes=changes, unchanged=unchanged
    )


def _details(*accounts: AccountPlan, okta: OktaPlan | None = None) -> list[str]:
    return [text_of(line) for line in review(accounts, okta).details]


def test_values_are_json_never_python_reprs() -> None:
    text = "\n".join(_details(_account(DEV, "acme-dev", _role(DEV))))
    assert 'managed_policies: ["arn:aws:iam::aws:policy/ReadOnlyAccess"]' in text
    assert "permissions_boundary: (none)" in text
    assert "None" not in text
    assert "['" not in text
    assert show_value({"team": "engineering"}) == '{"team": "engineering"}'


def test_a_new_document_is_pretty_json_that_parses_back() -> None:
    lines = _details(_account(DEV, "acme-dev", _role(DEV)))
    start = lines.index("      trust_policy:") + 1
    end = lines.index("      max_session_duration: 3600")
    assert json.loads("\n".join(lines[start:end])) == _trust(DEV)
    wide = {"Statement": [{"Action": [f"service{i}:Action" for i in range(12)]}]}
    printed = pretty_json(wide, start=8)
    assert json.loads("\n".join(printed)) == wide
    assert all(8 + len(line) <= 100 for line in printed)


def test_a_repeated_role_says_same_as_with_the_account_id_substitution() -> None:
    lines = _details(
        _account(PROD, "acme-prod", _role(PROD)), _account(DEV, "acme-dev", _role(DEV))
    )
    shown = [line for line in lines if "Federated" in line]
    assert len(shown) == 1
    assert PROD in shown[0]
    assert (
        f"  + create role ReadOnly: same as in acme-prod (with this account's id, {DEV}, "
        f"for {PROD})"
    ) in lines


def test_a_document_shared_by_two_roles_is_shown_once_and_named() -> None:
    lines = _details(
        _account(PROD, "acme-prod", _role(PROD)),
        _account(DEV, "acme-dev", _role(DEV, name="Admin")),
    )
    assert sum("Federated" in line for line in lines) == 1
    assert (
        f"      trust_policy: same as role ReadOnly's in acme-prod (with this account's id, "
        f"{DEV}, for {PROD})"
    ) in lines
    # The values that differ are still shown under the role that is not the same.
    assert "      max_session_duration: 3600" in lines[lines.index("  + create role Admin") :]


def test_only_the_accounts_own_id_is_substituted() -> None:
    # acme-dev's role trusts acme-prod's provider: not "the same with this account's id".
    lines = _details(
        _account(PROD, "acme-prod", _role(PROD)), _account(DEV, "acme-dev", _role(PROD))
    )
    assert sum("Federated" in line for line in lines) == 2
    assert not any("same as" in line for line in lines)


def test_a_document_that_differs_in_anything_else_is_shown_in_full() -> None:
    lines = _details(
        _account(PROD, "acme-prod", _role(PROD)),
        _account(
            DEV, "acme-dev", _role(DEV, audience="https://us-east-2.signin.aws.amazon.com/saml")
        ),
    )
    assert sum("Federated" in line for line in lines) == 2
    assert not any("same as" in line for line in lines)


def test_an_update_shows_what_changes() -> None:
    change = Change(
        action="update",
        resource="role",
        name="Developer",
        fields=(
            FieldChange("description", "old words", "new words"),
            FieldChange(
                "managed_policies",
                ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
                ["arn:aws:iam::aws:policy/PowerUserAccess"],
            ),
            FieldChange("tags", {"team": "ops", "cost": "1"}, {"team": "eng", "cost": "1"}),
            FieldChange("trust_policy", _trust(DEV), _trust(DEV, audience="urn:x"), "document"),
        ),
    )
    lines = _details(_account(DEV, "acme-dev", change))
    assert '      description: "old words" -> "new words"' in lines
    assert '        - "arn:aws:iam::aws:policy/ReadOnlyAccess"' in lines
    assert '        + "arn:aws:iam::aws:policy/PowerUserAccess"' in lines
    assert '        - team: "ops"' in lines
    assert '        + team: "eng"' in lines
    assert not any("cost" in line for line in lines)  # a tag that stays is not a change
    assert any(
        line.strip() == '-          "SAML:aud": "https://signin.aws.amazon.com/saml"'
        for line in lines
    )
    assert any(line.strip() == '+          "SAML:aud": "urn:x"' for line in lines)


def test_summary_counts_per_account_and_total() -> None:
    conflict = Change(action="conflict", resource="role", name="Hand", reason="not keyless's")
    deleted = Change(action="delete", resource="role", name="Old")
    updated = Change(action="update", resource="role", name="Dev")
    broken = AccountPlan(account=Account(id="444444444444", alias="acme-qa"), error="denied")
    okta = OktaPlan(org_url="https://acme.okta.com", app_id="0oa1", unchanged=4)
    rows = review(
        [
            _account(PROD, "acme-prod", _role(PROD), conflict, unchanged=2),
            _account(DEV, "acme-dev", updated, deleted, unchanged=1),
            broken,
        ],
        okta,
    ).summary
    assert [row.cells() for row in rows] == [
        ("acme-prod", PROD, "1", "0", "0", "2", "1"),
        ("acme-dev", DEV, "0", "1", "1", "1", "0"),
        ("acme-qa", "444444444444", "-", "-", "-", "-", "-"),
        ("Okta", "https://acme.okta.com", "0", "0", "0", "4", "0"),
        ("total", "", "1", "1", "1", "7", "1"),
    ]


def test_compact_is_one_line_per_change_under_its_account() -> None:
    plan = review([_account(PROD, "acme-prod", _role(PROD)), _account(DEV, "acme-dev", _role(DEV))])
    assert [text_of(line) for line in plan.compact] == [
        f"acme-prod ({PROD})",
        "  + create role ReadOnly",
        f"acme-dev ({DEV})",
        "  + create role ReadOnly",
    ]


def test_an_account_with_nothing_to_do_is_left_to_the_summary() -> None:
    assert _details(_account(DEV, "acme-dev", unchanged=5)) == []
    unreadable = AccountPlan(account=Account(id=DEV, alias="acme-dev"), error="no", fix="do")
    assert _details(unreadable) == [f"acme-dev ({DEV}): error no", "  fix: do"]
