"""How an Okta administrator sets up the AWS Account Federation app for the spec's
federation, following Okta's guides: the lab's default, already-configured org.

The lab reads the spec as its input (which accounts, roles and groups exist)
and configures the app the way Okta's documentation tells an admin to, not
the way keyless would (keyless's desired state is what the lab checks, so the
lab never computes it with keyless's code):

- *Sign On settings* (Okta, "Configure the Amazon Web Services Account
  Federation app in Okta",
  https://help.okta.com/en-us/content/topics/deploymentguides/aws/aws-configure-aws-app.htm):
  ``identityProviderArn`` lists each account's IAM SAML provider (the one
  created from the app's metadata, named ``identity_provider.saml_provider_name``),
  ``sessionDuration`` is the spec's session, and ``joinAllRoles`` is on so that
  a person in several groups gets every group's roles.
- *One mode, never both* (:mod:`keyless_lab.idp.awsapp`): the spec's
  ``mapping_mode`` when it has one, else role import for a spec with explicit
  mappings and group mapping for one with only the convention.
- *Group mapping* (Okta, "Enable group-based role mapping in Okta",
  https://help.okta.com/en/prod/Content/Topics/DeploymentGuides/AWS/aws-enable-role-based.htm):
  when the spec's group convention names the account id, ``useGroupMapping``
  is on with the documented default Group Filter for the documented
  ``aws#[account alias]#[role name]#[account #]`` names (a filter of the same
  form for another convention) and the documented Role Value Pattern; no API
  integration. The convention's groups are assigned with no ``samlRoles``;
  an explicit mapping becomes a group rule (Okta, "Group rules",
  https://help.okta.com/en-us/content/topics/users-groups-profiles/usgp-about-group-rules.htm)
  putting its group's members into the convention groups of its role's accounts.
- *Role import* ("Connect Okta to multiple AWS instances using an API",
  https://help.okta.com/en/prod/Content/Topics/DeploymentGuides/AWS/connect-okta-multiple-aws-api.htm):
  the API integration's access key and secret are set (the lab's stand-ins;
  the integration imports the spec's roles), group mapping off, and every
  group is assigned with ``samlRoles`` naming ``[<account alias>] -- <role>``:
  an explicit mapping's its roles, a convention group the role its name stands for.
- Members of a group not assigned to the app get no assertion.

The app's admin note and the groups' descriptions are left as they are: an
administrator writes no keyless ownership mark, so ``keyless plan`` sees an
org configured by hand (a conflict until ``--adopt``), as it would in a real
org set up before keyless.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from typing import Any, Literal

from keyless.spec.model import Account, FederatedRole, FederationSpec
from keyless_lab.idp.awsapp import DOCUMENTED_GROUP_FILTER, documented_role_value_pattern

# Okta's documented group name syntax, aws#[account alias]#[role name]#[account #], in the
# spec's placeholder syntax.
DOCUMENTED_GROUP_NAMES = "aws#{alias}#{role}#{account_id}"
_KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def provider_arn(spec: FederationSpec, account: Account) -> str:
    """The IAM SAML provider's ARN in ``account``.

    IAM's format, ``arn:PARTITION:iam::ACCOUNT:saml-provider/NAME`` (IAM User
    Guide, "IAM identifiers").
    """
    name = spec.identity_provider.saml_provider_name
    return f"arn:{account.partition}:iam::{account.id}:saml-provider/{name}"


def group_filter(pattern: str) -> str | None:
    """The Group Filter an admin writes for groups named by ``pattern``; None without an id.

    Okta's documented default for its documented names; for another
    convention, a filter of the same form: the alias any non-space run, the
    role and the account id captured as ``{{role}}`` and ``{{accountid}}``.
    Group mapping needs the account id in the name, so without one there is none.
    """
    if pattern == DOCUMENTED_GROUP_NAMES:
        return DOCUMENTED_GROUP_FILTER
    fields = {field for _, field, _, _ in string.Formatter().parse(pattern) if field}
    if not {"role", "account_id"} <= fields:
        return None
    out = ""
    for literal, field, _, _ in string.Formatter().parse(pattern):
        out += re.sub(r"([.^$*+?()\[\]{}|\\#])", r"\\\1", literal)
        if field == "alias":
            out += r"\S+"
        elif field == "role":
            out += r"(?{{role}}[\w+=,.@-]+)"
        elif field == "account_id":
            out += r"(?{{accountid}}\d+)"
    return "^" + out + "$"


def _role_accounts(spec: FederationSpec, role: FederatedRole) -> list[Account]:
    return [account for account in spec.accounts if spec.role_in_account(role, account)]


def _mapped_accounts(
    spec: FederationSpec, role: FederatedRole, wanted: list[str] | Literal["all"]
) -> list[Account]:
    accounts = _role_accounts(spec, role)
    if wanted == "all":
        return accounts
    names = set(wanted)
    return [a for a in accounts if a.alias in names or a.id in names]


def granted_roles(spec: FederationSpec, account: Account) -> list[str]:
    """The roles in ``account`` that some group of the spec reaches (mapping or convention)."""
    names: list[str] = []
    for role in spec.roles:
        if not spec.role_in_account(role, account):
            continue
        mapped = any(
            mapping.role == role.name and account in _mapped_accounts(spec, role, mapping.accounts)
            for mapping in spec.group_mappings
        )
        if mapped or spec.group_convention.enabled:
            names.append(role.name)
    return names


@dataclass(frozen=True)
class AssignedGroup:
    """A group the admin assigns to the app, with its SAML User Roles (None: none)."""

    name: str
    saml_roles: tuple[str, ...] | None


Mode = Literal["group_mapping", "role_import"]


@dataclass(frozen=True)
class GroupRule:
    """An Okta group rule: members of ``source`` are made members of ``targets``."""

    source: str
    targets: tuple[str, ...]


@dataclass(frozen=True)
class AdminSetup:
    """The app's Sign On settings, its group assignments and the group rules, as the
    admin makes them."""

    settings: dict[str, Any]
    groups: tuple[AssignedGroup, ...]
    rules: tuple[GroupRule, ...] = ()


def mapping_mode(spec: FederationSpec) -> Mode:
    """The spec's mapping mode; for a spec that names none, the one its contents need."""
    named = getattr(spec, "mapping_mode", None)
    if named in ("group_mapping", "role_import"):
        return named  # type: ignore[no-any-return]
    return "role_import" if spec.group_mappings else "group_mapping"


def _convention_name(spec: FederationSpec, account: Account, role: FederatedRole) -> str:
    return spec.group_convention.pattern.format(
        alias=account.alias, role=role.name, account_id=account.id
    )


def admin_setup(spec: FederationSpec, mode: Mode | None = None) -> AdminSetup:
    """The AWS app as an admin configures it for ``spec`` in ``mode`` (the spec's when
    None; see the module docstring)."""
    first = spec.accounts[0]
    convention = spec.group_convention
    filter_ = group_filter(convention.pattern) if convention.enabled else None
    if (mode or mapping_mode(spec)) == "role_import":
        filter_ = None
    settings: dict[str, Any] = {
        "identityProviderArn": ",".join(provider_arn(spec, a) for a in spec.accounts),
        "sessionDuration": spec.session.duration,
        "joinAllRoles": True,
        "useGroupMapping": filter_ is not None,
    }
    if filter_ is not None:
        settings["groupFilter"] = filter_
        settings["roleValuePattern"] = documented_role_value_pattern(
            spec.identity_provider.saml_provider_name, first.partition
        )
        return _group_mapping_setup(spec, settings)
    # The API integration's key: stand-ins (the lab's integration imports the spec's roles).
    settings["accessKey"] = "AKIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))
    settings["secretKey"] = secrets.token_urlsafe(30)
    roles: dict[str, list[str]] = {}
    for mapping in spec.group_mappings:
        values = roles.setdefault(mapping.group, [])
        role = spec.role(mapping.role)
        if role is None:
            continue  # a spec that names an unknown role does not load; nothing to assign
        for account in _mapped_accounts(spec, role, mapping.accounts):
            value = f"[{account.alias}] -- {role.name}"
            if value not in values:
                values.append(value)
    groups = [AssignedGroup(name, tuple(values)) for name, values in roles.items()]
    if convention.enabled:
        for role in spec.roles:
            for account in _role_accounts(spec, role):
                name = _convention_name(spec, account, role)
                if name in roles:
                    continue
                groups.append(AssignedGroup(name, (f"[{account.alias}] -- {role.name}",)))
                roles[name] = []
    return AdminSetup(settings=settings, groups=tuple(groups))


def _group_mapping_setup(spec: FederationSpec, settings: dict[str, Any]) -> AdminSetup:
    """Group mapping: the convention's groups assigned bare, explicit mappings as rules."""
    groups: list[AssignedGroup] = []
    for role in spec.roles:
        for account in _role_accounts(spec, role):
            name = _convention_name(spec, account, role)
            if all(g.name != name for g in groups):
                groups.append(AssignedGroup(name, None))
    targets: dict[str, list[str]] = {}
    for mapping in spec.group_mappings:
        mapped = spec.role(mapping.role)
        if mapped is None:
            continue
        names = targets.setdefault(mapping.group, [])
        for account in _mapped_accounts(spec, mapped, mapping.accounts):
            name = _convention_name(spec, account, mapped)
            if name not in names:
                names.append(name)
            if all(g.name != name for g in groups):
                groups.append(AssignedGroup(name, None))
    rules = tuple(GroupRule(source, tuple(names)) for source, names in targets.items())
    return AdminSetup(settings=settings, groups=tuple(groups), rules=rules)
