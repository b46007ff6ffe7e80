"""IAM's condition operators and policy variables, as the IAM JSON policy reference states them.

Written for the lab from AWS's documentation, not from keyless's code, so that
a misreading in the product shows up as a disagreement with the lab instead of
being repeated by it. Sources, cited beside the rules below:

- [OPS] IAM JSON policy elements: Condition operators
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
- [LOGIC] Creating a condition with multiple keys or values
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html
- [SETS] Single-valued vs. multivalued context keys (ForAllValues / ForAnyValue)
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
- [VARS] IAM policy elements: Variables and tags
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html

A request context maps condition keys to their values (a list: SAML and tag
keys can carry several). Keys are looked up without regard to case [LOGIC:
"Condition key names are not case-sensitive"]; values compare case-sensitively
unless the operator's name says ``IgnoreCase`` [OPS].

An operator IAM does not know raises :class:`UnknownOperator`; the caller
decides how that fails (the lab fails closed: it never grants, always denies).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

Context = Mapping[str, Sequence[str]]


class UnknownOperator(ValueError):
    """A condition operator (or qualifier) that IAM does not define."""


# -- values -------------------------------------------------------------------------------


def policy_values(raw: object) -> list[str]:
    """A condition's values as strings: one value or a list; JSON true/false/numbers too.

    IAM accepts ``"aws:SecureTransport": false`` as well as ``"false"`` [OPS, Boolean].
    """
    items = raw if isinstance(raw, list | tuple) else [raw]
    values: list[str] = []
    for item in items:
        if isinstance(item, bool):
            values.append("true" if item else "false")
        elif item is not None:
            values.append(str(item))
    return values


def _lookup(context: Context, key: str) -> list[str] | None:
    wanted = key.lower()
    for name, values in context.items():
        if name.lower() == wanted:
            return list(values)
    return None


# -- policy variables [VARS] ---------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """Text after policy-variable substitution, in pieces.

    ``pieces`` alternate what the author wrote (where ``*`` and ``?`` are
    wildcards in a ``Like`` comparison) and what came from the request (always
    literal: a session tag holding ``*`` must not widen the policy). [VARS: the
    special variables ``${*}``, ``${?}`` and ``${$}`` exist to write those
    characters literally.]
    """

    pieces: tuple[tuple[str, bool], ...]  # (text, written_by_the_author)

    def literal(self) -> str:
        """The whole text as one string (for exact comparisons)."""
        return "".join(text for text, _ in self.pieces)

    def regex(self, *, ignore_case: bool = False) -> re.Pattern[str]:
        """A regex for a ``Like`` comparison: ``*`` any run, ``?`` one character."""
        out: list[str] = []
        for text, authored in self.pieces:
            if not authored:
                out.append(re.escape(text))
                continue
            for char in text:
                out.append(".*" if char == "*" else "." if char == "?" else re.escape(char))
        return re.compile("".join(out), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_SPECIAL = {"*": "*", "?": "?", "$": "$"}
# ${key, 'default'}: a default used when the key is absent [VARS, "Specifying default values"].
_WITH_DEFAULT = re.compile(r"^\s*([^,\s]+)\s*,\s*'([^']*)'\s*$")


def expand(template: str, context: Context) -> Text | None:
    """``template`` with its ``${...}`` variables replaced from ``context``.

    None when a variable names a key the request does not have and gives no
    default: [VARS] "If the key ... is not present in the request context, the
    policy element that uses it doesn't match" (a statement is then not
    applicable, whether it allows or denies). A key with several values cannot
    stand in a string either, and is treated the same way.
    """
    pieces: list[tuple[str, bool]] = []
    position = 0
    for found in _VARIABLE.finditer(template):
        pieces.append((template[position : found.start()], True))
        position = found.end()
        body = found.group(1)
        if body in _SPECIAL:
            pieces.append((_SPECIAL[body], False))
            continue
        default: str | None = None
        with_default = _WITH_DEFAULT.match(body)
        key = body.strip()
        if with_default:
            key, default = with_default.group(1), with_default.group(2)
        values = _lookup(context, key)
        if values is not None and len(values) == 1:
            pieces.append((values[0], False))
        elif default is not None:
            pieces.append((default, False))
        else:
            return None
    pieces.append((template[position:], True))
    return Text(tuple((text, authored) for text, authored in pieces if text))


def wildcard_match(value: str, pattern: str, context: Context | None = None) -> bool:
    """``value`` against an IAM wildcard ``pattern`` (``*``, ``?``) after variable substitution.

    Used for Action and Resource as well as ``StringLike``; nothing matches a
    pattern whose variable cannot be filled.
    """
    text = expand(pattern, context or {}) if "${" in pattern else Text(((pattern, True),))
    return text is not None and text.regex().fullmatch(value) is not None


# -- comparisons: one context value against one policy value -------------------------------

# Each returns True/False, or None when the policy value cannot be read as the
# operator's type (a number that is not one, an address that is not one): such a
# pair never matches, and so counts as "not matched" for a negated operator.
Compare = Callable[[str, str, Context], bool | None]


def _string(*, like: bool, ignore_case: bool = False) -> Compare:
    def compare(actual: str, wanted: str, context: Context) -> bool | None:
        text = expand(wanted, context)
        if text is None:
            return None
        if like:
            return text.regex(ignore_case=ignore_case).fullmatch(actual) is not None
        if ignore_case:
            return actual.casefold() == text.literal().casefold()
        return actual == text.literal()

    return compare


def _decimal(text: str) -> Decimal | None:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _numeric(test: Callable[[Decimal, Decimal], bool]) -> Compare:
    # [OPS, Numeric]: policy variables are not supported, so values are read as written.
    def compare(actual: str, wanted: str, context: Context) -> bool | None:
        a, w = _decimal(actual), _decimal(wanted)
        if a is None or w is None:
            return None
        return test(a, w)

    return compare


def parse_date(text: str) -> datetime | None:
    """An ISO 8601 date/time or a count of epoch seconds [OPS, Date: "You can use ISO 8601
    formats or epoch (UNIX) time"]; a date without a zone is UTC."""
    text = text.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        try:
            return datetime.fromtimestamp(float(text), tz=UTC)
        except (OverflowError, ValueError, OSError):
            return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _dated(test: Callable[[datetime, datetime], bool]) -> Compare:
    def compare(actual: str, wanted: str, context: Context) -> bool | None:
        a, w = parse_date(actual), parse_date(wanted)
        if a is None or w is None:
            return None
        return test(a, w)

    return compare


def _bool(actual: str, wanted: str, context: Context) -> bool | None:
    # [OPS, Boolean]: "true"/"false", compared without regard to case; variables allowed.
    text = expand(wanted, context)
    if text is None:
        return None
    return actual.lower() == text.literal().lower()


def _binary(actual: str, wanted: str, context: Context) -> bool | None:
    # [OPS, Binary]: the policy holds base64; the comparison is of the bytes.
    try:
        return base64.b64decode(actual, validate=True) == base64.b64decode(wanted, validate=True)
    except (binascii.Error, ValueError):
        return None


def _ip(actual: str, wanted: str, context: Context) -> bool | None:
    # [OPS, IP address]: "a specific IP address or range ... in RFC 4632 format";
    # a single address is its own /32 (or /128).
    try:
        address = ipaddress.ip_address(actual.strip())
        network = ipaddress.ip_network(wanted.strip(), strict=False)
    except ValueError:
        return None
    return address.version == network.version and address in network


def _arn_compare(actual: str, wanted: str, context: Context) -> bool | None:
    # [OPS, ARN]: "Each of the six colon-delimited components of the ARN is checked
    # separately and each can include multi-character match wildcards (*) or
    # single-character match wildcards (?)" (ArnEquals and ArnLike alike). The sixth,
    # the resource, may itself hold colons, so both sides split at the first five.
    text = expand(wanted, context)
    if text is None:
        return None
    have = actual.split(":", 5)
    if len(have) != 6:
        return None
    # Split the substituted pattern into six components, keeping which characters
    # the author wrote, then match each component with its own regex.
    components: list[list[tuple[str, bool]]] = [[]]
    for piece, authored in text.pieces:
        if not authored:
            components[-1].append((piece, False))
            continue
        parts = piece.split(":")
        for index, part in enumerate(parts):
            if index and len(components) < 6:
                components.append([])
            elif index:
                components[-1].append((":", True))
            components[-1].append((part, True))
    if len(components) != 6:
        return None
    return all(
        Text(tuple(p for p in component if p[0])).regex().fullmatch(value) is not None
        for value, component in zip(have, components, strict=True)
    )


_BASE: dict[str, tuple[Compare, bool]] = {
    # name: (comparison, negated) [OPS, one table per type]
    "stringequals": (_string(like=False), False),
    "stringnotequals": (_string(like=False), True),
    "stringequalsignorecase": (_string(like=False, ignore_case=True), False),
    "stringnotequalsignorecase": (_string(like=False, ignore_case=True), True),
    "stringlike": (_string(like=True), False),
    "stringnotlike": (_string(like=True), True),
    "numericequals": (_numeric(lambda a, w: a == w), False),
    "numericnotequals": (_numeric(lambda a, w: a == w), True),
    "numericlessthan": (_numeric(lambda a, w: a < w), False),
    "numericlessthanequals": (_numeric(lambda a, w: a <= w), False),
    "numericgreaterthan": (_numeric(lambda a, w: a > w), False),
    "numericgreaterthanequals": (_numeric(lambda a, w: a >= w), False),
    "dateequals": (_dated(lambda a, w: a == w), False),
    "datenotequals": (_dated(lambda a, w: a == w), True),
    "datelessthan": (_dated(lambda a, w: a < w), False),
    "datelessthanequals": (_dated(lambda a, w: a <= w), False),
    "dategreaterthan": (_dated(lambda a, w: a > w), False),
    "dategreaterthanequals": (_dated(lambda a, w: a >= w), False),
    "bool": (_bool, False),
    "binaryequals": (_binary, False),
    "ipaddress": (_ip, False),
    "notipaddress": (_ip, True),
    "arnequals": (_arn_compare, False),
    "arnlike": (_arn_compare, False),
    "arnnotequals": (_arn_compare, True),
    "arnnotlike": (_arn_compare, True),
}


@dataclass(frozen=True)
class Operator:
    """A condition operator read into its parts: ``ForAnyValue:StringLikeIfExists``."""

    compare: Compare
    negated: bool
    if_exists: bool
    qualifier: str | None  # "forallvalues" | "foranyvalue" | None
    null_check: bool = False

    @classmethod
    def read(cls, name: str) -> Operator:
        """Parse an operator name; :class:`UnknownOperator` if IAM has no such operator."""
        qualifier: str | None = None
        base = name.strip()
        if ":" in base:
            prefix, base = base.split(":", 1)
            qualifier = prefix.lower()
            if qualifier not in ("forallvalues", "foranyvalue"):
                raise UnknownOperator(name)
        lowered = base.lower()
        if lowered == "null":
            # [OPS, Null]: no ...IfExists form, no set qualifier.
            if qualifier is not None:
                raise UnknownOperator(name)
            return cls(_bool, False, False, None, null_check=True)
        if_exists = lowered.endswith("ifexists")
        if if_exists:
            lowered = lowered[: -len("ifexists")]
        found = _BASE.get(lowered)
        if found is None:
            raise UnknownOperator(name)
        compare, negated = found
        return cls(compare, negated, if_exists, qualifier)


def _value_matches(
    operator: Operator, actual: str, wanted: Sequence[str], context: Context
) -> bool:
    """One context value against the policy's values: OR over them [LOGIC], then negation.

    For a negated operator the value passes when it matches *none* of the policy's
    values [OPS: "StringNotEquals: Negated matching"; LOGIC: with several values a
    negated operator is NOR].
    """
    hit = any(operator.compare(actual, value, context) is True for value in wanted)
    return not hit if operator.negated else hit


def condition_holds(name: str, key: str, raw_values: object, context: Context) -> bool:
    """Does one ``"Operator": {"key": values}`` entry hold for ``context``?

    Raises :class:`UnknownOperator` for an operator IAM does not define.
    """
    operator = Operator.read(name)
    wanted = policy_values(raw_values)
    present = _lookup(context, key)
    if operator.null_check:
        # [OPS, Null]: "true" means the key must be absent, "false" that it must be present.
        absent = not present
        return any((value.lower() == "true") == absent for value in wanted)
    if not present:
        # [OPS, Important]: an absent key matches nothing, so the condition is false,
        # except where it asks for the key not to match (negated operators): true.
        # [OPS, ...IfExists]: "If the policy key is not present ... the condition is true".
        # [SETS]: ForAllValues returns true when the key is absent or empty;
        # ForAnyValue returns false.
        if operator.if_exists:
            return True
        if operator.qualifier == "forallvalues":
            return True
        if operator.qualifier == "foranyvalue":
            return False
        return operator.negated
    results = [_value_matches(operator, value, wanted, context) for value in present]
    if operator.qualifier == "forallvalues":
        # [SETS]: every value in the request must satisfy the condition.
        return all(results)
    if operator.qualifier == "foranyvalue":
        # [SETS]: at least one value in the request must satisfy the condition.
        return any(results)
    if operator.negated:
        # Without a qualifier, a negated operator holds when no request value matches.
        return all(results)
    return any(results)


def conditions_hold(block: Mapping[str, object], context: Context) -> bool:
    """A whole ``Condition`` block: AND over operators and over each operator's keys [LOGIC].

    Raises :class:`UnknownOperator`, or :class:`ValueError` for a block that is
    not operator -> {key: values}.
    """
    for name, entries in block.items():
        if not isinstance(entries, Mapping):
            raise ValueError(f"condition {name!r} is not an object")
        for key, raw in entries.items():
            if not condition_holds(str(name), str(key), raw, context):
                return False
    return True


__all__ = [
    "Context",
    "Operator",
    "Text",
    "UnknownOperator",
    "condition_holds",
    "conditions_hold",
    "expand",
    "parse_date",
    "policy_values",
    "wildcard_match",
]
