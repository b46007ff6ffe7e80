"""Expand a spec into what the other parts consume: ARNs, per-account roles, grants.

A *grant* is one (group, account, role): members of ``group`` may take
``role`` in ``account``. Grants come from explicit group mappings and from
groups named by Okta's convention (``aws#<alias>#<role>#<account id>``).
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from keyless.spec.model import Account, FederatedRole, FederationSpec


def role_arn(account: Account, role: FederatedRole) -> str:
    """The ARN of ``role`` in ``account``."""
    return f"arn:{account.partition}:iam::{account.id}:role{role.path}{role.name}"


def saml_provider_arn(spec: FederationSpec, account: Account) -> str:
    """The ARN of the federation's IAM SAML provider in ``account``."""
    name = spec.identity_provider.saml_provider_name
    return f"arn:{account.partition}:iam::{account.id}:saml-provider/{name}"


@dataclass(frozen=True)
class Grant:
    """Members of ``group`` may take ``role_name`` in ``account``."""

    group: str
    account: Account
    role_name: str
    role_arn: str
    provider_arn: str
    source: Literal["mapping", "convention"]

    def as_dict(self) -> dict[str, str]:
        return {
            "group": self.group,
            "account_id": self.account.id,
            "account_alias": self.account.alias,
            "role": self.role_name,
            "role_arn": self.role_arn,
            "provider_arn": self.provider_arn,
            "source": self.source,
        }


@dataclass(frozen=True)
class AccountRoles:
    """One account with the roles created in it and, per role, the groups that reach it."""

    account: Account
    roles: tuple[tuple[FederatedRole, str, tuple[str, ...]], ...]  # (role, arn, groups)

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.account.id,
            "alias": self.account.alias,
            "environment": self.account.environment,
            "management": self.account.management,
            "roles": [
                {
                    "name": role.name,
                    "arn": arn,
                    "max_session_duration": role.max_session_duration,
                    "managed_policies": list(role.managed_policies),
                    "inline_policies": sorted(role.inline_policies),
                    "groups": list(groups),
                }
                for role, arn, groups in self.roles
            ],
        }


def convention_group(spec: FederationSpec, account: Account, role: FederatedRole) -> str:
    """The group name Okta's convention gives ``role`` in ``account``."""
    return spec.group_convention.pattern.format(
        alias=account.alias, role=role.name, account_id=account.id
    )


def _convention_regex(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    for literal, field, _, _ in string.Formatter().parse(pattern):
        parts.append(re.escape(literal))
        if field == "account_id":
            parts.append(r"(?P<account_id>\d{12})")
        elif field == "alias":
            parts.append(r"(?P<alias>[a-z0-9-]+)")
        elif field == "role":
            parts.append(r"(?P<role>[\w+=,.@-]+)")
    return re.compile("^" + "".join(parts) + "$")


def expand_grants(spec: FederationSpec) -> list[Grant]:
    """Every (group, account, role) the spec allows, explicit mappings first."""
    grants: list[Grant] = []
    seen: set[tuple[str, str, str]] = set()

    def add(
        group: str, account: Account, role: FederatedRole, source: Literal["mapping", "convention"]
    ) -> None:
        key = (group, account.id, role.name)
        if key in seen:
            return
        seen.add(key)
        grants.append(
            Grant(
                group=group,
                account=account,
                role_name=role.name,
                role_arn=role_arn(account, role),
                provider_arn=saml_provider_arn(spec, account),
                source=source,
            )
        )

    for mapping in spec.group_mappings:
        role = spec.role(mapping.role)
        if role is None:
            continue
        role_accounts = spec.role_accounts(role)
        if mapping.accounts == "all":
            targets = role_accounts
        else:
            wanted = set(mapping.accounts)
            targets = [a for a in role_accounts if a.alias in wanted or a.id in wanted]
        for account in targets:
            add(mapping.group, account, role, "mapping")
    if spec.group_convention.enabled:
        for role in spec.roles:
            for account in spec.role_accounts(role):
                add(convention_group(spec, account, role), account, role, "convention")
    return grants


def grants_for_groups(spec: FederationSpec, groups: Iterable[str]) -> list[Grant]:
    """The grants a member of ``groups`` holds.

    Groups named by the convention count even when the spec does not list the
    role there (Okta sends whatever the group name says; AWS then decides):
    they are resolved against the spec's accounts by id or alias.
    """
    member_of = set(groups)
    grants = [g for g in expand_grants(spec) if g.group in member_of]
    if spec.group_convention.enabled:
        known = {(g.group, g.account.id, g.role_name) for g in grants}
        regex = _convention_regex(spec.group_convention.pattern)
        for group in sorted(member_of):
            match = regex.match(group)
            if match is None:
                continue
            found = match.groupdict()
            account = spec.account(found.get("account_id") or found.get("alias") or "")
            if account is None:
                continue
            role = spec.role(found["role"]) or FederatedRole(name=found["role"])
            if (group, account.id, role.name) in known:
                continue
            grants.append(
                Grant(
                    group=group,
                    account=account,
                    role_name=role.name,
                    role_arn=role_arn(account, role),
                    provider_arn=saml_provider_arn(spec, account),
                    source="convention",
                )
            )
    return grants


def expand_accounts(spec: FederationSpec) -> list[AccountRoles]:
    """Per account, the roles created there and the groups mapped to each."""
    grants = expand_grants(spec)
    result: list[AccountRoles] = []
    for account in spec.accounts:
        roles = []
        for role in spec.roles:
            if not spec.role_in_account(role, account):
                continue
            groups = tuple(
                g.group for g in grants if g.account.id == account.id and g.role_name == role.name
            )
            roles.append((role, role_arn(account, role), groups))
        result.append(AccountRoles(account=account, roles=tuple(roles)))
    return result
