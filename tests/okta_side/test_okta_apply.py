"""`keyless plan|apply` converge the Okta org too (issue 13's done-when), against the lab.

The lab starts with its AWS app as Okta's catalogue adds it and no spec group
(``okta_app_configured=False``): only `keyless apply` through the management API makes
logins work, and the assertions the lab IdP signs follow what apply stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from keyless.adapters.okta_admin import ApiToken, OktaAdminClient, make_admin_http
from keyless.errors import DeniedError
from keyless.plan.okta import CATALOGUE_DEFAULTS
from keyless.spec import grants_for_groups, load_spec
from keyless_lab.idp.core import NoRoles
from okta_support import OktaLab, acme_role_import, acme_with_okta, roles_of

ALICE, BOB, CAROL = "alice@acme.example", "bob@acme.example", "carol@acme.example"


@pytest.fixture
def admin(okta_lab: OktaLab) -> Iterator[OktaAdminClient]:
    """A management client with the lab's bootstrap admin token (every scope)."""
    http = make_admin_http(ca_bundle=okta_lab.info.ca_bundle)
    try:
        yield OktaAdminClient(
            okta_lab.info.idp_url, ApiToken(okta_lab.info.okta_api_token), http=http
        )
    finally:
        http.close()


def _expected(okta_lab: OktaLab, login: str, spec_path: Path | None = None) -> set[str]:
    spec = load_spec(spec_path or okta_lab.spec_path)
    groups = next(u["groups"] for u in spec.lab["users"] if u["login"] == login)
    return {grant.role_arn for grant in grants_for_groups(spec, groups)}


def _plan(okta_lab: OktaLab, *args: str, spec: Path | None = None) -> dict[str, Any]:
    result = okta_lab.keyless("plan", "--json", *args, spec=spec)
    assert result.returncode in (0, 3), result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def _pending(document: dict[str, Any], side: str) -> list[dict[str, Any]]:
    if side == "okta":
        changes = (document["okta"] or {}).get("changes", [])
    else:
        changes = [c for a in document["accounts"] for c in a["changes"]]
    return [c for c in changes if c["action"] in ("create", "update", "replace", "delete")]


@pytest.fixture(scope="module")
def applied(okta_lab: OktaLab) -> OktaLab:
    """The fresh lab after one `keyless apply --yes` (AWS, then Okta)."""
    before = _plan(okta_lab)
    okta_changes = _pending(before, "okta")
    assert any(c["resource"] == "okta-app" for c in okta_changes)
    assert any(c["resource"] == "okta-group" for c in okta_changes)
    result = okta_lab.keyless("apply", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Okta" in result.stdout
    return okta_lab


def test_nobody_gets_a_role_before_apply_configures_okta(blank_okta_lab: OktaLab) -> None:
    # The app is as Okta's catalogue adds it (its own Group Filter and Role Value Pattern,
    # no Identity Provider ARN) and no spec group exists: the lab signs nothing for anyone.
    idp = blank_okta_lab.lab.idp.idp
    user = idp.directory.get_user(ALICE)
    assert user is not None
    settings = idp.appstate.app_row()["settings"]
    assert settings["identityProviderArn"] is None
    assert {k: settings[k] for k in CATALOGUE_DEFAULTS} == CATALOGUE_DEFAULTS
    with pytest.raises(NoRoles):
        idp.issue_assertion(user, client="127.0.0.1", via="test")


@pytest.mark.parametrize("login", [ALICE, BOB, CAROL])
def test_after_apply_each_person_gets_exactly_their_roles(
    applied: OktaLab, login: str, tmp_path: Path
) -> None:
    expected = _expected(applied, login)
    assert expected
    assert roles_of(applied, login, tmp_path) == expected


def test_plan_after_apply_reports_no_changes(applied: OktaLab) -> None:
    result = applied.keyless("plan", "--detailed-exitcode")
    assert result.returncode == 0, result.stdout + result.stderr
    document = _plan(applied)
    assert document["okta"]["error"] is None
    assert _pending(document, "okta") == []
    assert _pending(document, "aws") == []


def test_changing_a_mapping_is_one_okta_change_and_the_next_assertion_follows(
    applied: OktaLab, tmp_path: Path
) -> None:
    data = acme_with_okta()
    auditors = next(m for m in data["group_mappings"] if m["group"] == "auditors")
    auditors["accounts"] = ["acme-prod"]  # was: all
    changed = applied.write_spec(data, "narrower.yaml")
    try:
        document = _plan(applied, spec=changed)
        assert _pending(document, "aws") == []
        okta_changes = _pending(document, "okta")
        # Group mapping: an explicit mapping is a group rule into convention groups.
        assert [(c["action"], c["resource"], c["name"]) for c in okta_changes] == [
            ("update", "okta-group-rule", "keyless acme: auditors")
        ]
        result = applied.keyless("apply", "--yes", spec=changed)
        assert result.returncode == 0, result.stdout + result.stderr
        assert roles_of(applied, CAROL, tmp_path) == {"arn:aws:iam::222222222222:role/ReadOnly"}
    finally:
        restored = applied.keyless("apply", "--yes")
        assert restored.returncode == 0, restored.stderr
    assert roles_of(applied, CAROL, tmp_path) == _expected(applied, CAROL)


def test_a_hand_made_group_with_a_spec_name_is_a_conflict_left_alone(
    applied: OktaLab, admin: OktaAdminClient
) -> None:
    made = applied.lab_cli("group", "add", "sre")
    assert made.returncode == 0, made.stderr
    data = acme_with_okta()
    data["group_mappings"].append({"group": "sre", "role": "ReadOnly", "accounts": ["acme-dev"]})
    with_sre = applied.write_spec(data, "with-sre.yaml")
    document = _plan(applied, spec=with_sre)
    okta = document["okta"]
    conflicts = [c for c in okta["changes"] if c["action"] == "conflict"]
    assert [(c["resource"], c["name"]) for c in conflicts] == [("okta-group", "sre")]
    assert "--adopt" in conflicts[0]["reason"]
    result = applied.keyless("apply", "--yes", spec=with_sre)
    assert result.returncode == 0, result.stdout + result.stderr
    sre = next(g for g in admin.list_groups("sre") if g["profile"]["name"] == "sre")
    assert sre["profile"]["description"] is None  # not marked: still the person's group
    assert admin.get_app_group(applied.info.app_id, sre["id"]) is None  # not assigned
    adopting = _plan(applied, "--adopt", spec=with_sre)
    assert [(c["action"], c["resource"]) for c in _pending(adopting, "okta")] == [
        ("update", "okta-group")
    ]


def test_a_read_only_token_fails_cleanly_naming_the_missing_scope(
    applied: OktaLab, admin: OktaAdminClient
) -> None:
    made = applied.lab_cli(
        "token", "create", "--scopes", "okta.apps.read,okta.groups.read,okta.users.read", "--json"
    )
    assert made.returncode == 0, made.stderr
    token = json.loads(made.stdout)["token"]
    data = acme_with_okta()
    data["session"]["duration"] = 7200
    data["group_mappings"].append({"group": "on-call", "role": "ReadOnly", "accounts": "all"})
    longer = applied.write_spec(data, "longer.yaml")
    before_app = admin.get_app(applied.info.app_id)
    before_groups = {g["id"] for g in admin.list_groups()}
    before_assignments = admin.list_app_groups(applied.info.app_id)

    result = applied.keyless(
        "apply", "--yes", "--target", "okta", env={"KEYLESS_OKTA_API_TOKEN": token}, spec=longer
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "okta.apps.manage" in result.stderr
    assert "after 0 of" in result.stderr
    assert admin.get_app(applied.info.app_id)["settings"] == before_app["settings"]
    assert {g["id"] for g in admin.list_groups()} == before_groups
    assert admin.list_app_groups(applied.info.app_id) == before_assignments


def test_a_429_storm_slows_apply_but_it_converges(applied: OktaLab) -> None:
    data = acme_with_okta()
    data["group_mappings"] += [
        {"group": f"storm-{i}", "role": "ReadOnly", "accounts": ["acme-dev"]} for i in range(4)
    ]
    stormy = applied.write_spec(data, "stormy.yaml")
    state = applied.lab.idp.idp.appstate
    state.storm_every = 3
    try:
        result = applied.keyless("apply", "--yes", "--target", "okta", spec=stormy)
    finally:
        state.storm_every = 0
    assert result.returncode == 0, result.stdout + result.stderr
    assert "applied 8 change(s)" in result.stdout  # 4 groups, 4 assignments
    settled = applied.keyless("plan", "--detailed-exitcode", "--target", "okta", spec=stormy)
    assert settled.returncode == 0, settled.stdout + settled.stderr


def test_a_wrong_provider_arn_set_through_the_api_breaks_login_and_plan_repairs_it(
    applied: OktaLab, admin: OktaAdminClient, tmp_path: Path
) -> None:
    # With group mapping the provider ARN reaches the assertion through the Role Value
    # Pattern (identityProviderArn only feeds the API integration's role import).
    app = admin.get_app(applied.info.app_id)
    right = app["settings"]["app"]["roleValuePattern"]
    wrong = right.replace("saml-provider/Okta,", "saml-provider/OktaOld,")
    assert wrong != right
    app["settings"]["app"]["roleValuePattern"] = wrong
    admin.update_app(applied.info.app_id, app)
    with pytest.raises(DeniedError) as refused:
        roles_of(applied, BOB, tmp_path)
    assert "saml-provider/OktaOld" in str(refused.value)

    document = _plan(applied)
    drift = _pending(document, "okta")
    assert [(c["resource"], [f["field"] for f in c["fields"]]) for c in drift] == [
        ("okta-app", ["roleValuePattern"])
    ]
    repaired = applied.keyless("apply", "--yes", "--target", "okta")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert roles_of(applied, BOB, tmp_path) == _expected(applied, BOB)


def test_the_provisioning_key_goes_to_okta_and_its_secret_is_not_printed(
    blank_okta_lab: OktaLab,
) -> None:
    # Only role import has an API integration, and so a key for Okta to hold.
    applied = blank_okta_lab
    role_import = applied.write_spec(acme_role_import(), "role-import.yaml")
    http = make_admin_http(ca_bundle=applied.info.ca_bundle)
    admin = OktaAdminClient(applied.info.idp_url, ApiToken(applied.info.okta_api_token), http=http)
    result = applied.keyless(
        "apply", "--yes", "--create-provisioning-key", "--json", spec=role_import
    )
    assert result.returncode == 0, result.stdout + result.stderr
    key = json.loads(result.stdout)["provisioning_key"]
    assert key["sent_to_okta"] is True
    assert "secret_access_key" not in key
    stored = applied.lab.idp.idp.appstate.app_row()["settings"]
    assert stored["accessKey"] == key["access_key_id"]
    assert stored["secretKey"]
    assert stored["secretKey"] not in result.stdout + result.stderr
    # Okta never answers the secret back, and a later settings change keeps it.
    try:
        assert admin.get_app(applied.info.app_id)["settings"]["app"]["secretKey"] is None
    finally:
        http.close()
    settled = applied.keyless("plan", "--detailed-exitcode", spec=role_import)
    assert settled.returncode == 0, settled.stdout + settled.stderr
