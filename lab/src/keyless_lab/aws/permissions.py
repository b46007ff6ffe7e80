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

:func:`evaluate` is the whole of it, as the IAM User Guide's "Policy evaluation
logic" pages give it, all under https://docs.aws.amazon.com/IAM/latest/UserGuide/:
[EVAL] reference_policies_evaluation-logic_policy-eval-denyallow.html,
[SAME] reference_policies_evaluation-logic_policy-eval-basics.html,
[CROSS] reference_policies_evaluation-logic-cross-account.html.

1. an explicit Deny in any applicable policy (identity, resource, permissions
   boundary, session, organization) decides;
2. organization policies (SCPs): a hook, :data:`OrganizationPolicies`, that
   :mod:`keyless_lab.aws.enforce` fills for member accounts; by default none applies;
3. a resource-based policy (an S3 bucket policy, a role's trust policy): within
   one account an Allow naming the user or the role *session* decides; one naming
   the *role* still needs the boundary and the session policy; one naming only
   the account delegates to identity policies [SAME]. Across accounts both sides
   must allow [CROSS]. A role's trust policy must always allow ``sts:AssumeRole``;
4. identity-based policies, then the permissions boundary, then the session
   policies (inline and managed, one set): each must allow, so a session's
   permissions are the intersection [EVAL].

Conditions are evaluated with the lab's own reading of IAM's condition
operators (:mod:`keyless_lab.aws.conditions`), never with keyless's: the lab is
the oracle the product is tested against. An operator IAM would reject never
grants: it fails an Allow and triggers a Deny.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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


# -- the whole evaluation ---------------------------------------------------------------

Statements = Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class Principal:
    """Who asks, with every policy that applies to them.

    ``arn`` is the user's ARN or the role *session*'s
    (``arn:aws:sts::<account>:assumed-role/<role>/<session>``); ``role_arn`` the
    session's role. ``session_policies`` is None unless the session was issued
    with a session policy (inline ``Policy`` or managed ``PolicyArns``).
    """

    arn: str
    account_id: str
    identity_policies: Sequence[Statements]
    role_arn: str | None = None
    boundary: Statements | None = None
    session_policies: Sequence[Statements] | None = None


@dataclass(frozen=True)
class ResourcePolicy:
    """A resource-based policy and the account that owns the resource.

    ``required`` marks a role's trust policy: it must allow whatever the identity
    policies say (IAM User Guide, "Roles terms and concepts": "trust policy ... the
    principals that you trust to assume the role").
    """

    statements: Statements
    account_id: str
    required: bool = False


@dataclass(frozen=True)
class Query:
    """One action on one resource, with the request context AWS builds for it."""

    action: str
    resource: str
    resource_account: str
    context: Context = field(default_factory=dict)
    resource_policy: ResourcePolicy | None = None


# The organization-policies step of [EVAL]: SCPs of the principal's account, RCPs of
# the resource's. ALLOW when none applies or they allow, NONE when some apply and
# none allows (an implicit deny), DENY for an explicit Deny.
OrganizationPolicies = Callable[[Principal, Query], Effect]


def no_organization_policies(principal: Principal, query: Query) -> Effect:
    """The default: an account outside any organization (or its management account)."""
    return Effect.ALLOW


class _Reach(Enum):
    """How a resource-based policy names the caller [SAME]."""

    DIRECT = 3  # the user, the role session, or everyone ("*")
    ROLE = 2  # the session's role: the boundary and session policy still apply
    ACCOUNT = 1  # the account: identity policies must allow too


def _reach(listed: object, principal: Principal) -> _Reach | None:
    if listed == "*":
        return _Reach.DIRECT
    if not isinstance(listed, Mapping):
        return None
    best: _Reach | None = None
    root = f":iam::{principal.account_id}:root"
    for value in _list(listed.get("AWS")):
        if value == "*" or value == principal.arn:
            return _Reach.DIRECT
        if principal.role_arn is not None and value == principal.role_arn:
            best = _Reach.ROLE
        elif (value == principal.account_id or value.endswith(root)) and best is None:
            best = _Reach.ACCOUNT
    return best


def resource_policy_effect(
    statements: Statements, principal: Principal, query: Query
) -> tuple[Effect, _Reach | None]:
    """What a resource-based policy says to ``principal``, and how it names them."""
    allowed: _Reach | None = None
    for statement in statements:
        if "NotPrincipal" in statement:
            # NotPrincipal names everyone *except* those listed.
            reach = None if _reach(statement["NotPrincipal"], principal) else _Reach.DIRECT
        else:
            reach = _reach(statement.get("Principal"), principal)
        if reach is None:
            continue
        if not statement_matches(
            statement, action=query.action, resource=query.resource, context=query.context
        ):
            continue
        if statement.get("Effect") == "Deny":
            return Effect.DENY, reach
        if statement.get("Effect") == "Allow" and (allowed is None or reach.value > allowed.value):
            allowed = reach
    return (Effect.ALLOW, allowed) if allowed is not None else (Effect.NONE, None)


def _union(policies: Iterable[Statements], query: Query) -> Effect:
    result = Effect.NONE
    for statements in policies:
        effect = policy_effect(
            statements, action=query.action, resource=query.resource, context=query.context
        )
        if effect is Effect.DENY:
            return Effect.DENY
        if effect is Effect.ALLOW:
            result = Effect.ALLOW
    return result


def evaluate(
    principal: Principal,
    query: Query,
    *,
    organization_policies: OrganizationPolicies = no_organization_policies,
) -> Decision:
    """IAM's decision on ``query`` for ``principal``, in the order of [EVAL]'s flowchart."""
    action = query.action
    identity = _union(principal.identity_policies, query)
    boundary = (
        _union([principal.boundary], query) if principal.boundary is not None else Effect.ALLOW
    )
    session = (
        _union(principal.session_policies, query)
        if principal.session_policies is not None
        else Effect.ALLOW
    )
    resource, reach = (
        resource_policy_effect(query.resource_policy.statements, principal, query)
        if query.resource_policy is not None
        else (Effect.NONE, None)
    )
    organization = organization_policies(principal, query)
    # 1. Deny evaluation: an explicit Deny anywhere decides.
    for effect, where in (
        (organization, "a service control policy"),
        (resource, "a resource-based policy"),
        (identity, "an identity-based policy"),
        (boundary, "a permissions boundary"),
        (session, "a session policy"),
    ):
        if effect is Effect.DENY:
            return Decision(False, f"with an explicit deny in {where}")
    # 2. Organization policies.
    if organization is not Effect.ALLOW:
        return Decision(False, f"no service control policy allows the {action} action")
    cross_account = query.resource_account != principal.account_id
    required = query.resource_policy is not None and query.resource_policy.required
    if resource is not Effect.ALLOW and (cross_account or required):
        return Decision(False, f"no resource-based policy allows the {action} action")
    # 3. Resource-based policy within one account [SAME].
    if not cross_account and reach is _Reach.DIRECT:
        return Decision(True, "allowed by a resource-based policy")
    if not cross_account and reach is _Reach.ROLE:
        identity = Effect.ALLOW  # the role ARN stands in for its identity policies
    # 4. Identity-based policies, permissions boundary, session policies.
    if identity is not Effect.ALLOW:
        return Decision(False, f"no identity-based policy allows the {action} action")
    if boundary is not Effect.ALLOW:
        return Decision(False, f"no permissions boundary allows the {action} action")
    if session is not Effect.ALLOW:
        return Decision(False, f"no session policy allows the {action} action")
    return Decision(True, "allowed")
