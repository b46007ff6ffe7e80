"""Classic step-up: the AWS app asks for MFA at every sign-on (Okta's "Extra Verification").

The session lab plays a Classic org whose AWS app has a ``mfa_every_time``
sign-on policy. keyless signs in (password + factor), opens the app link,
meets the Extra Verification page, resumes its ``stateToken`` through
``/api/v1/authn`` (``MFA_REQUIRED``, ``SESSION_STEP_UP``), verifies a factor
again, follows ``/login/step-up/redirect`` and takes the role — with TOTP
and with Okta Verify push, and for every role with ``--all-roles``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyotp
import pytest

from keyless.adapters.credential_cache import CredentialCache
from keyless.adapters.secrets import FileSecretStore
from keyless.errors import KeylessError
from keyless.services.login.okta_flows import page_state_token
from keyless.services.login.profiles import resolve_settings
from keyless.services.login.wiring import login_and_cache
from login_support import LabUser, audit_events, directory

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:`verify=<str>` is deprecated:DeprecationWarning"),
]


class Person:
    """A prompter answering from a script: the password, then fresh TOTP codes."""

    interactive = True

    def __init__(self, user: LabUser) -> None:
        self.user = user
        self.codes = 0
        self.told: list[str] = []

    def notify(self, message: str) -> None:
        self.told.append(message)

    def ask(self, label: str, *, secret: bool = False, flag: str | None = None) -> str:
        if "password" in label:
            return self.user.password
        if label.startswith("Code from"):
            # Each code works once: the step-up gets the next 30 s step's code, which
            # the IdP accepts too (the current, previous and next steps are valid).
            assert self.user.totp_secret is not None
            code = pyotp.TOTP(self.user.totp_secret).at(time.time() + 30 * self.codes)
            self.codes += 1
            return str(code)
        raise AssertionError(f"unexpected question: {label}")

    def choose(self, title: str, options: list[str], *, flag: str | None = None) -> int:
        raise AssertionError(f"unexpected choice: {title} {options}")

    def missing_input(self, what: str, *, flag: str | None = None) -> KeylessError:
        raise AssertionError(f"unexpected missing input: {what}")


def _settings(lab: Any, profile: str, user: LabUser, **flags: Any) -> Any:
    return resolve_settings(
        profile,
        {
            "org_url": lab.idp_url,
            "app_url": lab.app_url,
            "ca_bundle": lab.ca_bundle,
            "aws_endpoint_url": lab.aws_endpoint_url,
            "spec": lab.spec_path,
            "username": user.login,
            "role": "Developer",
            "account": "acme-dev",
            **flags,
        },
    )


@pytest.fixture
def every_time(lab_idp_settings: Callable[..., None], provisioned_lab: Any) -> Any:
    lab_idp_settings(engine="classic", app_policy="mfa_every_time")
    return provisioned_lab


def test_step_up_with_totp_at_every_sign_on(
    every_time: Any, make_user: Callable[..., LabUser], tmp_path: Path
) -> None:
    user = make_user()
    person = Person(user)
    secrets = FileSecretStore(tmp_path / "secrets")
    result = login_and_cache(
        _settings(every_time, "stepup", user, mfa_factor="totp"),
        prompter=person,
        secrets=secrets,
        write_files=False,
        cache=CredentialCache(),
    )
    assert result.logins[0].role.role_name == "Developer"
    # One code at sign-in, one for the app's extra verification.
    assert person.codes == 2
    steps = [e for e in audit_events(every_time) if e.get("login") == user.login]
    assert [e["outcome"] for e in steps if e["event"] == "step_up"] == ["REQUIRED", "SUCCESS"]


def test_step_up_with_push_for_every_role(
    every_time: Any, make_user: Callable[..., LabUser], tmp_path: Path
) -> None:
    user = make_user(factors=("push",))
    stop = threading.Event()

    def phone() -> None:
        # The user's phone approves every push that arrives.
        lab_directory = directory(every_time)
        try:
            while not stop.is_set():
                lab_directory.answer_push(user.login, approve=True)
                time.sleep(0.1)
        finally:
            lab_directory.close()

    approver = threading.Thread(target=phone, daemon=True)
    approver.start()
    person = Person(user)
    try:
        result = login_and_cache(
            _settings(every_time, "stepup-push", user, mfa_factor="push"),
            prompter=person,
            secrets=FileSecretStore(tmp_path / "secrets"),
            write_files=False,
            all_roles=True,
            cache=CredentialCache(),
            poll_interval=0.2,
        )
    finally:
        stop.set()
        approver.join(timeout=5)
    assert len(result.logins) >= 1
    pushes = [
        e
        for e in audit_events(every_time)
        if e.get("login") == user.login and e.get("factor") == "push" and e["outcome"] == "SUCCESS"
    ]
    # The sign-in's push, and one step-up per assertion taken.
    assert len(pushes) == 1 + len(result.logins)


def test_extra_verification_state_token_is_decoded_from_javascript() -> None:
    page = "<script>var stateToken = '00Ab\\x2Dcd\\x5Fef\\u002D9';</script>"
    assert page_state_token(page) == "00Ab-cd_ef-9"
    assert page_state_token("<html>no token</html>") is None
    # Escapes that decode to control characters are not a token.
    assert page_state_token("var stateToken = '00\\x0Aevil';") is None
