"""Issue 22's day one, end to end, as a real org would see it.

A fresh lab started from the CLI as Okta's catalogue adds the AWS app (``keyless lab up
--unconfigured-okta-app``) with an MFA policy on the app; one ``keyless apply`` with an
``okta:`` section; then nothing is clicked: the app's Allowed Web SSO Client included,
`plan` has nothing left, and a person signs in and the AWS CLI works. On Identity Engine
the person completes the device flow in Chromium; Classic has no device authorization
grant, so there the person signs in with password and TOTP through the authentication
API. Every step is a subprocess, every call
HTTPS on loopback.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
import yaml

from browser_support import lab_page
from keyless_lab.info import LabInfo
from login_support import AWS, KEYLESS, run
from okta_support import acme_with_okta

BOB = "bob@acme.example"  # Developer in acme-dev through the convention group, TOTP
_URL = re.compile(r"(https://\S+/activate\?user_code=[A-Z]+)")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:`verify=<str>` is deprecated:DeprecationWarning"),
]


class DayOne:
    """A lab started by ``keyless lab up`` for a spec with an ``okta:`` section."""

    def __init__(self, root: Path, *flags: str) -> None:
        self.spec = root / "federation.yaml"
        self.spec.write_text(yaml.safe_dump(acme_with_okta(), sort_keys=False))
        self.lab_dir = root / "lab"
        self.process = subprocess.Popen(
            [
                *(KEYLESS, "lab", "up", "--spec", str(self.spec), "--lab-dir", str(self.lab_dir)),
                *("--unconfigured-okta-app", *flags),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.output = ""
        up = threading.Event()

        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.output += line
                if "lab up" in line:
                    up.set()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        if not up.wait(120):
            self.stop()
            raise AssertionError(f"`keyless lab up` did not come up:\n{self.output}")
        self.info = LabInfo.load(self.lab_dir)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._reader.join(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def keyless(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return run([KEYLESS, *args], input=input)

    def lab_flags(self) -> list[str]:
        return ["--lab", "--lab-dir", str(self.lab_dir)]

    def password(self, login: str) -> str:
        status = self.keyless(
            "lab", "status", "--show-secrets", "--json", "--lab-dir", str(self.lab_dir)
        )
        assert status.returncode == 0, status.stderr
        users = json.loads(status.stdout)["users"]
        return str(next(u["password"] for u in users if u["login"] == login))

    def totp(self, login: str, *, ahead: float = 0.0) -> str:
        secret = self.info.user(login).totp_secret
        assert secret is not None
        return pyotp.TOTP(secret).at(time.time() + ahead)

    def app_settings(self) -> dict[str, Any]:
        from keyless.adapters.okta_admin import ApiToken, OktaAdminClient, make_admin_http

        with make_admin_http(ca_bundle=self.info.ca_bundle) as http:
            admin = OktaAdminClient(
                self.info.idp_url, ApiToken(self.info.okta_api_token), http=http
            )
            settings: dict[str, Any] = admin.get_app(self.info.app_id)["settings"]["app"]
        return settings


@pytest.fixture
def identity_engine(tmp_path: Path) -> Iterator[DayOne]:
    lab = DayOne(tmp_path, "--engine", "oie", "--app-policy", "mfa")
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture
def classic(tmp_path: Path) -> Iterator[DayOne]:
    lab = DayOne(tmp_path, "--engine", "classic", "--app-policy", "mfa")
    try:
        yield lab
    finally:
        lab.stop()


def one_apply_leaves_nothing_to_click(lab: DayOne) -> None:
    before = lab.app_settings()
    assert before["identityProviderArn"] is None  # as the catalogue adds it
    assert before["webSSOAllowedClient"] is None
    applied = lab.keyless("apply", "--spec", str(lab.spec), *lab.lab_flags(), "--yes")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "--adopt" not in applied.stdout + applied.stderr  # a catalogue app is not a conflict
    after = lab.app_settings()
    assert after["useGroupMapping"] is True
    assert after["webSSOAllowedClient"] == lab.info.oidc_client_id  # Allowed Web SSO Client
    assert after["accessKey"] is None  # group mapping: no API integration, no key
    settled = lab.keyless("plan", "--spec", str(lab.spec), *lab.lab_flags(), "--detailed-exitcode")
    assert settled.returncode == 0, settled.stdout + settled.stderr
    configured = lab.keyless(
        "configure",
        "--profile",
        "dev",
        *lab.lab_flags(),
        "--username",
        BOB,
        "--role",
        "Developer",
        "--account",
        "acme-dev",
    )
    assert configured.returncode == 0, configured.stderr


def the_aws_cli_works(lab: DayOne) -> None:
    caller = run([AWS, "sts", "get-caller-identity", "--output", "json", "--profile", "dev-creds"])
    assert caller.returncode == 0, caller.stderr
    assert json.loads(caller.stdout)["Arn"] == (
        f"arn:aws:sts::333333333333:assumed-role/Developer/{BOB}"
    )


def device_flow_in_chromium(lab: DayOne) -> tuple[int, str]:
    """``keyless login --profile dev``; bob approves it in Chromium. Its exit code and stderr."""
    login = subprocess.Popen(
        [KEYLESS, "login", "--profile", "dev"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert login.stderr is not None
    said = ""
    url = None
    deadline = time.monotonic() + 60
    while url is None and time.monotonic() < deadline:
        line = login.stderr.readline()
        if not line:
            break
        said += line
        match = _URL.search(said)
        url = match.group(1) if match else None
    assert url is not None, f"no verification URL; keyless said:\n{said}"
    with lab_page() as page:
        page.goto(url)
        page.wait_for_selector("#okta-signin-username")
        page.fill("#okta-signin-username", BOB)
        page.fill("#okta-signin-password", lab.password(BOB))
        page.click("#okta-signin-submit")
        page.wait_for_selector("#input-passcode")
        page.fill("#input-passcode", lab.totp(BOB))
        page.click("#verify-submit")
        page.wait_for_selector("#activate-code")
        page.click("#activate-allow")
        page.wait_for_selector("#activate-result")
        assert "Device activated" in page.inner_text("#activate-result")
    _, rest = login.communicate(timeout=90)
    return login.returncode, said + rest


@pytest.mark.browser
def test_identity_engine_one_apply_then_the_device_flow_in_chromium(
    identity_engine: DayOne,
) -> None:
    lab = identity_engine
    one_apply_leaves_nothing_to_click(lab)
    code, said = device_flow_in_chromium(lab)
    assert code == 0, said
    assert "Developer in acme-dev" in said
    the_aws_cli_works(lab)


def test_classic_one_apply_then_password_and_totp(classic: DayOne) -> None:
    lab = classic
    one_apply_leaves_nothing_to_click(lab)
    signed_in = lab.keyless(
        "login",
        "--profile",
        "dev",
        "--password-stdin",
        "--mfa-code",
        lab.totp(BOB),
        input=lab.password(BOB) + "\n",
    )
    assert signed_in.returncode == 0, signed_in.stderr
    assert "Developer in acme-dev" in signed_in.stderr
    the_aws_cli_works(lab)


@pytest.mark.browser
def test_an_unset_allowed_web_sso_client_is_named_and_the_sign_in_kept(
    identity_engine: DayOne,
) -> None:
    """Okta's own invalid_grant when the app's Allowed Web SSO Client is unset: keyless
    names the setting, keeps the person's tokens, and after `apply` sets it the next login
    needs no browser (issue 22, 4)."""
    lab = identity_engine
    one_apply_leaves_nothing_to_click(lab)
    from keyless.adapters.okta_admin import ApiToken, OktaAdminClient, make_admin_http

    with make_admin_http(ca_bundle=lab.info.ca_bundle) as http:
        admin = OktaAdminClient(lab.info.idp_url, ApiToken(lab.info.okta_api_token), http=http)
        app = admin.get_app(lab.info.app_id)
        app["settings"]["app"]["webSSOAllowedClient"] = None  # an admin cleared it by hand
        admin.update_app(lab.info.app_id, app)

    code, said = device_flow_in_chromium(lab)
    assert code != 0, said
    assert "Allowed Web SSO Client" in said
    assert "Traceback" not in said

    drift = lab.keyless("plan", "--spec", str(lab.spec), *lab.lab_flags(), "--json")
    changes = json.loads(drift.stdout)["okta"]["changes"]
    assert [[f["field"] for f in c["fields"]] for c in changes if c["action"] == "update"] == [
        ["webSSOAllowedClient"]
    ]
    repaired = lab.keyless("apply", "--spec", str(lab.spec), *lab.lab_flags(), "--yes")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    again = lab.keyless("login", "--profile", "dev")  # no terminal, no browser
    assert again.returncode == 0, again.stderr
    assert "/activate" not in again.stderr
    the_aws_cli_works(lab)
