"""Issue 22 against the lab, now that it models what Okta does: group rules, group search,
a service app's admin role, ``oauthTokens=true`` and Classic's step-up redirect.

These replace the in-test fakes of tests/okta_side/test_issue22.py: the lab runs over
HTTPS on loopback and keyless talks to it as to an Okta org (the CLI as a subprocess
where a person would run it).
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from keyless.adapters.okta import OktaClient
from keyless.adapters.okta_admin import ApiToken, OktaAdminClient, make_admin_http
from keyless.core.okta import StepUpRedirect
from keyless.plan.okta import desired_okta
from keyless.spec import load_spec
from lab_fixtures import fresh_totp
from okta_support import OktaLab, acme_with_okta


@pytest.fixture
def admin(configured: OktaLab) -> Iterator[OktaAdminClient]:
    http = make_admin_http(ca_bundle=configured.info.ca_bundle)
    try:
        yield OktaAdminClient(
            configured.info.idp_url, ApiToken(configured.info.okta_api_token), http=http
        )
    finally:
        http.close()


def test_apply_leaves_one_active_group_rule_per_explicit_mapping(
    configured: OktaLab, admin: OktaAdminClient
) -> None:
    desired = desired_okta(load_spec(configured.spec_path))
    ids = {g["profile"]["name"]: g["id"] for g in admin.list_groups()}
    rules = {r["name"]: r for r in admin.list_group_rules()}
    assert set(rules) == {rule.name for rule in desired.rules}
    for rule in desired.rules:
        stored = rules[rule.name]
        assert stored["status"] == "ACTIVE"
        assert stored["conditions"]["expression"] == {
            "value": f'isMemberOfAnyGroup("{ids[rule.source]}")',
            "type": "urn:okta:expression:1.0",
        }
        assert sorted(stored["actions"]["assignUserToGroups"]["groupIds"]) == sorted(
            ids[name] for name in rule.targets
        )
    # Okta ran the rules: aws-admins' members are in the convention groups it stands for.
    admins = next(r for r in desired.rules if r.source == "aws-admins")
    members = {u["id"] for u in admin.list_group_users(ids["aws-admins"])}
    for target in admins.targets:
        assert members <= {u["id"] for u in admin.list_group_users(ids[target])}


def test_a_group_is_found_by_search_though_its_name_prefixes_another(
    configured: OktaLab, admin: OktaAdminClient
) -> None:
    made = configured.lab_cli("group", "add", "aws-admins-old")
    assert made.returncode == 0, made.stderr
    found = admin.find_group("aws-admins")
    assert found is not None
    assert found["profile"]["name"] == "aws-admins"
    assert admin.find_group("aws-admin") is None  # search is exact, not a prefix match


def test_a_service_app_without_an_admin_role_is_told_to_assign_one(
    okta_lab: OktaLab, tmp_path: Path
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = tmp_path / "service.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    private.chmod(0o600)
    public = tmp_path / "service.pub.pem"
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    made = okta_lab.lab_cli(
        "service-app", "create", "--public-key", str(public), "--admin-role", "none", "--json"
    )
    assert made.returncode == 0, made.stderr
    client_id = json.loads(made.stdout)["client_id"]
    spec = okta_lab.write_spec(
        acme_with_okta(auth="private_key_jwt", client_id=client_id), "no-role.yaml"
    )
    planned = okta_lab.keyless(
        "plan", "--target", "okta", spec=spec, env={"KEYLESS_OKTA_PRIVATE_KEY_FILE": str(private)}
    )
    said = planned.stdout + planned.stderr
    assert planned.returncode != 0, said
    assert "admin role" in said, said  # the scopes alone were granted: the role is missing
    assert "Traceback" not in said


def test_clearing_sessions_sends_oauth_tokens_true_and_the_org_accepts_it(
    configured: OktaLab, admin: OktaAdminClient
) -> None:
    seen: list[httpx.URL] = []
    http = make_admin_http(ca_bundle=configured.info.ca_bundle)
    http.event_hooks["request"].append(lambda request: seen.append(request.url))
    try:
        client = OktaAdminClient(
            configured.info.idp_url, ApiToken(configured.info.okta_api_token), http=http
        )
        login = "carol@acme.example"
        members = admin.list_group_users(_group_id(admin, "auditors"))
        carol = next(u for u in members if u["profile"]["login"] == login)
        client.clear_user_sessions(carol["id"])  # the lab answers 204 only to what Okta takes
    finally:
        http.close()
    cleared = next(url for url in seen if url.path.endswith("/sessions"))
    assert cleared.params.get("oauthTokens") == "true"
    assert cleared.params.get("forgetDevices") == "true"


def _group_id(admin: OktaAdminClient, name: str) -> str:
    found = admin.find_group(name)
    assert found is not None
    return str(found["id"])


def test_classic_step_up_arrives_as_a_redirect_with_a_state_token(configured: OktaLab) -> None:
    idp = configured.lab.idp.idp
    before = idp.settings
    idp.settings = replace(
        before, engine="classic", app_policy="mfa_every_time", step_up_style="redirect"
    )
    user = configured.info.user("bob@acme.example")
    assert user.totp_secret is not None
    try:
        context = ssl.create_default_context(cafile=configured.info.ca_bundle)
        with httpx.Client(verify=context) as http:
            client = OktaClient(configured.info.idp_url, http=http)
            state = client.authn(user.login, user.password)
            factor = next(f for f in state.factors if f.factor_type == "token:software:totp")
            assert state.state_token is not None
            verified = client.verify(factor, state.state_token, fresh_totp(user.totp_secret))
            assert verified.session_token is not None
            session = client.create_session(verified.session_token)
            with pytest.raises(StepUpRedirect) as raised:
                client.app_page(configured.info.app_url, session.id)
    finally:
        idp.settings = before
    assert raised.value.state_token
