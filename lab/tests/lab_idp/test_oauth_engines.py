"""The lab org's two engines over real HTTPS: discovery, the device authorization grant,
the web SSO token exchange, /login/token/sso, and the AWS app's sign-on policy.

The requests are the ones okta/okta-aws-cli and gimme-aws-creds send; the
person's side (/activate, sign-in, MFA) is driven through the lab's pages
with a cookie-keeping client, as a browser would (tests/login has the
Chromium version).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from keyless.spec import FederationSpec
from keyless_lab.idp.core import IdpSettings
from keyless_lab.idp.server import IdpServer
from keyless_lab.info import LabUser
from lab_idp.idp_support import NewUser, clock_ahead, lab_tls_context, start_idp

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"


@pytest.fixture(scope="module")
def oie(
    acme: FederationSpec, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[IdpServer, dict[str, LabUser]]]:
    settings = IdpSettings(engine="oie", app_policy="mfa", device_poll_interval=1)
    server, users = start_idp(acme, tmp_path_factory.mktemp("idp-oie"), settings)
    try:
        yield server, users
    finally:
        server.stop()


@pytest.fixture
def server(oie: tuple[IdpServer, dict[str, LabUser]]) -> IdpServer:
    return oie[0]


def _field(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no {name} in:\n{page}"
    return match.group(1)


def web_sign_in(http: httpx.Client, user: NewUser, from_uri: str, *, offset: int = 0) -> str:
    """Sign in on the lab's pages (password, then TOTP) and follow back to ``from_uri``;
    the page it lands on."""
    page = http.get(f"/login/login.htm?fromURI={from_uri}").text
    mfa = http.post(
        "/login/login.htm",
        data={
            "username": user.login,
            "password": user.password,
            "csrf": _field(page, "csrf"),
            "fromURI": from_uri,
        },
    )
    assert mfa.status_code == 200, mfa.text
    done = http.post(
        "/signin/verify",
        data={
            "csrf": _field(mfa.text, "csrf"),
            "stateToken": _field(mfa.text, "stateToken"),
            "fromURI": from_uri,
            "factorId": _field(mfa.text, "factorId"),
            "passCode": user.code(offset),
        },
        follow_redirects=True,
    )
    assert done.status_code == 200, done.text
    return done.text


def approve(server: IdpServer, user: NewUser, user_code: str, decision: str = "allow") -> str:
    """A person opens the verification link, signs in, and allows (or denies) the device."""
    with httpx.Client(base_url=server.url, verify=lab_tls_context(server)) as browser:
        first = browser.get(f"/activate?user_code={user_code}")
        assert first.status_code == 302
        assert first.headers["location"].startswith("/login/login.htm?fromURI=")
        page = web_sign_in(browser, user, f"/activate?user_code={user_code}")
        assert user_code in page
        result = browser.post(
            "/activate",
            data={"csrf": _field(page, "csrf"), "user_code": user_code, "decision": decision},
        )
        assert result.status_code == 200
        return result.text


def _claims(jwt: str) -> dict[str, Any]:
    payload = jwt.split(".")[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return data


def test_discovery_tells_the_engine_and_publishes_the_device_endpoint(
    server: IdpServer, client: httpx.Client
) -> None:
    org = client.get("/.well-known/okta-organization").json()
    assert org["pipeline"] == "idx"
    assert org["id"].startswith("00o")
    config = client.get("/.well-known/openid-configuration").json()
    assert config["issuer"] == server.url
    assert config["device_authorization_endpoint"] == f"{server.url}/oauth2/v1/device/authorize"
    assert DEVICE_GRANT in config["grant_types_supported"]
    assert EXCHANGE in config["grant_types_supported"]
    metadata = client.get("/.well-known/oauth-authorization-server").json()
    assert metadata["token_endpoint"] == f"{server.url}/oauth2/v1/token"
    keys = client.get("/oauth2/v1/keys").json()["keys"]
    assert keys[0]["alg"] == "RS256"
    assert keys[0]["kty"] == "RSA"


def _authorize(client: httpx.Client, server: IdpServer, scope: str) -> dict[str, Any]:
    answer = client.post(
        "/oauth2/v1/device/authorize",
        data={"client_id": server.oidc_client_id, "scope": scope},
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _poll(client: httpx.Client, server: IdpServer, device_code: str) -> httpx.Response:
    return client.post(
        "/oauth2/v1/token",
        data={
            "client_id": server.oidc_client_id,
            "device_code": device_code,
            "grant_type": DEVICE_GRANT,
        },
    )


def _exchange(
    client: httpx.Client, server: IdpServer, tokens: dict[str, Any], **changes: str
) -> httpx.Response:
    form = {
        "client_id": server.oidc_client_id,
        "actor_token": tokens["access_token"],
        "actor_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "subject_token": tokens["id_token"],
        "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
        "grant_type": EXCHANGE,
        "requested_token_type": "urn:okta:oauth:token-type:web_sso_token",
        "audience": f"urn:okta:apps:{server.app_id}",
    } | changes
    return client.post("/oauth2/v1/token", data=form)


def test_device_flow_to_the_saml_form(
    server: IdpServer, client: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    user = make_user()
    grant = _authorize(client, server, "openid okta.apps.sso")
    assert grant["verification_uri"] == f"{server.url}/activate"
    assert grant["verification_uri_complete"].endswith(f"?user_code={grant['user_code']}")
    assert (grant["expires_in"], grant["interval"]) == (600, 1)
    pending = _poll(client, server, grant["device_code"])
    assert pending.status_code == 400
    assert pending.json()["error"] == "authorization_pending"
    # Faster than the interval allows: slow_down (RFC 8628 §3.5).
    too_fast = _poll(client, server, grant["device_code"])
    assert too_fast.json()["error"] == "slow_down"

    assert "Device activated" in approve(server, user, grant["user_code"])
    tokens = _poll(client, server, grant["device_code"]).json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["scope"] == "openid okta.apps.sso"
    assert "device_secret" not in tokens
    id_claims = _claims(tokens["id_token"])
    assert id_claims["aud"] == server.oidc_client_id
    assert "mfa" in id_claims["amr"]
    assert _claims(tokens["access_token"])["sub"] == user.login
    # The device code is used up.
    assert _poll(client, server, grant["device_code"]).json()["error"] == "invalid_grant"

    exchanged = _exchange(client, server, tokens)
    assert exchanged.status_code == 200, exchanged.text
    web_sso = exchanged.json()
    assert web_sso["issued_token_type"] == "urn:okta:oauth:token-type:web_sso_token"
    assert web_sso["token_type"] == "N_A"
    form = client.post("/login/token/sso", data={"token": web_sso["access_token"]})
    assert form.status_code == 200
    assert 'name="SAMLResponse"' in form.text
    assert 'action="https&#x3a;&#x2f;&#x2f;signin.aws.amazon.com&#x2f;saml"' in form.text
    # Single use: a second presentation is a replay.
    again = client.get("/login/token/sso", params={"token": web_sso["access_token"]})
    assert again.status_code == 400
    assert "web_sso_token_replayed" in again.text
    assert "SAMLResponse" not in again.text
    unknown = client.get("/login/token/sso", params={"token": "never-issued"})
    assert unknown.status_code == 401


def test_device_flow_denied_and_expired(
    server: IdpServer, client: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    user = make_user()
    grant = _authorize(client, server, "openid okta.apps.sso")
    assert "Device not activated" in approve(server, user, grant["user_code"], "deny")
    denied = _poll(client, server, grant["device_code"])
    assert denied.status_code == 400
    assert denied.json()["error"] == "access_denied"

    # Never approved, and polled once its lifetime has passed.
    pending = _authorize(client, server, "openid okta.apps.sso")
    with clock_ahead(server, server.idp.settings.device_code_lifetime + timedelta(seconds=1)):
        expired = _poll(client, server, pending["device_code"])
    assert expired.json() == {
        "error": "expired_token",
        "error_description": "The device code has expired.",
    }


def test_oauth_errors_as_okta_answers_them(server: IdpServer, client: httpx.Client) -> None:
    unknown = client.post(
        "/oauth2/v1/device/authorize", data={"client_id": "0oanope", "scope": "openid"}
    )
    assert unknown.status_code == 401
    assert unknown.json()["error"] == "invalid_client"
    scope = client.post(
        "/oauth2/v1/device/authorize",
        data={"client_id": server.oidc_client_id, "scope": "openid admin.everything"},
    )
    assert scope.json()["error"] == "invalid_scope"
    grant_type = client.post(
        "/oauth2/v1/token", data={"client_id": server.oidc_client_id, "grant_type": "password"}
    )
    assert grant_type.json()["error"] == "unsupported_grant_type"
    forged = _exchange(client, server, {"access_token": "e30.e30.e30", "id_token": "e30.e30.sig"})
    assert forged.json() == {
        "error": "invalid_grant",
        "error_description": "'subject_token' is invalid.",
    }


def test_one_token_endpoint_reads_bodies_safely_and_dispatches_every_grant(
    server: IdpServer, client: httpx.Client
) -> None:
    # The shared body reader (lab/idp/body.py) refuses what is not a form; the OAuth
    # endpoints answer it in OAuth's shape rather than the API's E0000003.
    not_a_form = client.post("/oauth2/v1/token", json={"grant_type": "client_credentials"})
    assert not_a_form.status_code == 400
    assert not_a_form.json()["error"] == "invalid_request"
    device = client.post(
        "/oauth2/v1/device/authorize",
        content=b"\xff\xfe",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert device.status_code == 400
    assert device.json()["error"] == "invalid_request"
    # client_credentials reaches the management API's grant on the same route (an
    # unsigned assertion is refused there, not as an unsupported grant type).
    service = client.post(
        "/oauth2/v1/token",
        data={"grant_type": "client_credentials", "scope": "okta.apps.read"},
    )
    assert service.status_code == 401
    assert service.json()["error"] == "invalid_client"


def test_assurance_policy_and_ended_session_refuse_the_exchange(
    server: IdpServer, client: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    user = make_user()
    grant = _authorize(client, server, "openid okta.apps.sso")
    approve(server, user, grant["user_code"])
    tokens = _poll(client, server, grant["device_code"]).json()
    original = server.idp.settings
    # Okta cannot meet "re-authenticate at every sign-on" with a token exchange
    # (okta/okta-aws-cli#31): the lab answers what Okta answers.
    server.idp.settings = replace(original, app_policy="mfa_every_time")
    try:
        refused = _exchange(client, server, tokens)
    finally:
        server.idp.settings = original
    assert refused.status_code == 400
    assert refused.json() == {
        "error": "invalid_grant",
        "error_description": (
            "The application's assurance requirements are not met by the 'subject_token'."
        ),
    }
    session_id = _claims(tokens["id_token"])["sid"]
    server.idp.end_session(session_id)
    ended = _exchange(client, server, tokens)
    assert ended.json()["error_description"] == (
        "The 'subject_token' either expired or the session associated with it was terminated."
    )


def test_oie_app_link_serves_the_widget_and_authn_refuses_its_handle(
    server: IdpServer, client: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    user = make_user()
    first = client.post("/api/v1/authn", json={"username": user.login, "password": user.password})
    factor = first.json()["_embedded"]["factors"][0]
    done = client.post(
        factor["_links"]["verify"]["href"],
        json={"stateToken": first.json()["stateToken"], "passCode": user.code()},
    )
    session_token = done.json()["sessionToken"]
    page = client.get(server.app_url, params={"sessionToken": session_token})
    assert page.status_code == 200
    assert "SAMLResponse" not in page.text
    handle = re.search(r"var stateToken = '([^']+)';", page.text)
    assert handle is not None
    decoded = handle.group(1).encode().decode("unicode-escape")
    assert decoded.startswith("02")
    refused = client.post("/api/v1/authn", json={"stateToken": decoded})
    assert refused.status_code == 401
    assert refused.json()["errorCode"] == "E0000011"


def test_classic_org_has_no_device_grant(acme: FederationSpec, tmp_path: Path) -> None:
    server, _ = start_idp(acme, tmp_path / "classic")
    try:
        with httpx.Client(base_url=server.url, verify=lab_tls_context(server)) as http:
            assert http.get("/.well-known/okta-organization").json()["pipeline"] == "v1"
            refused = http.post(
                "/oauth2/v1/device/authorize",
                data={"client_id": server.oidc_client_id, "scope": "openid okta.apps.sso"},
            )
            assert refused.status_code == 400
            assert refused.json()["error"] == "unauthorized_client"
    finally:
        server.stop()


def test_keyless_oauth_client_against_the_lab(
    server: IdpServer, make_user: Callable[..., NewUser]
) -> None:
    """keyless's own client (adapters/okta_oauth.py): codes, pending, errors with fixes."""
    from datetime import UTC, datetime

    from keyless.adapters.okta import OktaClient, make_http_client
    from keyless.adapters.okta_oauth import OktaOAuthClient, Pending
    from keyless.errors import ConfigError, DeniedError

    user = make_user()
    with make_http_client(ca_bundle=str(server.tls.ca_cert)) as http:
        oauth = OktaOAuthClient(OktaClient(server.url, http=http))
        assert oauth.pipeline() == "idx"
        grant = oauth.device_authorize(server.oidc_client_id)
        assert grant.interval == 1
        with pytest.raises(Pending):
            oauth.poll(server.oidc_client_id, grant.device_code, datetime.now(UTC))
        approve(server, user, grant.user_code)
        tokens = oauth.poll(server.oidc_client_id, grant.device_code, datetime.now(UTC))
        assert tokens.login == user.login
        page = oauth.sso_page(oauth.web_sso_token(server.oidc_client_id, server.app_id, tokens))
        assert 'name="SAMLResponse"' in page
        with pytest.raises(ConfigError, match="Allowed Web SSO Client"):
            oauth.web_sso_token(server.oidc_client_id, "0oaNotTheAwsApp", tokens)
        with pytest.raises(ConfigError, match="no OIDC app with this client id"):
            oauth.device_authorize("0oaUnknownClient")
        original = server.idp.settings
        server.idp.settings = replace(original, app_policy="mfa_every_time")
        try:
            with pytest.raises(DeniedError, match="same authentication policy"):
                oauth.web_sso_token(server.oidc_client_id, server.app_id, tokens)
        finally:
            server.idp.settings = original


def test_spec_lab_section_and_options_pick_the_engine(acme: FederationSpec) -> None:
    from keyless_lab.runtime import settings_for_spec

    assert settings_for_spec(acme).engine == "classic"
    spec = acme.model_copy(update={"lab": {**acme.lab, "engine": "oie", "app_policy": "mfa"}})
    assert (settings_for_spec(spec).engine, settings_for_spec(spec).app_policy) == ("oie", "mfa")
    overridden = settings_for_spec(spec, engine="classic", app_policy=None)
    assert (overridden.engine, overridden.app_policy) == ("classic", "mfa")


@pytest.mark.parametrize(
    ("option", "value"), [("--engine", "okta-classic"), ("--app-policy", "sometimes")]
)
def test_lab_up_refuses_an_unknown_engine_or_policy(option: str, value: str) -> None:
    import subprocess
    import sys

    keyless = str(Path(sys.executable).parent / "keyless")
    spec = str(Path(__file__).resolve().parents[3] / "examples" / "acme.yaml")
    result = subprocess.run(
        [keyless, "lab", "up", "--spec", spec, option, value],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert repr(value) in result.stderr


def test_activate_page_asks_for_the_code_and_refuses_forged_decisions(
    server: IdpServer, client: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    empty = client.get("/activate")
    assert empty.status_code == 200
    assert 'id="activate-user-code"' in empty.text
    wrong = client.get("/activate", params={"user_code": "BCDFGHJK"})
    assert wrong.status_code == 400
    assert "Invalid code" in wrong.text
    user = make_user()
    grant = _authorize(client, server, "openid okta.apps.sso")
    with httpx.Client(base_url=server.url, verify=lab_tls_context(server)) as browser:
        # The person types the code in lower case with a dash: it still matches.
        typed = grant["user_code"][:4].lower() + "-" + grant["user_code"][4:].lower()
        assert browser.get("/activate", params={"user_code": typed}).status_code == 302
        web_sign_in(browser, user, f"/activate?user_code={grant['user_code']}")
        forged = browser.post(
            "/activate",
            data={"csrf": "x" * 43, "user_code": grant["user_code"], "decision": "allow"},
        )
        assert forged.status_code == 403
    assert _poll(client, server, grant["device_code"]).json()["error"] == "authorization_pending"
