"""The browser path `keyless lab up` prints works as printed.

A person starts the lab exactly as the README says, provisions it with the
command `lab up` prints, and pastes the printed browser link into Chromium:
sign-in, MFA, the lab's AWS role picker and the landing page naming the role.
Regression test for the dead end where the printed app link posted the SAML
response to the real ``https://signin.aws.amazon.com/saml`` (offline: a browser
error). The response the browser carries must still name AWS's sign-in URL.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pyotp
import pytest

from browser_support import lab_page

ACME = Path(__file__).resolve().parents[3] / "examples" / "acme.yaml"
BROWSER_LINE = re.compile(r"or open the AWS app in a browser: (\S+)")
APPLY_LINE = re.compile(r"1\. provision the accounts: (keyless apply .+)$")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
]


def _keyless() -> str:
    found = shutil.which("keyless", path=str(Path(sys.executable).parent)) or shutil.which(
        "keyless"
    )
    assert found, "the keyless console script is not installed next to this Python"
    return found


class RunningLab:
    """`keyless lab up` in the foreground, as a person runs it in shell 1."""

    def __init__(self, state_dir: Path, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.process = subprocess.Popen(
            [_keyless(), "lab", "up", "--spec", str(ACME), "--lab-dir", str(state_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if "Press Ctrl-C to stop." in line:
                self.ready.set()
        self.ready.set()

    def printed(self, pattern: re.Pattern[str]) -> str:
        for line in self.lines:
            found = pattern.search(line)
            if found:
                return found.group(1)
        raise AssertionError(f"`lab up` printed no line matching {pattern.pattern}: {self.lines}")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def lab_up(tmp_path: Path) -> Iterator[tuple[RunningLab, dict[str, str]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["HOME"] = str(tmp_path / "home")
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg-config")
    running = RunningLab(tmp_path / "lab", env)
    try:
        assert running.ready.wait(120), "`keyless lab up` did not come up in 120 s"
        assert running.process.poll() is None, "\n".join(running.lines)
        yield running, env
    finally:
        running.stop()


@pytest.fixture
def page() -> Iterator[Any]:
    with lab_page() as page:
        yield page


def test_the_browser_link_lab_up_prints_reaches_the_landing_page(
    lab_up: tuple[RunningLab, dict[str, str]], page: Any
) -> None:
    running, env = lab_up
    url = running.printed(BROWSER_LINE)
    # Provision exactly as `lab up` says (step 1), then read a user's secrets
    # the way the printout tells a person to.
    apply_command = running.printed(APPLY_LINE).split()
    applied = subprocess.run(
        [_keyless(), *apply_command[1:]], env=env, capture_output=True, text=True, timeout=300
    )
    assert applied.returncode == 0, applied.stdout + applied.stderr
    lab_dir = apply_command[apply_command.index("--lab-dir") + 1]
    status = subprocess.run(
        [_keyless(), "lab", "status", "--show-secrets", "--json", "--lab-dir", lab_dir],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert (
        url
        in subprocess.run(
            [_keyless(), "lab", "status", "--lab-dir", lab_dir],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    ), "`lab status` prints the same browser link"
    users = {user["login"]: user for user in json.loads(status.stdout)["users"]}
    alice = users["alice@acme.example"]

    posted: list[dict[str, str]] = []
    page.on(
        "request",
        lambda request: (
            posted.append({"url": request.url, "body": request.post_data or ""})
            if request.method == "POST" and "SAMLResponse" in (request.post_data or "")
            else None
        ),
    )
    outside: list[str] = []
    page.on(
        "request",
        lambda request: (
            outside.append(request.url)
            if not request.url.startswith(("https://127.0.0.1", "http://127.0.0.1", "data:"))
            else None
        ),
    )

    page.goto(url)
    page.wait_for_selector("#okta-signin-username")
    page.fill("#okta-signin-username", alice["login"])
    page.fill("#okta-signin-password", alice["password"])
    page.click("#okta-signin-submit")
    page.wait_for_selector("#input-passcode")
    page.fill("#input-passcode", pyotp.TOTP(alice["totp_secret"]).now())
    page.click("#verify-submit")

    page.wait_for_selector("text=Select a role:")
    page.check("input[value='arn:aws:iam::333333333333:role/OktaAdminRole']")
    page.click("#signin_button")
    page.wait_for_selector("#landing")
    assert page.inner_text("#landing-role") == "OktaAdminRole"
    assert page.inner_text("#landing-account") == "acme-dev (333333333333)"

    assert outside == [], f"the browser left the machine: {outside}"
    # The form posted to the lab, but what it carried names AWS's sign-in URL.
    assert posted, "no SAMLResponse was posted"
    assert posted[0]["url"].startswith("https://127.0.0.1")
    carried = base64.b64decode(parse_qs(posted[0]["body"])["SAMLResponse"][0]).decode()
    assert 'Destination="https://signin.aws.amazon.com/saml"' in carried
    assert 'Recipient="https://signin.aws.amazon.com/saml"' in carried
    # Okta's AWS app names AWS by its SAML entity id, as AWS's own metadata does.
    assert re.search(r"<(\w+:)?Audience>urn:amazon:webservices</", carried)
