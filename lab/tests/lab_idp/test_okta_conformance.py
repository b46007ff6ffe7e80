"""Lab conformance: each Okta endpoint the lab serves, against Okta's published examples.

For every endpoint, one of Okta's own examples (copied from the page cited
beside it, trimmed only of values) is compared with what the lab answers
for the same request: every documented field is there with the documented
JSON type (:func:`conforms`), status codes are Okta's, and error bodies are
exactly Okta's error object (``errorCode``, ``errorSummary``, ``errorLink``,
``errorId``, ``errorCauses``; Okta's error-code catalogue,
https://developer.okta.com/docs/reference/error-codes/) or OAuth's
(``error``, ``error_description``, RFC 6749 §5.2, as Okta's OAuth reference shows).

Fields the lab adds beyond an example are allowed (Okta's answers carry more
than its examples); a missing one, or one of another type, is a divergence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from keyless.spec import FederationSpec
from keyless_lab.idp.appstate import ALL_SCOPES
from keyless_lab.idp.core import IdpSettings
from keyless_lab.idp.server import IdpServer
from keyless_lab.info import LabUser
from lab_idp.idp_support import NewUser, lab_tls_context, start_idp
from lab_idp.test_oauth_engines import approve

ERROR_KEYS = {"errorCode", "errorSummary", "errorLink", "errorId", "errorCauses"}
ANY = object()  # a documented null: the field may hold a value in another answer


def conforms(lab: Any, doc: Any, where: str = "$") -> list[str]:
    """Where ``lab`` lacks a field of ``doc`` or holds another JSON type ([] when it conforms)."""
    if doc is ANY or doc is None:
        return []
    if isinstance(doc, dict):
        if not isinstance(lab, dict):
            return [f"{where}: an object in Okta's example, {type(lab).__name__} in the lab"]
        problems: list[str] = []
        for key, value in doc.items():
            if key not in lab:
                problems.append(f"{where}.{key}: missing")
            else:
                problems += conforms(lab[key], value, f"{where}.{key}")
        return problems
    if isinstance(doc, list):
        if not isinstance(lab, list):
            return [f"{where}: an array in Okta's example, {type(lab).__name__} in the lab"]
        return conforms(lab[0], doc[0], f"{where}[0]") if doc and lab else []
    kinds = (bool,) if isinstance(doc, bool) else (int,) if isinstance(doc, int) else (str,)
    if not isinstance(lab, kinds) or (kinds == (int,) and isinstance(lab, bool)):
        return [f"{where}: {type(doc).__name__} in Okta's example, {type(lab).__name__} in the lab"]
    return []


def okta_error(response: httpx.Response, status: int, code: str, summary: str) -> dict[str, Any]:
    """Assert an Okta error answer; return its body."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == ERROR_KEYS
    assert body["errorCode"] == code
    assert body["errorSummary"] == summary
    assert body["errorLink"] == code
    assert isinstance(body["errorId"], str)
    assert body["errorId"]
    assert isinstance(body["errorCauses"], list)
    return body


def oauth_error(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == error
    assert isinstance(body["error_description"], str)
    return body


@pytest.fixture(scope="module")
def oie(
    acme: FederationSpec, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[IdpServer, dict[str, LabUser]]]:
    settings = IdpSettings(engine="oie", device_poll_interval=1)
    server, users = start_idp(acme, tmp_path_factory.mktemp("idp-conformance"), settings)
    try:
        yield server, users
    finally:
        server.stop()


@pytest.fixture
def server(oie: tuple[IdpServer, dict[str, LabUser]]) -> IdpServer:
    return oie[0]


@pytest.fixture
def admin(server: IdpServer) -> Iterator[httpx.Client]:
    token = server.idp.appstate.create_token("conformance", ALL_SCOPES)
    with httpx.Client(
        base_url=server.url,
        verify=lab_tls_context(server),
        headers={"Authorization": f"SSWS {token}", "Accept": "application/json"},
    ) as http:
        yield http


# -- /.well-known/okta-organization ------------------------------------------------------------

# https://developer.okta.com/docs/concepts/oie-intro/#identify-your-okta-solution; the
# settings as Okta's Org API documents WellKnownOrgMetadata (okta-sdk-java's
# WellKnownOrgMetadataSettings: analyticsCollectionEnabled, bugReportingEnabled, omEnabled).
ORGANIZATION = {
    "id": "00o47wwoytgsDqEtz0g7",
    "pipeline": "idx",
    "settings": {
        "analyticsCollectionEnabled": False,
        "bugReportingEnabled": True,
        "omEnabled": False,
    },
    "_links": {
        "organization": {"href": "https://{yourOktaDomain}"},
        "alternate": {"href": "https://{yourOktaDomain}"},
    },
}


def test_okta_organization(client: httpx.Client) -> None:
    answer = client.get("/.well-known/okta-organization")
    assert answer.status_code == 200
    assert conforms(answer.json(), ORGANIZATION) == []
    assert answer.json()["pipeline"] in ("v1", "idx")


# -- /api/v1/authn and /api/v1/authn/factors/{factorId}/verify ------------------------------------

# https://developer.okta.com/docs/reference/api/authn/#response-example-for-factor-challenge-for-mfa-required
AUTHN_MFA_REQUIRED = {
    "stateToken": "007ucIX7PATyn94hsHfOLVaXAmOBkKHWnOOLG43bsb",
    "expiresAt": "2015-11-03T10:15:57.000Z",
    "status": "MFA_REQUIRED",
    "_embedded": {
        "user": {
            "id": "00ub0oNGTSWTBKOLGLNR",
            "passwordChanged": "2015-09-08T20:14:45.000Z",
            "profile": {
                "login": "dade.murphy@example.com",
                "firstName": "Dade",
                "lastName": "Murphy",
                "locale": "en_US",
                "timeZone": "America/Los_Angeles",
            },
        },
        "factors": [
            {
                "id": "ostfm3hPNYSOIOIVTQWY",
                "factorType": "token:software:totp",
                "provider": "GOOGLE",
                "profile": {"credentialId": "dade.murphy@example.com"},
                "_links": {
                    "verify": {
                        "href": "https://{yourOktaDomain}/api/v1/authn/factors/x/verify",
                        "hints": {"allow": ["POST"]},
                    }
                },
            }
        ],
    },
    "_links": {
        "cancel": {
            "href": "https://{yourOktaDomain}/api/v1/authn/cancel",
            "hints": {"allow": ["POST"]},
        }
    },
}
# https://developer.okta.com/docs/reference/api/authn/#response-example-for-verify-totp-factor
AUTHN_SUCCESS = {
    "expiresAt": "2015-11-03T10:15:57.000Z",
    "status": "SUCCESS",
    "sessionToken": "00t6IUQiVbWpMLgtmwSjMFzqykb5QcaBNtveiWlGeM",
    "_embedded": {
        "user": {
            "id": "00ub0oNGTSWTBKOLGLNR",
            "passwordChanged": "2015-09-08T20:14:45.000Z",
            "profile": {
                "login": "dade.murphy@example.com",
                "firstName": "Dade",
                "lastName": "Murphy",
                "locale": "en_US",
                "timeZone": "America/Los_Angeles",
            },
        }
    },
}


def test_authn_and_factor_verify(client: httpx.Client, make_user: Callable[..., NewUser]) -> None:
    user = make_user()
    first = client.post("/api/v1/authn", json={"username": user.login, "password": user.password})
    assert first.status_code == 200
    assert conforms(first.json(), AUTHN_MFA_REQUIRED) == []
    verify = first.json()["_embedded"]["factors"][0]["_links"]["verify"]["href"]
    wrong = f"{(int(user.code()) + 1) % 1_000_000:06d}"
    refused = client.post(
        verify, json={"stateToken": first.json()["stateToken"], "passCode": wrong}
    )
    # https://developer.okta.com/docs/reference/api/authn/#response-example-for-invalid-passcode
    body = okta_error(refused, 403, "E0000068", "Invalid Passcode/Answer")
    assert body["errorCauses"] == [
        {"errorSummary": "Your passcode doesn't match our records. Please try again."}
    ]
    done = client.post(
        verify, json={"stateToken": first.json()["stateToken"], "passCode": user.code()}
    )
    assert done.status_code == 200
    assert conforms(done.json(), AUTHN_SUCCESS) == []
    # https://developer.okta.com/docs/reference/error-codes/#E0000004
    okta_error(
        client.post("/api/v1/authn", json={"username": user.login, "password": "wrong"}),
        401,
        "E0000004",
        "Authentication failed",
    )
    # https://developer.okta.com/docs/reference/error-codes/#E0000011
    okta_error(
        client.post("/api/v1/authn", json={"stateToken": "00notatoken"}),
        401,
        "E0000011",
        "Invalid token provided",
    )


# -- /api/v1/sessions/me --------------------------------------------------------------------------

# https://developer.okta.com/docs/reference/api/sessions/#get-current-session
SESSION_ME = {
    "id": "102XV1tNvxsTm69-StW_BCU-Q",
    "userId": "00u8eyowx5GiJhqvj1d6",
    "login": "john.doe@example.com",
    "createdAt": "2021-10-07T18:22:07.000Z",
    "expiresAt": "2021-10-07T20:22:07.000Z",
    "status": "ACTIVE",
    "lastPasswordVerification": "2021-10-07T18:22:07.000Z",
    "lastFactorVerification": None,
    "amr": ["pwd"],
    "idp": {"id": "00o2di92cuwsnS0PS1d6", "type": "OKTA"},
    "mfaActive": True,
    "_links": {
        "self": {
            "href": "https://example.okta.com/api/v1/sessions/me",
            "hints": {"allow": ["GET", "DELETE"]},
        },
        "refresh": {
            "href": "https://example.okta.com/api/v1/sessions/me/lifecycle/refresh",
            "hints": {"allow": ["POST"]},
        },
        "user": {
            "name": "John Doe",
            "href": "https://example.okta.com/api/v1/users/me",
            "hints": {"allow": ["GET"]},
        },
    },
}


def test_sessions_me(
    server: IdpServer, client: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    # Without a session: https://developer.okta.com/docs/reference/api/sessions/#get-current-session
    # ("404 Not Found" with E0000007 "Not found: Resource not found: me (Session)").
    okta_error(
        client.get("/api/v1/sessions/me"),
        404,
        "E0000007",
        "Not found: Resource not found: me (Session)",
    )
    user = make_user()
    first = client.post("/api/v1/authn", json={"username": user.login, "password": user.password})
    verify = first.json()["_embedded"]["factors"][0]["_links"]["verify"]["href"]
    done = client.post(
        verify, json={"stateToken": first.json()["stateToken"], "passCode": user.code()}
    )
    client.get(
        "/login/sessionCookieRedirect",
        params={"token": done.json()["sessionToken"], "redirectUrl": f"{server.url}/"},
    )
    me = client.get("/api/v1/sessions/me")
    assert me.status_code == 200, me.text
    assert conforms(me.json(), SESSION_ME) == []
    assert client.delete("/api/v1/sessions/me").status_code == 204


# -- /oauth2/v1/device/authorize and /oauth2/v1/token ------------------------------------------

# https://developer.okta.com/docs/guides/device-authorization-grant/main/#request-the-device-verification-code
DEVICE_AUTHORIZE = {
    "device_code": "4ebcc33b-2b7b-4d4d-9e3f-e2ea3b2ad3c5",
    "user_code": "MHXTWWGN",
    "verification_uri": "https://{yourOktaDomain}/activate",
    "verification_uri_complete": "https://{yourOktaDomain}/activate?user_code=MHXTWWGN",
    "expires_in": 600,
    "interval": 5,
}
# https://developer.okta.com/docs/guides/device-authorization-grant/main/#request-access-id-and-refresh-tokens
DEVICE_TOKENS = {
    "token_type": "Bearer",
    "expires_in": 3600,
    "access_token": "eyJraWQiOiJsc3...",
    "scope": "openid profile offline_access",
    "id_token": "eyJraWQiOiJsc3...",
}
# https://developer.okta.com/docs/guides/native-to-web-sso/main/ ("Request to initialize Native
# to Web SSO", the exchange's response), the same shape as the web SSO token's.
EXCHANGED = {
    "token_type": "N_A",
    "expires_in": 300,
    "access_token": "eyJraWQiOiJNTG...",
    "issued_token_type": "urn:okta:params:oauth:token-type:interclient_token",
}


def test_device_authorization_and_token(
    server: IdpServer, client: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    grant = client.post(
        "/oauth2/v1/device/authorize",
        data={"client_id": server.oidc_client_id, "scope": "openid okta.apps.sso"},
    )
    assert grant.status_code == 200
    assert conforms(grant.json(), DEVICE_AUTHORIZE) == []
    assert grant.json()["expires_in"] == 600
    # https://developer.okta.com/docs/reference/api/oidc/#response-example-error-3
    # (invalid_client, 401)
    oauth_error(
        client.post(
            "/oauth2/v1/device/authorize", data={"client_id": "0oanope", "scope": "openid"}
        ),
        401,
        "invalid_client",
    )
    poll = {
        "client_id": server.oidc_client_id,
        "device_code": grant.json()["device_code"],
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
    }
    # https://developer.okta.com/docs/guides/device-authorization-grant/main/#request-access-id-and-refresh-tokens
    # ("authorization_pending" while the person has not answered).
    oauth_error(client.post("/oauth2/v1/token", data=poll), 400, "authorization_pending")
    approve(server, make_user(), grant.json()["user_code"])
    tokens = client.post("/oauth2/v1/token", data=poll)
    assert tokens.status_code == 200
    assert conforms(tokens.json(), DEVICE_TOKENS) == []
    assert tokens.headers["Cache-Control"] == "no-store"
    exchanged = client.post(
        "/oauth2/v1/token",
        data={
            "client_id": server.oidc_client_id,
            "actor_token": tokens.json()["access_token"],
            "actor_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "subject_token": tokens.json()["id_token"],
            "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "requested_token_type": "urn:okta:oauth:token-type:web_sso_token",
            "audience": f"urn:okta:apps:{server.app_id}",
        },
    )
    assert exchanged.status_code == 200, exchanged.text
    assert conforms(exchanged.json(), EXCHANGED) == []
    assert exchanged.json()["expires_in"] == 300
    oauth_error(
        client.post("/oauth2/v1/token", data={"grant_type": "password"}),
        400,
        "unsupported_grant_type",
    )


# -- the management API -------------------------------------------------------------------------

# The amazon_aws app as Okta's Apps API answered it, recorded in okta/terraform-provider-okta,
# test/fixtures/vcr/idaas/TestAccResourceOktaAppSignOnPolicyRule_AUTH_METHOD_CHAIN/oie-00.yaml
# (trimmed of the recording's own values; "signOnMode" is SAML_2_0 for a SAML-configured app).
AWS_APP = {
    "id": "0oat1cn22rRWTXAZk1d7",
    "name": "amazon_aws",
    "label": "AWS Account Federation",
    "status": "ACTIVE",
    "lastUpdated": "2025-12-24T10:14:07.000Z",
    "created": "2025-12-24T10:14:05.000Z",
    "accessibility": {"selfService": False, "errorRedirectUrl": None, "loginRedirectUrl": None},
    "visibility": {
        "autoLaunch": False,
        "autoSubmitToolbar": True,
        "hide": {"iOS": False, "web": False},
        "appLinks": {"login": True},
    },
    "features": [],
    "signOnMode": "SAML_2_0",
    "credentials": {"userNameTemplate": {"template": "${source.login}", "type": "BUILT_IN"}},
    "settings": {
        "app": {
            "appFilter": "okta",
            "groupFilter": "aws_(?{{accountid}}\\d+)_(?{{role}}[a-zA-Z0-9+=,.@\\-_]+)",
            "secretKey": None,
            "webSSOAllowedClient": None,
            "useGroupMapping": False,
            "joinAllRoles": False,
            "identityProviderArn": None,
            "overrideAcsURL": None,
            "sessionDuration": 3600,
            "roleValuePattern": "arn:aws:iam::${accountid}:saml-provider/OKTA,"
            "arn:aws:iam::${accountid}:role/${role}",
            "accountID": None,
            "awsEnvironmentType": "aws.amazon",
            "accessKey": None,
            "loginURL": "https://console.aws.amazon.com/ec2/home",
            "secretKeyEnc": None,
        },
        "notifications": {
            "vpn": {"network": {"connection": "DISABLED"}, "message": None, "helpUrl": None}
        },
        "manualProvisioning": False,
        "implicitAssignment": False,
        "notes": {"admin": None, "enduser": None},
    },
    "_links": {"groups": {"href": "https://oie-00.dne-okta.com/api/v1/apps/0oa/groups"}},
}
# https://developer.okta.com/docs/reference/api/groups/#group-object (the example's fields)
GROUP = {
    "id": "00g1emaKYZTWRYYRRTSK",
    "created": "2015-02-06T10:11:28.000Z",
    "lastUpdated": "2015-10-05T19:16:43.000Z",
    "lastMembershipUpdated": "2015-11-28T19:15:32.000Z",
    "objectClass": ["okta:user_group"],
    "type": "OKTA_GROUP",
    "profile": {"name": "West Coast users", "description": "All Users West of The Rockies"},
    "_links": {
        "users": {"href": "https://{yourOktaDomain}/api/v1/groups/00g1emaKYZTWRYYRRTSK/users"},
        "apps": {"href": "https://{yourOktaDomain}/api/v1/groups/00g1emaKYZTWRYYRRTSK/apps"},
    },
}


def test_apps_app(server: IdpServer, client: httpx.Client, admin: httpx.Client) -> None:
    app = admin.get(f"/api/v1/apps/{server.app_id}")
    assert app.status_code == 200
    assert conforms(app.json(), AWS_APP) == []
    assert set(app.json()["settings"]["app"]) >= set(AWS_APP["settings"]["app"])  # type: ignore[index]
    # https://developer.okta.com/docs/reference/error-codes/#E0000007
    missing = admin.get("/api/v1/apps/0oaNotAnAppAtAll0000")
    body = okta_error(
        missing, 404, "E0000007", "Not found: Resource not found: 0oaNotAnAppAtAll0000 (App)"
    )
    assert body["errorCauses"] == []
    # https://developer.okta.com/docs/reference/error-codes/#E0000011 (no or unknown token)
    okta_error(
        client.get(f"/api/v1/apps/{server.app_id}"), 401, "E0000011", "Invalid token provided"
    )
    # https://developer.okta.com/docs/reference/error-codes/#E0000001 (errorCauses name the field)
    invalid = admin.put(
        f"/api/v1/apps/{server.app_id}",
        json={
            **app.json(),
            "settings": {"app": {**app.json()["settings"]["app"], "sessionDuration": 5}},
        },
    )
    body = okta_error(invalid, 400, "E0000001", "Api validation failed: sessionDuration")
    assert body["errorCauses"]
    assert all(set(cause) == {"errorSummary"} for cause in body["errorCauses"])


def test_groups(server: IdpServer, admin: httpx.Client) -> None:
    created = admin.post(
        "/api/v1/groups",
        json={
            "profile": {"name": "West Coast users", "description": "All Users West of The Rockies"}
        },
    )
    assert created.status_code == 200
    assert conforms(created.json(), GROUP) == []
    groups = admin.get("/api/v1/groups", params={"search": 'profile.name eq "West Coast users"'})
    assert groups.status_code == 200
    assert conforms(groups.json()[0], GROUP) == []
    assert 'rel="self"' in groups.headers["Link"]
    # https://developer.okta.com/docs/reference/error-codes/#E0000031
    okta_error(
        admin.get("/api/v1/groups", params={"search": "name = 1"}),
        400,
        "E0000031",
        "Invalid search criteria.",
    )
    # https://developer.okta.com/docs/reference/error-codes/#E0000006: a token without the scope.
    reader = server.idp.appstate.create_token("apps only", ("okta.apps.read",))
    denied = admin.get("/api/v1/groups", headers={"Authorization": f"SSWS {reader}"})
    okta_error(
        denied, 403, "E0000006", "You do not have permission to perform the requested action"
    )


def test_user_sessions(
    server: IdpServer, admin: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    # https://developer.okta.com/docs/api/openapi/okta-management/management/tag/UserSessions/
    # ("Revoke all user sessions": 204 No Content; oauthTokens and forgetDevices booleans).
    user = make_user()
    cleared = admin.delete(f"/api/v1/users/{user.login}/sessions", params={"oauthTokens": "true"})
    assert cleared.status_code == 204
    assert cleared.content == b""
    okta_error(
        admin.delete("/api/v1/users/00uNotAUserAtAll0000/sessions"),
        404,
        "E0000007",
        "Not found: Resource not found: 00uNotAUserAtAll0000 (User)",
    )


def test_rate_limit_answer(server: IdpServer, client: httpx.Client) -> None:
    # https://developer.okta.com/docs/reference/rl-best-practices/ (the three headers on every
    # answer of a limited endpoint) and https://developer.okta.com/docs/reference/error-codes/#E0000047.
    answer = client.post("/api/v1/authn", json={})
    for header in ("X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset"):
        assert answer.headers[header].isdigit()
    token = client.post("/oauth2/v1/token", data={"grant_type": "password"})
    assert token.headers["X-Rate-Limit-Limit"] == str(server.idp.settings.rate_limit_token)
