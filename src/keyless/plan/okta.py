"""The Okta side of a federation, the pure part: desired state, actual state, and the diff.

What keyless manages in the Okta org, beside the AWS accounts:

- the AWS Account Federation app's settings (``settings.app`` of the
  ``amazon_aws`` app: ``identityProviderArn``, ``sessionDuration``,
  ``joinAllRoles``, ``useGroupMapping``, ``groupFilter``, ``roleValuePattern``,
  ``awsEnvironmentType``, ``loginURL``); field names as in Okta's Apps API and
  the okta Terraform provider's ``okta_app_saml`` ``app_settings_json``
  (github.com/okta/terraform-provider-okta, examples/okta_saml_app/);
- the groups the spec names: explicit mappings' groups and the convention's
  ``aws#<alias>#<role>#<account id>`` groups, created when missing;
- the app's group assignments (``PUT /api/v1/apps/{appId}/groups/{groupId}``).
  One mapping mode per federation, never mixed (``spec.mapping_mode``):

  * ``group_mapping``: ``useGroupMapping`` with the convention's
    ``groupFilter``/``roleValuePattern``; only convention groups are assigned,
    with no ``samlRoles`` (with group mapping on, the app reads roles from the
    group names; ``samlRoles`` are not how roles reach the assertion). An
    explicit mapping (``aws-admins`` -> OktaAdminRole in acme-prod) becomes an
    Okta group rule (``POST /api/v1/groups/rules``, expression
    ``isMemberOfAnyGroup("<group id>")``, action ``assignUserToGroups``) that
    puts the group's members into the convention groups it stands for: Okta
    has no nested groups, and a rule is how it lets one group's members join
    another (Okta Groups API, "Group rules"). No API integration is needed.
  * ``role_import``: ``useGroupMapping`` off; the app's API integration imports
    every account's roles with the provisioning principal's key, and each
    explicit mapping's group is assigned with ``profile.samlRoles`` naming
    imported roles. With more than one account in ``identityProviderArn`` Okta
    names a role ``[<account alias>] -- <role name>`` (as in the terraform
    provider's ``okta_app_group_assignment`` test fixtures); with one account,
    by its name alone.

- the SAML attribute statement that sends ``SourceIdentity``
  (``settings.signOn.attributeStatements``, the Sign On tab's *Attributes*):
  Okta's AWS Account Federation app has no setting for it (neither Okta's
  deployment guide nor the app's ``settings.app``, as the okta Terraform
  provider lists them, names one); the AWS Security Blog's "How to integrate
  AWS STS SourceIdentity with your identity provider" has the Okta admin add
  an attribute statement named ``https://aws.amazon.com/SAML/Attributes/SourceIdentity``.
  Its value is an Okta expression (:func:`source_identity_expression`); keyless
  changes only that statement and keeps any others;
- ``webSSOAllowedClient`` (the Sign On tab's *Allowed Web SSO Client*) when the
  spec names the CLI's native OIDC app (``okta.cli_client_id``): without it Okta
  refuses the device flow's web SSO token exchange with ``invalid_grant``.

Ownership works as on the AWS side. Okta has no tags, so keyless marks what it
manages with ``keyless:managed-by=<spec name>`` in the fields Okta keeps for
people's notes: the app's ``settings.notes.admin`` and a group's
``profile.description``. A same-named group without the mark is a conflict
until ``--adopt``; a marked group that left the spec is deleted only with
``--prune``. The app is never created or deleted (the spec names it); an app
whose AWS settings are still blank (just added from Okta's catalogue) is
configured without ``--adopt``, a configured one without the mark is a
conflict.

The :class:`Change`/:class:`Operation` types are the AWS side's, so one
renderer and one ``--json`` shape serve both; an Okta operation's ``api``
names the client method that performs it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from keyless.plan.diff import Change, FieldChange, Operation, Resource, untouched
from keyless.spec.expand import convention_group, expand_grants, saml_provider_arn
from keyless.spec.model import FederationSpec

MANAGED_MARK_PREFIX = "keyless:managed-by="

# The AWS settings keyless decides; anything else in settings.app is left as found.
MANAGED_SETTINGS = (
    "awsEnvironmentType",
    "groupFilter",
    "identityProviderArn",
    "joinAllRoles",
    "loginURL",
    "roleValuePattern",
    "sessionDuration",
    "useGroupMapping",
    "webSSOAllowedClient",
)
SOURCE_IDENTITY_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/SourceIdentity"
URI_NAMESPACE = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
# The field a SourceIdentity statement change shows as, in plan output.
SOURCE_IDENTITY_FIELD = "signOn.attributeStatements[SourceIdentity]"
# Okta Expression Language for the spec's fixed choices.
_SOURCE_IDENTITY_EXPRESSIONS = {
    "login": "user.login",
    "email": "user.email",
    "email_prefix": 'String.substringBefore(user.email, "@")',
}
# The app's BUILT_IN username templates ("Application username format": Okta username,
# its prefix, Email, its prefix) as the same expressions over the Okta user.
_TEMPLATE_EXPRESSIONS = {
    "${source.login}": "user.login",
    '${fn:substringBefore(source.login, "@")}': 'String.substringBefore(user.login, "@")',
    "${source.email}": "user.email",
    '${fn:substringBefore(source.email, "@")}': 'String.substringBefore(user.email, "@")',
}
# An app fresh from Okta's catalogue is not empty: it already carries the catalogue's own
# Group Filter and Role Value Pattern (a recorded GET /api/v1/apps answer for a new
# ``amazon_aws`` app in okta/terraform-provider-okta, test/fixtures/vcr/idaas/
# TestAccResourceOktaAppSignOnPolicyRule_AUTH_METHOD_CHAIN/oie-00.yaml). Those values, and
# settings an admin has not set, say nothing about anyone having configured the app.
CATALOGUE_DEFAULTS: dict[str, Any] = {
    "groupFilter": r"aws_(?{{accountid}}\d+)_(?{{role}}[a-zA-Z0-9+=,.@\-_]+)",
    "roleValuePattern": (
        "arn:aws:iam::${accountid}:saml-provider/OKTA,arn:aws:iam::${accountid}:role/${role}"
    ),
}
# What only an admin (or an earlier apply) puts there: any of these set means configured.
_CONFIGURED_SIGNS = (
    "identityProviderArn",
    "accessKey",
    "secretKeyEnc",
    "webSSOAllowedClient",
    "useGroupMapping",
)

# Okta's awsEnvironmentType values per AWS partition (the app's "AWS Environment" menu).
ENVIRONMENT_TYPES = {"aws": "aws.amazon", "aws-us-gov": "aws.us-gov", "aws-cn": "aws.cn"}
CONSOLE_URLS = {
    "aws": "https://console.aws.amazon.com/console/home",
    "aws-us-gov": "https://console.amazonaws-us-gov.com/console/home",
    "aws-cn": "https://console.amazonaws.cn/console/home",
}


def managed_mark(spec_name: str) -> str:
    """The mark keyless writes into what it manages in Okta."""
    return f"{MANAGED_MARK_PREFIX}{spec_name}"


def mark_owner(text: str | None) -> str | None:
    """The spec named by a keyless mark in ``text`` (None when there is none)."""
    match = re.search(re.escape(MANAGED_MARK_PREFIX) + r"([A-Za-z0-9_.-]+)", text or "")
    return match.group(1) if match else None


# -- desired ---------------------------------------------------------------------------


def okta_group_filter(pattern: str) -> str:
    """Okta's ``groupFilter`` regex for the spec's naming convention.

    Okta's syntax names the captures ``(?{{accountid}}...)`` and
    ``(?{{role}}...)``; its documented default is
    ``^aws\\#\\S+\\#(?{{role}}[\\w\\-]+)\\#(?{{accountid}}\\d+)$``.
    """
    out = ""
    for part in re.split(r"(\{alias\}|\{role\}|\{account_id\})", pattern):
        if part == "{alias}":
            out += r"[a-z0-9-]+"
        elif part == "{role}":
            out += r"(?{{role}}[\w+=,.@-]+)"
        elif part == "{account_id}":
            out += r"(?{{accountid}}\d{12})"
        else:
            out += re.sub(r"([.^$*+?()\[\]{}|\\#])", r"\\\1", part)
    return "^" + out + "$"


def group_mapping_usable(spec: FederationSpec) -> bool:
    """Whether the spec uses Okta's group mapping (its validation makes sure the
    convention then names the account id, which group mapping reads)."""
    return (
        spec.mapping_mode == "group_mapping"
        and spec.group_convention.enabled
        and "{account_id}" in spec.group_convention.pattern
    )


def desired_app_settings(
    spec: FederationSpec, *, cli_client_id: str | None = None
) -> dict[str, Any]:
    """``settings.app`` of the AWS Account Federation app for ``spec``.

    ``identityProviderArn`` lists every account's SAML provider, comma-separated,
    which is how the app takes many accounts; ``joinAllRoles`` because the spec
    grants the union of a person's groups.
    """
    first = spec.accounts[0]
    provider = spec.identity_provider.saml_provider_name
    partition = first.partition
    settings: dict[str, Any] = {
        "awsEnvironmentType": ENVIRONMENT_TYPES[partition],
        "identityProviderArn": ",".join(saml_provider_arn(spec, a) for a in spec.accounts),
        "joinAllRoles": True,
        "loginURL": CONSOLE_URLS[partition],
        "sessionDuration": spec.session.duration,
        "useGroupMapping": group_mapping_usable(spec),
    }
    client = cli_client_id or (spec.okta.cli_client_id if spec.okta else None)
    if client:
        settings["webSSOAllowedClient"] = client
    if group_mapping_usable(spec):
        settings["groupFilter"] = okta_group_filter(spec.group_convention.pattern)
        settings["roleValuePattern"] = (
            f"arn:{partition}:iam::${{accountid}}:saml-provider/{provider},"
            f"arn:{partition}:iam::${{accountid}}:role/${{role}}"
        )
    return settings


def source_identity_expression(
    attribute: str, username_template: dict[str, Any] | None
) -> str | None:
    """The Okta expression whose value the app sends as SourceIdentity.

    ``app_username`` follows the app's username template (what it sends as
    RoleSessionName), so revocation keyed on SourceIdentity and the fallback keyed
    on the session name name the same person the same way. None when the template
    is one keyless cannot restate as an expression.
    """
    if attribute != "app_username":
        return _SOURCE_IDENTITY_EXPRESSIONS[attribute]
    template = username_template or {"template": "${source.login}", "type": "BUILT_IN"}
    text = str(template.get("template") or "")
    if template.get("type") == "BUILT_IN":
        return _TEMPLATE_EXPRESSIONS.get(text)
    if template.get("type") == "CUSTOM" and text:
        # A CUSTOM template is itself an Okta expression, over `source` or `user`.
        inner = text[2:-1] if text.startswith("${") and text.endswith("}") else text
        return re.sub(
            r"\bsource\.", "user.", inner.replace("fn:substringBefore", "String.substringBefore")
        )
    return None


def source_identity_statement(expression: str) -> dict[str, Any]:
    """The attribute statement that sends ``expression``'s value as SourceIdentity."""
    return {
        "type": "EXPRESSION",
        "name": SOURCE_IDENTITY_ATTRIBUTE,
        "namespace": URI_NAMESPACE,
        "values": [expression],
    }


@dataclass(frozen=True)
class DesiredOktaGroup:
    """A group the spec names and its assignment to the app."""

    name: str
    # None: assigned without roles (Okta's group mapping reads the name).
    saml_roles: tuple[str, ...] | None
    source: str  # "mapping" or "convention"
    # False: the group exists (a rule reads its members) but is not assigned to the app.
    assigned: bool = True


# Okta limits a group rule's name to 50 characters (Groups API, "Group rule object").
RULE_NAME_MAX = 50


@dataclass(frozen=True)
class DesiredOktaRule:
    """An Okta group rule: members of ``source`` join the convention groups ``targets``."""

    name: str
    source: str
    targets: tuple[str, ...]


@dataclass(frozen=True)
class DesiredOkta:
    """Everything keyless wants in the Okta org for one spec."""

    spec_name: str
    settings: dict[str, Any]
    groups: tuple[DesiredOktaGroup, ...]
    rules: tuple[DesiredOktaRule, ...] = ()
    # identity_provider.source_identity.attribute: what the app sends as SourceIdentity.
    source_identity: str = "app_username"

    @property
    def mark(self) -> str:
        return managed_mark(self.spec_name)


def saml_role_value(spec: FederationSpec, alias: str, role: str) -> str:
    """How the app names a role in ``profile.samlRoles``."""
    return role if len(spec.accounts) == 1 else f"[{alias}] -- {role}"


def rule_name(spec_name: str, group: str) -> str:
    """The group rule keyless names for ``group``'s mapping (Okta: at most 50 characters)."""
    name = f"keyless {spec_name}: {group}"
    if len(name) <= RULE_NAME_MAX:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return name[: RULE_NAME_MAX - 9] + "~" + digest


def desired_okta(spec: FederationSpec, *, cli_client_id: str | None = None) -> DesiredOkta:
    """The Okta org's desired state for ``spec``: app settings, groups, assignments, rules."""
    settings = desired_app_settings(spec, cli_client_id=cli_client_id)
    grants = expand_grants(spec)
    if group_mapping_usable(spec):
        groups: list[DesiredOktaGroup] = []
        targets: dict[str, list[str]] = {}
        for grant in grants:
            role = spec.role(grant.role_name)
            if grant.source == "mapping" and role is not None:
                names = targets.setdefault(grant.group, [])
                convention = convention_group(spec, grant.account, role)
                if convention not in names:
                    names.append(convention)
        for source in targets:
            groups.append(DesiredOktaGroup(source, None, "mapping", assigned=False))
        for grant in grants:
            if grant.source == "convention":
                groups.append(DesiredOktaGroup(grant.group, None, "convention"))
        rules = tuple(
            DesiredOktaRule(rule_name(spec.name, source), source, tuple(names))
            for source, names in targets.items()
        )
        return DesiredOkta(
            spec.name,
            settings,
            tuple(groups),
            rules,
            source_identity=spec.identity_provider.source_identity.attribute,
        )
    by_group: dict[str, tuple[str, list[str]]] = {}  # name -> (source, samlRoles)
    for grant in grants:
        source, values = by_group.setdefault(grant.group, (grant.source, []))
        value = saml_role_value(spec, grant.account.alias, grant.role_name)
        if value not in values:
            values.append(value)
    return DesiredOkta(
        spec_name=spec.name,
        source_identity=spec.identity_provider.source_identity.attribute,
        settings=settings,
        groups=tuple(
            DesiredOktaGroup(name=name, saml_roles=tuple(values), source=source)
            for name, (source, values) in by_group.items()
        ),
    )


# -- actual ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ActualOktaApp:
    """The AWS app as ``GET /api/v1/apps/{id}`` returns it (the parts keyless reads)."""

    id: str
    label: str
    name: str
    settings: dict[str, Any]
    admin_note: str | None
    document: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)
    # settings.signOn.attributeStatements and credentials.userNameTemplate; None when
    # not read (keyless then leaves the SourceIdentity statement alone).
    attribute_statements: tuple[dict[str, Any], ...] | None = None
    username_template: dict[str, Any] | None = None


@dataclass(frozen=True)
class ActualOktaGroup:
    id: str
    name: str
    description: str


@dataclass(frozen=True)
class ActualOktaRule:
    """A group rule as ``GET /api/v1/groups/rules`` returns it (the parts keyless reads)."""

    id: str
    name: str
    status: str  # ACTIVE, INACTIVE, INVALID
    expression: str
    target_ids: tuple[str, ...]


@dataclass(frozen=True)
class ActualOkta:
    """What the org holds of the things keyless manages or could collide with."""

    app: ActualOktaApp
    groups: dict[str, ActualOktaGroup]  # by name: the spec's names, and groups marked for it
    assignments: dict[str, tuple[str, ...] | None]  # group id -> samlRoles (None: no profile)
    rules: dict[str, ActualOktaRule] = field(default_factory=dict)  # by name


def rule_expression(group_id: str) -> str:
    """Okta Expression Language for "a member of this group" (Groups API, group rules)."""
    return f'isMemberOfAnyGroup("{group_id}")'


# -- the plan ----------------------------------------------------------------------------


@dataclass(frozen=True)
class OktaPlan:
    """The plan for the Okta org, or why it could not be read."""

    org_url: str
    app_id: str | None
    changes: tuple[Change, ...] = ()
    error: str | None = None
    fix: str | None = None
    notes: tuple[str, ...] = ()
    unchanged: int = 0  # as AccountPlan.unchanged: for the review, not in as_dict

    @property
    def pending(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.pending)

    def as_dict(self) -> dict[str, Any]:
        return {
            "org_url": self.org_url,
            "app_id": self.app_id,
            "error": self.error,
            "fix": self.fix,
            "notes": list(self.notes),
            "changes": [c.as_dict() for c in self.changes],
        }


def _is_blank(settings: dict[str, Any]) -> bool:
    """True for an app as Okta's catalogue adds it: none of an admin's settings, and a
    Group Filter and Role Value Pattern that are absent or still the catalogue's own."""
    if any(settings.get(name) for name in _CONFIGURED_SIGNS):
        return False
    return all(
        settings.get(name) in (None, "", default) for name, default in CATALOGUE_DEFAULTS.items()
    )


def _conflict(resource: str, name: str, owner: str | None, spec_name: str) -> Change:
    if owner is None:
        reason = f"{resource} {name!r} exists and is not managed by keyless; --adopt takes it over"
    else:
        reason = (
            f"{resource} {name!r} is managed by another keyless federation ({owner!r}, "
            f"not {spec_name!r}); --adopt takes it over"
        )
    return Change(action="conflict", resource=_resource(resource), name=name, reason=reason)


def _resource(kind: str) -> Resource:
    resources: dict[str, Resource] = {
        "app": "okta-app",
        "group": "okta-group",
        "assignment": "okta-assignment",
        "rule": "okta-group-rule",
    }
    return resources[kind]


def diff_app(desired: DesiredOkta, actual: ActualOktaApp, *, adopt: bool) -> list[Change]:
    """The change to the app's settings, if any."""
    owner = mark_owner(actual.admin_note)
    ours = owner == desired.spec_name
    wanted = dict(desired.settings)
    differing = [
        FieldChange(name, actual.settings.get(name), wanted.get(name))
        for name in MANAGED_SETTINGS
        if actual.settings.get(name) != wanted.get(name)
        and not (name not in wanted and actual.settings.get(name) in (None, ""))
    ]
    statement = _source_identity_change(desired, actual)
    if statement is not None:
        differing.append(statement[0])
    if not ours and not differing and owner is None:
        return []  # already what the spec says: nothing to fight over
    claimable = ours or adopt or (owner is None and _is_blank(actual.settings))
    if not claimable:
        return [_conflict("app", actual.label or actual.id, owner, desired.spec_name)]
    fields = list(differing)
    if not ours:
        fields.append(FieldChange("notes.admin", actual.admin_note, desired.mark))
    if not fields:
        return []
    reason = ""
    if not ours:
        reason = (
            "adopted (--adopt)"
            if owner is not None or not _is_blank(actual.settings)
            else ("unconfigured app: keyless configures it")
        )
    return [
        Change(
            action="update",
            resource="okta-app",
            name=actual.label or actual.id,
            fields=tuple(fields),
            operations=(
                Operation(
                    "update_app_settings",
                    {
                        "app_id": actual.id,
                        # Managed settings the spec does not want are cleared (null).
                        "settings": {k: wanted.get(k) for k in MANAGED_SETTINGS},
                        "admin_note": desired.mark,
                        **({"attribute_statements": statement[1]} if statement is not None else {}),
                    },
                ),
            ),
            reason=reason,
        )
    ]


def _source_identity_change(
    desired: DesiredOkta, actual: ActualOktaApp
) -> tuple[FieldChange, list[dict[str, Any]]] | None:
    """The SourceIdentity statement's change and the statements to write, if it differs."""
    if actual.attribute_statements is None:
        return None
    expression = source_identity_expression(desired.source_identity, actual.username_template)
    if expression is None:
        return None
    current = [dict(s) for s in actual.attribute_statements]
    found = next((s for s in current if s.get("name") == SOURCE_IDENTITY_ATTRIBUTE), None)
    before = list(found.get("values") or []) if found is not None else None
    if before == [expression]:
        return None
    kept = [s for s in current if s.get("name") != SOURCE_IDENTITY_ATTRIBUTE]
    return (
        FieldChange(SOURCE_IDENTITY_FIELD, before, [expression]),
        [*kept, source_identity_statement(expression)],
    )


def diff_okta(desired: DesiredOkta, actual: ActualOkta, *, adopt: bool, prune: bool) -> OktaPlan:
    """Ordered changes that take the org to the spec: app settings, groups, assignments."""
    changes = diff_app(desired, actual.app, adopt=adopt)
    notes: list[str] = []
    app_id = actual.app.id
    wanted_names = {g.name for g in desired.groups}
    for group in desired.groups:
        found = actual.groups.get(group.name)
        group_ops: list[Operation] = []
        fields: list[FieldChange] = []
        reason = ""
        if found is None:
            changes.append(
                Change(
                    action="create",
                    resource="okta-group",
                    name=group.name,
                    fields=(FieldChange("description", None, desired.mark),),
                    operations=(
                        Operation(
                            "create_group", {"name": group.name, "description": desired.mark}
                        ),
                    ),
                )
            )
            group_id: str | None = None
        else:
            owner = mark_owner(found.description)
            if owner != desired.spec_name:
                if not adopt:
                    changes.append(_conflict("group", group.name, owner, desired.spec_name))
                    notes.append(
                        f"group {group.name!r} is not keyless's: its app assignment is left alone"
                    )
                    continue
                fields.append(FieldChange("description", found.description, desired.mark))
                group_ops.append(
                    Operation(
                        "update_group",
                        {"group_id": found.id, "name": group.name, "description": desired.mark},
                    )
                )
                reason = "adopted (--adopt)"
            group_id = found.id
        # Group mapping: a mapping's group reaches the app through its rule, not an
        # assignment; one left from role import (samlRoles beside group mapping) goes.
        if not group.assigned and group_id is not None and group_id in actual.assignments:
            fields.append(FieldChange("assigned", True, False))
            group_ops.append(Operation("unassign_group", {"app_id": app_id, "group_id": group_id}))
        # The assignment: created with the group, or compared with what is there.
        before = actual.assignments.get(group_id, "missing") if group_id else "missing"
        after = list(group.saml_roles) if group.saml_roles is not None else None
        if group.assigned and (before == "missing" or _roles(before) != _roles(after)):
            fields.append(
                FieldChange(
                    "samlRoles",
                    None if before == "missing" else _roles(before),
                    after,
                )
            )
            group_ops.append(
                Operation(
                    "assign_group",
                    {
                        "app_id": app_id,
                        "group": group.name,
                        "group_id": group_id,
                        "saml_roles": after,
                    },
                )
            )
        if not group_ops:
            continue
        if found is None:
            # The create above carries the group; its assignment follows it.
            changes.append(
                Change(
                    action="create",
                    resource="okta-assignment",
                    name=group.name,
                    fields=tuple(fields),
                    operations=tuple(group_ops),
                )
            )
            continue
        changes.append(
            Change(
                action="update",
                resource="okta-group" if reason else "okta-assignment",
                name=group.name,
                fields=tuple(fields),
                operations=tuple(group_ops),
                reason=reason,
            )
        )
    changes.extend(_diff_rules(desired, actual, notes))
    for name, leftover in sorted(actual.groups.items()):
        if name in wanted_names or mark_owner(leftover.description) != desired.spec_name:
            continue
        if prune:
            changes.append(
                Change(
                    action="delete",
                    resource="okta-group",
                    name=name,
                    operations=(Operation("delete_group", {"group_id": leftover.id}),),
                    reason="no longer in the spec (--prune)",
                )
            )
        else:
            changes.append(
                Change(
                    action="orphan",
                    resource="okta-group",
                    name=name,
                    reason="no longer in the spec; --prune deletes it",
                )
            )
    wanted = [
        ("okta-app", actual.app.label or actual.app.id),
        *(("okta-group", group.name) for group in desired.groups),
        *(("okta-assignment", group.name) for group in desired.groups if group.assigned),
        *(("okta-group-rule", rule.name) for rule in desired.rules),
    ]
    return OktaPlan(
        org_url="",
        app_id=app_id,
        changes=tuple(changes),
        notes=tuple(notes),
        unchanged=untouched(wanted, changes),
    )


def _diff_rules(desired: DesiredOkta, actual: ActualOkta, notes: list[str]) -> list[Change]:
    """Group rules for explicit mappings under group mapping: created, or replaced when
    they no longer read the mapping's group or fill its convention groups."""
    changes: list[Change] = []
    for rule in desired.rules:
        found = actual.rules.get(rule.name)
        source = actual.groups.get(rule.source)
        target_ids = [actual.groups[t].id if t in actual.groups else None for t in rule.targets]
        notes.append(
            f"mapping {rule.source!r}: Okta group rule {rule.name!r} puts its members in "
            + ", ".join(rule.targets)
            + " (group mapping reads roles from those names; no samlRoles)"
        )
        params = {"name": rule.name, "source": rule.source, "targets": list(rule.targets)}
        if found is None:
            changes.append(
                Change(
                    action="create",
                    resource="okta-group-rule",
                    name=rule.name,
                    fields=(
                        FieldChange("when", None, f"member of {rule.source}"),
                        FieldChange("assign to", None, list(rule.targets)),
                    ),
                    operations=(Operation("create_group_rule", params),),
                )
            )
            continue
        same = (
            source is not None
            and None not in target_ids
            and found.expression == rule_expression(source.id)
            and sorted(found.target_ids) == sorted(i for i in target_ids if i)
            and found.status == "ACTIVE"
        )
        if same:
            continue
        changes.append(
            Change(
                action="update",
                resource="okta-group-rule",
                name=rule.name,
                fields=(
                    FieldChange("assign to", sorted(found.target_ids), list(rule.targets)),
                    FieldChange("status", found.status, "ACTIVE"),
                ),
                operations=(Operation("replace_group_rule", {**params, "rule_id": found.id}),),
            )
        )
    return changes


def _roles(value: object) -> list[str] | None:
    # No profile and an empty samlRoles list grant the same: nothing by role name.
    if not isinstance(value, (list, tuple)) or not value:
        return None
    return sorted(str(v) for v in value)
