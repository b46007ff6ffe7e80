"""Checks that span fields of a spec: duplicates and references that do not resolve.

They run on plain data (the parsed YAML, or a validated spec dumped back to
it), defensively, so that a spec with a bad field *and* a dangling reference
gets both reported in one run: an engineer fixing a broken spec should not
discover its problems one kind at a time.

Each problem is ``(path, message, fix)``; paths are tuples like
``("roles", 0, "accounts", 1)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

Problem = tuple[tuple[str | int, ...], str, str]


def _items(data: Mapping[str, Any], key: str) -> list[tuple[int, Mapping[str, Any]]]:
    value = data.get(key)
    if not isinstance(value, list):
        return []
    return [(index, item) for index, item in enumerate(value) if isinstance(item, Mapping)]


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)  # an unquoted account id; its own field check explains quoting
    return value if isinstance(value, str) else None


def reference_problems(data: Mapping[str, Any]) -> list[Problem]:
    """Every duplicate and unresolved reference in spec ``data``; empty when all is well."""
    problems: list[Problem] = []
    accounts = _items(data, "accounts")
    ids: dict[str, int] = {}
    aliases: dict[str, int] = {}
    unique = (
        ("id", ids, "each account appears once"),
        ("alias", aliases, "give every account its own alias"),
    )
    for index, account in accounts:
        for key, first_seen, fix in unique:
            value = _text(account.get(key))
            if value is None:
                continue
            if value in first_seen:
                problems.append(
                    (
                        ("accounts", index, key),
                        f"duplicate account {key} {value!r} (also accounts[{first_seen[value]}])",
                        fix,
                    )
                )
            first_seen.setdefault(value, index)
    managers = [index for index, account in accounts if account.get("management") is True]
    if len(managers) > 1:
        problems.append(
            (
                ("accounts", managers[1], "management"),
                "more than one account is marked management: true",
                "mark only the organization's management account",
            )
        )
    known = ", ".join(aliases) or "(no accounts)"

    def resolves(name: str) -> bool:
        return name in aliases or name in ids

    roles: dict[str, tuple[int, set[str] | None]] = {}  # name -> (index, accounts or None=all)
    for index, role in _items(data, "roles"):
        name = _text(role.get("name"))
        targets = role.get("accounts", "all")
        listed: set[str] | None = None
        if isinstance(targets, list):
            listed = set()
            for position, alias in enumerate(targets):
                text = _text(alias)
                if text is None:
                    continue
                if not resolves(text):
                    problems.append(
                        (
                            ("roles", index, "accounts", position),
                            f"unknown account alias {text!r}",
                            f"use one of: {known}",
                        )
                    )
                listed.add(text)
        if name is None:
            continue
        if name in roles:
            problems.append(
                (
                    ("roles", index, "name"),
                    f"duplicate role {name!r} (also roles[{roles[name][0]}])",
                    "merge the two roles or rename one",
                )
            )
            continue
        roles[name] = (index, listed)

    def role_reaches(listed: set[str] | None, name: str) -> bool:
        if listed is None:
            return True
        # A role's accounts may name an account by alias or by id; so may a mapping.
        for candidate in listed:
            if candidate == name:
                return True
            if candidate in aliases and name in ids and ids[name] == aliases[candidate]:
                return True
            if candidate in ids and name in aliases and aliases[name] == ids[candidate]:
                return True
        return False

    role_list = ", ".join(roles) or "(no roles)"
    for index, mapping in _items(data, "group_mappings"):
        group, role_name = _text(mapping.get("group")), _text(mapping.get("role"))
        if role_name is None:
            continue
        if role_name not in roles:
            problems.append(
                (
                    ("group_mappings", index, "role"),
                    f"group {group!r} maps to unknown role {role_name!r}",
                    f"use one of: {role_list}",
                )
            )
            continue
        role_index, listed = roles[role_name]
        targets = mapping.get("accounts", "all")
        if not isinstance(targets, list):
            continue
        for position, alias in enumerate(targets):
            text = _text(alias)
            if text is None:
                continue
            if not resolves(text):
                problems.append(
                    (
                        ("group_mappings", index, "accounts", position),
                        f"unknown account alias {text!r}",
                        f"use one of: {known}",
                    )
                )
            elif not role_reaches(listed, text):
                problems.append(
                    (
                        ("group_mappings", index, "accounts", position),
                        f"role {role_name!r} is not created in account {text!r}",
                        f"add {text!r} to roles[{role_index}].accounts or remove it here",
                    )
                )
    problems.extend(mapping_problems(data))
    for index, expected in _items(data, "expected_access_keys"):
        text = _text(expected.get("account"))
        if text is not None and not resolves(text):
            problems.append(
                (
                    ("expected_access_keys", index, "account"),
                    f"unknown account alias {text!r}",
                    f"use one of: {known}",
                )
            )
    return problems


# Okta's AWS Account Federation app imports roles through its API integration for
# at most about 60 accounts; above that Okta points admins to group mapping
# ("Connect Okta to multiple AWS instances", help.okta.com/en-us/content/topics/
# deploymentguides/aws/aws-connect-multiple-aws-instances.htm, and "Enable
# group-based role mapping in Okta").
ROLE_IMPORT_MAX_ACCOUNTS = 60


def mapping_problems(data: Mapping[str, Any]) -> list[Problem]:
    """A federation's mapping mode and what it needs; one mode, never mixed.

    *group_mapping* reads account and role from a group's name (the app's
    ``groupFilter`` captures ``accountid`` and ``role``), so the convention must be
    on and name the account id. *role_import* names imported roles in ``samlRoles``
    and lists them with the provisioning principal's key; a convention group beside
    it would be read by group mapping, the other mode.
    """
    mode = data.get("mapping_mode", "group_mapping")
    convention = data.get("group_convention")
    convention = convention if isinstance(convention, Mapping) else {}
    enabled = convention.get("enabled", True) is not False
    pattern = str(convention.get("pattern", "aws#{alias}#{role}#{account_id}"))
    problems: list[Problem] = []
    placeholders = set(re.findall(r"\{([^{}]*)\}", pattern))
    if mode == "group_mapping" and placeholders <= {"alias", "role", "account_id"}:
        # (A pattern with an unknown placeholder is explained by its own check.)
        if not enabled or "account_id" not in placeholders:
            problems.append(
                (
                    ("group_convention",),
                    "mapping_mode group_mapping reads the account id and role from each group's "
                    "name, but the group convention is off or names no {account_id}",
                    "enable group_convention with {account_id} in its pattern (Okta's default "
                    "aws#{alias}#{role}#{account_id}), or choose mapping_mode: role_import",
                )
            )
    elif mode == "role_import":
        if enabled:
            problems.append(
                (
                    ("group_convention", "enabled"),
                    "mapping_mode role_import names imported roles in samlRoles, and "
                    "group_convention is on: convention groups are read by Okta's group "
                    "mapping, the other mode, and the two are never mixed",
                    "set group_convention.enabled: false and map groups with group_mappings, "
                    "or choose mapping_mode: group_mapping and drop the role import",
                )
            )
        if "provisioning_principal" in data and data["provisioning_principal"] is None:
            problems.append(
                (
                    ("provisioning_principal",),
                    "mapping_mode role_import needs the provisioning principal: Okta's API "
                    "integration imports the roles with its key",
                    "give provisioning_principal: {kind: user} (or {kind: role}), or choose "
                    "mapping_mode: group_mapping, which needs no key",
                )
            )
        accounts = data.get("accounts")
        count = len(accounts) if isinstance(accounts, list) else 0
        if count > ROLE_IMPORT_MAX_ACCOUNTS:
            problems.append(
                (
                    ("mapping_mode",),
                    f"mapping_mode role_import with {count} accounts: Okta's AWS app imports "
                    f"roles for at most {ROLE_IMPORT_MAX_ACCOUNTS} accounts (help.okta.com, "
                    "'Connect Okta to multiple AWS instances')",
                    "choose mapping_mode: group_mapping, which has no account limit",
                )
            )
    return problems
