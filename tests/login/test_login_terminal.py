"""`keyless login` in a real pseudo-terminal, typed at as a person would.

The command gets a pty as its controlling terminal, so the password prompt's
echo control, the TOTP prompt and the role picker's raw-mode keys all go
through a real terminal driver, not a test double.
"""

from __future__ import annotations

import json
import os
import termios
from pathlib import Path
from typing import Any

import pytest

from keyless.adapters.credential_cache import CredentialCache
from keyless.services.login.profiles import load_profiles
from login_support import AWS, KEYLESS, LabUser, Terminal, audit_events, configure, run

pytestmark = pytest.mark.slow

DOWN, UP, BACKSPACE, PAGE_DOWN, CTRL_C = "\x1b[B", "\x1b[A", "\x7f", "\x1b[6~", "\x03"
TITLE = "Select a role (arrows move, type to filter, Enter picks): "
FRAME_END = b"\x1b[J"  # the picker ends every redraw by clearing below it
ADMIN_IN_DEV = "acme-dev (333333333333) / OktaAdminRole"


class Picker:
    """Reads the role picker's frames off a :class:`Terminal` and presses keys in it."""

    def __init__(self, terminal: Terminal, title: str = TITLE) -> None:
        self.terminal = terminal
        self.title = title
        self.frames = 0

    def frame(self) -> tuple[str, list[str], int | None]:
        """The latest frame: the filter typed, the entries shown, the marked entry's index."""
        self.frames += 1
        self.terminal.wait_for_raw(FRAME_END, self.frames)
        typed, *lines = self.terminal.screen_after(self.title)
        entries = [line[3:] for line in lines]
        marked = [i for i, line in enumerate(lines) if line.startswith(" > ")]
        assert len(marked) <= 1, lines
        return typed, entries, marked[0] if marked else None

    def press(self, key: str) -> tuple[str, list[str], int | None]:
        """Press one key; the frame it draws."""
        self.terminal.type(key)
        return self.frame()

    def type(self, text: str) -> tuple[str, list[str], int | None]:
        """Type ``text`` at once (a redraw per character); the last frame."""
        self.terminal.type(text)
        self.frames += len(text) - 1
        return self.frame()


def _caller(profile: str) -> dict[str, str]:
    result = run([AWS, "sts", "get-caller-identity", "--output", "json", "--profile", profile])
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def _sign_ins(lab: Any, login: str) -> list[str]:
    return [e["event"] for e in audit_events(lab) if e.get("login") == login]


def test_interactive_login_in_a_terminal_then_again_within_the_okta_session(
    provisioned_lab: Any, make_user: Any
) -> None:
    # Like alice, and a developer and an auditor too: six roles to pick from.
    user: LabUser = make_user("aws-admins", more_groups=("developers", "auditors"))
    configure(provisioned_lab, "pick", user, "--mfa-factor", "totp", role=None, account=None)

    terminal = Terminal([KEYLESS, "login", "--profile", "pick"])
    try:
        terminal.expect(f"Okta password for {user.login}: ")
        terminal.type(user.password + "\r")
        terminal.expect("Code from Google Authenticator")
        code = user.totp()
        terminal.type(code + "\r")

        picker = Picker(terminal)
        typed, entries, marked = picker.frame()
        assert (typed, marked, len(entries)) == ("", 0, 6), entries
        assert ADMIN_IN_DEV in entries
        assert entries[0] != ADMIN_IN_DEV  # Enter alone would take another role
        # Type to filter, past what matches, and back.
        for key in "okt":
            picker.press(key)
        typed, entries, marked = picker.press("x")
        assert (typed, entries, marked) == ("oktx", ["(nothing matches)"], None)
        picker.press(BACKSPACE)
        typed, entries, marked = picker.press("a")
        assert typed == "okta"
        assert sorted(entries) == [
            ADMIN_IN_DEV,
            "acme-prod (222222222222) / OktaAdminRole",
        ]
        # Regression: a longer escape sequence (PgDn) once typed "~" into the filter.
        typed, entries_after, _ = picker.press(PAGE_DOWN)
        assert (typed, entries_after) == ("okta", entries)
        # Arrows: down past the end stays on the last, up past the top on the first.
        last = len(entries) - 1
        for _ in range(last + 1):
            *_, marked = picker.press(DOWN)
        assert marked == last
        for _ in range(last + 1):
            *_, marked = picker.press(UP)
        assert marked == 0
        for _ in range(entries.index(ADMIN_IN_DEV)):
            *_, marked = picker.press(DOWN)
        assert marked is not None
        assert entries[marked] == ADMIN_IN_DEV
        terminal.type("\r")
        # Issue 24: the pick may stick; not this time.
        terminal.expect(f"Remember {ADMIN_IN_DEV} for profile pick")
        terminal.expect("[Y/n]: ")
        terminal.type("n\r")
        terminal.expect("OktaAdminRole in acme-dev")
        assert terminal.finish() == 0, terminal.output
    finally:
        terminal.close()
    assert "role" not in load_profiles()["pick"]  # "n": nothing recorded
    # The password was typed but never shown; the code, typed the same way, was
    # (so this transcript would show an echoed password).
    assert user.password not in terminal.output
    assert code in terminal.output

    identity = _caller("pick-creds")
    assert identity["Account"] == "333333333333"
    assert ":assumed-role/OktaAdminRole/" in identity["Arn"]

    # A second interactive login within the Okta session: no password, no code,
    # straight to the picker.
    before = _sign_ins(provisioned_lab, user.login)
    terminal = Terminal([KEYLESS, "login", "--profile", "pick"])
    try:
        picker = Picker(terminal)
        picker.frame()
        assert "password" not in terminal.output.lower()
        assert "Code from" not in terminal.output
        typed, entries, marked = picker.type("developer")
        assert (typed, entries, marked) == (
            "developer",
            ["acme-dev (333333333333) / Developer"],
            0,
        )
        terminal.type("\r")
        # Enter alone takes the default: remember it.
        terminal.expect("[Y/n]: ")
        terminal.type("\r")
        terminal.expect("note: profile pick now takes Developer in acme-dev without asking")
        terminal.expect("Developer in acme-dev")
        terminal.expect("(Okta session reused)")
        assert terminal.finish() == 0, terminal.output
    finally:
        terminal.close()
    assert ":assumed-role/Developer/" in _caller("pick-creds")["Arn"]
    new = _sign_ins(provisioned_lab, user.login)[len(before) :]
    assert "assertion" in new
    assert not [event for event in new if event in ("authn", "mfa")]
    # The remembered pick is the profile's role: with the cache gone (as an hour later),
    # credential_process behind the AWS CLI, with no terminal, takes it without asking.
    assert CredentialCache().forget("pick")
    assert ":assumed-role/Developer/" in _caller("pick")["Arn"]


def test_narrow_terminal_and_ctrl_c_in_the_picker(provisioned_lab: Any, make_user: Any) -> None:
    user: LabUser = make_user("aws-admins")
    configure(provisioned_lab, "quit", user, "--mfa-factor", "totp", role=None, account=None)
    terminal = Terminal([KEYLESS, "login", "--profile", "quit"], columns=40)
    try:
        terminal.expect("password")
        terminal.type(user.password + "\r")
        terminal.expect("Code from")
        terminal.type(user.totp() + "\r")
        # 40 columns: the header drops its key help but keeps the filter typed.
        picker = Picker(terminal, title="Select a role: ")
        picker.frame()
        typed, entries, marked = picker.type("dev")
        # Regression: lines wider than the terminal wrapped onto a second row,
        # so each redraw (which moves up one row per line) left debris behind.
        frame = terminal.output[terminal.output.rindex("Select a role: ") :].splitlines()
        assert max(len(line) for line in frame) < 40, frame
        assert (typed, marked, len(frame)) == ("dev", 0, 2)
        assert entries[0].startswith("acme-dev (333333333333) / Okta")
        # The picker reads keys with echo and line editing off.
        mode = termios.tcgetattr(terminal.master)
        assert not mode[3] & (termios.ECHO | termios.ICANON)
        terminal.type(CTRL_C)
        # 130, as a shell reports an interrupted command; nothing was written.
        assert terminal.finish() == 130
        # ... and puts them back when interrupted.
        mode = termios.tcgetattr(terminal.master)
        assert mode[3] & termios.ECHO
        assert mode[3] & termios.ICANON
    finally:
        terminal.close()
    assert "Traceback" not in terminal.output
    assert not Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"]).exists()
