"""Issue 21, item 8: a malformed redirect target gets Okta's validation error, never a 500.

Every endpoint and page of the lab IdP that takes a redirect target (``redirectUrl``
on ``/login/sessionCookieRedirect``, ``fromURI`` on the sign-in page and the MFA
step) is asked, unauthenticated, with targets no browser could follow.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from keyless_lab.idp.server import IdpServer

MALFORMED = [
    "https://127.0.0.1:abc/",  # a port that is not a number
    "https://127.0.0.1:99999/",  # a port past 65535
    "https://127.0.0.1:-1/",
    "https://[::1/",  # a host that does not close
    "ftp://127.0.0.1/app/UserHome",  # not a web scheme
    "javascript:alert(document.cookie)",
    "https:///app/UserHome",  # absolute, without a host
]

ENDPOINTS: list[tuple[str, str, str]] = [
    ("GET", "/login/sessionCookieRedirect", "redirectUrl"),
    ("POST", "/login/sessionCookieRedirect", "redirectUrl"),
    ("GET", "/login/login.htm", "fromURI"),
    ("POST", "/login/login.htm", "fromURI"),
    ("POST", "/signin/verify", "fromURI"),
]


@pytest.mark.parametrize("target", MALFORMED)
@pytest.mark.parametrize(("method", "path", "param"), ENDPOINTS)
def test_a_malformed_target_is_a_400_with_okta_error_body(
    client: httpx.Client, server: IdpServer, method: str, path: str, param: str, target: str
) -> None:
    """Regression (issue 21, item 8): ``https://127.0.0.1:abc/`` answered 500."""
    request: dict[str, Any] = (
        {"params": {param: target}} if method == "GET" else {"data": {param: target}}
    )
    response = client.request(method, path, **request)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["errorCode"] == "E0000001"
    assert body["errorSummary"].startswith("Api validation failed: ")
    assert body["errorCauses"][0]["errorSummary"].startswith(f"{param}: ")
    assert "sid" not in response.cookies


@pytest.mark.parametrize(("method", "path", "param"), ENDPOINTS[:3])
def test_well_formed_targets_still_work(
    client: httpx.Client, server: IdpServer, method: str, path: str, param: str
) -> None:
    request: dict[str, Any] = (
        {"params": {param: "/app/UserHome"}}
        if method == "GET"
        else {"data": {param: "/app/UserHome"}}
    )
    response = client.request(method, path, **request)
    assert response.status_code in (200, 302), response.text
