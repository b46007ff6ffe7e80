"""The Okta session between runs: a real cookie jar kept 0600, the session refreshed, and
remembered devices (``rememberDevice`` on factor verification, the ``DT`` cookie).

In-process logins against the session lab over HTTPS, with a file secret
store in the test's directory so the files themselves can be checked.
"""

from __future__ import annotations

import json
import stat
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from keyless.adapters.credential_cache import CredentialCache
from keyless.adapters.okta_cookies import restore
from keyless.adapters.secrets import FileSecretStore
from keyless.errors import KeylessError
from keyless.services.login.okta_session import jar_key, load_session, session_key, store_session
from keyless.services.login.profiles import resolve_settings
from keyless.services.login.wiring import login_and_cache
from login_support import LabUser

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:`verify=<str>` is deprecated:DeprecationWarning"),
]


class Person:
    """Answers the password and fresh TOTP codes; counts the codes asked for."""

    interactive = True

    def __init__(self, user: LabUser) -> None:
        self.user = user
        self.codes = 0

    def notify(self, message: str) -> None:
        pass

    def ask(self, label: str, *, secret: bool = False, flag: str | None = None) -> str:
        if "password" in label:
            return self.user.password
        assert label.startswith("Code from"), label
        assert self.user.totp_secret is not None
        code = pyotp.TOTP(self.user.totp_secret).at(time.time() + 30 * self.codes)
        self.codes += 1
        return str(code)

    def choose(self, title: str, options: list[str], *, flag: str | None = None) -> int:
        raise AssertionError(title)

    def missing_input(self, what: str, *, flag: str | None = None) -> KeylessError:
        raise AssertionError(f"unexpected missing input: {what}")


def _settings(lab: Any, user: LabUser, **flags: Any) -> Any:
    return resolve_settings(
        "jar",
        {
            "org_url": lab.idp_url,
            "app_url": lab.app_url,
            "ca_bundle": lab.ca_bundle,
            "aws_endpoint_url": lab.aws_endpoint_url,
            "spec": lab.spec_path,
            "username": user.login,
            "role": "Developer",
            "account": "acme-dev",
            "mfa_factor": "totp",
            **flags,
        },
    )


def _login(settings: Any, person: Person, secrets: FileSecretStore) -> Any:
    return login_and_cache(
        settings, prompter=person, secrets=secrets, write_files=False, cache=CredentialCache()
    )


def test_cookie_jar_is_kept_0600_and_the_session_refreshed(
    provisioned_lab: Any, make_user: Callable[..., LabUser], tmp_path: Path
) -> None:
    user = make_user()
    settings = _settings(provisioned_lab, user)
    secrets = FileSecretStore(tmp_path / "secrets")
    person = Person(user)
    _login(settings, person, secrets)

    raw = secrets.get(jar_key(settings))
    assert raw is not None
    names = {cookie["name"] for cookie in json.loads(raw)}
    assert {"sid", "DT"} <= names
    for path in (tmp_path / "secrets").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    restored = httpx.Cookies()
    assert restore(secrets, jar_key(settings), restored, provisioned_lab.idp_url) >= 2
    # A jar never hands this org's cookies to another host.
    assert restore(secrets, jar_key(settings), httpx.Cookies(), "https://evil.example") == 0

    # The kept session is about to run out: the next login refreshes it instead of
    # asking for the password and a code again.
    kept = load_session(secrets, session_key(settings))
    assert kept is not None
    soon = datetime.now(UTC) + timedelta(minutes=2)
    store_session(secrets, session_key(settings), type(kept)(kept.id, soon, kept.login))
    again = _login(settings, person, secrets)
    assert again.session_reused
    assert person.codes == 1
    refreshed = load_session(secrets, session_key(settings))
    assert refreshed is not None
    assert refreshed.expires_at > datetime.now(UTC) + timedelta(hours=1)


@pytest.mark.parametrize(("allowed", "codes"), [(True, 1), (False, 2)])
def test_remembered_device_skips_mfa_only_when_the_policy_allows(
    provisioned_lab: Any,
    lab_idp_settings: Callable[..., None],
    make_user: Callable[..., LabUser],
    tmp_path: Path,
    allowed: bool,
    codes: int,
) -> None:
    lab_idp_settings(allow_remember_device=allowed)
    user = make_user()
    settings = _settings(provisioned_lab, user, remember_device=True)
    secrets = FileSecretStore(tmp_path / "secrets")
    person = Person(user)
    _login(settings, person, secrets)
    # The session is gone, the device (its DT cookie in the kept jar) is not.
    secrets.delete(session_key(settings))
    _login(settings, person, secrets)
    assert person.codes == codes
