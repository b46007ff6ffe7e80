"""Hostile request bodies get Okta's error, never a 500, from every lab IdP endpoint and form.

Regression tests for issue 10 item 6: non-ASCII digits as a passcode raised a
TypeError in ``compare_digest``, a lone surrogate in JSON a UnicodeEncodeError in
SQLite, JSON nested 100k deep a RecursionError, and bodies of any size were read.
Okta answers a body it cannot read with ``400 E0000003`` "The request body was not
well-formed." (developer.okta.com/docs/reference/error-codes).
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from keyless.spec import FederationSpec
from keyless_lab.idp.body import MAX_BODY
from keyless_lab.idp.core import IdpSettings
from keyless_lab.idp.server import IdpServer
from keyless_lab.info import LabUser
from lab_idp.idp_support import NewUser, lab_tls_context, start_idp

JSON = {"Content-Type": "application/json", "Accept": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

# Every route that reads a body: the Okta APIs, the AWS app, the pages, the AWS
# sign-in page the lab serves. Bodies are sent to each.
API_POSTS = [
    "/api/v1/authn",
    "/api/v1/authn/cancel",
    "/api/v1/authn/previous",
    "/api/v1/authn/factors/uftnotafactor0000000/verify",
    "/api/v1/authn/factors/uftnotafactor0000000/verify/resend",
    "/api/v1/sessions",
    "/api/v1/sessions/me/lifecycle/refresh",
]
PAGE_POSTS = [
    "/login/login.htm",
    "/signin/verify",
    "/login/signout",
    "/login/sessionCookieRedirect",
    "/app/amazon_aws/{app_id}/sso/saml",
    "/aws/saml",
]

HOSTILE: dict[str, tuple[bytes, dict[str, str]]] = {
    "truncated-json": (b'{"username": "a', JSON),
    "json-array": (b"[1, 2]", JSON),
    "json-string": (b'"x"', JSON),
    "json-nan": (b'{"passCode": NaN}', JSON),
    "lone-surrogate-value": (b'{"username": "\\ud800", "password": "x"}', JSON),
    "lone-surrogate-key": (b'{"\\udfff": 1, "stateToken": "\\ud800"}', JSON),
    "deep-json": (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, JSON),
    "deep-json-array": (b"[" * 100_000 + b"]" * 100_000, JSON),
    "not-utf8": (b'{"username": "\xff\xfe"}', JSON),
    "huge": (b'{"username": "' + b"a" * (MAX_BODY + 10) + b'"}', JSON),
    "gzip": (
        gzip.compress(b'{"username": "a", "password": "b"}'),
        {**JSON, "Content-Encoding": "gzip"},
    ),
    "form-on-json": (b"username=a&password=b", FORM),
    "text-plain": (b"hello", {"Content-Type": "text/plain"}),
    "multipart": (
        b'--x\r\nContent-Disposition: form-data; name="username"\r\n\r\na\r\n--x--\r\n',
        {"Content-Type": "multipart/form-data; boundary=x"},
    ),
    "form-bad-percent": (b"username=%ED%A0%80&password=%FF", FORM),
    "form-many-fields": (b"&".join(b"f%d=1" % i for i in range(5000)), FORM),
    "form-huge": (b"username=" + b"a" * (MAX_BODY + 10), FORM),
    "no-content-type": (b"\x00\x01\x02", {}),
}


@pytest.fixture(scope="module")
def roomy_idp(
    acme: FederationSpec, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[IdpServer, dict[str, LabUser]]]:
    """An IdP whose rate limits do not stop the barrage before the bodies are read."""
    settings = IdpSettings(rate_limit_authn=100_000, rate_limit_other=100_000)
    server, users = start_idp(acme, tmp_path_factory.mktemp("hostile-idp"), settings)
    try:
        yield server, users
    finally:
        server.stop()


@pytest.fixture
def http(roomy_idp: tuple[IdpServer, dict[str, LabUser]]) -> Iterator[httpx.Client]:
    server = roomy_idp[0]
    with httpx.Client(base_url=server.url, verify=lab_tls_context(server), timeout=30) as client:
        yield client


def _send(http: httpx.Client, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return http.post(path, content=body, headers=headers)


@pytest.mark.parametrize("kind", list(HOSTILE))
@pytest.mark.parametrize("path", API_POSTS)
def test_api_answers_hostile_bodies_with_okta_errors(
    http: httpx.Client, path: str, kind: str
) -> None:
    body, headers = HOSTILE[kind]
    answer = _send(http, path, body, headers)
    assert answer.status_code < 500, answer.text
    if answer.status_code == 400:
        assert answer.json()["errorCode"] == "E0000003", answer.text
        assert answer.json()["errorSummary"] == "The request body was not well-formed."


@pytest.mark.parametrize("kind", list(HOSTILE))
@pytest.mark.parametrize("path", PAGE_POSTS)
def test_pages_answer_hostile_bodies_without_500(
    roomy_idp: tuple[IdpServer, dict[str, LabUser]],
    http: httpx.Client,
    path: str,
    kind: str,
) -> None:
    body, headers = HOSTILE[kind]
    answer = _send(http, path.format(app_id=roomy_idp[0].app_id), body, headers)
    assert answer.status_code < 500, answer.text


@pytest.mark.parametrize(
    "kind",
    ["lone-surrogate-value", "deep-json", "huge", "not-utf8", "truncated-json", "json-nan"],
)
def test_authn_refuses_unreadable_json_with_e0000003(http: httpx.Client, kind: str) -> None:
    body, headers = HOSTILE[kind]
    answer = _send(http, "/api/v1/authn", body, headers)
    assert answer.status_code == 400, answer.text
    assert answer.json()["errorCode"] == "E0000003"


def _mfa_required(http: httpx.Client, user: NewUser) -> tuple[str, str]:
    answer = http.post("/api/v1/authn", json={"username": user.login, "password": user.password})
    document = answer.json()
    assert document["status"] == "MFA_REQUIRED", document
    return document["stateToken"], document["_embedded"]["factors"][0]["id"]


@pytest.fixture
def roomy_user(
    roomy_idp: tuple[IdpServer, dict[str, LabUser]],
) -> Callable[[], NewUser]:
    server = roomy_idp[0]

    def make() -> NewUser:
        import secrets

        login = f"hostile-{secrets.token_hex(4)}@acme.example"
        _, password = server.directory.add_user(
            login, first_name="Hostile", last_name="Input", groups=("aws-admins",)
        )
        enrolled = server.directory.enroll(login, "totp")
        return NewUser(login=login, password=password, totp_secret=enrolled.secret)

    return make


@pytest.mark.parametrize(
    "pass_code",
    [
        "١٢٣٤٥٦",
        "\uff11\uff12\uff13\uff14\uff15\uff16",
        "12345\uff16",
        "\u00b2\u00b3\u00b9456",
        123456,
        ["123456"],
        {"a": 1},
    ],
    ids=["arabic-indic", "fullwidth", "mixed", "superscripts", "number", "list", "object"],
)
def test_odd_passcodes_are_a_wrong_code_not_a_500(
    http: httpx.Client, roomy_user: Callable[[], NewUser], pass_code: object
) -> None:
    user = roomy_user()
    state, factor = _mfa_required(http, user)
    answer = http.post(
        f"/api/v1/authn/factors/{factor}/verify", json={"stateToken": state, "passCode": pass_code}
    )
    assert answer.status_code == 403, answer.text
    assert answer.json()["errorCode"] == "E0000068"


def test_odd_passcode_on_the_mfa_page_is_a_wrong_code_not_a_500(
    roomy_idp: tuple[IdpServer, dict[str, LabUser]],
    roomy_user: Callable[[], NewUser],
) -> None:
    server = roomy_idp[0]
    user = roomy_user()
    with httpx.Client(base_url=server.url, verify=lab_tls_context(server)) as browser:
        page = browser.get("/login/login.htm")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf
        signed = browser.post(
            "/login/login.htm",
            data={"username": user.login, "password": user.password, "csrf": csrf.group(1)},
        )
        state = re.search(r'name="stateToken" value="([^"]+)"', signed.text)
        factor = re.search(r'name="factorId" value="([^"]+)"', signed.text)
        assert state
        assert factor
        done = browser.post(
            "/signin/verify",
            data={
                "csrf": csrf.group(1),
                "stateToken": state.group(1),
                "factorId": factor.group(1),
                "passCode": "١٢٣٤٥٦",
            },
        )
        assert 400 <= done.status_code < 500, done.text


def test_the_idp_still_serves_after_the_barrage(http: httpx.Client, tmp_path: Path) -> None:
    answer = http.post("/api/v1/authn", json={"username": "nobody@acme.example", "password": "x"})
    assert answer.status_code == 401
    assert answer.json()["errorCode"] == "E0000004"
