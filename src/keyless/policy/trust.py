"""Evaluate a role's trust policy for an ``AssumeRoleWithSAML`` request.

IAM's rule: an explicit Deny in any matching statement wins; otherwise an
Allow in a matching statement allows; otherwise the request is implicitly
denied. A statement matches when its Principal (or NotPrincipal), Action (or
NotAction) and every Condition hold. The decision names the statement that
decided and, when nothing allowed, every condition that failed and why.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from keyless.errors import InputError
from keyless.policy.conditions import (
    ConditionFailure,
    UnknownOperator,
    as_values,
    evaluate,
    string_like,
)

_FIX = "write the trust policy as IAM JSON: {'Version': '2012-10-17', 'Statement': [...]}"


@dataclass(frozen=True)
class TrustDecision:
    """Whether the trust policy lets the principal take the action, and why."""

    allowed: bool
    statement: str | None  # Sid or "Statement[i]" that decided
    explanation: str  # names the condition key and values that failed
    failures: tuple[ConditionFailure, ...] = ()  # conditions that kept an Allow from matching


def load_policy(policy: Mapping[str, Any] | str) -> list[Mapping[str, Any]]:
    """The statements of a policy document given as JSON text or a mapping.

    Raises :class:`keyless.errors.InputError` when it is not a policy document.
    """
    document: Any = policy
    if isinstance(policy, str):
        try:
            document = json.loads(policy)
        except json.JSONDecodeError as exc:
            raise InputError(f"the trust policy is not JSON: {exc}", fix=_FIX) from exc
    if not isinstance(document, Mapping):
        raise InputError("the trust policy is not a JSON object", fix=_FIX)
    statements = document.get("Statement")
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise InputError("the trust policy has no Statement", fix=_FIX)
    for index, statement in enumerate(statements):
        if not isinstance(statement, Mapping):
            raise InputError(f"the trust policy's Statement[{index}] is not an object", fix=_FIX)
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise InputError(
                f"the trust policy's Statement[{index}] has Effect "
                f"{statement.get('Effect')!r}, not Allow or Deny",
                fix=_FIX,
            )
    return list(statements)


def evaluate_trust_policy(
    policy: Mapping[str, Any] | str,
    *,
    principal_arn: str,
    action: str,
    context: Mapping[str, Sequence[str]],
) -> TrustDecision:
    """Decide whether ``policy`` lets the federated ``principal_arn`` perform ``action``.

    ``context`` maps condition keys (``SAML:aud``, ``SAML:sub`` ...) to their
    values in the request. Raises :class:`keyless.errors.InputError` for a
    document that is not a policy or uses an operator IAM does not know.
    """
    statements = load_policy(policy)
    allowed_by: str | None = None
    failures: list[ConditionFailure] = []
    near_misses: list[str] = []
    for index, statement in enumerate(statements):
        name = str(statement.get("Sid") or f"Statement[{index}]")
        principal_ok, why_principal = _principal_matches(statement, principal_arn)
        action_ok = _action_matches(statement, action)
        if not principal_ok or not action_ok:
            if statement["Effect"] == "Allow":
                near_misses.append(
                    f"{name} " + (why_principal if not principal_ok else f"does not cover {action}")
                )
            continue
        failed = _conditions(statement, name, context)
        if statement["Effect"] == "Deny":
            if not failed:
                return TrustDecision(
                    allowed=False,
                    statement=name,
                    explanation=f"explicit Deny in {name} matches {principal_arn} for {action}",
                )
            continue
        if failed:
            failures.extend(failed)
        elif allowed_by is None:
            allowed_by = name
    if allowed_by is not None:
        return TrustDecision(
            allowed=True,
            statement=allowed_by,
            explanation=f"{allowed_by} allows {principal_arn} to perform {action}",
        )
    if failures:
        explanation = "; ".join(f.describe() for f in failures)
        return TrustDecision(
            allowed=False,
            statement=failures[0].statement,
            explanation=explanation,
            failures=tuple(failures),
        )
    detail = "; ".join(near_misses) or "no Allow statement"
    return TrustDecision(
        allowed=False,
        statement=None,
        explanation=f"no statement allows {principal_arn} to perform {action} ({detail})",
    )


def _principal_matches(statement: Mapping[str, Any], principal_arn: str) -> tuple[bool, str]:
    if "NotPrincipal" in statement:
        listed = _federated(statement["NotPrincipal"])
        if "*" in listed or principal_arn in listed:
            return False, f"excludes {principal_arn} with NotPrincipal"
        return True, ""
    listed = _federated(statement.get("Principal"))
    if "*" in listed or principal_arn in listed:
        return True, ""
    shown = ", ".join(sorted(listed)) or "no federated principal"
    return False, f"trusts {shown}, not {principal_arn}"


def _federated(principal: Any) -> set[str]:
    if principal == "*":
        return {"*"}
    if not isinstance(principal, Mapping):
        return set()
    values = set(as_values(principal.get("Federated", [])))
    # {"AWS": "*"} is the documented spelling of "anyone", federated users included.
    if "*" in as_values(principal.get("AWS", [])):
        values.add("*")
    return values


def _action_matches(statement: Mapping[str, Any], action: str) -> bool:
    def covered(patterns: Any) -> bool:
        # Action names are case-insensitive in IAM.
        return any(string_like(action.lower(), p.lower()) for p in as_values(patterns))

    if "NotAction" in statement:
        return not covered(statement["NotAction"])
    return covered(statement.get("Action", []))


def _conditions(
    statement: Mapping[str, Any], name: str, context: Mapping[str, Sequence[str]]
) -> list[ConditionFailure]:
    block = statement.get("Condition") or {}
    if not isinstance(block, Mapping):
        raise InputError(
            f"the trust policy's {name} has a Condition that is not an object", fix=_FIX
        )
    lowered = {k.lower(): tuple(v) for k, v in context.items()}
    failed: list[ConditionFailure] = []
    for operator, keys in block.items():
        if not isinstance(keys, Mapping):
            raise InputError(
                f"the trust policy's {name} condition {operator} is not an object", fix=_FIX
            )
        for key, raw in keys.items():
            expected = as_values(raw)
            try:
                holds = evaluate(operator, key, expected, context)
            except UnknownOperator as exc:
                raise InputError(
                    f"the trust policy's {name} uses the condition operator {operator!r}, "
                    "which IAM does not know",
                    fix="use an IAM condition operator such as StringEquals or StringLike",
                ) from exc
            if not holds:
                failed.append(
                    ConditionFailure(
                        statement=name,
                        operator=operator,
                        key=key,
                        expected=expected,
                        actual=lowered.get(key.lower(), ()),
                    )
                )
    return failed
