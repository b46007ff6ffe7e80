"""Fixtures for login tests against the running lab: fresh lab users, profiles, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

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
    from keyless.lab.idp.directory import Directory

    return Directory(Path(lab.state_dir) / "idp.sqlite")


@pytest.fixture
def make_user(provisioned_lab: Any) -> Callable[..., LabUser]:
    """Create a lab user in ``group`` with ``factors`` (default: developers, TOTP)."""

    def make(group: str = "developers", factors: tuple[str, ...] = ("totp",)) -> LabUser:
        lab_directory = directory(provisioned_lab)
        login = f"u{uuid.uuid4().hex[:10]}@acme.example"
        _, password = lab_directory.add_user(
            login, groups=[group], phone="+15555550123", first_name="Test", last_name="User"
        )
        secret = None
        for factor in factors:
            enrolled = lab_directory.enroll(login, factor)
            secret = enrolled.secret or secret
        return LabUser(login, password, secret)

    return make


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


def configure(lab: Any, profile: str, user: LabUser, *extra: str) -> None:
    """``keyless configure --lab`` for ``user``."""
    result = keyless(
        "configure",
        "--profile",
        profile,
        "--lab",
        "--lab-state-dir",
        str(lab.state_dir),
        "--username",
        user.login,
        "--role",
        "Developer",
        "--account",
        "acme-dev",
        *extra,
    )
    assert result.returncode == 0, result.stderr


def audit_events(lab: Any) -> list[dict[str, Any]]:
    """Every record of the lab IdP's audit log."""
    path = Path(lab.state_dir) / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def configure_in_process(lab: Any, profile: str, user: LabUser) -> None:
    """What ``keyless configure --lab`` does, without paying for a process each time."""
    from keyless.services.access import configure as configure_service
    from keyless.services.access import lab_defaults
    from keyless.services.profiles import resolve_settings

    flags = {
        **lab_defaults(Path(lab.state_dir)),
        "username": user.login,
        "role": "Developer",
        "account": "acme-dev",
    }
    configure_service(resolve_settings(profile, flags))
