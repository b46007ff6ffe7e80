"""`keyless login` on an Identity Engine org: the device flow, with a person in Chromium.

The session lab's IdP plays Okta Identity Engine with an MFA policy on the
AWS app. ``keyless login`` runs as a user runs it (a subprocess, no
terminal): it prints the verification URL; Playwright-driven Chromium opens
it, signs in with password and TOTP on the lab's pages and allows (or
denies) the device; keyless exchanges the tokens for a web SSO token, gets
the SAML form from /login/token/sso and writes credentials the AWS CLI uses.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest

from browser_support import lab_page
from login_support import AWS, KEYLESS, LabUser, Terminal, audit_events, configure, keyless, run

_URL = re.compile(r"(https://\S+/activate\?user_code=[A-Z]+)")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:`verify=<str>` is deprecated:DeprecationWarning"),
]


@pytest.fixture
def oie(lab_idp_settings: Callable[..., None], provisioned_lab: Any) -> Any:
    """The session lab as an Identity Engine org whose AWS app asks for MFA."""
    lab_idp_settings(engine="oie", app_policy="mfa", device_poll_interval=1)
    return provisioned_lab


@pytest.fixture
def page() -> Iterator[Any]:
    with lab_page() as page:
        yield page


class Login:
    """``keyless login`` in the background, its stderr collected as it comes."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [KEYLESS, "login", *args],
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.stderr = ""
        self._seen = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr += line
            if _URL.search(self.stderr):
                self._seen.set()

    def verification_url(self) -> str:
        assert self._seen.wait(60), f"no verification URL; keyless said:\n{self.stderr}"
        match = _URL.search(self.stderr)
        assert match is not None
        return match.group(1)

    def finish(self) -> int:
        code = self.process.wait(timeout=90)
        self._reader.join(timeout=10)
        assert self.process.stderr is not None
        self.process.stderr.close()
        return code


def sign_in_and_decide(page: Any, url: str, user: LabUser, button: str) -> str:
    """A person opens the link, signs in with password and TOTP, and clicks Allow or Deny."""
    page.goto(url)
    page.wait_for_selector("#okta-signin-username")
    page.fill("#okta-signin-username", user.login)
    page.fill("#okta-signin-password", user.password)
    page.click("#okta-signin-submit")
    page.wait_for_selector("#input-passcode")
    page.fill("#input-passcode", user.totp())
    page.click("#verify-submit")
    page.wait_for_selector("#activate-code")
    assert page.inner_text("#activate-code") in url
    page.click(button)
    page.wait_for_selector("#activate-result")
    return str(page.inner_text("#activate-result"))


def test_device_flow_with_chromium_then_the_aws_cli(
    oie: Any, make_user: Callable[..., LabUser], page: Any
) -> None:
    user = make_user()
    configure(oie, "oie", user)
    login = Login("--profile", "oie")
    result = sign_in_and_decide(page, login.verification_url(), user, "#activate-allow")
    assert "Device activated" in result
    assert login.finish() == 0, login.stderr
    assert f"signed in as {user.login}" in login.stderr
    assert "Developer in acme-dev" in login.stderr

    caller = run([AWS, "sts", "get-caller-identity", "--output", "json", "--profile", "oie-creds"])
    assert caller.returncode == 0, caller.stderr
    assert json.loads(caller.stdout)["Arn"] == (
        f"arn:aws:sts::333333333333:assumed-role/Developer/{user.login}"
    )
    # The kept tokens serve the next login without a browser.
    again = keyless("login", "--profile", "oie")
    assert again.returncode == 0, again.stderr
    assert "Okta session reused" in again.stderr
    assert "/activate" not in again.stderr

    # The Classic API on the same org meets the app's policy wall and says what to use.
    # (The browser used this step's TOTP code; codes work once, the next step's is valid.)
    assert user.totp_secret is not None
    next_code = pyotp.TOTP(user.totp_secret).at(time.time() + 30)
    classic = keyless(
        "login",
        "--profile",
        "oie",
        "--auth-flow",
        "classic",
        "--password-stdin",
        "--mfa-code",
        next_code,
        input=user.password + "\n",
    )
    assert classic.returncode != 0
    assert "Identity Engine" in classic.stderr
    assert "device flow" in classic.stderr
    assert "Traceback" not in classic.stderr


def _assertion_routes(lab: Any, login: str) -> list[str]:
    return [
        str(e.get("via"))
        for e in audit_events(lab)
        if e.get("event") == "assertion" and e.get("login") == login
    ]


def test_device_flow_uses_native_to_web_sso_where_the_aws_app_trusts_the_cli(
    lab_idp_settings: Callable[..., None],
    provisioned_lab: Any,
    make_user: Callable[..., LabUser],
    page: Any,
) -> None:
    """Issue 22: an org with Native to Web SSO and a trust mapping for the native app
    (made through the Apps API, as an admin would) signs in with an interclient token;
    ``exchange = web_sso_token`` keeps the web SSO token on the same org."""
    import ssl

    import httpx

    lab = provisioned_lab
    lab_idp_settings(engine="oie", app_policy="mfa", device_poll_interval=1, native_to_web_sso=True)
    with httpx.Client(
        base_url=lab.idp_url,
        verify=ssl.create_default_context(cafile=lab.ca_bundle),
        headers={"Authorization": f"SSWS {lab.okta_api_token}", "Accept": "application/json"},
    ) as admin:
        trust = admin.post(
            f"/api/v1/apps/{lab.app_id}/interclient-allowed-apps", json={"id": lab.oidc_client_id}
        )
    assert trust.status_code == 200, trust.text
    user = make_user()
    configure(lab, "n2w", user)
    login = Login("--profile", "n2w")
    assert "Device activated" in sign_in_and_decide(
        page, login.verification_url(), user, "#activate-allow"
    )
    assert login.finish() == 0, login.stderr
    assert "Developer in acme-dev" in login.stderr
    assert _assertion_routes(lab, user.login) == ["interclient_token"]
    # The kept tokens (granted interclient_access) serve the next login the same way.
    again = keyless("login", "--profile", "n2w")
    assert again.returncode == 0, again.stderr
    assert "Okta session reused" in again.stderr
    assert _assertion_routes(lab, user.login) == ["interclient_token"] * 2

    # The profile's choice wins over the org's offer.
    other = make_user()
    configure(lab, "n2w-off", other)
    pinned = Login("--profile", "n2w-off", env={"KEYLESS_EXCHANGE": "web_sso_token"})
    page.context.clear_cookies()  # the browser forgets the first person's Okta session
    sign_in_and_decide(page, pinned.verification_url(), other, "#activate-allow")
    assert pinned.finish() == 0, pinned.stderr
    assert _assertion_routes(lab, other.login) == ["web_sso_token"]


def test_device_flow_denied_in_the_browser(
    oie: Any, make_user: Callable[..., LabUser], page: Any
) -> None:
    user = make_user()
    configure(oie, "oie-deny", user)
    login = Login("--profile", "oie-deny")
    assert "not activated" in sign_in_and_decide(
        page, login.verification_url(), user, "#activate-deny"
    )
    assert login.finish() == 1
    assert "denied" in login.stderr
    assert "Choose Allow" in login.stderr or "choose Allow" in login.stderr


def test_device_code_expires_unanswered(
    oie: Any, lab_idp_settings: Callable[..., None], make_user: Callable[..., LabUser]
) -> None:
    lab_idp_settings(device_code_lifetime=timedelta(seconds=3))
    user = make_user()
    configure(oie, "oie-expiry", user)
    login = Login("--profile", "oie-expiry")
    login.verification_url()
    assert login.finish() == 1
    assert "expired before anyone approved it" in login.stderr


def test_credential_process_needs_a_person_for_the_device_flow(
    oie: Any, make_user: Callable[..., LabUser]
) -> None:
    user = make_user()
    configure(oie, "oie-process", user)
    process = keyless("credential-process", "--profile", "oie-process")
    assert process.returncode == 4
    assert "keyless login --profile oie-process" in process.stderr
    assert "/activate" not in process.stderr


def test_device_flow_in_a_terminal_shows_a_qr_code_and_opens_the_browser(
    oie: Any, make_user: Callable[..., LabUser], page: Any, tmp_path: Path
) -> None:
    user = make_user()
    configure(oie, "oie-tty", user)
    # --open goes through Python's webbrowser, which runs $BROWSER: here a script that
    # writes down the URL it was asked to open, for Chromium to open it.
    opened = tmp_path / "opened"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\nprintf "%s" "$1" > {opened}\n')
    browser.chmod(0o700)
    env = dict(os.environ, BROWSER=str(browser))
    terminal = Terminal([KEYLESS, "login", "--profile", "oie-tty", "--open"], env=env)
    try:
        terminal.expect("approve keyless:")
        # segno draws the QR code with half blocks.
        terminal.expect("▀")
        deadline = time.monotonic() + 30
        while not opened.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        url = opened.read_text()
        assert _URL.fullmatch(url), url
        assert url in terminal.output
        assert "Device activated" in sign_in_and_decide(page, url, user, "#activate-allow")
        terminal.expect("Developer in acme-dev")
        assert terminal.finish() == 0
    finally:
        terminal.close()
