"""Which AWS roles the lab's AWS Account Federation app puts in a user's assertion,
computed from the app's settings and group assignments as stored through the
management API (:mod:`keyless_lab.idp.appstate`), the way Okta's app does:

- *role assignments*: each app group assignment's ``profile.samlRoles`` names
  roles as ``[<account alias>] -- <role>`` (several accounts) or ``<role>``
  (every federated account holding it). A role is sent with the account's
  provider ARN from ``identityProviderArn``; an account not listed there is not
  federated, so its roles are not sent. ``joinAllRoles`` false: only the
  highest-priority assignment's roles count; true: all of them.
- *group mapping* (``useGroupMapping``): each of the user's groups whose name
  matches ``groupFilter`` (Okta's ``(?{{accountid}}...)``/``(?{{role}}...)``
  captures) gives ``roleValuePattern`` with ``${accountid}`` and ``${role}``
  filled in.

Okta's admin documentation presents the two as alternative set-ups; the lab
sends the union when both are configured, as a spec may use both.

A user the app is not assigned to (no assigned group) gets no roles. A wrong
``identityProviderArn`` produces a Role attribute naming a provider AWS does
not have, and STS refuses it, as with Okta.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from keyless.saml.model import RolePair
from keyless.spec.model import FederationSpec

_ROLE_IN_ACCOUNT = re.compile(r"^\[(?P<account>[^\]]+)\] -- (?P<role>.+)$")


def python_group_filter(okta_filter: str) -> re.Pattern[str] | None:
    """Okta's ``groupFilter`` as a Python regex (None when it does not compile)."""
    translated = okta_filter.replace("(?{{accountid}}", "(?P<accountid>").replace(
        "(?{{role}}", "(?P<role>"
    )
    try:
        return re.compile(translated)
    except re.error:
        return None


def _role_arn(spec: FederationSpec, account_id: str, partition: str, name: str) -> str:
    role = spec.role(name)
    path = role.path if role is not None else "/"
    return f"arn:{partition}:iam::{account_id}:role{path}{name}"


def _providers(settings: Mapping[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for arn in str(settings.get("identityProviderArn") or "").split(","):
        parts = arn.strip().split(":")
        if len(parts) == 6 and parts[5].startswith("saml-provider/"):
            found.setdefault(parts[4], arn.strip())
    return found


def _from_role_values(
    spec: FederationSpec, providers: Mapping[str, str], values: Sequence[str]
) -> list[RolePair]:
    pairs: list[RolePair] = []
    for value in values:
        match = _ROLE_IN_ACCOUNT.match(value)
        if match:
            name = match.group("role")
            account = spec.account(match.group("account"))
            accounts = [account] if account is not None else []
        else:
            name = value
            role = spec.role(name)
            accounts = [a for a in spec.accounts if role is None or spec.role_in_account(role, a)]
        for account in accounts:
            provider = providers.get(account.id)
            if provider is None:
                continue
            pairs.append(
                RolePair(
                    role_arn=_role_arn(spec, account.id, account.partition, name),
                    principal_arn=provider,
                )
            )
    return pairs


def _from_group_mapping(settings: Mapping[str, Any], group_names: Sequence[str]) -> list[RolePair]:
    regex = python_group_filter(str(settings.get("groupFilter") or ""))
    pattern = str(settings.get("roleValuePattern") or "")
    if regex is None or not pattern:
        return []
    pairs: list[RolePair] = []
    for name in group_names:
        match = regex.match(name)
        if match is None:
            continue
        found = match.groupdict()
        value = pattern.replace("${accountid}", found.get("accountid") or "").replace(
            "${role}", found.get("role") or ""
        )
        arns = [part.strip() for part in value.split(",")]
        role = next((a for a in arns if ":role/" in a), None)
        provider = next((a for a in arns if ":saml-provider/" in a), None)
        if role and provider:
            pairs.append(RolePair(role_arn=role, principal_arn=provider))
    return pairs


def app_roles(
    spec: FederationSpec,
    settings: Mapping[str, Any],
    assignments: Sequence[tuple[str, tuple[str, ...] | None]],
    member_of: Mapping[str, str],
) -> tuple[RolePair, ...]:
    """The (role, provider) pairs for a member of ``member_of`` (group id -> name), no repeats.

    ``assignments`` are the app's (group id, samlRoles) in priority order.
    """
    assigned = [(group_id, roles) for group_id, roles in assignments if group_id in member_of]
    if not assigned:
        return ()
    providers = _providers(settings)
    role_lists = [roles for _, roles in assigned if roles]
    if not settings.get("joinAllRoles"):
        role_lists = role_lists[:1]
    pairs: list[RolePair] = []
    for values in role_lists:
        pairs += _from_role_values(spec, providers, values)
    if settings.get("useGroupMapping"):
        pairs += _from_group_mapping(settings, sorted(member_of.values()))
    unique: list[RolePair] = []
    for pair in pairs:
        if pair not in unique:
            unique.append(pair)
    return tuple(unique)
