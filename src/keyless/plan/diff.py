"""Diff an account's actual state against its desired state into ordered changes.

Each :class:`Change` says what happens to one resource (for people and
``--json``) and carries the IAM :class:`Operation` s that make it so, in the
order they must run. The order inside an account is the safe one:

1. the SAML provider (created or its metadata updated) before any role that trusts it;
2. per role, permissions (boundary, inline, managed policies) before the trust policy,
   so a widened trust never meets the old permissions;
3. the IdP's provisioning principal, then the account alias;
4. deletions (``--prune``) last, roles before anything they reference.

Ownership: a resource is keyless's when tagged ``keyless:managed-by = <spec name>``.
Anything else with a name keyless wants is a *conflict*, left alone unless
``adopt`` (``--adopt``) says to take it over.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from keyless.plan.desired import (
    MANAGED_BY_TAG,
    DesiredAccount,
    DesiredProvider,
    DesiredRole,
    DesiredUser,
)
from keyless.plan.documents import (
    json_diff,
    metadata_identity,
    metadata_summary,
    policy_json,
    same_policy,
)
from keyless.plan.revocations import is_revocation  # issue 14
from keyless.plan.state import (
    ActualAccount,
    ActualProvider,
    ActualRole,
    ActualUser,
    PolicyDocument,
)
from keyless.spec.model import Account

Action = Literal["create", "update", "replace", "delete", "conflict", "orphan"]
Resource = Literal[
    "saml-provider",
    "role",
    "user",
    "account-alias",
    # the Okta org's, planned by keyless.plan.okta
    "okta-app",
    "okta-group",
    "okta-assignment",
    "okta-group-rule",
]
PENDING: frozenset[str] = frozenset({"create", "update", "replace", "delete"})


@dataclass(frozen=True)
class Operation:
    """One IAM API call: the boto3 method name and its parameters (JSON-able)."""

    api: str
    params: Mapping[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"api": self.api, "params": dict(self.params)}


@dataclass(frozen=True)
class FieldChange:
    """One attribute that differs: ``kind`` says how to show it."""

    field: str
    before: Any
    after: Any
    kind: Literal["value", "document", "metadata"] = "value"

    def diff_lines(self) -> list[str]:
        """A readable diff: unified JSON diff for documents, fingerprints for metadata."""
        if self.kind == "document":
            return json_diff(self.before, self.after, name=self.field)
        if self.kind == "metadata":
            return _metadata_lines(self.before, self.after)
        return [f"{self.field}: {self.before!r} -> {self.after!r}"]

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "kind": self.kind, "before": self.before, "after": self.after}


def _metadata_lines(before: Any, after: Any) -> list[str]:
    lines: list[str] = []
    for label, summary in (("now ", before), ("spec", after)):
        if not summary:
            lines.append(f"{label}: (none)")
            continue
        lines.append(f"{label}: issuer {summary.get('entity_id')}")
        for cert in summary.get("certificates", []):
            lines.append(f"      cert sha256 {cert['sha256']} expires {cert['not_after']}")
        if "unreadable" in summary:
            lines.append(f"      unreadable: {summary['unreadable']}")
    return lines


@dataclass(frozen=True)
class Change:
    """What happens to one resource of one account."""

    action: Action
    resource: Resource
    name: str
    fields: tuple[FieldChange, ...] = ()
    operations: tuple[Operation, ...] = ()
    reason: str = ""

    @property
    def pending(self) -> bool:
        """Whether applying would change AWS (conflicts and orphans change nothing)."""
        return self.action in PENDING

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "resource": self.resource,
            "name": self.name,
            "reason": self.reason,
            "fields": [f.as_dict() for f in self.fields],
            "operations": [op.as_dict() for op in self.operations],
        }


@dataclass(frozen=True)
class AccountPlan:
    """The plan for one account, or why it could not be read."""

    account: Account
    changes: tuple[Change, ...] = ()
    error: str | None = None
    fix: str | None = None
    notes: tuple[str, ...] = ()
    # Resources the spec wants that are already right (the review's summary counts
    # them; `plan --json` keeps its shape and lists changes only).
    unchanged: int = 0

    @property
    def pending(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.pending)

    def as_dict(self) -> dict[str, Any]:
        return {
            "account_id": self.account.id,
            "alias": self.account.alias,
            "error": self.error,
            "fix": self.fix,
            "notes": list(self.notes),
            "changes": [c.as_dict() for c in self.changes],
        }


@dataclass(frozen=True)
class Plan:
    """The plan for a whole federation."""

    spec_name: str
    accounts: tuple[AccountPlan, ...]
    prune: bool = False
    adopt: bool = False

    def totals(self) -> dict[str, int]:
        """Counts by action across accounts, plus accounts that failed to read."""
        counts = {
            action: 0 for action in ("create", "update", "replace", "delete", "conflict", "orphan")
        }
        for account in self.accounts:
            for change in account.changes:
                counts[change.action] += 1
        counts["errors"] = sum(1 for a in self.accounts if a.error)
        return counts

    @property
    def has_changes(self) -> bool:
        return any(a.pending for a in self.accounts)

    @property
    def has_errors(self) -> bool:
        return any(a.error for a in self.accounts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec_name,
            "prune": self.prune,
            "adopt": self.adopt,
            "totals": self.totals(),
            "has_changes": self.has_changes,
            "accounts": [a.as_dict() for a in self.accounts],
        }


# -- ownership ---------------------------------------------------------------------


def _owner(tags: Mapping[str, str]) -> str | None:
    return tags.get(MANAGED_BY_TAG)


def _conflict_reason(kind: str, name: str, owner: str | None, spec_name: str) -> str:
    if owner is None:
        return f"{kind} {name!r} exists and is not managed by keyless; --adopt takes it over"
    return (
        f"{kind} {name!r} is managed by another keyless federation ({owner!r}, not {spec_name!r}); "
        "--adopt takes it over"
    )


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def _missing_tags(desired: Mapping[str, str], actual: Mapping[str, str]) -> dict[str, str]:
    # Only the keys the spec sets are managed: tags others add (cost allocation,
    # compliance tooling) are left alone rather than fought over on every apply.
    return {k: v for k, v in desired.items() if actual.get(k) != v}


# -- SAML provider ---------------------------------------------------------------------


def diff_provider(
    desired: DesiredProvider, actual: ActualProvider | None, *, spec_name: str, adopt: bool
) -> list[Change]:
    """The change to the account's SAML provider, if any."""
    if actual is None:
        if desired.metadata_xml is None:
            raise ValueError("planning a SAML provider needs the IdP's metadata")
        return [
            Change(
                action="create",
                resource="saml-provider",
                name=desired.name,
                fields=(
                    FieldChange(
                        "metadata", None, metadata_summary(desired.metadata_xml), "metadata"
                    ),
                ),
                operations=(
                    Operation(
                        "create_saml_provider",
                        {
                            "Name": desired.name,
                            "SAMLMetadataDocument": desired.metadata_xml.decode("utf-8"),
                            "Tags": _tag_list(desired.tags),
                        },
                    ),
                ),
            )
        ]
    owner = _owner(actual.tags)
    adopting = owner != spec_name
    same_metadata = desired.metadata_xml is not None and metadata_identity(
        actual.metadata_xml
    ) == metadata_identity(desired.metadata_xml)
    if adopting and owner is None and same_metadata:
        # Already exactly what the spec wants: nothing to change, so nothing to fight
        # over. (Also how a provider looks where IAM drops its tags, as moto does.)
        return []
    if adopting and not adopt:
        return [
            Change(
                action="conflict",
                resource="saml-provider",
                name=desired.name,
                reason=_conflict_reason("SAML provider", desired.name, owner, spec_name),
            )
        ]
    fields: list[FieldChange] = []
    operations: list[Operation] = []
    if desired.metadata_xml is not None and metadata_identity(
        actual.metadata_xml
    ) != metadata_identity(desired.metadata_xml):
        fields.append(
            FieldChange(
                "metadata",
                metadata_summary(actual.metadata_xml),
                metadata_summary(desired.metadata_xml),
                "metadata",
            )
        )
        operations.append(
            Operation(
                "update_saml_provider",
                {
                    "SAMLProviderArn": actual.arn,
                    "SAMLMetadataDocument": desired.metadata_xml.decode("utf-8"),
                },
            )
        )
    missing = _missing_tags(desired.tags, actual.tags)
    if missing:
        fields.append(FieldChange("tags", dict(actual.tags), {**actual.tags, **missing}))
        operations.append(
            Operation(
                "tag_saml_provider", {"SAMLProviderArn": actual.arn, "Tags": _tag_list(missing)}
            )
        )
    if not operations:
        return []
    return [
        Change(
            action="update",
            resource="saml-provider",
            name=desired.name,
            fields=tuple(fields),
            operations=tuple(operations),
            reason="adopted (--adopt)" if adopting else "",
        )
    ]


# -- roles ---------------------------------------------------------------------------


def create_role_operations(role: DesiredRole) -> list[Operation]:
    """Create a role with its boundary, then its policies (the trust is part of CreateRole)."""
    params: dict[str, Any] = {
        "RoleName": role.name,
        "Path": role.path,
        "AssumeRolePolicyDocument": policy_json(role.trust_policy),
        "Description": role.description,
        "MaxSessionDuration": role.max_session_duration,
        "Tags": _tag_list(role.tags),
    }
    if role.permissions_boundary:
        params["PermissionsBoundary"] = role.permissions_boundary
    operations = [Operation("create_role", params)]
    for name, document in role.inline_policies.items():
        operations.append(
            Operation(
                "put_role_policy",
                {
                    "RoleName": role.name,
                    "PolicyName": name,
                    "PolicyDocument": policy_json(document),
                },
            )
        )
    for arn in role.managed_policies:
        operations.append(
            Operation("attach_role_policy", {"RoleName": role.name, "PolicyArn": arn})
        )
    return operations


def delete_role_operations(role: ActualRole) -> list[Operation]:
    """Everything IAM needs removed before DeleteRole succeeds, then DeleteRole."""
    operations = [
        Operation(
            "remove_role_from_instance_profile", {"InstanceProfileName": p, "RoleName": role.name}
        )
        for p in role.instance_profiles
    ]
    operations += [
        Operation("detach_role_policy", {"RoleName": role.name, "PolicyArn": arn})
        for arn in role.managed_policies
    ]
    operations += [
        Operation("delete_role_policy", {"RoleName": role.name, "PolicyName": name})
        for name in role.inline_policies
    ]
    operations.append(Operation("delete_role", {"RoleName": role.name}))
    return operations


def _role_summary(role: DesiredRole) -> list[FieldChange]:
    fields = [
        FieldChange("trust_policy", None, role.trust_policy, "document"),
        FieldChange("max_session_duration", None, role.max_session_duration),
    ]
    if role.managed_policies:
        fields.append(FieldChange("managed_policies", None, list(role.managed_policies)))
    for name, document in role.inline_policies.items():
        fields.append(FieldChange(f"inline_policy {name}", None, document, "document"))
    if role.permissions_boundary:
        fields.append(FieldChange("permissions_boundary", None, role.permissions_boundary))
    return fields


def _diff_inline_policies(
    kind: str,
    name: str,
    desired: Mapping[str, PolicyDocument],
    actual: Mapping[str, PolicyDocument],
    fields: list[FieldChange],
    operations: list[Operation],
) -> None:
    """Put the inline policies of role or user ``name`` that differ; delete those not wanted."""
    key = {"role": "RoleName", "user": "UserName"}[kind]
    for policy_name, document in desired.items():
        if kind == "role" and is_revocation(policy_name):  # issue 23: reserved, never written
            continue
        before = actual.get(policy_name)
        if before is None or not same_policy(before, document):
            fields.append(FieldChange(f"inline_policy {policy_name}", before, document, "document"))
            operations.append(
                Operation(
                    f"put_{kind}_policy",
                    {key: name, "PolicyName": policy_name, "PolicyDocument": policy_json(document)},
                )
            )
    for policy_name, before in sorted(actual.items()):
        # Session revocations `keyless offboard` put on roles are keyless's own: never fought.
        if kind == "role" and is_revocation(policy_name):  # issue 14
            continue
        if policy_name not in desired:
            fields.append(FieldChange(f"inline_policy {policy_name}", before, None, "document"))
            operations.append(
                Operation(f"delete_{kind}_policy", {key: name, "PolicyName": policy_name})
            )


def diff_role(
    desired: DesiredRole, actual: ActualRole | None, *, spec_name: str, adopt: bool
) -> list[Change]:
    """The change to one role, if any."""
    if actual is None:
        return [
            Change(
                action="create",
                resource="role",
                name=desired.name,
                fields=tuple(_role_summary(desired)),
                operations=tuple(create_role_operations(desired)),
            )
        ]
    owner = _owner(actual.tags)
    adopting = owner != spec_name
    if adopting and not adopt:
        return [
            Change(
                action="conflict",
                resource="role",
                name=desired.name,
                reason=_conflict_reason("role", desired.name, owner, spec_name),
            )
        ]
    if actual.path != desired.path:
        # IAM cannot move a role to another path: it is deleted and created again.
        return [
            Change(
                action="replace",
                resource="role",
                name=desired.name,
                fields=(FieldChange("path", actual.path, desired.path),),
                operations=tuple(delete_role_operations(actual) + create_role_operations(desired)),
                reason="IAM cannot change a role's path",
            )
        ]
    fields: list[FieldChange] = []
    operations: list[Operation] = []
    name = desired.name
    # Permissions first: boundary, inline, managed.
    if desired.permissions_boundary != actual.permissions_boundary:
        fields.append(
            FieldChange(
                "permissions_boundary", actual.permissions_boundary, desired.permissions_boundary
            )
        )
        if desired.permissions_boundary:
            operations.append(
                Operation(
                    "put_role_permissions_boundary",
                    {"RoleName": name, "PermissionsBoundary": desired.permissions_boundary},
                )
            )
        else:
            operations.append(Operation("delete_role_permissions_boundary", {"RoleName": name}))
    _diff_inline_policies(
        "role", name, desired.inline_policies, actual.inline_policies, fields, operations
    )
    wanted, present = set(desired.managed_policies), set(actual.managed_policies)
    if wanted != present:
        fields.append(FieldChange("managed_policies", sorted(present), sorted(wanted)))
        operations += [
            Operation("attach_role_policy", {"RoleName": name, "PolicyArn": arn})
            for arn in sorted(wanted - present)
        ]
        operations += [
            Operation("detach_role_policy", {"RoleName": name, "PolicyArn": arn})
            for arn in sorted(present - wanted)
        ]
    update: dict[str, Any] = {}
    if desired.description != actual.description:
        fields.append(FieldChange("description", actual.description, desired.description))
        update["Description"] = desired.description
    if desired.max_session_duration != actual.max_session_duration:
        fields.append(
            FieldChange(
                "max_session_duration", actual.max_session_duration, desired.max_session_duration
            )
        )
        update["MaxSessionDuration"] = desired.max_session_duration
    if update:
        operations.append(Operation("update_role", {"RoleName": name, **update}))
    missing = _missing_tags(desired.tags, actual.tags)
    if missing:
        fields.append(FieldChange("tags", dict(actual.tags), {**actual.tags, **missing}))
        operations.append(Operation("tag_role", {"RoleName": name, "Tags": _tag_list(missing)}))
    # Trust last.
    if not same_policy(actual.trust_policy, desired.trust_policy):
        fields.append(
            FieldChange("trust_policy", actual.trust_policy, desired.trust_policy, "document")
        )
        operations.append(
            Operation(
                "update_assume_role_policy",
                {"RoleName": name, "PolicyDocument": policy_json(desired.trust_policy)},
            )
        )
    if not operations:
        return []
    return [
        Change(
            action="update",
            resource="role",
            name=name,
            fields=tuple(fields),
            operations=tuple(operations),
            reason="adopted (--adopt)" if adopting else "",
        )
    ]


# -- the provisioning user -------------------------------------------------------------


def diff_user(
    desired: DesiredUser, actual: ActualUser | None, *, spec_name: str, adopt: bool
) -> list[Change]:
    """The change to the IdP's provisioning user, if any."""
    name = desired.name
    operations: list[Operation]
    if actual is None:
        operations = [Operation("create_user", {"UserName": name, "Tags": _tag_list(desired.tags)})]
        operations += [
            Operation(
                "put_user_policy",
                {"UserName": name, "PolicyName": p, "PolicyDocument": policy_json(d)},
            )
            for p, d in desired.inline_policies.items()
        ]
        return [
            Change(
                action="create",
                resource="user",
                name=name,
                fields=tuple(
                    FieldChange(f"inline_policy {p}", None, d, "document")
                    for p, d in desired.inline_policies.items()
                ),
                operations=tuple(operations),
            )
        ]
    owner = _owner(actual.tags)
    adopting = owner != spec_name
    if adopting and not adopt:
        return [
            Change(
                action="conflict",
                resource="user",
                name=name,
                reason=_conflict_reason("user", name, owner, spec_name),
            )
        ]
    fields: list[FieldChange] = []
    operations = []
    # The IdP's principal must hold nothing beyond listing roles: extra rights are removed.
    _diff_inline_policies(
        "user", name, desired.inline_policies, actual.inline_policies, fields, operations
    )
    if actual.managed_policies:
        fields.append(FieldChange("managed_policies", list(actual.managed_policies), []))
        operations += [
            Operation("detach_user_policy", {"UserName": name, "PolicyArn": arn})
            for arn in actual.managed_policies
        ]
    missing = _missing_tags(desired.tags, actual.tags)
    if missing:
        fields.append(FieldChange("tags", dict(actual.tags), {**actual.tags, **missing}))
        operations.append(Operation("tag_user", {"UserName": name, "Tags": _tag_list(missing)}))
    if not operations:
        return []
    return [
        Change(
            action="update",
            resource="user",
            name=name,
            fields=tuple(fields),
            operations=tuple(operations),
            reason="adopted (--adopt)" if adopting else "",
        )
    ]


# -- the account alias ---------------------------------------------------------------------


def diff_alias(desired: str | None, actual: tuple[str, ...], *, adopt: bool) -> list[Change]:
    """The change to the account alias, if any (an account has at most one)."""
    if desired is None or desired in actual:
        return []
    if not actual:
        return [
            Change(
                action="create",
                resource="account-alias",
                name=desired,
                fields=(FieldChange("alias", None, desired),),
                operations=(Operation("create_account_alias", {"AccountAlias": desired}),),
            )
        ]
    if not adopt:
        return [
            Change(
                action="conflict",
                resource="account-alias",
                name=desired,
                reason=(
                    f"the account's alias is {actual[0]!r}, not {desired!r}; --adopt replaces it"
                ),
            )
        ]
    return [
        Change(
            action="update",
            resource="account-alias",
            name=desired,
            fields=(FieldChange("alias", actual[0], desired),),
            operations=(
                Operation("delete_account_alias", {"AccountAlias": actual[0]}),
                Operation("create_account_alias", {"AccountAlias": desired}),
            ),
        )
    ]


# -- the whole account -------------------------------------------------------------------


@dataclass(frozen=True)
class DiffOptions:
    """How to treat what is not plainly ours or not in the spec."""

    spec_name: str
    prune: bool = False
    adopt: bool = False


def diff_account(
    desired: DesiredAccount, actual: ActualAccount, options: DiffOptions
) -> AccountPlan:
    """Ordered changes that take ``actual`` to ``desired``."""
    spec_name, adopt = options.spec_name, options.adopt
    changes: list[Change] = []
    changes += diff_provider(desired.provider, actual.provider, spec_name=spec_name, adopt=adopt)
    provider_blocked = any(c.action == "conflict" for c in changes)
    for role in desired.roles:
        role_changes = diff_role(
            role, actual.roles.get(role.name), spec_name=spec_name, adopt=adopt
        )
        changes += role_changes
    for user in desired.users:
        changes += diff_user(user, actual.users.get(user.name), spec_name=spec_name, adopt=adopt)
    changes += diff_alias(desired.alias, actual.aliases, adopt=adopt)
    # Leftovers: ours (tagged with this spec's name) but no longer in the spec.
    wanted_roles = desired.role_names
    for name, leftover in sorted(actual.roles.items()):
        if name in wanted_roles or _owner(leftover.tags) != spec_name:
            continue
        if options.prune:
            changes.append(
                Change(
                    action="delete",
                    resource="role",
                    name=name,
                    operations=tuple(delete_role_operations(leftover)),
                    reason="no longer in the spec (--prune)",
                )
            )
        else:
            changes.append(
                Change(
                    action="orphan",
                    resource="role",
                    name=name,
                    reason="no longer in the spec; --prune deletes it",
                )
            )
    wanted_users = {u.name for u in desired.users}
    for name, old_user in sorted(actual.users.items()):
        if name in wanted_users or _owner(old_user.tags) != spec_name:
            continue
        if options.prune:
            operations = [
                Operation("delete_user_policy", {"UserName": name, "PolicyName": p})
                for p in old_user.inline_policies
            ]
            operations += [
                Operation("detach_user_policy", {"UserName": name, "PolicyArn": a})
                for a in old_user.managed_policies
            ]
            # The adapter removes the user's access keys first (they are only listed at apply time).
            operations.append(Operation("delete_user", {"UserName": name}))
            changes.append(
                Change(
                    action="delete",
                    resource="user",
                    name=name,
                    operations=tuple(operations),
                    reason="no longer in the spec (--prune)",
                )
            )
        else:
            changes.append(
                Change(
                    action="orphan",
                    resource="user",
                    name=name,
                    reason="no longer in the spec; --prune deletes it",
                )
            )
    notes = list(desired.notes)
    wanted = [
        ("saml-provider", desired.provider.name),
        *(("role", role.name) for role in desired.roles),
        *(("user", user.name) for user in desired.users),
        *((("account-alias", desired.alias),) if desired.alias is not None else ()),
    ]
    if provider_blocked:
        notes.append(
            "the SAML provider is in conflict: roles trusting it will not work until it is resolved"
        )
    return AccountPlan(
        account=desired.account,
        changes=tuple(changes),
        notes=tuple(notes),
        unchanged=untouched(wanted, changes),
    )


def untouched(wanted: list[tuple[str, str]], changes: list[Change]) -> int:
    """How many of the ``(resource, name)`` pairs ``wanted`` no change names."""
    touched = {(change.resource, change.name) for change in changes}
    return sum(1 for key in wanted if key not in touched)
