"""Okta's Classic authentication API, compared as whole documents with Okta's documented shapes.

Ids, tokens and times are normalised to placeholders (``normalise``); every
other field, and the HTTP status, must be exactly what Okta's documentation
shows for the same request.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from keyless_lab.idp.server import IdpServer
from lab_idp.idp_support import NewUser, normalise

OKTA = "https://{yourOktaDomain}"
POST = {"allow": ["POST"]}


def user_doc(login: str, first: str = "Test", last: str = "User") -> dict[str, Any]:
    return {
        "id": "<00uid>",
        "passwordChanged": "<time>",
        "profile": {
            "login": login,
            "firstName": first,
            "lastName": last,
            "locale": "en_US",
            "timeZone": "America/Los_Angeles",
        },
    }


def totp_factor(login: str, *, links: bool = True) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": "<uftid>",
        "factorType": "token:software:totp",
        "provider": "GOOGLE",
        "vendorName": "GOOGLE",
        "profile": {"credentialId": login},
    }
    if links:
        doc["_links"] = {
            "verify": {"href": f"{OKTA}/api/v1/authn/factors/<uftid>/verify", "hints": POST}
        }
    return doc


def error(code: str, summary: str, causes: list[str] | None = None) -> dict[str, Any]:
    return {
        "errorCode": code,
        "errorSummary": summary,
        "errorLink": code,
        "errorId": "<errorId>",
        "errorCauses": [{"errorSummary": c} for c in causes or []],
    }


def norm(server: IdpServer, response: httpx.Response) -> Any:
    return normalise(response.json(), server.url)


def start(client: httpx.Client, user: NewUser) -> dict[str, Any]:
    response = client.post(
        "/api/v1/authn", json={"username": user.login, "password": user.password}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_okta_organization_says_classic_pipeline(server: IdpServer, client: httpx.Client) -> None:
    response = client.get("/.well-known/okta-organization")
    assert response.status_code == 200
    assert norm(server, response) == {
        "id": "<00oid>",
        "pipeline": "v1",
        "settings": {
            "analyticsCollectionEnabled": False,
            "bugReportingEnabled": True,
            "omEnabled": False,
        },
        "_links": {"organization": {"href": OKTA}, "alternate": {"href": OKTA}},
    }


def test_primary_authentication_answers_mfa_required(
    server: IdpServer, client: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    user = make_user()
    response = client.post(
        "/api/v1/authn", json={"username": user.login, "password": user.password}
    )
    assert response.status_code == 200
    assert norm(server, response) == {
        "stateToken": "<stateToken>",
        "expiresAt": "<time>",
        "status": "MFA_REQUIRED",
        "_embedded": {
            "user": user_doc(user.login),
            "factors": [totp_factor(user.login)],
            "policy": {
                "allowRememberDevice": False,
                "rememberDeviceLifetimeInMinutes": 0,
                "rememberDeviceByDefault": False,
                "factorsPolicyInfo": {},
            },
        },
        "_links": {"cancel": {"href": f"{OKTA}/api/v1/authn/cancel", "hints": POST}},
    }


@pytest.mark.parametrize(
    "body",
    [
        {"username": "alice@acme.example", "password": "wrong"},
        {"username": "nobody@acme.example", "password": "whatever"},
        {"username": "alice@acme.example"},
    ],
    ids=["wrong-password", "unknown-user", "no-password"],
)
def test_bad_credentials_answer_e0000004(
    server: IdpServer, client: httpx.Client, body: dict[str, str]
) -> None:
    response = client.post("/api/v1/authn", json=body)
    assert response.status_code == 401
    assert norm(server, response) == error("E0000004", "Authentication failed")


def test_malformed_body_answers_e0000003(server: IdpServer, client: httpx.Client) -> None:
    response = client.post(
        "/api/v1/authn", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert norm(server, response) == error("E0000003", "The request body was not well-formed.")


def test_state_token_alone_resumes_the_transaction(
    server: IdpServer, client: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    first = start(client, make_user())
    again = client.post("/api/v1/authn", json={"stateToken": first["stateToken"]})
    assert again.status_code == 200
    assert again.json() == first | {"expiresAt": again.json()["expiresAt"]}


def test_unknown_state_token_answers_e0000011(server: IdpServer, client: httpx.Client) -> None:
    response = client.post("/api/v1/authn", json={"stateToken": "00" + "x" * 40})
    assert response.status_code == 401
    assert norm(server, response) == error("E0000011", "Invalid token provided")


def test_totp_without_passcode_answers_mfa_challenge(
    server: IdpServer, client: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    user = make_user()
    started = start(client, user)
    verify = started["_embedded"]["factors"][0]["_links"]["verify"]["href"]
    response = client.post(verify, json={"stateToken": started["stateToken"]})
    assert response.status_code == 200
    assert norm(server, response) == {
        "stateToken": "<stateToken>",
        "expiresAt": "<time>",
        "status": "MFA_CHALLENGE",
        "_embedded": {"user": user_doc(user.login), "factor": totp_factor(user.login, links=False)},
        "_links": {
            "next": {
                "name": "verify",
                "href": f"{OKTA}/api/v1/authn/factors/<uftid>/verify",
                "hints": POST,
            },
            "cancel": {"href": f"{OKTA}/api/v1/authn/cancel", "hints": POST},
            "prev": {"href": f"{OKTA}/api/v1/authn/previous", "hints": POST},
        },
    }


def test_totp_success_then_the_same_code_is_refused(
    server: IdpServer, client: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    user = make_user()
    code = user.code()
    started = start(client, user)
    verify = started["_embedded"]["factors"][0]["_links"]["verify"]["href"]
    response = client.post(
        verify + "?rememberDevice=false",
        json={"stateToken": started["stateToken"], "passCode": code},
    )
    assert response.status_code == 200
    assert norm(server, response) == {
        "expiresAt": "<time>",
        "status": "SUCCESS",
        "sessionToken": "<sessionToken>",
        "_embedded": {"user": user_doc(user.login)},
    }
    # Replay: a second sign-in with the code already used is refused.
    again = start(client, user)
    replay = client.post(verify, json={"stateToken": again["stateToken"], "passCode": code})
    assert replay.status_code == 403
    assert norm(server, replay) == error(
        "E0000068",
        "Invalid Passcode/Answer",
        ["Your passcode doesn't match our records. Please try again."],
    )


def test_wrong_totp_code_answers_e0000068(
    server: IdpServer, client: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    user = make_user()
    started = start(client, user)
    verify = started["_embedded"]["factors"][0]["_links"]["verify"]["href"]
    wrong = f"{(int(user.code()) + 1) % 1_000_000:06d}"
    response = client.post(verify, json={"stateToken": started["stateToken"], "passCode": wrong})
    assert response.status_code == 403
    assert norm(server, response) == error(
        "E0000068",
        "Invalid Passcode/Answer",
        ["Your passcode doesn't match our records. Please try again."],
    )


def test_verify_with_another_users_factor_answers_404(
    server: IdpServer, client: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    mine, theirs = start(client, make_user()), start(client, make_user())
    other_verify = theirs["_embedded"]["factors"][0]["_links"]["verify"]["href"]
    factor_id = other_verify.split("/")[-2]
    response = client.post(other_verify, json={"stateToken": mine["stateToken"], "passCode": "1"})
    assert response.status_code == 404
    assert response.json()["errorCode"] == "E0000007"
    assert factor_id in response.json()["errorSummary"]


def _push_doc(login: str, result: str, *, next_name: str, answer: bool) -> dict[str, Any]:
    factor: dict[str, Any] = {
        "id": "<opfid>",
        "factorType": "push",
        "provider": "OKTA",
        "vendorName": "OKTA",
        "profile": {
            "credentialId": login,
            "deviceType": "SmartPhone_IPhone",
            "name": "keyless lab phone",
            "platform": "IOS",
            "version": "17.4",
        },
    }
    if answer:
        factor["_embedded"] = {"challenge": {"correctAnswer": "<number>"}}
    verify = f"{OKTA}/api/v1/authn/factors/<opfid>/verify"
    return {
        "stateToken": "<stateToken>",
        "expiresAt": "<time>",
        "status": "MFA_CHALLENGE",
        "factorResult": result,
        "_embedded": {"user": user_doc(login), "factor": factor},
        "_links": {
            "next": {"name": next_name, "href": verify, "hints": POST},
            "cancel": {"href": f"{OKTA}/api/v1/authn/cancel", "hints": POST},
            "prev": {"href": f"{OKTA}/api/v1/authn/previous", "hints": POST},
            "resend": [{"name": "push", "href": f"{verify}/resend", "hints": POST}],
        },
    }


def _lab_cli(server: IdpServer, *args: str) -> Any:
    import typer

    from keyless_lab.cli.lab_idp import register

    app = typer.Typer()
    register(app)
    return CliRunner().invoke(app, [*args, "--lab-dir", str(server.state_dir)])


@pytest.mark.parametrize("approve", [True, False], ids=["approved", "rejected"])
def test_push_waits_with_a_number_then_follows_the_cli(
    server: IdpServer, client: httpx.Client, make_user: Callable[..., NewUser], approve: bool
) -> None:
    user = make_user(factors=("push",))
    started = start(client, user)
    verify = started["_embedded"]["factors"][0]["_links"]["verify"]["href"]
    waiting = client.post(verify, json={"stateToken": started["stateToken"]})
    assert waiting.status_code == 200
    body = norm(server, waiting)
    number = body["_embedded"]["factor"]["_embedded"]["challenge"]["correctAnswer"]
    assert 10 <= number <= 99
    body["_embedded"]["factor"]["_embedded"]["challenge"]["correctAnswer"] = "<number>"
    assert body == _push_doc(user.login, "WAITING", next_name="poll", answer=True)
    # Polling again before the phone answers: still waiting, same number.
    poll = client.post(verify, json={"stateToken": started["stateToken"]}).json()
    assert poll["factorResult"] == "WAITING"
    assert poll["_embedded"]["factor"]["_embedded"]["challenge"]["correctAnswer"] == number

    result = _lab_cli(server, "push", "approve" if approve else "reject", user.login)
    assert result.exit_code == 0, result.output
    assert f"(number {number})" in result.output

    answer = client.post(verify, json={"stateToken": started["stateToken"]})
    assert answer.status_code == 200
    if approve:
        assert norm(server, answer) == {
            "expiresAt": "<time>",
            "status": "SUCCESS",
            "sessionToken": "<sessionToken>",
            "_embedded": {"user": user_doc(user.login)},
        }
    else:
        assert norm(server, answer) == _push_doc(
            user.login, "REJECTED", next_name="verify", answer=False
        )


def test_sms_code_goes_to_the_lab_log_and_verifies(
    server: IdpServer, client: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    user = make_user(factors=("sms",), phone="+1 555 010 1337")
    started = start(client, user)
    factor = started["_embedded"]["factors"][0]
    assert factor["profile"] == {"phoneNumber": "+1 XXX-XXX-1337"}
    verify = factor["_links"]["verify"]["href"]
    sent = client.post(verify, json={"stateToken": started["stateToken"]})
    assert sent.status_code == 200
    doc = norm(server, sent)
    assert doc["status"] == "MFA_CHALLENGE"
    assert doc["_links"]["resend"] == [
        {"name": "sms", "href": f"{OKTA}/api/v1/authn/factors/<mblid>/verify/resend", "hints": POST}
    ]
    records = [json.loads(line) for line in server.sms_log.read_text().splitlines()]
    code = next(r["code"] for r in reversed(records) if r["login"] == user.login)
    wrong = client.post(
        verify,
        json={
            "stateToken": started["stateToken"],
            "passCode": "000000" if code != "000000" else "111111",
        },
    )
    assert wrong.status_code == 403
    assert norm(server, wrong) == error(
        "E0000068",
        "Invalid Passcode/Answer",
        ["Your answer doesn't match our records. Please try again."],
    )
    ok = client.post(verify, json={"stateToken": started["stateToken"], "passCode": code})
    assert ok.status_code == 200
    assert ok.json()["status"] == "SUCCESS"


def test_lockout_after_ten_failures_then_unlock(
    server: IdpServer, client: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    user = make_user()
    for _ in range(10):
        bad = client.post("/api/v1/authn", json={"username": user.login, "password": "nope"})
        assert bad.status_code == 401
    # Locked out: even the right password gets LOCKED_OUT.
    locked = client.post("/api/v1/authn", json={"username": user.login, "password": user.password})
    assert locked.status_code == 200
    assert norm(server, locked) == {
        "status": "LOCKED_OUT",
        "_links": {
            "next": {
                "name": "unlock",
                "href": f"{OKTA}/api/v1/authn/recovery/unlock",
                "hints": POST,
            }
        },
    }
    assert _lab_cli(server, "user", "unlock", user.login).exit_code == 0
    assert start(client, user)["status"] == "MFA_REQUIRED"


def test_deactivated_user_cannot_sign_in(
    server: IdpServer, client: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    user = make_user()
    assert _lab_cli(server, "user", "deactivate", user.login).exit_code == 0
    response = client.post(
        "/api/v1/authn", json={"username": user.login, "password": user.password}
    )
    assert response.status_code == 401
    assert response.json()["errorCode"] == "E0000004"


def test_unknown_path_and_wrong_method_answer_okta_errors(
    server: IdpServer, client: httpx.Client
) -> None:
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert norm(server, missing) == error(
        "E0000007", "Not found: Resource not found: /api/v1/nothing-here"
    )
    wrong = client.get("/api/v1/authn")
    assert wrong.status_code == 405
    assert norm(server, wrong) == error(
        "E0000022", "The endpoint does not support the provided HTTP method"
    )


def test_answers_carry_okta_rate_limit_headers(client: httpx.Client) -> None:
    response = client.post("/api/v1/authn", json={"username": "x@acme.example", "password": "x"})
    limit = int(response.headers["X-Rate-Limit-Limit"])
    remaining = int(response.headers["X-Rate-Limit-Remaining"])
    reset = int(response.headers["X-Rate-Limit-Reset"])
    assert 0 <= remaining < limit
    assert time.time() - 1 <= reset <= time.time() + 61


def test_audit_log_records_authentications(
    server: IdpServer, client: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    user = make_user()
    client.post("/api/v1/authn", json={"username": user.login, "password": "wrong"})
    start(client, user)
    records = [json.loads(line) for line in server.audit_log.read_text().splitlines()]
    mine = [r for r in records if r.get("login") == user.login]
    assert [(r["event"], r["outcome"]) for r in mine] == [
        ("authn", "FAILURE"),
        ("authn", "MFA_REQUIRED"),
    ]
    assert all(r["ip"] == "127.0.0.1" and r["time"] for r in mine)
    assert mine[0]["failed_attempts"] == 1


def _wrong_totp(user: NewUser) -> str:
    """A six-digit code that is none of the codes the IdP accepts right now."""
    valid = {user.code(offset) for offset in (-1, 0, 1, 2)}
    return next(c for c in (f"{n:06d}" for n in range(10**6)) if c not in valid)


def test_wrong_mfa_codes_count_towards_lockout(
    server: IdpServer, client: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    """Bug: a wrong TOTP/SMS code was never counted, and the right password reset the
    count of failures, so whoever knew the password could guess MFA codes without end
    (each new transaction gave fresh tries; only the rate limit slowed them down). Wrong
    codes now count towards the lockout, and only a finished sign-in resets the count."""
    user = make_user()
    wrong = _wrong_totp(user)
    for attempt in range(10):
        started = start(client, user)
        assert started["status"] == "MFA_REQUIRED", attempt
        verify = started["_embedded"]["factors"][0]["_links"]["verify"]["href"]
        guess = client.post(verify, json={"stateToken": started["stateToken"], "passCode": wrong})
        assert guess.status_code == 403
    locked = client.post("/api/v1/authn", json={"username": user.login, "password": user.password})
    assert locked.json()["status"] == "LOCKED_OUT"
    records = [json.loads(line) for line in server.audit_log.read_text().splitlines()]
    failures = [r for r in records if r.get("login") == user.login and r["event"] == "mfa"]
    assert failures[-1]["locked_out"] is True


def test_a_finished_sign_in_resets_the_failure_count(
    server: IdpServer, client: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    """Counterpart of the MFA lockout fix: failures are forgotten once a sign-in completes."""
    user = make_user()
    for _ in range(9):
        client.post("/api/v1/authn", json={"username": user.login, "password": "nope"})
    started = start(client, user)
    verify = started["_embedded"]["factors"][0]["_links"]["verify"]["href"]
    done = client.post(verify, json={"stateToken": started["stateToken"], "passCode": user.code()})
    assert done.json()["status"] == "SUCCESS"
    assert server.directory.require_user(user.login).failed_attempts == 0
