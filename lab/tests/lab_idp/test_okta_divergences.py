"""Where the lab accepted what Okta refuses (issue 22), each pinned with raw HTTP over HTTPS.

Every test here failed on the lab before issue 22 and names Okta's source for
the answer it now expects. They drive the lab as a client would, with httpx
and nothing of keyless's client code, so a product bug cannot make them pass.
"""

from __future__ import annotations

import base64
import html
import json
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from keyless.spec import FederationSpec
from keyless_lab.idp.appstate import ALL_SCOPES
from keyless_lab.idp.core import IdpSettings, RateLimiter
from keyless_lab.idp.server import IdpServer
from keyless_lab.info import LabUser
from lab_idp.idp_support import NewUser, lab_tls_context, start_idp
from lab_idp.test_oauth_engines import approve

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
WEB_SSO = "urn:okta:oauth:token-type:web_sso_token"
INTERCLIENT = "urn:okta:params:oauth:token-type:interclient_token"
NOT_CONFIGURED = "One or more scopes are not configured for the authorization server resource."
ASSURANCE = "The application's assurance requirements are not met by the 'subject_token'."

# settings.app of a new amazon_aws app, as recorded from Okta's Apps API in
# okta/terraform-provider-okta, test/fixtures/vcr/idaas/
# TestAccResourceOktaAppSignOnPolicyRule_AUTH_METHOD_CHAIN/oie-00.yaml (copied, not computed).
OKTA_CATALOGUE_APP = json.loads(
    r"""{"appFilter":"okta","groupFilter":"aws_(?{{accountid}}\\d+)_(?{{role}}[a-zA-Z0-9+=,.@\\-_]+)","secretKey":null,"webSSOAllowedClient":null,"useGroupMapping":false,"joinAllRoles":false,"identityProviderArn":null,"overrideAcsURL":null,"sessionDuration":3600,"roleValuePattern":"arn:aws:iam::${accountid}:saml-provider/OKTA,arn:aws:iam::${accountid}:role/${role}","accountID":null,"awsEnvironmentType":"aws.amazon","accessKey":null,"loginURL":"https://console.aws.amazon.com/ec2/home","secretKeyEnc":null}"""
)


@pytest.fixture(scope="module")
def oie(
    acme: FederationSpec, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[IdpServer, dict[str, LabUser]]]:
    settings = IdpSettings(engine="oie", app_policy="mfa", device_poll_interval=1)
    server, users = start_idp(acme, tmp_path_factory.mktemp("idp-i22"), settings)
    try:
        yield server, users
    finally:
        server.stop()


@pytest.fixture
def server(oie: tuple[IdpServer, dict[str, LabUser]]) -> IdpServer:
    return oie[0]


@pytest.fixture
def admin(server: IdpServer) -> Iterator[httpx.Client]:
    """An admin's API token client (SSWS, every scope)."""
    token = server.idp.appstate.create_token("divergence tests", ALL_SCOPES)
    with httpx.Client(
        base_url=server.url,
        verify=lab_tls_context(server),
        headers={"Authorization": f"SSWS {token}", "Accept": "application/json"},
    ) as http:
        yield http


@pytest.fixture
def restore(server: IdpServer, admin: httpx.Client) -> Iterator[None]:
    """Put the app's settings and the server's knobs back after a test changes them."""
    app = admin.get(f"/api/v1/apps/{server.app_id}").json()
    stored = server.idp.appstate.app_row()["settings"]
    settings, native = server.idp.settings, server.idp.oauth.native_app  # type: ignore[union-attr]
    yield
    server.idp.appstate.set_app(label=app["label"], settings=stored, admin_note=None)
    server.idp.settings = settings
    server.idp.oauth.native_app = native  # type: ignore[union-attr]


def _put_settings(admin: httpx.Client, server: IdpServer, **changes: Any) -> httpx.Response:
    app = admin.get(f"/api/v1/apps/{server.app_id}").json()
    app["settings"]["app"] |= changes
    return admin.put(f"/api/v1/apps/{server.app_id}", json=app)


def _tokens(client: httpx.Client, server: IdpServer, user: NewUser, scope: str) -> dict[str, Any]:
    """The device flow, raw: authorize, approve in a browser, poll once."""
    grant = client.post(
        "/oauth2/v1/device/authorize", data={"client_id": server.oidc_client_id, "scope": scope}
    )
    assert grant.status_code == 200, grant.text
    approve(server, user, grant.json()["user_code"])
    tokens = client.post(
        "/oauth2/v1/token",
        data={
            "client_id": server.oidc_client_id,
            "device_code": grant.json()["device_code"],
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
        },
    )
    assert tokens.status_code == 200, tokens.text
    body: dict[str, Any] = tokens.json()
    return body


def _exchange(
    client: httpx.Client, server: IdpServer, tokens: dict[str, Any], **changes: str
) -> httpx.Response:
    # The form okta-aws-cli sends (internal/webssoauth/webssoauth.go, fetchSSOWebToken).
    form = {
        "client_id": server.oidc_client_id,
        "actor_token": tokens["access_token"],
        "actor_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "subject_token": tokens["id_token"],
        "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
        "grant_type": EXCHANGE,
        "requested_token_type": WEB_SSO,
        "audience": f"urn:okta:apps:{server.app_id}",
    } | changes
    return client.post("/oauth2/v1/token", data=form)


def _group_id(admin: httpx.Client, name: str) -> str:
    found = admin.get("/api/v1/groups", params={"search": f'profile.name eq "{name}"'}).json()
    assert len(found) == 1, found
    return str(found[0]["id"])


def _assertion_roles(server: IdpServer, client: httpx.Client, user: NewUser) -> list[str]:
    """The Role values of the app's assertion for ``user``, the Identity Engine way
    (device flow, web SSO exchange, /login/token/sso)."""
    tokens = _tokens(client, server, user, "openid okta.apps.sso")
    exchanged = _exchange(client, server, tokens)
    assert exchanged.status_code == 200, exchanged.text
    page = client.get("/login/token/sso", params={"token": exchanged.json()["access_token"]}).text
    found = re.search(r'name="SAMLResponse"[^>]*value="([^"]+)"', page)
    if found is None:
        return []
    root = ElementTree.fromstring(base64.b64decode(html.unescape(found.group(1))))  # noqa: S314
    saml = "{urn:oasis:names:tc:SAML:2.0:assertion}"
    return [
        "".join(value.itertext())
        for attribute in root.iter(saml + "Attribute")
        if attribute.get("Name") == "https://aws.amazon.com/SAML/Attributes/Role"
        for value in attribute.iter(saml + "AttributeValue")
    ]


# -- 1. samlRoles: only imported roles, never beside group mapping ---------------------------------


def test_saml_roles_are_refused_beside_group_mapping_and_without_imports(
    server: IdpServer, admin: httpx.Client, restore: None
) -> None:
    """Regression (issue 22, 1): ``["[nope] -- NotARole"]`` was a 200, and group mapping
    on still sent samlRoles. Okta's samlRoles name roles the API integration imported
    (help.okta.com ... aws-about-integration.htm); validation failures are 400 E0000001
    with errorCauses (https://developer.okta.com/docs/reference/error-codes/#E0000001)."""
    group = admin.post("/api/v1/groups", json={"profile": {"name": f"i22-{secrets.token_hex(3)}"}})
    gid = group.json()["id"]
    path = f"/api/v1/apps/{server.app_id}/groups/{gid}"

    assert _put_settings(admin, server, useGroupMapping=True).status_code == 200
    mixed = admin.put(path, json={"profile": {"samlRoles": ["[acme-dev] -- Developer"]}})
    assert mixed.status_code == 400
    body = mixed.json()
    assert body["errorCode"] == "E0000001"
    assert body["errorSummary"] == "Api validation failed: samlRoles"
    assert body["errorLink"] == "E0000001"
    assert body["errorId"].startswith("oae")
    assert body["errorCauses"][0]["errorSummary"].startswith("samlRoles: ")

    # Role import without its API integration: nothing imported, nothing to name.
    assert (
        _put_settings(admin, server, useGroupMapping=False, accessKey=None, secretKey=None)
    ).status_code == 200
    server.idp.appstate.set_app(
        label="Amazon Web Services",
        settings={**server.idp.appstate.app_row()["settings"], "secretKey": None},
        admin_note=None,
    )
    no_imports = admin.put(path, json={"profile": {"samlRoles": ["[acme-dev] -- Developer"]}})
    assert no_imports.status_code == 400
    assert no_imports.json()["errorCode"] == "E0000001"

    keyed = _put_settings(admin, server, accessKey="AKIAEXAMPLEEXAMPLE00", secretKey="s3cret")
    assert keyed.status_code == 200
    assert keyed.json()["settings"]["app"]["secretKey"] is None  # write-only
    assert keyed.json()["settings"]["app"]["secretKeyEnc"]
    nope = admin.put(path, json={"profile": {"samlRoles": ["[nope] -- NotARole"]}})
    assert nope.status_code == 400
    assert "[nope] -- NotARole" in nope.json()["errorCauses"][0]["errorSummary"]
    ok = admin.put(path, json={"profile": {"samlRoles": ["[acme-dev] -- Developer"]}})
    assert ok.status_code == 200, ok.text
    assert ok.json()["profile"] == {"samlRoles": ["[acme-dev] -- Developer"]}


def test_group_mapping_sends_only_the_groups_roles(
    server: IdpServer,
    client: httpx.Client,
    admin: httpx.Client,
    restore: None,
    make_user: Callable[..., NewUser],
) -> None:
    """Regression (issue 22, 1): the lab granted the union of samlRoles and group mapping.
    With Use Group Mapping on, roles come from group names only (Okta, "Enable group-based
    role mapping in Okta", aws-enable-role-based.htm)."""
    name = f"i22-explicit-{secrets.token_hex(3)}"
    gid = admin.post("/api/v1/groups", json={"profile": {"name": name}}).json()["id"]
    _put_settings(
        admin, server, useGroupMapping=False, accessKey="AKIAEXAMPLEEXAMPLE00", secretKey="s"
    )
    assigned = admin.put(
        f"/api/v1/apps/{server.app_id}/groups/{gid}",
        json={"profile": {"samlRoles": ["[acme-prod] -- ReadOnly"]}},
    )
    assert assigned.status_code == 200, assigned.text
    convention = "aws#acme-dev#Developer#333333333333"
    conv_id = _group_id(admin, convention)
    admin.put(f"/api/v1/apps/{server.app_id}/groups/{conv_id}", json={"profile": {}})
    user = make_user(groups=(name, convention))
    mapping = {
        "useGroupMapping": True,
        "groupFilter": r"^aws\#\S+\#(?{{role}}[\w\-]+)\#(?{{accountid}}\d+)$",
        "roleValuePattern": "arn:aws:iam::${accountid}:saml-provider/Okta,"
        "arn:aws:iam::${accountid}:role/${role}",
        "joinAllRoles": True,
    }
    assert _put_settings(admin, server, **mapping).status_code == 200
    roles = _assertion_roles(server, client, user)
    assert roles == [
        "arn:aws:iam::333333333333:saml-provider/Okta,arn:aws:iam::333333333333:role/Developer"
    ]


# -- 2. device_sso is not the org authorization server's -----------------------------------------


@pytest.mark.parametrize(
    "scope", ["openid okta.apps.sso device_sso", "openid offline_access device_sso"]
)
def test_device_sso_is_refused_on_the_org_authorization_server(
    server: IdpServer, client: httpx.Client, scope: str
) -> None:
    """Regression (issue 22, 2): the org AS granted device_sso. Native SSO is a custom
    authorization server's (Okta, "Configure SSO for Native apps", okta/okta-developer-docs
    docs/guides/configure-native-sso); the org AS answers an unknown scope invalid_scope."""
    refused = client.post(
        "/oauth2/v1/device/authorize", data={"client_id": server.oidc_client_id, "scope": scope}
    )
    assert refused.status_code == 400
    assert refused.json() == {"error": "invalid_scope", "error_description": NOT_CONFIGURED}
    # What okta-aws-cli asks for (internal/webssoauth/webssoauth.go) and gimme-aws-creds
    # (okta_identity_engine.py) is granted.
    for asked in (
        "openid okta.apps.sso okta.apps.read okta.users.read.self",
        "openid okta.apps.sso",
    ):
        granted = client.post(
            "/oauth2/v1/device/authorize",
            data={"client_id": server.oidc_client_id, "scope": asked},
        )
        assert granted.status_code == 200, granted.text


# -- 3. the catalogue app is not blank -----------------------------------------------------------


def test_a_new_aws_app_carries_the_catalogue_settings(acme: FederationSpec, tmp_path: Path) -> None:
    """Regression (issue 22, 3): the lab started the app with settings.app = {}."""
    fresh = IdpServer(spec=acme, state_dir=tmp_path, okta_app_configured=False)
    fresh.start()
    try:
        token = fresh.idp.appstate.create_token("reader", ("okta.apps.read",))
        with httpx.Client(base_url=fresh.url, verify=lab_tls_context(fresh)) as http:
            app = http.get(
                f"/api/v1/apps/{fresh.app_id}", headers={"Authorization": f"SSWS {token}"}
            ).json()
    finally:
        fresh.stop()
    assert app["settings"]["app"] == OKTA_CATALOGUE_APP
    assert app["name"] == "amazon_aws"


# -- 4. the web SSO exchange: Okta's invalid_grant texts, gated by settings.app -------------


def test_the_exchange_is_gated_by_the_app_s_allowed_web_sso_client(
    server: IdpServer,
    client: httpx.Client,
    admin: httpx.Client,
    restore: None,
    make_user: Callable[..., NewUser],
) -> None:
    """Regression (issue 22, 4): the lab kept the Allowed Web SSO Client outside the app and
    answered invalid_target. Okta: settings.app.webSSOAllowedClient (okta/okta-aws-cli
    internal/okta/application.go) and invalid_grant "The target audience app must be
    configured to allow the client to request a 'web_sso_token'." (the P0 Security
    CLI's list of Okta configuration errors, @p0security/cli)."""
    app = admin.get(f"/api/v1/apps/{server.app_id}").json()
    assert app["settings"]["app"]["webSSOAllowedClient"] == server.oidc_client_id
    tokens = _tokens(client, server, make_user(), "openid okta.apps.sso")
    assert _put_settings(admin, server, webSSOAllowedClient=None).status_code == 200
    refused = _exchange(client, server, tokens)
    assert refused.status_code == 400
    assert refused.json() == {
        "error": "invalid_grant",
        "error_description": (
            "The target audience app must be configured to allow the client to request a "
            "'web_sso_token'."
        ),
    }
    assert _put_settings(admin, server, webSSOAllowedClient=server.oidc_client_id)
    assert _exchange(client, server, tokens).status_code == 200


def test_the_exchange_needs_okta_apps_sso_in_the_actor_token(
    server: IdpServer, client: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    """Regression (issue 22, 4): the lab answered invalid_scope; Okta answers invalid_grant."""
    tokens = _tokens(client, server, make_user(), "openid")
    refused = _exchange(client, server, tokens)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    assert "must have the 'okta.apps.sso' scope" in refused.json()["error_description"]


def test_a_replayed_web_sso_token_is_named_so(
    server: IdpServer, client: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    tokens = _tokens(client, server, make_user(), "openid okta.apps.sso")
    web_sso = _exchange(client, server, tokens).json()["access_token"]
    assert "SAMLResponse" in client.get("/login/token/sso", params={"token": web_sso}).text
    again = client.get("/login/token/sso", params={"token": web_sso})
    assert again.status_code == 400
    assert "web_sso_token_replayed" in again.text


def test_the_exchange_needs_the_authorization_code_grant_on_the_native_app(
    server: IdpServer, client: httpx.Client, restore: None, make_user: Callable[..., NewUser]
) -> None:
    """okta/okta-aws-cli README: the native app "requires Grant Types Authorization Code,
    Device Authorization, and Token Exchange"."""
    tokens = _tokens(client, server, make_user(), "openid okta.apps.sso")
    oauth = server.idp.oauth
    assert oauth is not None
    assert "authorization_code" in oauth.native_app.grant_types
    oauth.native_app = replace(
        oauth.native_app,
        grant_types=tuple(g for g in oauth.native_app.grant_types if g != "authorization_code"),
    )
    refused = _exchange(client, server, tokens)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    assert "authorization_code" in refused.json()["error_description"]


# -- 5. a device-state rule cannot be met by an exchange ------------------------------------------


@pytest.mark.parametrize("device", ["registered", "managed"])
def test_a_rule_requiring_a_known_device_refuses_the_exchange(
    server: IdpServer,
    client: httpx.Client,
    restore: None,
    make_user: Callable[..., NewUser],
    device: str,
) -> None:
    """Regression (issue 22, 5): okta/okta-aws-cli README, "Device State must be set to Any
    for using Okta AWS CLI"; the exchange carries no device, so Okta answers the
    assurance error (okta/okta-aws-cli#31, #153)."""
    tokens = _tokens(client, server, make_user(), "openid okta.apps.sso")
    server.idp.settings = replace(server.idp.settings, app_device=device)  # type: ignore[arg-type]
    refused = _exchange(client, server, tokens)
    assert refused.status_code == 400
    assert refused.json() == {"error": "invalid_grant", "error_description": ASSURANCE}


# -- 6. Okta's other shapes ------------------------------------------------------------------------


def test_clearing_sessions_with_oauth_tokens_revokes_them(
    server: IdpServer,
    client: httpx.Client,
    admin: httpx.Client,
    make_user: Callable[..., NewUser],
) -> None:
    """Okta Users API, "Revoke all user sessions": oauthTokens=true revokes the OIDC and
    OAuth tokens issued to the user; without it they live on (only the session ends)."""
    kept_user, gone_user = make_user(), make_user()
    kept = _tokens(client, server, kept_user, "openid okta.apps.sso")
    gone = _tokens(client, server, gone_user, "openid okta.apps.sso")
    ids = {
        u.login: admin.get(f"/api/v1/users/{u.login}").json()["id"] for u in (kept_user, gone_user)
    }
    assert admin.delete(f"/api/v1/users/{ids[kept_user.login]}/sessions").status_code == 204
    assert (
        admin.delete(
            f"/api/v1/users/{ids[gone_user.login]}/sessions",
            params={"oauthTokens": "true", "forgetDevices": "true"},
        ).status_code
        == 204
    )
    session_ended = _exchange(client, server, kept).json()
    assert session_ended["error_description"] == (
        "The 'subject_token' either expired or the session associated with it was terminated."
    )
    revoked = _exchange(client, server, gone).json()
    assert revoked == {"error": "invalid_grant", "error_description": "'subject_token' is invalid."}
    bad = admin.delete(
        f"/api/v1/users/{ids[gone_user.login]}/sessions", params={"oauthTokens": "yes"}
    )
    assert bad.status_code == 400
    assert bad.json()["errorCode"] == "E0000001"


def _service_token(
    client: httpx.Client, server: IdpServer, roles: tuple[str, ...]
) -> tuple[httpx.Response, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    client_id = server.idp.appstate.create_service_app(
        "svc", pem.decode(), ("okta.groups.read",), roles
    )

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": f"{server.url}/oauth2/v1/token",
        "exp": now + 300,
        "jti": secrets.token_hex(8),
    }
    signing = b64(json.dumps({"alg": "RS256"}).encode()) + "." + b64(json.dumps(claims).encode())
    signature = key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())
    answer = client.post(
        "/oauth2/v1/token",
        data={
            "grant_type": "client_credentials",
            "scope": "okta.groups.read",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": f"{signing}.{b64(signature)}",
        },
    )
    assert answer.status_code == 200, answer.text
    return answer, str(answer.json()["access_token"])


def test_a_service_app_needs_an_admin_role_as_well_as_scopes(
    server: IdpServer, client: httpx.Client
) -> None:
    """Okta, "Implement OAuth for Okta with a service app": assign admin roles to the app;
    admin roles "aren't automatically assigned to apps" (Roles in Okta). Without one:
    403 E0000006 (https://developer.okta.com/docs/reference/error-codes/#E0000006)."""
    _, bare = _service_token(client, server, ())
    refused = client.get("/api/v1/groups", headers={"Authorization": f"Bearer {bare}"})
    assert refused.status_code == 403
    body = refused.json()
    assert body["errorCode"] == "E0000006"
    assert body["errorSummary"] == "You do not have permission to perform the requested action"
    assert body["errorCauses"] == []
    _, admin_token = _service_token(client, server, ("SUPER_ADMIN",))
    allowed = client.get("/api/v1/groups", headers={"Authorization": f"Bearer {admin_token}"})
    assert allowed.status_code == 200


def test_the_token_endpoint_has_a_rate_limit_of_its_own(
    server: IdpServer, client: httpx.Client, restore: None
) -> None:
    """Okta limits /oauth2/v1/token on its own (https://developer.okta.com/docs/reference/rl2-limits/),
    answering 429 E0000047 with X-Rate-Limit-Limit/Remaining/Reset
    (https://developer.okta.com/docs/reference/rl-best-practices/)."""
    server.idp.rate_limiter = RateLimiter()
    server.idp.settings = replace(server.idp.settings, rate_limit_token=2)
    answers = [client.post("/oauth2/v1/token", data={"grant_type": "password"}) for _ in range(3)]
    assert [a.status_code for a in answers] == [400, 400, 429]
    limited = answers[-1]
    assert limited.headers["X-Rate-Limit-Limit"] == "2"
    assert limited.headers["X-Rate-Limit-Remaining"] == "0"
    assert int(limited.headers["X-Rate-Limit-Reset"]) > time.time()
    assert limited.json()["errorCode"] == "E0000047"
    # The rest of the API is counted apart.
    assert client.get("/api/v1/sessions/me").status_code == 404
    server.idp.rate_limiter = RateLimiter()


def test_groups_are_found_by_okta_s_search_syntax_and_q(admin: httpx.Client) -> None:
    """Okta Groups API, "List all groups": ``search=profile.name eq "…"`` (exact) and ``q``
    (name starts with)."""
    exact = admin.get("/api/v1/groups", params={"search": 'profile.name eq "aws-admins"'})
    assert exact.status_code == 200
    assert [g["profile"]["name"] for g in exact.json()] == ["aws-admins"]
    starts = admin.get("/api/v1/groups", params={"search": 'profile.name sw "aws#acme-dev#"'})
    assert starts.json()
    assert all(g["profile"]["name"].startswith("aws#acme-dev#") for g in starts.json())
    typed = admin.get(
        "/api/v1/groups", params={"search": 'type eq "OKTA_GROUP" and profile.name eq "auditors"'}
    )
    assert [g["profile"]["name"] for g in typed.json()] == ["auditors"]
    q = admin.get("/api/v1/groups", params={"q": "aws-adm"})
    assert [g["profile"]["name"] for g in q.json()] == ["aws-admins"]
    bad = admin.get("/api/v1/groups", params={"search": "profile.name like aws"})
    assert bad.status_code == 400
    assert bad.json()["errorCode"] == "E0000031"


def test_a_group_rule_puts_its_source_s_members_in_its_targets(
    server: IdpServer, admin: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    """Okta Groups API, group rules: created INACTIVE, activated by lifecycle, then members
    of the expression's groups are members of assignUserToGroups' groups."""
    source = admin.post("/api/v1/groups", json={"profile": {"name": f"src-{secrets.token_hex(3)}"}})
    target = admin.post("/api/v1/groups", json={"profile": {"name": f"dst-{secrets.token_hex(3)}"}})
    user = make_user(groups=(source.json()["profile"]["name"],))
    body = {
        "type": "group_rule",
        "name": "source to target",
        "conditions": {
            "expression": {
                "value": f'isMemberOfAnyGroup("{source.json()["id"]}")',
                "type": "urn:okta:expression:1.0",
            }
        },
        "actions": {"assignUserToGroups": {"groupIds": [target.json()["id"]]}},
    }
    created = admin.post("/api/v1/groups/rules", json=body)
    assert created.status_code == 200, created.text
    assert created.json()["status"] == "INACTIVE"
    rule_id = created.json()["id"]
    groups = admin.get(f"/api/v1/users/{user.login}/groups").json()
    assert target.json()["id"] not in [g["id"] for g in groups]
    activated = admin.post(f"/api/v1/groups/rules/{rule_id}/lifecycle/activate")
    assert activated.status_code == 204
    groups = admin.get(f"/api/v1/users/{user.login}/groups").json()
    assert target.json()["id"] in [g["id"] for g in groups]
    assert admin.delete(f"/api/v1/groups/rules/{rule_id}").json()["errorCode"] == "E0000001"
    admin.post(f"/api/v1/groups/rules/{rule_id}/lifecycle/deactivate")
    assert admin.delete(f"/api/v1/groups/rules/{rule_id}").status_code == 204


def test_interclient_tokens_where_the_org_offers_native_to_web_sso(
    server: IdpServer,
    client: httpx.Client,
    admin: httpx.Client,
    restore: None,
    make_user: Callable[..., NewUser],
) -> None:
    """Okta, "Configure Native to Web SSO" (https://developer.okta.com/docs/guides/native-to-web-sso/main/):
    a trust mapping, the interclient_access scope, requested_token_type
    urn:okta:params:oauth:token-type:interclient_token, a single-use token for the app."""
    off = _exchange(
        client, server, {"access_token": "x", "id_token": "y"}, requested_token_type=INTERCLIENT
    )
    assert off.json()["error"] == "invalid_request"  # not offered by default
    server.idp.settings = replace(server.idp.settings, native_to_web_sso=True)
    untrusted = client.post(
        "/oauth2/v1/device/authorize",
        data={"client_id": server.oidc_client_id, "scope": "openid interclient_access"},
    )
    assert untrusted.json()["error"] == "invalid_scope"
    mapping = admin.post(
        f"/api/v1/apps/{server.app_id}/interclient-allowed-apps", json={"id": server.oidc_client_id}
    )
    assert mapping.status_code == 200, mapping.text
    assert mapping.json()["appInstanceId"] == server.app_id
    assert mapping.json()["trustedAppInstanceId"] == server.oidc_client_id
    assert mapping.json()["id"].startswith("itm")
    tokens = _tokens(client, server, make_user(), "openid interclient_access")
    issued = _exchange(client, server, tokens, requested_token_type=INTERCLIENT)
    assert issued.status_code == 200, issued.text
    assert issued.json()["issued_token_type"] == INTERCLIENT
    assert issued.json()["token_type"] == "N_A"
    token = issued.json()["access_token"]
    page = client.get(
        f"/app/amazon_aws/{server.app_id}/sso/saml", params={"interclient_token": token}
    )
    assert "SAMLResponse" in page.text
    again = client.get(
        f"/app/amazon_aws/{server.app_id}/sso/saml", params={"interclient_token": token}
    )
    assert again.status_code == 401


def test_classic_step_up_as_a_redirect_with_a_state_token(
    acme: FederationSpec, tmp_path: Path
) -> None:
    """The redirect variant of Classic's app step-up: a 302 carrying the stateToken
    (gimme-aws-creds reads a ``stateToken=`` in the URL or page as well as the script
    variable, okta_classic.py ``_extract_state_token_from_http_response``)."""
    settings = IdpSettings(app_policy="mfa_every_time", step_up_style="redirect")
    classic, _ = start_idp(acme, tmp_path, settings)
    try:
        login = f"stepper-{secrets.token_hex(3)}@acme.example"
        _, password = classic.directory.add_user(
            login, groups=("aws#acme-dev#Developer#333333333333",)
        )
        secret = classic.directory.enroll(login, "totp").secret
        assert secret is not None
        user = NewUser(login=login, password=password, totp_secret=secret)
        with httpx.Client(base_url=classic.url, verify=lab_tls_context(classic)) as http:
            first = http.post("/api/v1/authn", json={"username": login, "password": password})
            factor = first.json()["_embedded"]["factors"][0]
            done = http.post(
                factor["_links"]["verify"]["href"],
                json={"stateToken": first.json()["stateToken"], "passCode": user.code()},
            )
            app = http.get(classic.app_url, params={"sessionToken": done.json()["sessionToken"]})
            assert app.status_code == 302
            location = app.headers["location"]
            assert location.startswith("/login/step-up/redirect?stateToken=")
            state_token = location.split("stateToken=", 1)[1]
            page = http.get(location)
            assert "var stateToken = " in page.text
            step = http.post("/api/v1/authn", json={"stateToken": state_token})
            assert step.json()["status"] == "MFA_REQUIRED"
            assert step.json()["type"] == "SESSION_STEP_UP"
            verify = step.json()["_embedded"]["factors"][0]["_links"]["verify"]["href"]
            success = http.post(verify, json={"stateToken": state_token, "passCode": user.code(1)})
            assert success.json()["status"] == "SUCCESS"
            back = http.get(success.json()["_links"]["next"]["href"], follow_redirects=True)
            assert 'name="SAMLResponse"' in back.text
    finally:
        classic.stop()
