"""A person in a real Chromium: sign in, MFA, dashboard, AWS app, role picker, landing page.

Playwright drives Debian's Chromium (``/usr/bin/chromium``) against the lab
(IdP and AWS) over HTTPS, trusting nothing but what Chromium is told to
ignore for the lab's own CA. Screenshots of each step are kept under
``test-artifacts/browser/`` (gitignored) and the test's tmp dir.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
import typer
from typer.testing import CliRunner

from browser_support import lab_page
from keyless_lab.cli.lab_idp import register

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "browser"
LOGIN = "browser-user@acme.example"
PASSWORD = "Lab-browser-password-1!"

pytestmark = [pytest.mark.browser]


@pytest.fixture
def page() -> Iterator[Any]:
    with lab_page(viewport={"width": 1100, "height": 760}) as page:
        yield page


def _shot(page: Any, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, ARTIFACTS / path.name)


def _lab_cli(state_dir: Path, *args: str, stdin: str | None = None) -> Any:
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, [*args, "--lab-dir", str(state_dir)], input=stdin)
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.slow
def test_sign_in_mfa_dashboard_role_picker_landing(
    provisioned_lab: Any, page: Any, tmp_path: Path
) -> None:
    import json

    lab = provisioned_lab
    _lab_cli(
        lab.state_dir,
        "user",
        "add",
        LOGIN,
        "--first-name",
        "Bea",
        "--last-name",
        "Browser",
        "--group",
        "aws-admins",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    enrolled = json.loads(
        _lab_cli(lab.state_dir, "mfa", "enroll", LOGIN, "--factor", "totp", "--json").stdout
    )
    totp = pyotp.TOTP(pyotp.parse_uri(enrolled["otpauth_uri"]).secret)

    page.goto(lab.idp_url + "/")
    page.wait_for_selector("#okta-signin-username")
    _shot(page, tmp_path, "01-sign-in")
    page.fill("#okta-signin-username", LOGIN)
    page.fill("#okta-signin-password", PASSWORD)
    page.click("#okta-signin-submit")

    page.wait_for_selector("#input-passcode")
    _shot(page, tmp_path, "02-mfa")
    page.fill("#input-passcode", totp.now())
    page.click("#verify-submit")

    page.wait_for_selector("#app-amazon_aws")
    assert page.inner_text("#user-name") == "Bea Browser"
    _shot(page, tmp_path, "03-dashboard")
    # The sid cookie is HttpOnly and Secure: scripts cannot read it.
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["sid"]["httpOnly"]
    assert cookies["sid"]["secure"]
    assert cookies["sid"]["sameSite"] == "Lax"
    assert "sid" not in page.evaluate("document.cookie")

    page.click("#app-amazon_aws")
    page.wait_for_selector("text=Select a role:")
    _shot(page, tmp_path, "04-role-picker")
    accounts = page.locator(".saml-account-name").all_inner_texts()
    # The order is the assertion's, which Okta does not document under group mapping.
    assert sorted(accounts) == [
        "Account: acme-dev (333333333333)",
        "Account: acme-prod (222222222222)",
    ]
    page.check("input[value='arn:aws:iam::222222222222:role/OktaAdminRole']")
    page.click("#signin_button")

    page.wait_for_selector("#landing")
    _shot(page, tmp_path, "05-landing")
    assert page.inner_text("#landing-role") == "OktaAdminRole"
    assert page.inner_text("#landing-account") == "acme-prod (222222222222)"
    assert page.inner_text("#landing-arn") == (
        f"arn:aws:sts::222222222222:assumed-role/OktaAdminRole/{LOGIN}"
    )
    assert "UTC" in page.inner_text("#landing-expiration")


@pytest.mark.slow
def test_push_sign_in_shows_the_number_and_follows_the_phone(
    provisioned_lab: Any, page: Any, tmp_path: Path
) -> None:
    lab = provisioned_lab
    login = "browser-push@acme.example"
    _lab_cli(
        lab.state_dir,
        "user",
        "add",
        login,
        "--group",
        "auditors",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    _lab_cli(lab.state_dir, "mfa", "enroll", login, "--factor", "push")

    page.goto(lab.idp_url + "/login/login.htm")
    page.fill("#okta-signin-username", login)
    page.fill("#okta-signin-password", PASSWORD)
    page.click("#okta-signin-submit")
    page.click("#push-send")
    page.wait_for_selector("#push-number")
    number = page.inner_text("#push-number")
    assert 10 <= int(number) <= 99
    _shot(page, tmp_path, "06-push-number")

    approved = _lab_cli(lab.state_dir, "push", "approve", login)
    assert f"(number {number})" in approved.stdout
    # The page polls by itself and lands on the dashboard once the phone approves.
    page.wait_for_selector("#app-amazon_aws", timeout=15000)
    _shot(page, tmp_path, "07-push-approved-dashboard")
