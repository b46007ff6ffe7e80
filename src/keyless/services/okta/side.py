"""The Okta org's half of a federation: plan and apply it, offboard a person, audit the org.

``keyless plan|apply`` run the AWS side first (the SAML providers must exist
before the app names them), then this. Okta's failures are contained here as
AWS's are per account: an :class:`OktaApplyResult` says what was applied,
``after N of M changes``, and why it stopped; a rerun recomputes the plan from
what the org holds, so it converges.

For `keyless offboard` and `keyless audit`:

    result = offboard_okta_user(client, "bob@acme.example", suspend=True)
    findings = audit_okta(client, spec)

Both take an :class:`OktaAdminClient` (see :func:`connect_okta`), so the same
code runs against a real org and the lab.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from keyless.adapters.okta_admin import (
    TOKEN_ENV,
    ApiToken,
    OktaAdminClient,
    OktaAuth,
    OktaNotFoundError,
    credentials_from_env,
    make_admin_http,
    okta_object,
)
from keyless.errors import ConfigError, InputError, KeylessError, explain
from keyless.plan.diff import Change
from keyless.plan.okta import (
    ActualOkta,
    ActualOktaApp,
    ActualOktaGroup,
    ActualOktaRule,
    DesiredOkta,
    OktaPlan,
    desired_okta,
    mark_owner,
)
from keyless.spec.model import FederationSpec, OktaManagement

AMAZON_AWS = "amazon_aws"


# -- where the org is and who we are there ------------------------------------------------------


@dataclass(frozen=True)
class KnownOrg:
    """An org whose URL, app, CA and admin token are known from elsewhere (the lab's
    ``lab.json``), so neither the spec nor the environment has to name them."""

    org_url: str
    app_id: str
    ca_bundle: str | None = None
    api_token: str | None = field(default=None, repr=False)
    oidc_client_id: str | None = None  # the CLI's native OIDC app, when the org has one


@dataclass(frozen=True)
class OktaTarget:
    """The org and app to manage, and the credentials to do it with."""

    org_url: str
    app_id: str | None
    app_label: str | None
    auth: OktaAuth = field(repr=False)
    ca_bundle: str | None = None
    # The native OIDC app `keyless login` uses: the AWS app's Allowed Web SSO Client.
    cli_client_id: str | None = None


def okta_target(
    spec: FederationSpec,
    *,
    known: KnownOrg | None = None,
    environ: dict[str, str] | None = None,
    keyring_get: Callable[[str], str | None] | None = None,
) -> OktaTarget | None:
    """Where and how to manage the spec's Okta side; None when the spec leaves Okta alone.

    ``--lab`` fills in the org URL, the app id, the CA and (unless
    ``KEYLESS_OKTA_API_TOKEN`` is set) the lab's bootstrap API token.
    """
    okta = spec.okta
    if okta is None or not okta.manage:
        return None
    return okta_org(spec, known=known, environ=environ, keyring_get=keyring_get)


def okta_org(
    spec: FederationSpec,
    *,
    known: KnownOrg | None = None,
    environ: dict[str, str] | None = None,
    keyring_get: Callable[[str], str | None] | None = None,
) -> OktaTarget:
    """The spec's Okta org and the credentials to act on it, whether or not keyless
    manages its app (`offboard` and `audit` need the org even when `apply` leaves it
    alone). Without an ``okta`` section the defaults apply: an API token
    (``KEYLESS_OKTA_API_TOKEN`` or the keyring; the lab's own token with ``--lab``).
    """
    okta = spec.okta or OktaManagement()
    app_id: str | None
    if known is not None:
        org_url, app_id, app_label = known.org_url, known.app_id, None
    else:
        provider = spec.identity_provider
        if provider.org_url is None:
            raise InputError(
                "acting on the Okta org needs identity_provider.org_url (the Okta org's URL)",
                fix="set identity_provider.org_url, or pass --lab for the lab's org",
            )
        if provider.app_id is None and okta.app_label is None:
            raise InputError(
                "the spec names no Okta app: set identity_provider.app_id or okta.app_label",
                fix="the app id is in the AWS app's URL in Okta's admin console (0oa...)",
            )
        org_url, app_id, app_label = provider.org_url, provider.app_id, okta.app_label
    auth: OktaAuth
    token_set = (os.environ if environ is None else environ).get(TOKEN_ENV)
    if known is not None and okta.auth == "api_token" and not token_set:
        # The known org's own admin token (the lab's), unless the environment names one.
        if not known.api_token:
            raise ConfigError(
                f"no Okta API token is known for {known.org_url}",
                fix="restart the lab with this version of keyless (`keyless lab up`)",
            )
        auth = ApiToken(known.api_token)
    else:
        auth = credentials_from_env(
            method=okta.auth,
            client_id=okta.client_id,
            scopes=tuple(okta.scopes),
            environ=environ,
            keyring_get=keyring_get,
            org_url=org_url,
        )
    return OktaTarget(
        org_url=org_url,
        app_id=app_id,
        app_label=app_label,
        auth=auth,
        ca_bundle=known.ca_bundle if known is not None else None,
        cli_client_id=okta.cli_client_id or (known.oidc_client_id if known else None),
    )


def connect_okta(
    target: OktaTarget,
    *,
    http: httpx.Client | None = None,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> OktaAdminClient:
    """A management client for ``target`` (an httpx client made for it unless passed in)."""
    kwargs: dict[str, Any] = {}
    if clock is not None:
        kwargs["clock"] = clock
    if sleep is not None:
        kwargs["sleep"] = sleep
    return OktaAdminClient(
        target.org_url,
        target.auth,
        http=http or make_admin_http(ca_bundle=target.ca_bundle),
        **kwargs,
    )


# -- reading the org ------------------------------------------------------------------------------


def _app(document: dict[str, Any]) -> ActualOktaApp:
    settings = okta_object(document.get("settings"))
    app_settings = okta_object(settings.get("app"))
    notes = okta_object(settings.get("notes"))
    admin = notes.get("admin")
    statements = okta_object(settings.get("signOn")).get("attributeStatements")
    template = okta_object(document.get("credentials")).get("userNameTemplate")
    return ActualOktaApp(
        id=str(document.get("id", "")),
        label=str(document.get("label", "")),
        name=str(document.get("name", "")),
        settings=dict(app_settings),
        admin_note=admin if isinstance(admin, str) else None,
        document=document,
        attribute_statements=tuple(s for s in statements or [] if isinstance(s, dict)),
        username_template=template if isinstance(template, dict) else None,
    )


def find_app(client: OktaAdminClient, target: OktaTarget) -> ActualOktaApp:
    """The AWS Account Federation app the spec names, by id or by label."""
    if target.app_id is not None:
        try:
            document = client.get_app(target.app_id)
        except OktaNotFoundError as exc:
            raise InputError(
                f"the Okta org {target.org_url} has no app {target.app_id}",
                fix="check identity_provider.app_id (the id in the app's admin console URL)",
            ) from exc
    else:
        label = target.app_label or ""
        found = [
            a
            for a in client.find_apps(label)
            if a.get("label") == label and a.get("name") == AMAZON_AWS
        ]
        if len(found) != 1:
            raise InputError(
                f"{len(found)} AWS Account Federation apps labelled {label!r} in {target.org_url}",
                fix="name the app by id (identity_provider.app_id) instead",
            )
        document = found[0]
    app = _app(document)
    if app.name != AMAZON_AWS:
        raise InputError(
            f"the Okta app {app.id} ({app.label!r}) is a {app.name!r} app, not AWS Account "
            "Federation (amazon_aws)",
            fix="point identity_provider.app_id at the AWS Account Federation app",
        )
    return app


def read_okta(client: OktaAdminClient, target: OktaTarget, desired: DesiredOkta) -> ActualOkta:
    """The app, the groups that matter to the spec, the app's assignments and keyless's rules.

    Groups are looked up by name, one search each (``search=profile.name eq "..."``),
    plus one search for groups carrying this spec's mark (orphans ``--prune`` may
    delete), instead of listing every group of the org.
    """
    app = find_app(client, target)
    groups: dict[str, ActualOktaGroup] = {}

    def keep(document: dict[str, Any]) -> None:
        profile = okta_object(document.get("profile"))
        name = str(profile.get("name") or "")
        description = str(profile.get("description") or "")
        groups[name] = ActualOktaGroup(
            id=str(document.get("id")), name=name, description=description
        )

    for group in desired.groups:
        found = client.find_group(group.name)
        if found is not None:
            keep(found)
    mark = desired.mark.replace('"', "")
    for document in client.search_groups(f'profile.description sw "{mark}"'):
        description = str(okta_object(document.get("profile")).get("description") or "")
        if mark_owner(description) == desired.spec_name:
            keep(document)
    assignments: dict[str, tuple[str, ...] | None] = {}
    for document in client.list_app_groups(app.id):
        profile = okta_object(document.get("profile"))
        roles = profile.get("samlRoles")
        assignments[str(document.get("id"))] = (
            tuple(str(r) for r in roles) if isinstance(roles, list) else None
        )
    rules: dict[str, ActualOktaRule] = {}
    if desired.rules:
        wanted = {rule.name for rule in desired.rules}
        for document in client.list_group_rules(search=f"keyless {desired.spec_name}:"):
            rule = _rule(document)
            if rule.name in wanted:
                rules[rule.name] = rule
    return ActualOkta(app=app, groups=groups, assignments=assignments, rules=rules)


def _rule(document: dict[str, Any]) -> ActualOktaRule:
    conditions = okta_object(document.get("conditions"))
    expression = okta_object(conditions.get("expression")).get("value")
    actions = okta_object(document.get("actions"))
    ids = okta_object(actions.get("assignUserToGroups")).get("groupIds")
    return ActualOktaRule(
        id=str(document.get("id", "")),
        name=str(document.get("name", "")),
        status=str(document.get("status", "")),
        expression=expression if isinstance(expression, str) else "",
        target_ids=tuple(str(i) for i in ids) if isinstance(ids, list) else (),
    )


# -- plan and apply -------------------------------------------------------------------------------


@dataclass(frozen=True)
class OktaApplyResult:
    """What apply did in the Okta org."""

    status: str  # "applied", "unchanged", "failed"
    applied: tuple[Change, ...] = ()
    error: str | None = None
    fix: str | None = None
    skipped: tuple[Change, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "error": self.error,
            "fix": self.fix,
            "applied": [f"{c.action} {c.resource} {c.name}" for c in self.applied],
            "left_alone": [f"{c.action} {c.resource} {c.name}: {c.reason}" for c in self.skipped],
        }


class OktaSide:
    """Plans and applies the spec's Okta side through one client (kept between the two)."""

    def __init__(self, spec: FederationSpec, target: OktaTarget, client: OktaAdminClient) -> None:
        self.spec = spec
        self.target = target
        self.client = client
        self._actual: ActualOkta | None = None

    def plan(self, *, adopt: bool = False, prune: bool = False) -> OktaPlan:
        """Read the org and diff it against the spec; a failure is the plan's ``error``."""
        from keyless.plan.okta import diff_okta

        desired = desired_okta(self.spec, cli_client_id=self.target.cli_client_id)
        try:
            actual = read_okta(self.client, self.target, desired)
        except Exception as exc:  # contained: the AWS side's plan stands on its own
            message, fix = explain(exc)
            return OktaPlan(
                org_url=self.target.org_url, app_id=self.target.app_id, error=message, fix=fix
            )
        self._actual = actual
        plan = diff_okta(desired, actual, adopt=adopt, prune=prune)
        return OktaPlan(
            org_url=self.target.org_url,
            app_id=actual.app.id,
            changes=plan.changes,
            notes=plan.notes,
            unchanged=plan.unchanged,
        )

    def _run(self, api: str, params: dict[str, Any], group_ids: dict[str, str]) -> None:
        client = self.client
        if api == "update_app_settings":
            assert self._actual is not None
            document = dict(self._actual.app.document)
            settings = okta_object(document.get("settings"))
            app_settings = {**okta_object(settings.get("app")), **params["settings"]}
            notes = {**okta_object(settings.get("notes")), "admin": params["admin_note"]}
            document["settings"] = {**settings, "app": app_settings, "notes": notes}
            if "attribute_statements" in params:
                sign_on = okta_object(settings.get("signOn"))
                document["settings"]["signOn"] = {
                    **sign_on,
                    "attributeStatements": params["attribute_statements"],
                }
            client.update_app(params["app_id"], document)
        elif api == "create_group":
            created = client.create_group(params["name"], params["description"])
            group_ids[params["name"]] = str(created["id"])
        elif api == "update_group":
            client.update_group(params["group_id"], params["name"], params["description"])
        elif api == "assign_group":
            group_id = params["group_id"] or self._group_id(params["group"], group_ids)
            roles = params["saml_roles"]
            client.assign_group(
                params["app_id"], group_id, {} if roles is None else {"samlRoles": list(roles)}
            )
        elif api == "unassign_group":
            client.unassign_group(params["app_id"], params["group_id"])
        elif api in ("create_group_rule", "replace_group_rule"):
            source = self._group_id(params["source"], group_ids)
            targets = [self._group_id(name, group_ids) for name in params["targets"]]
            if api == "create_group_rule":
                rule_id = str(client.create_group_rule(params["name"], source, targets)["id"])
            else:
                # Okta changes only INACTIVE rules: deactivate, update, activate again.
                rule_id = params["rule_id"]
                client.group_rule_lifecycle(rule_id, "deactivate")
                client.update_group_rule(rule_id, params["name"], source, targets)
            client.group_rule_lifecycle(rule_id, "activate")
        elif api == "delete_group":
            client.delete_group(params["group_id"])
        else:
            raise KeylessError(f"unknown Okta operation {api!r}")

    def _group_id(self, name: str, group_ids: dict[str, str]) -> str:
        """The id of group ``name``: created by this run, read by the plan, or searched."""
        known = group_ids.get(name)
        if known is None and self._actual is not None and name in self._actual.groups:
            known = self._actual.groups[name].id
        if known is None:  # created by an earlier run that stopped before using it
            found = self.client.find_group(name)
            if found is None:
                raise KeylessError(f"the group {name!r} vanished during apply")
            known = str(found["id"])
        group_ids[name] = known
        return known

    def send_provisioning_key(self, access_key_id: str, secret_access_key: str) -> None:
        """Put the IdP provisioning user's new key into the app's API integration
        (``settings.app.accessKey``/``secretKey``), so that nobody has to paste it."""
        app = find_app(self.client, self.target)
        document = dict(app.document)
        settings = okta_object(document.get("settings"))
        app_settings = {
            **okta_object(settings.get("app")),
            "accessKey": access_key_id,
            "secretKey": secret_access_key,
        }
        document["settings"] = {**settings, "app": app_settings}
        updated = self.client.update_app(app.id, document)
        if self._actual is not None:
            # Okta's PUT replaces the whole app: a later settings change in this run starts
            # from the app holding the key, not from the one the plan read before it.
            self._actual = replace(
                self._actual, app=replace(self._actual.app, document=updated or document)
            )

    def apply(self, plan: OktaPlan) -> OktaApplyResult:
        """Apply the plan's pending changes in order; stop at the first failure."""
        skipped = tuple(c for c in plan.changes if not c.pending)
        if plan.error:
            return OktaApplyResult("failed", error=plan.error, fix=plan.fix)
        pending = plan.pending
        if not pending:
            return OktaApplyResult("unchanged", skipped=skipped)
        applied: list[Change] = []
        group_ids: dict[str, str] = {}
        try:
            for change in pending:
                for operation in change.operations:
                    self._run(operation.api, dict(operation.params), group_ids)
                applied.append(change)
        except Exception as exc:  # contained: the AWS side's results stand
            message, fix = explain(exc)
            return OktaApplyResult(
                "failed",
                applied=tuple(applied),
                error=f"Okta org {self.target.org_url} after {len(applied)} of {len(pending)} "
                f"changes: {message}",
                fix=fix
                or "fix the cause and run `keyless apply` again: it picks up where it stopped",
                skipped=skipped,
            )
        return OktaApplyResult("applied", applied=tuple(applied), skipped=skipped)
