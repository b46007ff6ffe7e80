"""Asking a person: prompts, secrets and an arrow-key picker on the controlling terminal.

Prompts go to ``/dev/tty`` rather than stdin/stderr: ``keyless
credential-process`` runs under the AWS CLI with stdout and stderr captured,
and ``keyless login --password-stdin`` has stdin taken by the password. When
there is no terminal the caller uses a non-interactive prompter instead,
which fails fast naming what it would have asked for.
"""

from __future__ import annotations

import codecs
import contextlib
import getpass
import io
import os
import sys
from collections.abc import Callable, Iterator
from typing import IO, Literal

from keyless.errors import InputError, KeylessError, LoginRequiredError

_UP = ("\x1b[A", "\x1bOA", "\x10")  # arrow up, application mode, Ctrl-P
_DOWN = ("\x1b[B", "\x1bOB", "\x0e")  # arrow down, application mode, Ctrl-N
_MAX_SHOWN = 15


def open_tty() -> IO[str] | None:
    """The controlling terminal for reading and writing, or None when there is none."""
    # Not open("/dev/tty", "r+"): text mode "r+" wants a seekable file and a
    # terminal is not one (io.UnsupportedOperation, an OSError), so every
    # login would have looked terminal-less. Unbuffered, like getpass does it,
    # so a line read never swallows keys meant for the picker's raw reads.
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return None
    raw = io.FileIO(fd, "r+")
    return io.TextIOWrapper(raw, encoding="utf-8", errors="replace", write_through=True)


class TerminalPrompter:
    """Prompts on a terminal stream (normally ``/dev/tty``)."""

    interactive = True

    def __init__(self, tty: IO[str]) -> None:
        self.tty = tty

    def notify(self, message: str) -> None:
        """Show ``message`` to the person."""
        self.tty.write(message + "\n")
        self.tty.flush()

    def ask(self, label: str, *, secret: bool = False, flag: str | None = None) -> str:
        """Ask for a value; ``secret`` values are not echoed."""
        del flag  # only the non-interactive prompter needs it
        if secret:
            return getpass.getpass(f"{label}: ", stream=self.tty)  # type: ignore[arg-type]
        self.tty.write(f"{label}: ")
        self.tty.flush()
        return self.tty.readline().strip()

    def missing_input(self, what: str, *, flag: str | None = None) -> KeylessError:
        """Input a person could type but was not offered (the caller checks ``interactive``)."""
        return InputError(f"{what} is needed", fix=f"pass {flag}" if flag else None)

    def choose(self, title: str, options: list[str], *, flag: str | None = None) -> int:
        """Let the person pick one of ``options``; returns its index."""
        del flag
        if not options:
            raise ValueError("nothing to choose from")
        try:
            return self._pick(title, options)
        except _NoRawMode:
            return self._numbered(title, options)

    def _numbered(self, title: str, options: list[str]) -> int:
        self.notify(title)
        for number, option in enumerate(options, start=1):
            self.notify(f"  {number:>2}. {option}")
        while True:
            answer = self.ask(f"Pick 1-{len(options)}")
            if answer.isdigit() and 1 <= int(answer) <= len(options):
                return int(answer) - 1
            self.notify(f"  type a number from 1 to {len(options)}")

    def _pick(self, title: str, options: list[str]) -> int:
        typed = ""
        cursor = 0
        drawn = 0
        with _raw_mode(self.tty) as read_key:
            while True:
                shown = [i for i, option in enumerate(options) if typed.lower() in option.lower()]
                cursor = min(cursor, max(len(shown) - 1, 0))
                width = _columns(self.tty)
                lines = [_header(title, typed, width)]
                window_start = max(0, cursor - _MAX_SHOWN + 1)
                for position, index in enumerate(shown[window_start : window_start + _MAX_SHOWN]):
                    marker = ">" if position + window_start == cursor else " "
                    lines.append(f" {marker} {options[index]}")
                if not shown:
                    lines.append("   (nothing matches)")
                # A line the terminal wraps takes two rows, and the redraw below
                # moves up by lines: cut each to the width instead.
                if width > 1:
                    lines = [line[: width - 1] for line in lines]
                # Move up over what was drawn last time and redraw in place.
                if drawn:
                    self.tty.write(f"\x1b[{drawn}F")
                self.tty.write("".join(f"\x1b[2K{line}\r\n" for line in lines) + "\x1b[J")
                self.tty.flush()
                drawn = len(lines)
                key = read_key()
                if not key:
                    raise EOFError("the terminal closed")
                if key in ("\r", "\n") and shown:
                    return shown[cursor]
                if key in ("\x03", "\x04"):
                    raise KeyboardInterrupt
                if key in _UP:
                    cursor = max(cursor - 1, 0)
                elif key in _DOWN:
                    cursor = min(cursor + 1, max(len(shown) - 1, 0))
                elif key in ("\x7f", "\b"):
                    typed = typed[:-1]
                elif len(key) == 1 and key.isprintable():
                    typed += key
                    cursor = 0


class _NoRawMode(Exception):
    pass


def _header(title: str, typed: str, width: int) -> str:
    """The picker's first line, narrowed to fit ``width`` while the filter typed stays visible."""
    header = f"{title} (arrows move, type to filter, Enter picks): {typed}"
    if width <= 1 or len(header) < width:
        return header
    header = f"{title}: {typed}"
    return header if len(header) < width else header[-(width - 1) :]


def _columns(tty: IO[str]) -> int:
    """The terminal's width now (it may have been resized), or 0 when unknown."""
    try:
        return os.get_terminal_size(tty.fileno()).columns
    except (OSError, ValueError):
        return 0


@contextlib.contextmanager
def _raw_mode(tty: IO[str]) -> Iterator[Callable[[], str]]:
    try:
        import termios
        import tty as tty_module

        fd = tty.fileno()
        saved = termios.tcgetattr(fd)
    except (ImportError, OSError, ValueError) as exc:
        raise _NoRawMode from exc

    decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def read_char() -> str:
        """One character (all the bytes of a UTF-8 one); "" when the terminal is gone."""
        while True:
            data = os.read(fd, 1)
            if not data:
                return ""
            char = decoder.decode(data)
            if char:
                return char

    def read_key() -> str:
        char = read_char()
        if char != "\x1b":
            return char
        # A whole escape sequence, so keys like PgDn ("\x1b[6~") or Delete
        # ("\x1b[3~") are one ignored key, not "6~" typed into the filter.
        kind = read_char()
        if kind == "O":
            return char + kind + read_char()
        if kind != "[":
            return char + kind
        sequence = char + kind
        while True:
            final = read_char()
            sequence += final
            if not final or "\x40" <= final <= "\x7e":
                return sequence

    tty_module.setcbreak(fd)
    try:
        yield read_key
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


class NonInteractivePrompter:
    """Used without a terminal: every question becomes an error naming what is missing."""

    interactive = False

    def __init__(self, *, mode: Literal["login", "credential-process"], profile: str) -> None:
        self.mode = mode
        self.profile = profile

    def notify(self, message: str) -> None:
        """Messages go to stderr (the AWS CLI shows it only on failure)."""
        sys.stderr.write(message + "\n")
        sys.stderr.flush()

    def ask(self, label: str, *, secret: bool = False, flag: str | None = None) -> str:
        """Fail: there is nobody to ask."""
        raise self.missing_input(label, flag=flag)

    def choose(self, title: str, options: list[str], *, flag: str | None = None) -> int:
        """Fail: there is nobody to choose."""
        raise self.missing_input(
            f"{title} ({len(options)} choices: {'; '.join(options)})", flag=flag
        )

    def missing_input(self, what: str, *, flag: str | None = None) -> KeylessError:
        """Exit 4 naming ``keyless login`` under credential-process, else exit 2 naming ``flag``."""
        if self.mode == "credential-process":
            return LoginRequiredError(
                f"refreshing profile {self.profile!r} needs input and there is no terminal: {what}",
                fix=f"run `keyless login --profile {self.profile}` in a terminal",
            )
        hint = f"pass {flag}" if flag else "run it in a terminal"
        # `what` is a prompt ("Okta username", "Select a role (2 choices: ...)"): quote it
        # after the reason rather than build a sentence around it.
        return InputError(f"there is no terminal to ask for input: {what}", fix=hint)
