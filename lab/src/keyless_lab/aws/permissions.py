"""IAM permission evaluation for requests made with the lab's credentials.

moto has an enforcement mode, but it is not sound enough to stand in for IAM
here: it treats a statement whose Condition does not hold as an explicit
*Deny* (so ``PowerUserAccess`` plus a region-guard Deny refuses everything),
compares ``Principal`` ARNs as plain strings (so the ``:root`` principal of
``OrganizationAccountAccessRole`` never matches), and is switched on for the
whole process. The lab evaluates in front of moto instead, as IAM documents it:

- an explicit Deny in any identity policy (or the permissions boundary) wins;
- otherwise some identity policy must Allow, and so must the permissions
  boundary when the principal has one;
- ``sts:AssumeRole`` also needs the target role's trust policy to allow the
  caller (its ARN, its account's ``:root``, its account id, or ``*``).

Conditions are evaluated with the lab's own reading of IAM's condition
operators (:mod:`keyless_lab.aws.conditions`), never with keyless's: the lab is
the oracle the product is tested against. An operator IAM would reject never
grants: it fails an Allow and triggers a Deny.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import unquote

from keyless_lab.aws.conditions import UnknownOperator, conditions_hold, wildcard_match

Context = Mapping[str, Sequence[str]]


class Effect(Enum):
    """What one policy, or a set of them, says about a request."""

    ALLOW = "allow"
    DENY = "deny"  # an explicit Deny
    NONE = "none"  # nothing matched: an implicit deny


@dataclass(frozen=True)
class Decision:
    """The outcome for one request and the policy statement that decided it."""

    allowed: bool
    reason: str  # the phrase AWS puts after "because": "no identity-based policy allows ..."


def parse_document(document: str | Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The statements of a policy document (JSON text, URL-encoded JSON, or a mapping).

    A document that cannot be read yields no statements, which grants nothing.
    """
    parsed: Any = document
    if isinstance(document, str):
        text = document.strip()
        if text.startswith("%7B") or text.startswith("%7b"):
            text = unquote(text)
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            return []
    if not isinstance(parsed, Mapping):
        return []
    statements = parsed.get("Statement")
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list):
        return []
    return [s for s in statements if isinstance(s, Mapping)]


def _list(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    return [str(value)]


def _action_matches(patterns: Iterable[str], action: str) -> bool:
    # Action names are case-insensitive in IAM ("iam:createuser" == "iam:CreateUser").
    lowered = action.lower()
    return any(wildcard_match(lowered, pattern.lower()) for pattern in patterns)


def _resource_matches(patterns: Iterable[str], resource: str, context: Context) -> bool:
    # Resource patterns take policy variables (${aws:username} ...), filled from the context.
    return any(wildcard_match(resource, pattern, context) for pattern in patterns)


def _conditions_hold(statement: Mapping[str, Any], context: Context, *, deny: bool) -> bool:
    block = statement.get("Condition")
    if not block:
        return True
    if not isinstance(block, Mapping):
        return deny
    try:
        return conditions_hold(block, context)
    except (UnknownOperator, ValueError):
        # Fail closed: an unreadable condition never grants, always denies.
        return deny


def statement_matches(
    statement: Mapping[str, Any], *, action: str, resource: str, context: Context
) -> bool:
    """True if ``statement`` covers ``action`` on ``resource`` and its conditions hold."""
    deny = statement.get("Effect") == "Deny"
    if "NotAction" in statement:
        if _action_matches(_list(statement["NotAction"]), action):
            return False
    elif not _action_matches(_list(statement.get("Action")), action):
        return False
    if "NotResource" in statement:
        if _resource_matches(_list(statement["NotResource"]), resource, context):
            return False
    elif not _resource_matches(_list(statement.get("Resource", "*")), resource, context):
        return False
    return _conditions_hold(statement, context, deny=deny)


def policy_effect(
    statements: Iterable[Mapping[str, Any]], *, action: str, resource: str, context: Context
) -> Effect:
    """What a set of statements says: explicit Deny beats Allow beats nothing."""
    allowed = False
    for statement in statements:
        if not statement_matches(statement, action=action, resource=resource, context=context):
            continue
        if statement.get("Effect") == "Deny":
            return Effect.DENY
        if statement.get("Effect") == "Allow":
            allowed = True
    return Effect.ALLOW if allowed else Effect.NONE


def decide(
    identity_policies: Sequence[Sequence[Mapping[str, Any]]],
    *,
    boundary: Sequence[Mapping[str, Any]] | None,
    action: str,
    resource: str,
    context: Context,
) -> Decision:
    """IAM's decision for an identity with ``identity_policies`` (each a statement list)."""
    identity = Effect.NONE
    for statements in identity_policies:
        effect = policy_effect(statements, action=action, resource=resource, context=context)
        if effect is Effect.DENY:
            return Decision(False, "with an explicit deny in an identity-based policy")
        if effect is Effect.ALLOW:
            identity = Effect.ALLOW
    if boundary is not None:
        effect = policy_effect(boundary, action=action, resource=resource, context=context)
        if effect is Effect.DENY:
            return Decision(False, "with an explicit deny in a permissions boundary")
        if effect is not Effect.ALLOW:
            return Decision(False, f"no permissions boundary allows the {action} action")
    if identity is not Effect.ALLOW:
        return Decision(False, f"no identity-based policy allows the {action} action")
    return Decision(True, "allowed")


def _principal_listed(listed: object, candidates: set[str], kind: str) -> bool:
    # "Principal": "*" and {"AWS": "*"} both mean everyone, federated users included
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html,
    # "All principals").
    if listed == "*":
        return True
    if not isinstance(listed, Mapping):
        return False
    if "*" in _list(listed.get("AWS")):
        return True
    return any(value == "*" or value in candidates for value in _list(listed.get(kind)))


def trust_allows(
    trust_policy: str | Mapping[str, Any],
    *,
    caller_candidates: set[str],
    action: str,
    resource: str,
    context: Context,
    principal_type: str = "AWS",
) -> bool:
    """True if a role's trust policy lets a caller named by any of ``caller_candidates`` act.

    ``caller_candidates`` holds the forms IAM matches an AWS principal by: the
    caller's ARN (for a role session, the role's ARN and the session ARN),
    ``arn:aws:iam::<account>:root`` and the bare account id. For
    ``AssumeRoleWithSAML`` the principal is ``Federated``: the SAML provider's ARN.
    """
    allowed = False
    for statement in parse_document(trust_policy):
        if "NotPrincipal" in statement:
            if _principal_listed(statement["NotPrincipal"], caller_candidates, principal_type):
                continue
        elif not _principal_listed(statement.get("Principal"), caller_candidates, principal_type):
            continue
        # Trust policies have no Resource: the role itself is the resource.
        bare = {k: v for k, v in statement.items() if k not in ("Resource", "NotResource")}
        if not statement_matches(bare, action=action, resource=resource, context=context):
            continue
        if statement.get("Effect") == "Deny":
            return False
        if statement.get("Effect") == "Allow":
            allowed = True
    return allowed
