"""Sessions, appLinks, the session-cookie redirect, and the AWS app's SAML page and assertion."""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from lxml import etree

from keyless.saml.metadata import parse_metadata
from keyless.saml.verify import verify_response
from keyless_lab.idp.server import IdpServer
from lab_idp.idp_support import NewUser, lab_tls_context, normalise

OKTA = "https://{yourOktaDomain}"
NS = {"saml2": "urn:oasis:names:tc:SAML:2.0:assertion", "ds": "http://www.w3.org/2000/09/xmldsig#"}


def sign_in(client: httpx.Client, user: NewUser, offset: int = 0) -> str:
    """Password + TOTP through the API; return the sessionToken."""
    started = client.post(
        "/api/v1/authn", json={"username": user.login, "password": user.password}
    ).json()
    verify = started["_embedded"]["factors"][0]["_links"]["verify"]["href"]
    done = client.post(
        verify, json={"stateToken": started["stateToken"], "passCode": user.code(offset)}
    )
    assert done.status_code == 200, done.text
    token: str = done.json()["sessionToken"]
    return token


def session_doc(user: NewUser, *, me: bool) -> dict[str, Any]:
    self_href = f"{OKTA}/api/v1/sessions/{'me' if me else '<sessionId>'}"
    return {
        "id": "<sessionId>",
        "userId": "<00uid>",
        "login": user.login,
        "createdAt": "<time>",
        "expiresAt": "<time>",
        "status": "ACTIVE",
        "lastPasswordVerification": "<time>",
        "lastFactorVerification": "<time>",
        "amr": ["pwd", "otp", "mfa"],
        "idp": {"id": "<00oid>", "type": "OKTA"},
        "mfaActive": True,
        "_links": {
            "self": {"href": self_href, "hints": {"allow": ["GET", "DELETE"]}},
            "refresh": {"href": f"{self_href}/lifecycle/refresh", "hints": {"allow": ["POST"]}},
            "user": {
                "name": "Test User",
                "href": f"{OKTA}/api/v1/users/{'me' if me else '<00uid>'}",
                "hints": {"allow": ["GET"]},
            },
        },
    }


def test_session_create_get_refresh_close(
    server: IdpServer, client: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    user = make_user()
    created = client.post("/api/v1/sessions", json={"sessionToken": sign_in(client, user)})
    assert created.status_code == 200
    assert normalise(created.json(), server.url) == session_doc(user, me=False)
    cookie = created.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "Secure" in cookie
    assert "SameSite=lax" in cookie.replace("Lax", "lax")

    me = client.get("/api/v1/sessions/me")
    assert me.status_code == 200
    assert normalise(me.json(), server.url) == session_doc(user, me=True)
    assert me.json()["id"] == created.json()["id"]

    refreshed = client.post("/api/v1/sessions/me/lifecycle/refresh")
    assert refreshed.status_code == 200
    assert refreshed.json()["expiresAt"] >= me.json()["expiresAt"]

    closed = client.delete("/api/v1/sessions/me")
    assert closed.status_code == 204
    gone = client.get("/api/v1/sessions/me")
    assert gone.status_code == 404
    assert normalise(gone.json(), server.url) == {
        "errorCode": "E0000007",
        "errorSummary": "Not found: Resource not found: me (Session)",
        "errorLink": "E0000007",
        "errorId": "<errorId>",
        "errorCauses": [],
    }


def test_session_token_is_one_time(
    server: IdpServer, client: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    token = sign_in(client, make_user())
    assert client.post("/api/v1/sessions", json={"sessionToken": token}).status_code == 200
    again = client.post("/api/v1/sessions", json={"sessionToken": token})
    assert again.status_code == 401
    assert again.json()["errorCode"] == "E0000004"


def test_app_links_list_the_aws_app(
    server: IdpServer, client: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    user = make_user()
    assert client.get("/api/v1/users/me/appLinks").json()["errorCode"] == "E0000005"
    client.post("/api/v1/sessions", json={"sessionToken": sign_in(client, user)})
    links = client.get("/api/v1/users/me/appLinks")
    assert links.status_code == 200
    assert normalise(links.json(), server.url) == [
        {
            "id": "<0uaid>",
            "label": "Amazon Web Services",
            "linkUrl": f"{OKTA}/home/amazon_aws/<0oaid>/272",
            "logoUrl": f"{OKTA}/static/aws-logo.svg",
            "appName": "amazon_aws",
            "appInstanceId": "<0oaid>",
            "appAssignmentId": "<0uaid>",
            "credentialsSetup": False,
            "hidden": False,
            "sortOrder": 0,
        }
    ]
    assert links.json()[0]["appInstanceId"] == server.app_id


def _form(page: str) -> tuple[str, str]:
    """The appForm's action and SAMLResponse, unescaped as a browser would."""
    action = re.search(r'<form id="appForm" action="([^"]*)" method="POST">', page)
    value = re.search(r'<input name="SAMLResponse" type="hidden" value="([^"]*)"/>', page)
    assert action is not None, page[:500]
    assert value is not None
    return html.unescape(action.group(1)), html.unescape(value.group(1))


def test_embed_link_answers_oktas_form_with_a_signed_assertion(
    server: IdpServer, client: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    user = make_user(groups=("aws-admins",))
    client.post("/api/v1/sessions", json={"sessionToken": sign_in(client, user)})
    page = client.get(server.app_url)
    assert page.status_code == 200
    # Escaped exactly as Okta escapes it.
    assert 'action="https&#x3a;&#x2f;&#x2f;signin.aws.amazon.com&#x2f;saml"' in page.text
    action, saml = _form(page.text)
    assert action == "https://signin.aws.amazon.com/saml"

    metadata = parse_metadata(client.get(server.metadata_url).content)
    assert metadata.entity_id == server.entity_id
    assert metadata.sso_urls[0] == server.sso_url
    result = verify_response(
        saml,
        metadata=metadata,
        now=datetime.now(UTC),
        role_arn="arn:aws:iam::222222222222:role/OktaAdminRole",
        principal_arn="arn:aws:iam::222222222222:saml-provider/Okta",
    )
    assert result.accepted, result.as_dict()
    assertion = result.assertion
    assert assertion is not None
    assert assertion.signed_element == "both"
    assert assertion.issuer == server.entity_id
    assert assertion.subject == user.login
    assert assertion.recipient == "https://signin.aws.amazon.com/saml"
    assert assertion.audiences == ("urn:amazon:webservices",)
    assert assertion.session_name == user.login
    assert assertion.session_duration == 3600
    lifetime = assertion.not_on_or_after - assertion.issue_instant
    assert timedelta(minutes=4, seconds=59) <= lifetime <= timedelta(minutes=5, seconds=1)
    # Sorted: Okta documents no order for the Role values under group mapping.
    assert sorted((p.principal_arn, p.role_arn) for p in assertion.roles) == [
        (
            "arn:aws:iam::222222222222:saml-provider/Okta",
            "arn:aws:iam::222222222222:role/OktaAdminRole",
        ),
        (
            "arn:aws:iam::333333333333:saml-provider/Okta",
            "arn:aws:iam::333333333333:role/OktaAdminRole",
        ),
    ]
    # Okta's order in the attribute value: provider ARN, then role ARN.
    xml = base64.b64decode(saml)
    values: Any = etree.fromstring(xml).xpath(
        "//saml2:Attribute[@Name='https://aws.amazon.com/SAML/Attributes/Role']/saml2:AttributeValue/text()",
        namespaces=NS,
    )
    assert (
        "arn:aws:iam::222222222222:saml-provider/Okta,arn:aws:iam::222222222222:role/OktaAdminRole"
        in values
    )
    # Every assertion is in the audit log with who, from where and which roles.
    records = [json.loads(line) for line in server.audit_log.read_text().splitlines()]
    issued = [r for r in records if r["event"] == "assertion" and r["login"] == user.login]
    assert issued[-1]["assertion_id"] == assertion.assertion_id
    assert issued[-1]["ip"] == "127.0.0.1"
    assert issued[-1]["roles"] == [p.role_arn for p in assertion.roles]


def test_principal_tags_come_from_user_attributes(
    server: IdpServer, client: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    user = make_user(groups=("auditors",), attributes={"team": "audit"})
    token = sign_in(client, user)
    page = client.get(server.sso_url, params={"sessionToken": token})
    _, saml = _form(page.text)
    metadata = parse_metadata(server.metadata_xml())
    result = verify_response(saml, metadata=metadata, now=datetime.now(UTC))
    assert result.accepted, result.as_dict()
    assert result.assertion is not None
    assert result.assertion.principal_tags == {"team": "audit"}
    # The sessionToken in the query made a session and set its cookies.
    assert "sid" in page.cookies
    assert "DT" in page.cookies


def test_onetimetoken_reaches_the_sso_url(
    server: IdpServer, client: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    token = sign_in(client, make_user())
    page = client.get(server.sso_url, params={"onetimetoken": token})
    assert _form(page.text)[0] == "https://signin.aws.amazon.com/saml"


def test_without_a_session_the_app_sends_to_the_sign_in_page(
    server: IdpServer, client: httpx.Client
) -> None:
    response = client.get(server.app_url)
    assert response.status_code == 302
    assert response.headers["location"].startswith("/login/login.htm?fromURI=%2Fhome%2Famazon_aws")
    assert "Sign In" in client.get(response.headers["location"]).text


def test_a_user_without_roles_gets_oktas_not_assigned_page(
    server: IdpServer, client: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    user = make_user(groups=("nobody-maps-this",))
    client.post("/api/v1/sessions", json={"sessionToken": sign_in(client, user)})
    page = client.get(server.app_url)
    assert page.status_code == 403
    assert "SAMLResponse" not in page.text
    assert "you are not assigned this app" in html.unescape(page.text)
    assert client.get("/api/v1/users/me/appLinks").json() == []
    records = [json.loads(line) for line in server.audit_log.read_text().splitlines()]
    assert any(r["event"] == "no_roles" and r["login"] == user.login for r in records)


def test_dashboard_link_posts_to_the_lab_signin_page(
    server: IdpServer, client: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    user = make_user()
    client.post("/api/v1/sessions", json={"sessionToken": sign_in(client, user)})
    action, saml = _form(client.get(server.app_url + "?fromHome=true").text)
    assert action == f"{server.url}/aws/saml"
    # The assertion is the same kind: Recipient stays AWS's sign-in URL.
    result = verify_response(
        saml, metadata=parse_metadata(server.metadata_xml()), now=datetime.now(UTC)
    )
    assert result.accepted
    assert result.assertion is not None
    assert result.assertion.recipient == "https://signin.aws.amazon.com/saml"


def test_session_cookie_redirect_sets_cookies_and_refuses_other_origins(
    server: IdpServer, make_user: Callable[..., NewUser]
) -> None:
    user = make_user()
    with httpx.Client(base_url=server.url, verify=lab_tls_context(server)) as api:
        token = sign_in(api, user)
    with httpx.Client(base_url=server.url, verify=lab_tls_context(server)) as browser:
        evil = browser.get(
            "/login/sessionCookieRedirect",
            params={"token": token, "redirectUrl": "https://evil.example/steal"},
        )
        assert evil.status_code == 403
        assert "sid" not in evil.cookies
        for target in ("//evil.example/x", "https:/\\evil.example"):
            refused = browser.get(
                "/login/sessionCookieRedirect", params={"token": token, "redirectUrl": target}
            )
            assert refused.status_code == 403, target
        # Not a web URL at all: Okta's validation error (issue 21, item 8), no cookies either.
        refused = browser.get(
            "/login/sessionCookieRedirect",
            params={"token": token, "redirectUrl": "javascript:alert(1)"},
        )
        assert refused.status_code == 400
        assert refused.json()["errorCode"] == "E0000001"
        assert "sid" not in refused.cookies
        ok = browser.get(
            "/login/sessionCookieRedirect", params={"token": token, "redirectUrl": server.app_url}
        )
        assert ok.status_code == 302
        assert ok.headers["location"] == server.app_url
        cookies = ok.headers.get_list("set-cookie")
        assert {c.split("=", 1)[0] for c in cookies} == {"sid", "DT"}
        for cookie in cookies:
            assert "HttpOnly" in cookie
            assert "Secure" in cookie
            assert "samesite=lax" in cookie.lower()
        assert _form(browser.get(server.app_url).text)[0] == "https://signin.aws.amazon.com/saml"


def test_metadata_is_what_an_iam_saml_provider_takes(
    server: IdpServer, client: httpx.Client
) -> None:
    response = client.get(server.metadata_url)
    assert response.status_code == 200
    metadata = parse_metadata(response.content)
    assert metadata.entity_id.startswith("http://www.okta.com/exk")
    assert metadata.certificates == (server.key.certificate,)
    assert set(metadata.sso_urls) == {server.sso_url}


@pytest.mark.parametrize("path", ["/home/amazon_aws/0oaAAAAAAAAAAAAAAAAA/272"])
def test_another_app_id_is_not_found(client: httpx.Client, path: str) -> None:
    assert client.get(path).status_code == 404


@pytest.mark.parametrize(
    ("sign", "expected"),
    [("assertion", "assertion"), ("response", "response"), ("both", "both")],
)
def test_what_is_signed_and_the_recipient_are_configurable(
    server: IdpServer, make_user: Callable[..., NewUser], sign: str, expected: str
) -> None:
    regional = "https://us-east-2.signin.aws.amazon.com/saml"
    user = server.directory.get_user(make_user().login)
    assert user is not None
    default = server.idp.settings
    server.idp.settings = replace(default, sign=sign, recipient=regional)  # type: ignore[arg-type]
    try:
        issued = server.idp.issue_assertion(user, client="test", via="test")
    finally:
        server.idp.settings = default
    result = verify_response(
        issued.xml,
        metadata=parse_metadata(server.metadata_xml()),
        now=datetime.now(UTC),
        recipients=[regional],
    )
    assert result.accepted, result.as_dict()
    assert result.assertion is not None
    assert result.assertion.signed_element == expected
    assert result.assertion.recipient == regional
