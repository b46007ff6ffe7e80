"""Stage 6: what the AssumeRoleWithSAML request asks against what the assertion allows.

The role and provider pair, the duration against the role's limit, and the
role's trust policy evaluated on the assertion's SAML context.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from keyless.core.aws import MAX_SESSION_SECONDS
from keyless.policy.trust import TrustDecision, evaluate_trust_policy
from keyless.saml.model import ARN_RE, Reason, RolePair, VerifiedAssertion, make_reason


def check_role(
    assertion: VerifiedAssertion,
    role_arn: str | None,
    principal_arn: str | None,
    reasons: list[Reason],
) -> RolePair | None:
    if role_arn is None:
        return None
    listing = "; ".join(f"{p.role_arn} via {p.principal_arn}" for p in assertion.roles) or "none"
    fix = (
        "pass --role-arn and --principal-arn as a pair the assertion lists, or assign the "
        "role to the user in the IdP's AWS app"
    )
    role_kind = ARN_RE.match(role_arn)
    principal_kind = ARN_RE.match(principal_arn) if principal_arn else None
    if (
        role_kind
        and role_kind["kind"] == "saml-provider"
        and (principal_kind is None or principal_kind["kind"] == "role")
    ):
        reasons.append(
            make_reason(
                "role_not_in_assertion",
                f"the role ARN and the provider ARN are the wrong way round: the role ARN "
                f"given is {role_arn}, a SAML provider, and the principal ARN is "
                f"{principal_arn}",
                "swap them: RoleArn is arn:...:role/..., PrincipalArn is arn:...:saml-provider/...",
            )
        )
        return None
    for pair in assertion.roles:
        if pair.role_arn == role_arn and principal_arn in (None, pair.principal_arn):
            return pair
    same_role = [p for p in assertion.roles if p.role_arn == role_arn]
    if same_role:
        message = (
            f"the assertion pairs role {role_arn} with provider {same_role[0].principal_arn}, "
            f"not with {principal_arn}"
        )
    else:
        message = f"the role {role_arn} is not among the assertion's roles ({listing})"
    reasons.append(make_reason("role_not_in_assertion", message, fix))
    return None


def check_duration(
    duration_seconds: int | None, role_max: int | None, reasons: list[Reason]
) -> None:
    if duration_seconds is None or role_max is None:
        return
    if duration_seconds > role_max:
        reasons.append(
            make_reason(
                "duration_exceeds_max",
                f"DurationSeconds {duration_seconds} exceeds the role's MaxSessionDuration "
                f"{role_max}",
                f"ask for at most {role_max} seconds, or raise the role's MaxSessionDuration "
                f"(up to {MAX_SESSION_SECONDS}) in the federation spec and apply it",
            )
        )


def check_trust(
    assertion: VerifiedAssertion,
    trust_policy: Mapping[str, Any],
    principal_arn: str,
    pair: RolePair | None,
    reasons: list[Reason],
) -> None:
    context = assertion.saml_context(principal_arn or None)
    actions = ["sts:AssumeRoleWithSAML"]
    if assertion.principal_tags or assertion.transitive_tag_keys:
        actions.append("sts:TagSession")
    if assertion.source_identity is not None:
        actions.append("sts:SetSourceIdentity")
    role = pair.role_arn if pair else "the role"
    for action in actions:
        decision = evaluate_trust_policy(
            trust_policy, principal_arn=principal_arn, action=action, context=context
        )
        if not decision.allowed:
            reasons.append(trust_reason(decision, action=action, role=role, context=context))


def trust_reason(
    decision: TrustDecision, *, action: str, role: str, context: Mapping[str, Sequence[str]]
) -> Reason:
    """A ``trust_policy_denied`` reason that names the mismatched values and both fixes."""
    for failure in decision.failures:
        if failure.key.lower() == "saml:aud" and not failure.operator.lower().startswith("null"):
            recipient = ", ".join(failure.actual) or "(none)"
            wanted = ", ".join(failure.expected)
            return make_reason(
                "trust_policy_denied",
                f"the trust policy's audience does not match the Recipient: {role}'s trust "
                f"policy ({failure.statement}) requires SAML:aud {failure.operator} {wanted}, "
                f"but the assertion's Recipient (which AWS uses as SAML:aud) is {recipient}",
                f"either change the trust policy's SAML:aud condition to {recipient} (or list "
                f"both URLs), or set the IdP's Recipient / ACS URL for the AWS app to {wanted} "
                "so the assertion carries it",
            )
    return make_reason(
        "trust_policy_denied",
        f"{role}'s trust policy does not allow {action}: {decision.explanation}",
        "edit the role's trust policy (in the federation spec) so a statement allows "
        f"{action} for this provider and these SAML values, or remove the Deny that matches",
    )
