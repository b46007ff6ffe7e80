"""Properties of the IAM condition operators (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from keyless.policy.conditions import evaluate, string_like

# Values without IAM wildcards or policy variables, so they compare literally.
plain = st.text(
    alphabet=st.characters(blacklist_characters="*?$", blacklist_categories=["Cs"]), max_size=20
)
values = st.lists(plain, min_size=1, max_size=4)
KEY = "SAML:sub"


def ctx(actual: list[str]) -> dict[str, list[str]]:
    return {KEY: actual}


@given(plain)
def test_equal_value_matches(value: str) -> None:
    assert evaluate("StringEquals", KEY, [value], ctx([value]))
    assert evaluate("StringLike", KEY, [value], ctx([value]))
    assert not evaluate("StringNotEquals", KEY, [value], ctx([value]))


@given(values, values)
def test_negation_is_the_complement(policy_values: list[str], actual: list[str]) -> None:
    for positive, negative in [
        ("StringEquals", "StringNotEquals"),
        ("StringLike", "StringNotLike"),
        ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"),
    ]:
        assert evaluate(positive, KEY, policy_values, ctx(actual)) != evaluate(
            negative, KEY, policy_values, ctx(actual)
        )


@given(plain, plain)
def test_like_without_wildcards_is_equals(value: str, pattern: str) -> None:
    assert string_like(value, pattern) == (value == pattern)


@given(plain, plain, plain)
def test_star_matches_any_infix(prefix: str, middle: str, suffix: str) -> None:
    assert string_like(prefix + middle + suffix, prefix + "*" + suffix)
    assert string_like(middle, "*")


@given(plain)
def test_question_mark_is_exactly_one_character(value: str) -> None:
    assert string_like(value, "?" * len(value))
    assert not string_like(value, "?" * (len(value) + 1))


@given(plain, plain)
def test_ignore_case(value: str, other: str) -> None:
    assert evaluate("StringEqualsIgnoreCase", KEY, [value.upper()], ctx([value.lower()])) == (
        value.upper().casefold() == value.lower().casefold()
    )
    assert evaluate("StringEqualsIgnoreCase", KEY, [other], ctx([value])) == (
        value.casefold() == other.casefold()
    )


@given(values, values)
def test_for_any_and_for_all(policy_values: list[str], actual: list[str]) -> None:
    each = [v in policy_values for v in actual]
    assert evaluate("ForAnyValue:StringEquals", KEY, policy_values, ctx(actual)) == any(each)
    assert evaluate("ForAllValues:StringEquals", KEY, policy_values, ctx(actual)) == all(each)
    assert evaluate("ForAnyValue:StringNotEquals", KEY, policy_values, ctx(actual)) == (
        not all(each)
    )
    assert evaluate("ForAllValues:StringNotEquals", KEY, policy_values, ctx(actual)) == (
        not any(each)
    )
    # A plain operator on a multi-valued key: any context value matching any policy value.
    assert evaluate("StringEquals", KEY, policy_values, ctx(actual)) == any(each)


@given(values)
def test_absent_key(policy_values: list[str]) -> None:
    empty: dict[str, list[str]] = {}
    assert not evaluate("StringEquals", KEY, policy_values, empty)
    assert evaluate("StringNotEquals", KEY, policy_values, empty)
    assert evaluate("StringEqualsIfExists", KEY, policy_values, empty)
    assert evaluate("StringNotLikeIfExists", KEY, policy_values, empty)
    assert not evaluate("ForAnyValue:StringEquals", KEY, policy_values, empty)
    assert evaluate("ForAllValues:StringEquals", KEY, policy_values, empty)
    assert evaluate("Null", KEY, ["true"], empty)
    assert not evaluate("Null", KEY, ["false"], empty)


@given(values, values)
def test_if_exists_equals_operator_when_present(
    policy_values: list[str], actual: list[str]
) -> None:
    for operator in ("StringEquals", "StringNotEquals", "StringLike"):
        assert evaluate(operator + "IfExists", KEY, policy_values, ctx(actual)) == evaluate(
            operator, KEY, policy_values, ctx(actual)
        )


@given(st.text(alphabet="SAMLsaml:subSUB_", min_size=1, max_size=12), plain)
def test_key_names_are_case_insensitive(key: str, value: str) -> None:
    context = {key: [value]}
    assert evaluate("StringEquals", key.swapcase(), [value], context)
    assert evaluate("Null", key.upper(), ["false"], context)


moments = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)


@given(moments, moments)
def test_date_operators_order_like_datetimes(a: datetime, b: datetime) -> None:
    context = {"aws:CurrentTime": [a.isoformat()]}
    policy_value = [b.isoformat()]
    assert evaluate("DateLessThan", "aws:CurrentTime", policy_value, context) == (a < b)
    assert evaluate("DateLessThanEquals", "aws:CurrentTime", policy_value, context) == (a <= b)
    assert evaluate("DateGreaterThan", "aws:CurrentTime", policy_value, context) == (a > b)
    assert evaluate("DateGreaterThanEquals", "aws:CurrentTime", policy_value, context) == (a >= b)
    assert evaluate("DateEquals", "aws:CurrentTime", policy_value, context) == (a == b)
    assert evaluate("DateNotEquals", "aws:CurrentTime", policy_value, context) == (a != b)


@given(st.integers(min_value=0, max_value=2**33))
def test_dates_as_epoch_seconds(seconds: int) -> None:
    moment = datetime.fromtimestamp(seconds, UTC)
    context = {"aws:CurrentTime": [moment.isoformat()]}
    assert evaluate("DateEquals", "aws:CurrentTime", [str(seconds)], context)


@given(st.booleans(), st.booleans())
def test_bool(actual: bool, wanted: bool) -> None:
    context = {"aws:MultiFactorAuthPresent": [str(actual).lower()]}
    assert evaluate("Bool", "aws:MultiFactorAuthPresent", [str(wanted)], context) == (
        actual == wanted
    )


@given(st.integers(-1000, 1000), st.integers(-1000, 1000))
def test_numeric(a: int, b: int) -> None:
    context = {"n": [str(a)]}
    assert evaluate("NumericLessThan", "n", [str(b)], context) == (a < b)
    assert evaluate("NumericGreaterThanEquals", "n", [str(b)], context) == (a >= b)
    assert evaluate("NumericNotEquals", "n", [str(b)], context) == (a != b)
