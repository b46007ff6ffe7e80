"""Issue 22: what fails on day one in a real Okta org (an outside review), pinned.

The spec and the CLI run as a person uses them. What the lab now models runs against
it instead: group rules, group search, the service app's admin role, oauthTokens=true
and Classic's step-up redirect in test_issue22_lab.py; Okta's invalid_grant for an
unset Allowed Web SSO Client, in Chromium, in test_day_one.py. What stays here on a
small fake over httpx's transport: answers whose timing the lab would make a test wait
for (a 429 on /api/v1/authn resets at the next minute) and the scope texts of the
exchange checked on the client alone.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
import yaml

from keyless.adapters.okta import OktaClient
from keyless.adapters.okta_oauth import DEVICE_SCOPE, OAuthTokens, OktaOAuthClient
from keyless.adapters.secrets import FileSecretStore
from keyless.errors import ConfigError, DeniedError
from keyless.plan.okta import ActualOkta, ActualOktaApp, desired_okta, diff_okta
from keyless.services.login.okta_device import DeviceFlowPages
from keyless.services.login.okta_flows import tokens_key
from keyless.services.login.okta_signin import LoginInputs
from keyless.services.login.profiles import Settings
from keyless.spec import load_spec
from okta_support import ACME, KEYLESS

REPO = Path(__file__).resolve().parents[2]
ORG = "https://acme.okta.example"


def _keyless(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KEYLESS, *args], capture_output=True, text=True, check=False, timeout=120
    )


# -- 1. one mapping mode, never mixed ------------------------------------------------------------


def test_spec_validate_refuses_role_import_beside_the_group_convention(tmp_path: Path) -> None:
    """Regression (issue 22, 1): samlRoles were sent together with useGroupMapping."""
    data = yaml.safe_load((REPO / "examples" / "okta.yaml").read_text())
    data["group_convention"] = {"enabled": True}
    path = tmp_path / "mixed.yaml"
    path.write_text(yaml.safe_dump(data))
    result = _keyless("spec", "validate", str(path))
    assert result.returncode == 2
    assert "never mixed" in result.stderr
    assert "mapping_mode: group_mapping" in result.stderr  # the fix is named


def test_role_import_above_okta_s_account_limit_is_refused(tmp_path: Path) -> None:
    data = yaml.safe_load((REPO / "examples" / "okta.yaml").read_text())
    data["accounts"] += [
        {"id": f"{500000000000 + i}", "alias": f"extra-{i:02d}"} for i in range(60)
    ]
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump(data))
    result = _keyless("spec", "validate", str(path))
    assert result.returncode == 2
    assert "at most 60 accounts" in result.stderr


def test_both_examples_validate_each_in_one_mode() -> None:
    for name, mode in (("acme.yaml", "group_mapping"), ("okta.yaml", "role_import")):
        spec = load_spec(REPO / "examples" / name)
        assert spec.mapping_mode == mode
    assert load_spec(ACME).provisioning_principal is None  # group mapping: no key anywhere
    assert load_spec(REPO / "examples" / "okta.yaml").provisioning_principal is not None


def _blank_app() -> ActualOkta:
    app = ActualOktaApp(id="0oaAWS", label="AWS", name="amazon_aws", settings={}, admin_note=None)
    return ActualOkta(app=app, groups={}, assignments={})


def test_group_mapping_sends_no_saml_roles_and_realises_mappings_with_group_rules() -> None:
    desired = desired_okta(load_spec(ACME), cli_client_id="0oaCLI")
    assert desired.settings["useGroupMapping"] is True
    assert desired.settings["webSSOAllowedClient"] == "0oaCLI"
    assert all(g.saml_roles is None for g in desired.groups)
    admins = next(g for g in desired.groups if g.name == "aws-admins")
    assert not admins.assigned  # reaches the app through its rule's convention groups
    rule = next(r for r in desired.rules if r.source == "aws-admins")
    assert rule.targets == (
        "aws#acme-prod#OktaAdminRole#222222222222",
        "aws#acme-dev#OktaAdminRole#333333333333",
    )
    plan = diff_okta(desired, _blank_app(), adopt=False, prune=False)
    assert any(c.resource == "okta-group-rule" and c.action == "create" for c in plan.changes)
    assert any("Okta group rule" in note for note in plan.notes)  # plan says so


def test_role_import_assigns_imported_roles_and_no_group_mapping() -> None:
    desired = desired_okta(load_spec(REPO / "examples" / "okta.yaml"))
    assert desired.settings["useGroupMapping"] is False
    assert "groupFilter" not in desired.settings
    assert desired.rules == ()
    admins = next(g for g in desired.groups if g.name == "aws-admins")
    assert admins.saml_roles == ("[acme-prod] -- OktaAdminRole", "[acme-dev] -- OktaAdminRole")


# -- 2. device-flow scopes -----------------------------------------------------------------------


def test_the_device_flow_asks_the_official_client_s_scopes_not_native_sso() -> None:
    forms: list[dict[str, list[str]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        forms.append(parse_qs(request.content.decode()))
        return httpx.Response(
            200,
            json={
                "device_code": "d",
                "user_code": "U",
                "verification_uri": f"{ORG}/activate",
                "expires_in": 600,
                "interval": 5,
            },
        )

    oauth = OktaOAuthClient(
        OktaClient(ORG, http=httpx.Client(transport=httpx.MockTransport(handler)))
    )
    oauth.device_authorize("0oaCLI")
    assert forms[0]["scope"] == ["openid okta.apps.sso"]
    assert "device_sso" not in DEVICE_SCOPE


# -- 4, 5. the exchange's real errors ------------------------------------------------------------


def _settings() -> Settings:
    return Settings(
        profile="prod",
        org_url=ORG,
        app_url=f"{ORG}/home/amazon_aws/0oaAWS/272",
        username="alice@acme.example",
        oidc_client_id="0oaCLI",
        aws_app_id="0oaAWS",
    )


def _kept_tokens(store: FileSecretStore) -> str:
    key = tokens_key(ORG, "0oaCLI", _settings())
    tokens = OAuthTokens(
        access_token="at",
        id_token="it",
        expires_at=datetime.now(UTC) + timedelta(hours=1),
        scope="openid okta.apps.sso",
    )
    store.set(key, tokens.to_json())
    return key


class _Prompter:
    interactive = True

    def notify(self, message: str) -> None:
        pass

    def missing_input(self, message: str) -> Exception:
        return RuntimeError(message)


def _device_pages(description: str, paths: list[str]) -> DeviceFlowPages:
    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return httpx.Response(
            400, json={"error": "invalid_grant", "error_description": description}
        )

    client = OktaClient(ORG, http=httpx.Client(transport=httpx.MockTransport(handler)))
    return DeviceFlowPages(OktaOAuthClient(client), FileSecretStore(), person_reads_output=True)


def test_tokens_without_okta_apps_sso_are_dropped_without_a_browser_trip(tmp_path: Path) -> None:
    paths: list[str] = []
    pages = _device_pages(
        "The 'actor_token' must have the 'okta.apps.sso' scope to request a web_sso_token.",
        paths,
    )
    pages.secrets = FileSecretStore(tmp_path)
    key = _kept_tokens(pages.secrets)
    with pytest.raises(ConfigError) as raised:
        pages(_settings(), _Prompter(), LoginInputs())  # type: ignore[arg-type]
    assert "okta.apps.sso" in (raised.value.fix or "")
    assert pages.secrets.get(key) is None
    assert "/oauth2/v1/device/authorize" not in paths


def test_unmet_assurance_explains_device_posture() -> None:
    from keyless.adapters.okta_oauth import oauth_failure

    error = oauth_failure(
        "invalid_grant",
        "The application's assurance requirements are not met by the 'subject_token'.",
        what="the web SSO token",
        org_url=ORG,
    )
    assert isinstance(error, DeniedError)
    assert "managed device" in (error.fix or "")
    assert "Device State" in (error.fix or "")


# -- 6. step-up redirect, session clearing, 429s on sign-in ----------------------------------------


def test_a_429_on_authn_is_waited_out_until_the_reset() -> None:
    answers = [
        httpx.Response(429, headers={"x-rate-limit-reset": "1005"}, json={"errorCode": "E0000047"}),
        httpx.Response(200, json={"status": "SUCCESS", "sessionToken": "st"}),
    ]
    slept: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0)

    client = OktaClient(
        ORG,
        http=httpx.Client(transport=httpx.MockTransport(handler)),
        clock=lambda: 1000.0,
        sleep=slept.append,
    )
    state = client.authn("alice", "pw")
    assert state.status == "SUCCESS"
    assert len(slept) == 1
    assert 5.0 <= slept[0] < 6.0


def test_a_429_beyond_the_budget_is_reported_with_the_budget() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"retry-after": "120"}, json={"errorCode": "E0000047"})

    client = OktaClient(
        ORG, http=httpx.Client(transport=httpx.MockTransport(handler)), sleep=lambda s: None
    )
    with pytest.raises(Exception, match="beyond the 60 s"):
        client.authn("alice", "pw")


# -- 7. no static key ----------------------------------------------------------------------------


def test_apply_refuses_a_provisioning_key_when_group_mapping_needs_none() -> None:
    from keyless.plan.desired import desired_account

    spec = load_spec(ACME)
    assert spec.management_account is not None
    desired = desired_account(spec, spec.management_account, None)
    assert desired.users == ()  # no role-listing user, so no key to create or audit
