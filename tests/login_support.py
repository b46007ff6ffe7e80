"""Helpers for login tests against the running lab: fresh lab users, profiles, the CLI.

An ordinary module (not the conftest) so test modules can import it under any
pytest import mode; ``tests/login/conftest.py`` holds the fixtures.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KEYLESS = str(Path(sys.executable).parent / "keyless")
AWS = str(Path(sys.executable).parent / "aws")


@dataclass(frozen=True)
class LabUser:
    """A user made for one test (TOTP codes are single-use, so tests don't share users)."""

    login: str
    password: str
    totp_secret: str | None

    def totp(self) -> str:
        """The current TOTP code."""
        import pyotp

        assert self.totp_secret is not None
        return str(pyotp.TOTP(self.totp_secret).now())


def directory(lab: Any) -> Any:
    """The lab IdP's directory (SQLite, safe beside the running server)."""
    from keyless_lab.idp.directory import Directory

    return Directory(Path(lab.state_dir) / "idp.sqlite")


def add_lab_user(lab: Any, groups: tuple[str, ...], factors: tuple[str, ...]) -> LabUser:
    """A fresh user of ``lab``'s directory in ``groups`` with ``factors`` enrolled."""
    lab_directory = directory(lab)
    try:
        login = f"u{uuid.uuid4().hex[:10]}@acme.example"
        _, password = lab_directory.add_user(
            login, groups=groups, phone="+15555550123", first_name="Test", last_name="User"
        )
        secret = None
        for factor in factors:
            enrolled = lab_directory.enroll(login, factor)
            secret = enrolled.secret or secret
    finally:
        lab_directory.close()
    return LabUser(login, password, secret)


def run(
    args: list[str], *, input: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command as a user would, with no terminal (a new session, no /dev/tty)."""
    return subprocess.run(
        args,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        start_new_session=True,
        env=env or dict(os.environ),
        timeout=120,
    )


def keyless(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """``keyless ARGS`` in a subprocess."""
    return run([KEYLESS, *args], input=input)


def sign_in(profile: str, user: LabUser, *args: str) -> subprocess.CompletedProcess[str]:
    """``keyless login --profile PROFILE`` as a script runs it: the password on stdin and a
    fresh TOTP code, with ``args`` added."""
    return keyless(
        "login",
        "--profile",
        profile,
        "--password-stdin",
        "--mfa-code",
        user.totp(),
        *args,
        input=user.password + "\n",
    )


def configure(
    lab: Any,
    profile: str,
    user: LabUser,
    *extra: str,
    role: str | None = "Developer",
    account: str | None = "acme-dev",
) -> None:
    """``keyless configure --lab`` for ``user`` (preferring ``role`` in ``account`` when given)."""
    preferred = ["--role", role] if role else []
    if account:
        preferred += ["--account", account]
    result = keyless(
        "configure",
        "--profile",
        profile,
        "--lab",
        "--lab-dir",
        str(lab.state_dir),
        "--username",
        user.login,
        *preferred,
        *extra,
    )
    assert result.returncode == 0, result.stderr


def audit_events(lab: Any) -> list[dict[str, Any]]:
    """Every record of the lab IdP's audit log."""
    path = Path(lab.state_dir) / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def configure_in_process(lab: Any, profile: str, user: LabUser) -> None:
    """What ``keyless configure --lab`` does, without paying for a process each time."""
    from keyless.services.login.access import configure as configure_service
    from keyless.services.login.profiles import resolve_settings

    flags = {
        **lab.profile_defaults(),
        "username": user.login,
        "role": "Developer",
        "account": "acme-dev",
    }
    configure_service(resolve_settings(profile, flags))


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1b[=>]")


_TAKE_TERMINAL = (
    "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)


class Terminal:
    """A command in a real pseudo-terminal, driven as a person would: read the screen, type.

    The child gets the pty as its controlling terminal (a new session and
    ``TIOCSCTTY``), so ``/dev/tty``, echo control and raw mode are all real.
    """

    def __init__(
        self, args: list[str], *, columns: int = 80, env: dict[str, str] | None = None
    ) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
        self.master = master
        self.output = ""  # what the terminal showed, without escape sequences or "\r"
        self.raw = b""
        self._seen = 0
        self.process = subprocess.Popen(
            # The new session's leader takes the pty as its controlling terminal,
            # then becomes the command (a launcher, not preexec_fn: the lab's
            # threads run in this process, and Python code between fork and exec
            # is not safe beside threads).
            [sys.executable, "-c", _TAKE_TERMINAL, *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env or dict(os.environ),
            start_new_session=True,
        )
        os.close(slave)

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: the child closed the terminal
            chunk = b""
        if not chunk:
            return False
        self.raw += chunk
        # Carriage returns go too: the terminal driver turns "\n" into "\r\n" as well.
        self.output = _ANSI.sub("", self.raw.decode("utf-8", "replace")).replace("\r", "")
        return True

    def expect(self, text: str, timeout: float = 60) -> str:
        """Wait until ``text`` appears after what earlier calls matched; the screen up to it."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.output.find(text, self._seen)
            if found >= 0:
                shown = self.output[self._seen : found + len(text)]
                self._seen = found + len(text)
                return shown
            left = deadline - time.monotonic()
            ended = not self._read(min(max(left, 0), 0.5)) and self.process.poll() is not None
            if left <= 0 or ended:
                raise AssertionError(f"{text!r} never showed; the terminal showed:\n{self.output}")

    def screen_after(self, marker: str) -> list[str]:
        """The lines shown after the last ``marker`` (the picker's latest frame, say)."""
        return self.output[self.output.rindex(marker) + len(marker) :].splitlines()

    def wait_for_raw(self, sequence: bytes, count: int, timeout: float = 60) -> None:
        """Wait until the command has written ``sequence`` ``count`` times in all."""
        deadline = time.monotonic() + timeout
        while self.raw.count(sequence) < count:
            left = deadline - time.monotonic()
            if left <= 0 or (not self._read(min(left, 0.5)) and self.process.poll() is not None):
                raise AssertionError(f"{sequence!r} not seen {count} times:\n{self.output}")

    def type(self, keys: str) -> None:
        """Type ``keys`` (escape sequences for arrows)."""
        os.write(self.master, keys.encode())

    def finish(self, timeout: float = 60) -> int:
        """Read until the command exits; its exit code."""
        deadline = time.monotonic() + timeout
        # The pty reports EOF once the command and everything it started have closed it.
        while time.monotonic() < deadline and self._read(0.5):
            pass
        return self.process.wait(timeout=max(deadline - time.monotonic(), 1))

    def close(self) -> None:
        """Stop the command if it still runs (a failed test) and close the terminal."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        with contextlib.suppress(OSError):
            os.close(self.master)
