"""IAM condition operators, evaluated as IAM documents them.

A ``Condition`` block is an AND over operators, each an AND over its keys,
each an OR over the policy's values. Condition key names are case-insensitive;
values compare case-sensitively unless the operator says ``IgnoreCase``.

Multi-valued context keys (``SAML:aud`` can hold one value, eduPerson keys
several):

- a plain operator is true if any context value matches any policy value, and
  false when the key is absent; a negated one (``StringNotEquals`` ...) is the
  negation of its positive form, so it is *true* when the key is absent;
- ``ForAnyValue:`` is true if at least one context value satisfies the
  operator, false when the key is absent;
- ``ForAllValues:`` is true if every context value satisfies the operator,
  true when the key is absent;
- ``...IfExists`` is true when the key is absent, else the operator itself;
- ``Null`` tests absence: ``"true"`` means the key must be missing.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

Compare = Callable[[str, str], bool]


@dataclass(frozen=True)
class ConditionFailure:
    """One condition that did not hold: which operator, key, and the values on each side."""

    statement: str
    operator: str
    key: str
    expected: tuple[str, ...]  # the policy's values
    actual: tuple[str, ...]  # the request context's values (empty: key absent)

    def describe(self) -> str:
        """A sentence naming the condition key and the values that failed."""
        wanted = ", ".join(self.expected)
        have = ", ".join(self.actual) if self.actual else "no value (the key is absent)"
        return (
            f"{self.statement}: condition {self.operator} {self.key} expects {wanted}, "
            f"the request has {have}"
        )


class UnknownOperator(ValueError):
    """A condition operator keyless does not know; IAM would reject the policy."""


def _like(pattern: str) -> re.Pattern[str]:
    return _compile_like(pattern)


# Marks the next character of a pattern as literal. substitute() puts it before
# any '*' or '?' that comes from a variable's value or from ${*} / ${?}, so that
# text the policy author did not write can never act as a wildcard.
LITERAL = "\ue000"


@functools.lru_cache(maxsize=1024)
def _compile_like(pattern: str) -> re.Pattern[str]:
    # IAM wildcards: * any run of characters (including none), ? exactly one.
    parts: list[str] = []
    literal = False
    for c in pattern:
        if literal:
            parts.append(re.escape(c))
            literal = False
        elif c == LITERAL:
            literal = True
        else:
            parts.append(".*" if c == "*" else "." if c == "?" else re.escape(c))
    return re.compile("".join(parts), re.DOTALL)


def unmark(text: str) -> str:
    """``text`` without the literal marks :func:`substitute` adds (for exact comparisons)."""
    return text.replace(LITERAL, "")


def string_like(value: str, pattern: str) -> bool:
    """IAM ``StringLike``: ``*`` and ``?`` wildcards, case-sensitive, whole value."""
    return _like(pattern).fullmatch(value) is not None


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def parse_date(text: str) -> datetime | None:
    """A condition date: ISO 8601 (date or date-time) or epoch seconds; None if neither."""
    value = text.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", value):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _numeric(test: Callable[[float, float], bool]) -> Compare:
    def compare(actual: str, wanted: str) -> bool:
        a, w = _number(actual), _number(wanted)
        return a is not None and w is not None and test(a, w)

    return compare


def _dated(test: Callable[[datetime, datetime], bool]) -> Compare:
    def compare(actual: str, wanted: str) -> bool:
        a, w = parse_date(actual), parse_date(wanted)
        return a is not None and w is not None and test(a, w)

    return compare


def _arn_like(actual: str, pattern: str) -> bool:
    # ARNs match segment by segment, so a wildcard cannot swallow a colon
    # between partition, service, region and account.
    a_parts, p_parts = actual.split(":", 5), pattern.split(":", 5)
    if len(a_parts) != 6 or len(p_parts) != 6:
        return False
    return all(string_like(a, p) for a, p in zip(a_parts, p_parts, strict=True))


# Positive operators: name -> comparison of one context value with one policy value.
_POSITIVE: dict[str, Compare] = {
    "stringequals": lambda a, w: a == w,
    "stringequalsignorecase": lambda a, w: a.casefold() == w.casefold(),
    "stringlike": string_like,
    "numericequals": _numeric(lambda a, w: a == w),
    "numericlessthan": _numeric(lambda a, w: a < w),
    "numericlessthanequals": _numeric(lambda a, w: a <= w),
    "numericgreaterthan": _numeric(lambda a, w: a > w),
    "numericgreaterthanequals": _numeric(lambda a, w: a >= w),
    "dateequals": _dated(lambda a, w: a == w),
    "datelessthan": _dated(lambda a, w: a < w),
    "datelessthanequals": _dated(lambda a, w: a <= w),
    "dategreaterthan": _dated(lambda a, w: a > w),
    "dategreaterthanequals": _dated(lambda a, w: a >= w),
    "bool": lambda a, w: a.lower() == w.lower(),
    "arnequals": _arn_like,
    "arnlike": _arn_like,
    "binaryequals": lambda a, w: a == w,
}
# Negated operators: the negation of the positive form named here.
_NEGATED: dict[str, str] = {
    "stringnotequals": "stringequals",
    "stringnotequalsignorecase": "stringequalsignorecase",
    "stringnotlike": "stringlike",
    "numericnotequals": "numericequals",
    "datenotequals": "dateequals",
    "arnnotequals": "arnequals",
    "arnnotlike": "arnlike",
}


def known_operator(operator: str) -> bool:
    """True if ``operator`` (any ForAnyValue:/ForAllValues: prefix, IfExists suffix) is known."""
    try:
        _split(operator)
    except UnknownOperator:
        return False
    return True


def _split(operator: str) -> tuple[str, str, bool]:
    """(set prefix, base operator lower-cased, if_exists)."""
    prefix, base = "", operator
    if ":" in operator:
        prefix, base = operator.split(":", 1)
        prefix = prefix.lower()
        if prefix not in ("foranyvalue", "forallvalues"):
            raise UnknownOperator(operator)
    lowered = base.lower()
    if_exists = lowered.endswith("ifexists") and lowered != "ifexists"
    if if_exists:
        lowered = lowered[: -len("ifexists")]
    if lowered == "null":
        if prefix or if_exists:
            raise UnknownOperator(operator)
    elif lowered not in _POSITIVE and lowered not in _NEGATED:
        raise UnknownOperator(operator)
    return prefix, lowered, if_exists


def substitute(value: str, context: Mapping[str, Sequence[str]]) -> str:
    """Replace IAM policy variables (``${SAML:sub}``, ``${*}``...) with single context values.

    An unknown or multi-valued variable stays as written, so it cannot match by accident.
    Wildcard characters that the substitution brings in are marked literal
    (:data:`LITERAL`): ``${*}`` means a literal ``*``, and a subject named ``a*``
    must not match ``abc``. Use :func:`unmark` before an exact comparison.
    """

    def literal(text: str) -> str:
        return re.sub(r"([*?])", LITERAL + r"\1", text)

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in ("*", "?"):
            return literal(name)
        if name == "$":
            return name
        values = context.get(name.lower())
        return literal(values[0]) if values and len(values) == 1 else match.group(0)

    return re.sub(r"\$\{([^}]+)\}", replace, value)


def evaluate(
    operator: str,
    key: str,
    policy_values: Sequence[str],
    context: Mapping[str, Sequence[str]],
) -> bool:
    """Evaluate one operator on one condition key against a request context.

    ``context`` keys are matched case-insensitively. Raises
    :class:`UnknownOperator` for an operator IAM would not accept.
    """
    prefix, base, if_exists = _split(operator)
    lowered = {k.lower(): list(v) for k, v in context.items()}
    actual = lowered.get(key.lower())
    present = bool(actual)
    if base == "null":
        return any((w.lower() == "true") != present for w in policy_values)
    if not present:
        if if_exists or prefix == "forallvalues":
            return True
        if prefix == "foranyvalue":
            return False
        # A plain negated operator is the negation of a positive one that found nothing.
        return base in _NEGATED
    assert actual is not None
    negated = base in _NEGATED
    compare = _POSITIVE[_NEGATED.get(base, base)]
    like = _NEGATED.get(base, base) in ("stringlike", "arnequals", "arnlike")
    wanted = [
        (substitute(w, lowered) if like else unmark(substitute(w, lowered)))
        if base.startswith(("string", "arn"))
        else w
        for w in policy_values
    ]

    def matches(value: str) -> bool:
        return any(compare(value, w) for w in wanted)

    if prefix == "forallvalues":
        return all(matches(v) != negated for v in actual)
    if prefix == "foranyvalue":
        return any(matches(v) != negated for v in actual)
    hit = any(matches(v) for v in actual)
    return hit != negated


def as_values(raw: object) -> tuple[str, ...]:
    """A condition's value(s) as strings: IAM allows a scalar or a list, and bools/numbers."""
    items = raw if isinstance(raw, list | tuple) else [raw]
    out: list[str] = []
    for item in items:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        else:
            out.append(str(item))
    return tuple(out)


__all__ = [
    "ConditionFailure",
    "UnknownOperator",
    "as_values",
    "evaluate",
    "known_operator",
    "parse_date",
    "string_like",
    "substitute",
]
