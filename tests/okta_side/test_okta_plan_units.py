"""The Okta side's desired state and diff, pure: ownership marks, adopt, prune, blank apps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from keyless.plan.okta import (
    ActualOkta,
    ActualOktaApp,
    ActualOktaGroup,
    ActualOktaRule,
    desired_okta,
    diff_okta,
    managed_mark,
    rule_expression,
)
from keyless.spec import load_spec, load_spec_text
from keyless_lab.idp.awsapp import app_roles

ACME = Path(__file__).resolve().parents[2] / "examples" / "acme.yaml"
# The app's API integration (Provisioning tab): samlRoles name only the roles it imported.
API_INTEGRATION = {"accessKey": "AKIAIOSFODNN7EXAMPLE", "secretKey": "imported-with-this"}


def _app(settings: dict[str, Any], note: str | None = None) -> ActualOktaApp:
    return ActualOktaApp(
        id="0oa1", label="AWS", name="amazon_aws", settings=settings, admin_note=note
    )


def test_a_blank_app_is_configured_without_adopt_and_groups_are_created() -> None:
    desired = desired_okta(load_spec(ACME))
    plan = diff_okta(desired, ActualOkta(_app({}), {}, {}), adopt=False, prune=False)
    kinds = [(c.action, c.resource) for c in plan.changes]
    assert kinds[0] == ("update", "okta-app")
    assert "unconfigured" in plan.changes[0].reason
    assert kinds.count(("create", "okta-group")) == len(desired.groups)
    assigned = [g for g in desired.groups if g.assigned]
    assert kinds.count(("create", "okta-assignment")) == len(assigned)
    # Group mapping: explicit mappings become group rules, never samlRoles.
    assert kinds.count(("create", "okta-group-rule")) == len(desired.rules)


def test_a_configured_app_keyless_does_not_own_is_a_conflict_until_adopt() -> None:
    desired = desired_okta(load_spec(ACME))
    theirs = _app({"identityProviderArn": "arn:aws:iam::111111111111:saml-provider/Other"})
    plan = diff_okta(desired, ActualOkta(theirs, {}, {}), adopt=False, prune=False)
    assert (plan.changes[0].action, plan.changes[0].resource) == ("conflict", "okta-app")
    adopted = diff_okta(desired, ActualOkta(theirs, {}, {}), adopt=True, prune=False)
    assert adopted.changes[0].action == "update"
    assert adopted.changes[0].reason == "adopted (--adopt)"


def test_marked_groups_that_left_the_spec_are_orphans_until_prune() -> None:
    spec = load_spec(ACME)
    desired = desired_okta(spec)
    app = _app(dict(desired.settings), managed_mark(spec.name))
    groups = {
        g.name: ActualOktaGroup(id=f"00g{i}", name=g.name, description=desired.mark)
        for i, g in enumerate(desired.groups)
    }
    assignments = {f"00g{i}": g.saml_roles for i, g in enumerate(desired.groups) if g.assigned}
    rules = {
        r.name: ActualOktaRule(
            id=f"0pr{i}",
            name=r.name,
            status="ACTIVE",
            expression=rule_expression(groups[r.source].id),
            target_ids=tuple(groups[t].id for t in r.targets),
        )
        for i, r in enumerate(desired.rules)
    }
    groups["old-team"] = ActualOktaGroup(id="00gold", name="old-team", description=desired.mark)
    groups["someone-elses"] = ActualOktaGroup(id="00gx", name="someone-elses", description="")
    kept = diff_okta(desired, ActualOkta(app, groups, assignments, rules), adopt=False, prune=False)
    assert [(c.action, c.name) for c in kept.changes] == [("orphan", "old-team")]
    pruned = diff_okta(
        desired, ActualOkta(app, groups, assignments, rules), adopt=False, prune=True
    )
    assert [(c.action, c.name) for c in pruned.changes] == [("delete", "old-team")]
    assert pruned.changes[0].operations[0].params == {"group_id": "00gold"}


def test_one_account_names_roles_plainly_and_the_lab_resolves_them() -> None:
    data = yaml.safe_load(ACME.read_text())
    data["accounts"] = [data["accounts"][2]]  # acme-dev only
    data["mapping_mode"] = "role_import"  # samlRoles name imported roles
    data["group_convention"] = {"enabled": False}
    data.pop("expected_access_keys", None)  # names acme-management, gone here
    for role in data["roles"]:
        role["accounts"] = "all"
    for mapping in data["group_mappings"]:
        mapping["accounts"] = "all"
    spec = load_spec_text(yaml.safe_dump(data))
    desired = desired_okta(spec)
    admins = next(g for g in desired.groups if g.name == "aws-admins")
    assert admins.saml_roles == ("OktaAdminRole",)
    settings = {**desired.settings, **API_INTEGRATION}
    roles = app_roles(spec, settings, [("00g1", admins.saml_roles)], {"00g1": "aws-admins"})
    assert [(r.role_arn, r.principal_arn) for r in roles] == [
        (
            "arn:aws:iam::333333333333:role/OktaAdminRole",
            "arn:aws:iam::333333333333:saml-provider/Okta",
        )
    ]


def test_join_all_roles_false_keeps_only_the_first_assignment() -> None:
    spec = load_spec(ACME)
    settings = {
        **desired_okta(spec).settings,
        **API_INTEGRATION,
        "joinAllRoles": False,
        "useGroupMapping": False,
    }
    assignments = [
        ("00ga", ("[acme-dev] -- Developer",)),
        ("00gb", ("[acme-prod] -- ReadOnly",)),
    ]
    member_of = {"00ga": "developers", "00gb": "auditors"}
    first = app_roles(spec, settings, assignments, member_of)
    assert [r.role_arn for r in first] == ["arn:aws:iam::333333333333:role/Developer"]
    joined = app_roles(spec, {**settings, "joinAllRoles": True}, assignments, member_of)
    assert len(joined) == 2
    # Not assigned (no assigned group): nothing, whatever the settings.
    assert app_roles(spec, settings, assignments, {"00gz": "other"}) == ()
