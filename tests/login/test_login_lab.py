"""`keyless login` and friends against the running lab, over HTTPS, with the AWS CLI and boto3."""

from __future__ import annotations

import json
import os
import re
import select
import stat
import subprocess
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from keyless.adapters.credential_cache import CredentialCache
from keyless.adapters.okta import OktaClient, make_http_client
from keyless.errors import DeniedError, KeylessError
from keyless.services.login.okta_signin import LoginInputs
from keyless.services.login.profiles import resolve_settings
from keyless.services.login.wiring import login_and_cache
from login_support import (
    AWS,
    KEYLESS,
    LabUser,
    audit_events,
    configure,
    configure_in_process,
    keyless,
    run,
)

pytestmark = [
    pytest.mark.slow,
    # tests/lab_fixtures.py's boto3 fallback calls httpx.get(verify=<path>), which
    # httpx 0.28 deprecates; not ours to fix (reported to the lead).
    pytest.mark.filterwarnings("ignore:`verify=<str>` is deprecated:DeprecationWarning"),
]


class Recorder:
    """A prompter for in-process logins: answers from a script, records what it was told."""

    interactive = True

    def __init__(self, answers: dict[str, Any] | None = None) -> None:
        self.answers = answers or {}
        self.told: list[str] = []

    def notify(self, message: str) -> None:
        self.told.append(message)

    def ask(self, label: str, *, secret: bool = False, flag: str | None = None) -> str:
        for key, answer in self.answers.items():
            if key in label:
                return str(answer() if callable(answer) else answer)
        raise AssertionError(f"unexpected question: {label}")

    def choose(self, title: str, options: list[str], *, flag: str | None = None) -> int:
        raise AssertionError(f"unexpected choice: {title} {options}")

    def missing_input(self, what: str, *, flag: str | None = None) -> KeylessError:
        raise AssertionError(f"unexpected missing input: {what}")


def _caller_arn(*profile_args: str) -> str:
    result = run([AWS, "sts", "get-caller-identity", "--output", "json", *profile_args])
    assert result.returncode == 0, result.stderr
    return str(json.loads(result.stdout)["Arn"])


def test_configure_login_totp_then_aws_cli_boto3_and_session_reuse(
    provisioned_lab: Any, make_user: Any
) -> None:
    user: LabUser = make_user()
    configure(provisioned_lab, "dev", user, "--mfa-factor", "totp")
    config_text = Path(os.environ["AWS_CONFIG_FILE"]).read_text()
    assert f"credential_process = {KEYLESS} credential-process --profile dev" in config_text

    first = keyless(
        "login",
        "--profile",
        "dev",
        "--password-stdin",
        "--mfa-code",
        user.totp(),
        "--json",
        input=user.password + "\n",
    )
    assert first.returncode == 0, first.stderr
    document = json.loads(first.stdout)
    assert document["okta_session_reused"] is False
    assert document["roles"][0]["account_alias"] == "acme-dev"
    assert document["roles"][0]["written_profile"] == "dev-creds"
    credentials_file = Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"])
    assert stat.S_IMODE(credentials_file.stat().st_mode) == 0o600

    # The written profile, through the AWS CLI and boto3.
    arn = _caller_arn("--profile", "dev-creds")
    assert ":assumed-role/Developer/" in arn
    assert arn.startswith("arn:aws:sts::333333333333:")
    # The credential_process profile, through the AWS CLI and boto3.
    assert ":assumed-role/Developer/" in _caller_arn("--profile", "dev")
    listing = run([AWS, "s3", "ls", "--profile", "dev"])
    assert listing.returncode == 0, listing.stderr
    for profile in ("dev", "dev-creds"):
        session = boto3.Session(profile_name=profile)
        identity = session.client(
            "sts", endpoint_url=provisioned_lab.aws_endpoint_url, verify=provisioned_lab.ca_bundle
        ).get_caller_identity()
        assert identity["Account"] == "333333333333"

    # Within the Okta session a second login asks for nothing: no password, no code.
    before = [e for e in audit_events(provisioned_lab) if e.get("login") == user.login]
    second = keyless("login", "--profile", "dev", "--json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["okta_session_reused"] is True
    after = [e for e in audit_events(provisioned_lab) if e.get("login") == user.login]
    new = after[len(before) :]
    assert not [e for e in new if e["event"] in ("authn", "mfa")]

    # whoami shows the profile; logout forgets the session and what it wrote.
    who = keyless("whoami", "--json")
    assert who.returncode == 0, who.stderr
    mine = [p for p in json.loads(who.stdout) if p["profile"] == "dev"]
    assert mine[0]["account_alias"] == "acme-dev"
    assert mine[0]["seconds_left"] > 3000
    out = keyless("logout", "--profile", "dev", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["credentials_profiles_removed"] == ["dev-creds"]
    assert "[dev-creds]" not in credentials_file.read_text()
    again = keyless("login", "--profile", "dev")
    assert again.returncode == 2
    assert "--password-stdin" in again.stderr


def test_exec_env_and_console(provisioned_lab: Any, make_user: Any) -> None:
    user: LabUser = make_user()
    configure(provisioned_lab, "tools", user, "--mfa-factor", "totp")
    done = keyless(
        "login",
        "--profile",
        "tools",
        "--no-write",
        "--password-stdin",
        "--mfa-code",
        user.totp(),
        input=user.password + "\n",
    )
    assert done.returncode == 0, done.stderr
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIAOLDKEY", AWS_PROFILE="nope")
    result = run(
        [
            KEYLESS,
            "exec",
            "--profile",
            "tools",
            "--",
            AWS,
            "sts",
            "get-caller-identity",
            "--output",
            "json",
        ],
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert ":assumed-role/Developer/" in json.loads(result.stdout)["Arn"]
    nested = run(
        [KEYLESS, "exec", "--profile", "tools", "--", "true"],
        env=dict(os.environ, KEYLESS_EXEC_PROFILE="tools"),
    )
    assert nested.returncode == 2
    assert "already inside" in nested.stderr
    for fmt, marker in (
        ("sh", "export AWS_SESSION_TOKEN="),
        ("fish", "set -gx AWS_REGION"),
        ("powershell", "$Env:AWS_ACCESS_KEY_ID"),
        ("dotenv", "AWS_ENDPOINT_URL="),
    ):
        printed = keyless("env", "--profile", "tools", "--format", fmt)
        assert printed.returncode == 0, printed.stderr
        assert marker in printed.stdout
    url = keyless("console", "--profile", "tools")
    assert url.returncode == 0, url.stderr
    assert url.stdout.startswith(provisioned_lab.app_url)


def _in_process(lab: Any, profile: str, **flags: Any) -> Any:
    return resolve_settings(
        profile,
        {
            "org_url": lab.idp_url,
            "app_url": lab.app_url,
            "ca_bundle": lab.ca_bundle,
            "aws_endpoint_url": lab.aws_endpoint_url,
            "spec": lab.spec_path,
            **flags,
        },
    )


class WaitingLogin:
    """``keyless login --mfa-factor push`` running in the background, as a script would run it."""

    def __init__(self, profile: str, user: LabUser) -> None:
        password, typed = os.pipe()
        os.write(typed, (user.password + "\n").encode())
        os.close(typed)
        self.process = subprocess.Popen(
            [KEYLESS, "login", "--profile", profile, "--password-stdin"],
            stdin=password,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        os.close(password)
        self.shown = ""  # what login printed on stderr so far

    def number(self) -> int:
        """Read what login prints until it shows the number to tap; that number."""
        assert self.process.stderr is not None
        # Unbuffered reads: select() knows nothing of what a buffered reader holds.
        stderr = self.process.stderr.fileno()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = re.search(r"tap (\d+) on your phone", self.shown)
            if found:
                return int(found[1])
            if select.select([stderr], [], [], 0.5)[0]:
                chunk = os.read(stderr, 4096)
                if not chunk:
                    break
                self.shown += chunk.decode()
        raise AssertionError(f"no number to tap was shown: {self.shown}")

    def finish(self) -> tuple[int, str, str]:
        """The exit code, stdout and everything login printed on stderr."""
        out, rest = self.process.communicate(timeout=60)
        return self.process.returncode, out, self.shown + rest


def _answer_push(lab: Any, verb: str, user: LabUser) -> subprocess.CompletedProcess[str]:
    """``keyless lab push approve|reject USER``: the user's phone, from another terminal."""
    return keyless("lab", "push", verb, user.login, "--lab-dir", str(lab.state_dir))


def test_push_approved_through_the_cli_shows_the_number(
    provisioned_lab: Any, make_user: Any
) -> None:
    user: LabUser = make_user(factors=("push",))
    configure(provisioned_lab, "push", user, "--mfa-factor", "push")
    nobody_asked = _answer_push(provisioned_lab, "approve", user)
    assert nobody_asked.returncode == 2
    assert "no push waiting" in nobody_asked.stderr
    waiting = WaitingLogin("push", user)
    try:
        number = waiting.number()
        approved = _answer_push(provisioned_lab, "approve", user)
        assert approved.returncode == 0, approved.stderr
        # The phone was asked for the number the terminal showed.
        assert f"approved the push for {user.login} (number {number})" in approved.stdout
        code, _, shown = waiting.finish()
    finally:
        if waiting.process.poll() is None:
            waiting.process.kill()
            waiting.process.communicate()
    assert code == 0, shown
    assert "Okta Verify: push sent" in shown
    assert "Developer in acme-dev" in shown
    assert ":assumed-role/Developer/" in _caller_arn("--profile", "push-creds")


def test_push_rejected_through_the_cli(provisioned_lab: Any, make_user: Any) -> None:
    user: LabUser = make_user(factors=("push",))
    configure(provisioned_lab, "push-no", user, "--mfa-factor", "push")
    waiting = WaitingLogin("push-no", user)
    try:
        number = waiting.number()
        rejected = _answer_push(provisioned_lab, "reject", user)
        assert rejected.returncode == 0, rejected.stderr
        assert f"rejected the push for {user.login} (number {number})" in rejected.stdout
        code, _, shown = waiting.finish()
    finally:
        if waiting.process.poll() is None:
            waiting.process.kill()
            waiting.process.communicate()
    assert code == 1, shown
    assert "the Okta Verify push was rejected on the phone" in shown
    assert not Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"]).exists()
    # No Okta session was kept: the next login signs in again rather than reusing one.
    again = keyless("login", "--profile", "push-no")
    assert again.returncode == 2
    assert "--password-stdin" in again.stderr


def test_sms(provisioned_lab: Any, make_user: Any) -> None:
    user: LabUser = make_user(factors=("sms",))
    settings = _in_process(provisioned_lab, "sms", username=user.login, mfa_factor="sms")
    sms_log = Path(provisioned_lab.state_dir) / "sms.log"

    def code() -> str:
        records = [json.loads(line) for line in sms_log.read_text().splitlines()]
        return str([r for r in records if r["login"] == user.login][-1]["code"])

    prompter = Recorder({"Code from SMS": code})
    result = login_and_cache(
        settings, prompter=prompter, inputs=LoginInputs(password=user.password), write_files=False
    )
    assert result.logins[0].credentials.account_id == "333333333333"
    assert any("SMS" in message for message in prompter.told)


def test_wrong_password_and_lockout(provisioned_lab: Any, make_user: Any) -> None:
    user: LabUser = make_user()
    configure(provisioned_lab, "bad", user)
    wrong = keyless(
        "login",
        "--profile",
        "bad",
        "--password-stdin",
        "--mfa-code",
        "000000",
        input="not-the-password\n",
    )
    assert wrong.returncode == 1
    assert "E0000004" in wrong.stderr
    assert "fix:" in wrong.stderr
    with make_http_client(ca_bundle=provisioned_lab.ca_bundle) as http:
        okta = OktaClient(provisioned_lab.idp_url, http=http)
        for _ in range(10):
            with pytest.raises(DeniedError):
                okta.authn(user.login, "still-wrong")
    locked = keyless(
        "login",
        "--profile",
        "bad",
        "--password-stdin",
        "--mfa-code",
        "000000",
        input=user.password + "\n",
    )
    assert locked.returncode == 1
    assert "locked out" in locked.stderr


def test_no_terminal_and_missing_input_fails_fast(provisioned_lab: Any, make_user: Any) -> None:
    user: LabUser = make_user()
    configure(provisioned_lab, "quiet", user)
    result = keyless("login", "--profile", "quiet")
    assert result.returncode == 2
    assert "--password-stdin" in result.stderr
    missing_mfa = keyless(
        "login", "--profile", "quiet", "--password-stdin", input=user.password + "\n"
    )
    assert missing_mfa.returncode == 2
    assert "--mfa-code" in missing_mfa.stderr


def test_twenty_concurrent_credential_process_calls_sign_in_once(
    provisioned_lab: Any, make_user: Any
) -> None:
    user: LabUser = make_user()
    configure(provisioned_lab, "busy", user)
    done = keyless(
        "login",
        "--profile",
        "busy",
        "--no-write",
        "--password-stdin",
        "--mfa-code",
        user.totp(),
        input=user.password + "\n",
    )
    assert done.returncode == 0, done.stderr
    # Expire the cached credentials: every caller must refresh.
    cache = CredentialCache()
    cached = cache.load("busy")
    assert cached is not None
    cache.store("busy", replace(cached, expiration=datetime.now(UTC) - timedelta(minutes=1)))
    before = len([e for e in audit_events(provisioned_lab) if e.get("login") == user.login])
    procs = [
        subprocess.Popen(
            [KEYLESS, "credential-process", "--profile", "busy"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        for _ in range(20)
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 20, [err for _, err in outputs]
    keys = {json.loads(out)["AccessKeyId"] for out, _ in outputs}
    assert len(keys) == 1
    new = [e for e in audit_events(provisioned_lab) if e.get("login") == user.login][before:]
    assert len([e for e in new if e["event"] == "assertion"]) == 1
    assert not [e for e in new if e["event"] in ("authn", "mfa")]


PRE_EXISTING = """\
# hand-written, keep me
[default]
aws_access_key_id = AKIAHANDWRITTEN
aws_secret_access_key = keep-me

; team profile
[legacy]
aws_access_key_id = AKIALEGACY
aws_secret_access_key = legacy
"""


def test_twenty_concurrent_logins_keep_every_profile(provisioned_lab: Any, make_user: Any) -> None:
    user: LabUser = make_user()
    credentials_file = Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"])
    credentials_file.parent.mkdir(parents=True, exist_ok=True)
    credentials_file.write_text(PRE_EXISTING)
    for index in range(20):
        configure_in_process(provisioned_lab, f"p{index}", user)
    # One sign-in with MFA; the other nineteen profiles reuse its Okta session.
    first = keyless(
        "login",
        "--profile",
        "p0",
        "--password-stdin",
        "--mfa-code",
        user.totp(),
        input=user.password + "\n",
    )
    assert first.returncode == 0, first.stderr
    procs = [
        subprocess.Popen(
            [KEYLESS, "login", "--profile", f"p{index}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        for index in range(20)
    ]
    results = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 20, [err for _, err in results]
    text = credentials_file.read_text()
    assert text.startswith("# hand-written, keep me\n[default]\n")
    assert "; team profile\n[legacy]\n" in text
    for index in range(20):
        assert f"[p{index}-creds]" in text
    assert stat.S_IMODE(credentials_file.stat().st_mode) == 0o600


def test_corrupt_credentials_file_is_reported_and_left_untouched(
    provisioned_lab: Any, make_user: Any
) -> None:
    user: LabUser = make_user()
    configure(provisioned_lab, "broken", user)
    credentials_file = Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"])
    credentials_file.parent.mkdir(parents=True, exist_ok=True)
    corrupt = b"[default]\naws_access_key_id = AKIA\n<<<<<<< HEAD merge conflict\n"
    credentials_file.write_bytes(corrupt)
    before = len(audit_events(provisioned_lab))
    result = keyless(
        "login",
        "--profile",
        "broken",
        "--password-stdin",
        "--mfa-code",
        user.totp(),
        input=user.password + "\n",
    )
    assert result.returncode == 2
    assert f"{credentials_file}:3:" in result.stderr
    assert credentials_file.read_bytes() == corrupt
    # Reported before signing in: the IdP saw nothing.
    assert len(audit_events(provisioned_lab)) == before
