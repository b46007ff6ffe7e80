"""`keyless lab mfa code` never hands out a code twice, nor one already used (issue 24, item 4).

The lab IdP, like Okta, accepts each TOTP step's code once. The command records the
step it handed out beside the step the IdP recorded as used, and waits for the next
30 s step when the current one is taken, saying so. The waiting is pinned with an
injected clock (no real 30 s waits); one test runs the command twice through the CLI
and signs in with what it printed.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest

from keyless_lab.idp.authenticator import fresh_code
from keyless_lab.idp.directory import Directory, Factor

KEYLESS = str(Path(sys.executable).parent / "keyless")
STEP = 30


class FakeTime:
    """A clock that ``sleep`` moves forward, and what the command said meanwhile."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.slept: list[float] = []
        self.said: list[str] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def totp_user(tmp_path: Path) -> Iterator[tuple[Directory, Factor]]:
    directory = Directory(tmp_path / "idp.sqlite")
    directory.add_user("dora@acme.example", password="correct horse battery staple")
    factor = directory.enroll("dora@acme.example", "totp")
    yield directory, factor
    directory.close()


def _code(directory: Directory, factor: Factor, time: FakeTime) -> str:
    return fresh_code(directory, factor, clock=time.clock, sleep=time.sleep, say=time.said.append)


def test_a_second_code_in_the_same_step_waits_for_the_next_step(
    totp_user: tuple[Directory, Factor],
) -> None:
    directory, factor = totp_user
    assert factor.secret is not None
    totp = pyotp.TOTP(factor.secret)
    step = 60_000_000
    time = FakeTime(step * STEP + 10)

    first = _code(directory, factor, time)
    assert first == totp.at(step * STEP)
    assert time.slept == []

    second = _code(directory, factor, time)
    assert second != first
    assert second == totp.at((step + 1) * STEP)
    assert time.said == [
        f"the code for this {STEP} s step was already handed out or used: "
        "waiting 21 s for a fresh code"
    ]
    assert int(time.now) // STEP == step + 1


def test_a_step_the_idp_saw_used_is_not_handed_out(totp_user: tuple[Directory, Factor]) -> None:
    """A code typed from a phone (never handed out here) still makes its step taken."""
    directory, factor = totp_user
    assert factor.secret is not None
    step = 60_000_100
    time = FakeTime(step * STEP + 3)
    # What the IdP records on a sign-in with this step's code (Idp.check_totp).
    assert directory.claim_totp_step(factor.id, step)

    code = _code(directory, factor, time)
    assert code == pyotp.TOTP(factor.secret).at((step + 1) * STEP)
    assert len(time.said) == 1
    assert "waiting 28 s for a fresh code" in time.said[0]

    # The IdP also takes the next step's code (clock drift): a sign-in with it makes the
    # command wait two steps rather than hand out a code the IdP would refuse.
    assert directory.claim_totp_step(factor.id, step + 2)
    later = _code(directory, factor, time)
    assert later == pyotp.TOTP(factor.secret).at((step + 3) * STEP)


def _keyless(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KEYLESS, *args],
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        start_new_session=True,
    )


@pytest.mark.slow
def test_two_codes_from_the_cli_differ_and_each_signs_in(provisioned_lab: Any) -> None:
    """Through the CLI, against the running lab: sign in with a code, ask again at once
    (the step is used: it waits, at most one step, and says so), sign in with that one."""
    from login_support import add_lab_user

    lab_dir = ("--lab-dir", str(provisioned_lab.state_dir))
    user = add_lab_user(provisioned_lab, ("developers",), ("totp",))
    made = _keyless("configure", "--profile", "dora", "--lab", *lab_dir, "--username", user.login)
    assert made.returncode == 0, made.stderr

    def login(code: str) -> None:
        assert _keyless("logout", "--profile", "dora").returncode == 0
        result = _keyless(
            "login", "--profile", "dora", "--password-stdin", "--mfa-code", code,
            input=user.password + "\n",
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr

    first = _keyless("lab", "mfa", "code", user.login, *lab_dir)
    assert first.returncode == 0, first.stderr
    login(first.stdout.strip())

    second = _keyless("lab", "mfa", "code", user.login, *lab_dir)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() != first.stdout.strip()
    assert second.stdout.strip().isdigit()
    login(second.stdout.strip())
