"""Factor verification, the DT device token and "remember device", as Okta answers them.

Regressions (issue 11): okta-awscli sends the TOTP code as ``answer`` and the
lab answered MFA_CHALLENGE without a factorResult; ``rememberDevice`` was
accepted and ignored, and ``policy.allowRememberDevice`` was always false; the
lab replaced a client's own DT on every session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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


def _start(client: httpx.Client, user: NewUser) -> dict[str, Any]:
    response = client.post(
        "/api/v1/authn", json={"username": user.login, "password": user.password}
    )
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def _verify_href(started: dict[str, Any]) -> str:
    href: str = started["_embedded"]["factors"][0]["_links"]["verify"]["href"]
    return href


def _dt_cookies(response: httpx.Response) -> list[str]:
    return [c for c in response.headers.get_list("set-cookie") if c.startswith("DT=")]


def test_totp_code_in_answer_is_verified_like_pass_code(
    client: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    user = make_user()
    started = _start(client, user)
    wrong = client.post(
        _verify_href(started), json={"stateToken": started["stateToken"], "answer": "000000"}
    )
    assert wrong.status_code == 403
    assert wrong.json()["errorCode"] == "E0000068"
    done = client.post(
        _verify_href(started), json={"stateToken": started["stateToken"], "answer": user.code()}
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "SUCCESS"
    assert done.json()["sessionToken"]


def test_dt_is_issued_once_and_a_clients_own_dt_is_kept(
    server: IdpServer, make_user: Callable[..., NewUser]
) -> None:
    user = make_user()
    with httpx.Client(base_url=server.url, verify=lab_tls_context(server)) as fresh:
        first = fresh.post(
            "/api/v1/authn", json={"username": user.login, "password": user.password}
        )
        issued = _dt_cookies(first)
        assert len(issued) == 1
        assert "HttpOnly" in issued[0]
        assert "Secure" in issued[0]
        token = fresh.cookies.get("DT")
        assert token
        # The client sends it back: the lab neither replaces it nor sets a second one.
        again = fresh.post(
            "/api/v1/authn", json={"username": user.login, "password": user.password}
        )
        assert _dt_cookies(again) == []
        started = again.json()
        done = fresh.post(
            _verify_href(started),
            json={"stateToken": started["stateToken"], "passCode": user.code()},
        )
        session = fresh.post("/api/v1/sessions", json={"sessionToken": done.json()["sessionToken"]})
        assert session.status_code == 200
        assert _dt_cookies(session) == []
        assert [c.value for c in fresh.cookies.jar if c.name == "DT"] == [token]


def test_remember_device_is_off_by_default(
    server: IdpServer, client: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    user = make_user()
    started = _start(client, user)
    assert started["_embedded"]["policy"]["allowRememberDevice"] is False
    done = client.post(
        _verify_href(started) + "?rememberDevice=true",
        json={"stateToken": started["stateToken"], "passCode": user.code()},
    )
    assert done.json()["status"] == "SUCCESS"
    assert _start(client, user)["status"] == "MFA_REQUIRED"


@pytest.fixture(scope="module")
def remembering(
    acme: FederationSpec, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[IdpServer, dict[str, LabUser]]]:
    settings = IdpSettings(
        allow_remember_device=True, remember_device_lifetime=timedelta(seconds=4)
    )
    server, users = start_idp(acme, tmp_path_factory.mktemp("idp-remember"), settings)
    try:
        yield server, users
    finally:
        server.stop()


def _new_user(server: IdpServer, login: str) -> NewUser:
    _, password = server.directory.add_user(
        login, first_name="Test", last_name="User", groups=("aws-admins",)
    )
    enrolled = server.directory.enroll(login, "totp")
    return NewUser(login=login, password=password, totp_secret=enrolled.secret)


def test_remembered_device_skips_mfa_only_for_that_device_and_user(
    remembering: tuple[IdpServer, dict[str, LabUser]], tmp_path: Path
) -> None:
    server = remembering[0]
    alice = _new_user(server, f"alice-{tmp_path.name[-12:]}@acme.example")
    bob = _new_user(server, f"bob-{tmp_path.name[-12:]}@acme.example")
    context = lab_tls_context(server)
    with (
        httpx.Client(base_url=server.url, verify=context) as laptop,
        httpx.Client(base_url=server.url, verify=context) as other_laptop,
    ):
        started = _start(laptop, alice)
        policy = started["_embedded"]["policy"]
        assert policy["allowRememberDevice"] is True
        assert policy["rememberDeviceByDefault"] is False
        # Without rememberDevice=true nothing is remembered.
        done = laptop.post(
            _verify_href(started),
            json={"stateToken": started["stateToken"], "passCode": alice.code()},
        )
        assert done.json()["status"] == "SUCCESS"
        started = _start(laptop, alice)
        assert started["status"] == "MFA_REQUIRED"
        done = laptop.post(
            _verify_href(started) + "?rememberDevice=true",
            json={"stateToken": started["stateToken"], "passCode": alice.code(1)},
        )
        assert done.json()["status"] == "SUCCESS"

        # The same device: password only, and the session works.
        skipped = _start(laptop, alice)
        assert skipped["status"] == "SUCCESS", skipped
        session = laptop.post("/api/v1/sessions", json={"sessionToken": skipped["sessionToken"]})
        assert session.status_code == 200
        assert session.json()["amr"] == ["pwd"]
        # A wrong password is still refused on a remembered device.
        wrong = laptop.post("/api/v1/authn", json={"username": alice.login, "password": "x"})
        assert wrong.status_code == 401
        # Another device, or another user on this device: MFA as before.
        assert _start(other_laptop, alice)["status"] == "MFA_REQUIRED"
        assert _start(laptop, bob)["status"] == "MFA_REQUIRED"
        # Past the policy's lifetime the device is forgotten.
        lifetime = server.idp.settings.remember_device_lifetime
        with clock_ahead(server, lifetime + timedelta(seconds=1)):
            assert _start(laptop, alice)["status"] == "MFA_REQUIRED"
