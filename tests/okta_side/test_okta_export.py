"""`keyless export terraform` describes the Okta state `apply` leaves in the org."""

from __future__ import annotations

import re
from typing import Any

import hcl2

from keyless.adapters.okta_admin import ApiToken, OktaAdminClient, make_admin_http
from keyless.export.terraform import terraform_files
from keyless.plan.okta import mark_owner
from keyless.spec import load_spec
from okta_support import OktaLab


def _blocks(parsed: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for resource in parsed.get("resource", []):
        for key, bodies in resource.items():
            if key.strip('"') == kind:
                found += list(bodies.values())
    return found


def test_terraform_okta_resources_match_what_apply_stored(configured: OktaLab) -> None:
    spec = load_spec(configured.spec_path)
    # The lab spec is `kind: lab`; export the same federation as an Okta one.
    okta_spec = spec.model_copy(
        update={
            "identity_provider": spec.identity_provider.model_copy(
                update={"kind": "okta", "org_url": "https://acme.okta.com", "app_id": "0oa1"}
            )
        }
    )
    parsed = hcl2.loads(terraform_files(okta_spec)["okta.tf"])
    groups = {str(b["name"]).strip('"') for b in _blocks(parsed, "okta_group")}
    profiles = [str(b.get("profile", "")) for b in _blocks(parsed, "okta_app_group_assignment")]
    rules = {str(b["name"]).strip('"') for b in _blocks(parsed, "okta_group_rule")}

    with make_admin_http(ca_bundle=configured.info.ca_bundle) as http:
        admin = OktaAdminClient(
            configured.info.idp_url, ApiToken(configured.info.okta_api_token), http=http
        )
        ours = {
            g["id"]: g["profile"]["name"]
            for g in admin.list_groups()
            if mark_owner(g["profile"]["description"]) == spec.name
        }
        stored = {
            ours[a["id"]]: a["profile"].get("samlRoles")
            for a in admin.list_app_groups(configured.info.app_id)
            if a["id"] in ours
        }
        settings = admin.get_app(configured.info.app_id)["settings"]["app"]
        stored_rules = {
            r["name"]: r for r in admin.list_group_rules() if r["name"].startswith("keyless ")
        }
        names = {g["id"]: g["profile"]["name"] for g in admin.list_groups()}

    # Group mapping: explicit mappings are group rules reading the people's own groups.
    assert rules == set(stored_rules)
    sources = {
        names[gid]
        for r in stored_rules.values()
        for gid in re.findall(r'"([^"]+)"', r["conditions"]["expression"]["value"])
    }
    assert sources <= groups - set(stored)  # declared, marked, read by a rule, not assigned

    assert groups == set(ours.values())
    assert set(stored) <= groups
    assert len(profiles) == len(stored)
    with_roles = [p for p in profiles if "samlRoles" in p]
    assert len(with_roles) == sum(1 for roles in stored.values() if roles)
    for roles in stored.values():
        for role in roles or []:
            assert any(role in profile for profile in with_roles), role
    app = _blocks(parsed, "okta_app_saml")[0]
    assert settings["identityProviderArn"] in str(app["app_settings_json"])
