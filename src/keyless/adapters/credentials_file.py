"""Read, modify and write ``~/.aws/credentials`` and ``~/.aws/config`` without losing anything.

:mod:`configparser` would drop every comment and reorder nothing-we-own, so
this is a small line-based editor: it parses the file into sections of raw
lines, changes only the keys of the sections it is asked to change, and
writes every other byte back as it was. The grammar is the one botocore
accepts (``[section]``, ``key = value`` or ``key: value``, ``#``/``;``
comments, indented continuation lines for nested settings such as ``s3 =``).

A file that botocore could not read either (a line that is none of those, a
key before any section, a section twice) is a
:class:`~keyless.errors.ConfigError` naming the file and line, and the file
is left untouched: keyless never "repairs" a file it does not understand.

Writes happen under a :class:`~keyless.adapters.locks.FileLock` and go to a
temporary file created ``0600`` with ``O_EXCL`` in the same directory, then
``os.replace`` it, so a reader sees the old file or the new one, never half.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from keyless.adapters.locks import FileLock, lock_path_for
from keyless.core import paths
from keyless.core.aws import ca_bundle_for
from keyless.core.credentials import AwsCredentials
from keyless.errors import ConfigError, InputError
from keyless.files import write_atomic

_HEADER = re.compile(r"^\[(?P<name>[^\]]*)\]\s*([#;].*)?$")
_KEY = re.compile(r"^(?P<key>[^=:\s\[#;][^=:]*?)\s*[=:]\s*(?P<value>.*?)\s*$")
_COMMENT_PREFIXES = ("#", ";")
_SAFE_KEY = re.compile(r"[A-Za-z0-9_.-]+")
# The key that marks a section keyless wrote, naming the keyless profile it wrote it for:
# `keyless logout` removes only sections that carry it (never a person's own profile).
KEYLESS_MARKER = "x_keyless_profile"


@dataclass
class _Section:
    name: str
    lines: list[str] = field(default_factory=list)  # raw lines after the header, with newlines
    header: str = ""


@dataclass
class IniDocument:
    """A parsed AWS INI file that renders back byte-for-byte except where it was changed."""

    preamble: list[str] = field(default_factory=list)
    sections: list[_Section] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str, *, source: str = "<text>") -> IniDocument:
        """Parse ``text``; a line botocore rejects raises ConfigError naming source and line."""
        doc = cls()
        current: _Section | None = None
        seen: set[str] = set()
        in_key = False
        for number, line in enumerate(text.splitlines(keepends=True), start=1):
            stripped = line.strip()
            target = doc.preamble if current is None else current.lines
            if not stripped or stripped.startswith(_COMMENT_PREFIXES):
                target.append(line)
                continue
            if line[0] in " \t":
                if not in_key:
                    raise _corrupt(source, number, "an indented line that continues no setting")
                target.append(line)
                continue
            header = _HEADER.match(stripped)
            if header:
                name = header["name"].strip()
                if not name:
                    raise _corrupt(source, number, "a section with an empty name")
                if name in seen:
                    raise _corrupt(source, number, f"section [{name}] appears a second time")
                seen.add(name)
                current = _Section(name=name, header=line)
                doc.sections.append(current)
                in_key = False
                continue
            if stripped.startswith("["):
                raise _corrupt(source, number, "a section header without its closing ']'")
            if _KEY.match(stripped):
                if current is None:
                    raise _corrupt(source, number, "a setting before any [section]")
                target.append(line)
                in_key = True
                continue
            raise _corrupt(source, number, "a line that is not a [section], key = value or comment")
        return doc

    def render(self) -> str:
        """The file's text."""
        parts = list(self.preamble)
        for section in self.sections:
            if parts and not parts[-1].endswith("\n"):
                parts[-1] += "\n"
            parts.append(section.header if section.header else f"[{section.name}]\n")
            parts.extend(section.lines)
        text = "".join(parts)
        if text and not text.endswith("\n"):
            text += "\n"
        return text

    def section_names(self) -> list[str]:
        """Every section name, in file order."""
        return [section.name for section in self.sections]

    def _find(self, name: str) -> _Section | None:
        for section in self.sections:
            if section.name == name:
                return section
        return None

    def get(self, name: str) -> dict[str, str] | None:
        """The top-level keys of section ``name`` (None when absent)."""
        section = self._find(name)
        if section is None:
            return None
        values: dict[str, str] = {}
        for key, value, _ in _keys(section):
            values[key] = value
        return values

    def set(self, name: str, values: Mapping[str, str | None]) -> None:
        """Set keys of section ``name`` (created at the end if missing); a None value removes a key.

        Existing keys are changed in place, so comments and other keys in the
        section stay where they were. A name, key or value that would not stay
        on its own line (a newline, a ``]`` in a name) is an InputError.
        """
        check_profile_name(name)
        for key, value in values.items():
            if not _SAFE_KEY.fullmatch(key):
                raise InputError(
                    f"{key!r} cannot be a key in an AWS INI file",
                    fix="use letters, digits, '-', '_' and '.'",
                )
            if value is not None and not value.isprintable():
                raise InputError(
                    f"the value of {key} in [{name}] holds a line break or control character",
                    fix="remove it: AWS INI values are one line",
                )
        section = self._find(name)
        if section is None:
            if all(value is None for value in values.values()):
                return
            section = _Section(name=name)
            if self.sections or self.preamble:
                # A blank line between sections, as people write them.
                tail = self.sections[-1].lines if self.sections else self.preamble
                if tail and not tail[-1].endswith("\n"):
                    tail[-1] += "\n"
                if not tail or tail[-1].strip():
                    tail.append("\n")
            self.sections.append(section)
        pending = dict(values)
        kept: list[str] = []
        skipping = False
        for line in section.lines:
            stripped = line.strip()
            if skipping and line[:1] in (" ", "\t") and stripped:
                continue  # continuation of a key we replaced or removed
            skipping = False
            match = _KEY.match(stripped) if line[:1] not in (" ", "\t") else None
            if match and match["key"] in pending:
                new = pending.pop(match["key"])
                skipping = True
                if new is not None:
                    kept.append(f"{match['key']} = {new}\n")
                continue
            kept.append(line)
        additions = [f"{key} = {value}\n" for key, value in pending.items() if value is not None]
        if additions:
            # Insert after the last setting, before trailing blank lines/comments
            # that separate this section from the next one.
            index = len(kept)
            while index > 0 and not kept[index - 1].strip():
                index -= 1
            if index > 0 and not kept[index - 1].endswith("\n"):
                kept[index - 1] += "\n"
            kept[index:index] = additions
        section.lines = kept

    def remove(self, name: str) -> bool:
        """Remove section ``name`` with its lines; True when it was there."""
        section = self._find(name)
        if section is None:
            return False
        self.sections.remove(section)
        return True


def check_profile_name(name: str) -> None:
    """Raise InputError unless ``name`` can be an AWS INI section (and so a profile) name.

    A line break would add lines of its own to ``~/.aws/credentials`` or
    ``config`` (another ``[default]``, a ``credential_process``), and a ``]``
    would end the header early.
    """
    if not name or name != name.strip() or not name.isprintable() or "[" in name or "]" in name:
        raise InputError(
            f"{name!r} cannot be a profile name: no '[', ']', line breaks, control "
            "characters or surrounding spaces",
            fix="use letters, digits, '-', '_' and '.'",
        )


def _keys(section: _Section) -> Iterator[tuple[str, str, int]]:
    for index, line in enumerate(section.lines):
        if line[:1] in (" ", "\t"):
            continue
        match = _KEY.match(line.strip())
        if match:
            yield match["key"], match["value"], index


def _corrupt(source: str, line: int, problem: str) -> ConfigError:
    return ConfigError(
        f"{source}:{line}: {problem}; keyless left the file unchanged",
        fix=f"correct or remove line {line} of {source} (the AWS CLI cannot read it either)",
    )


def config_section(profile: str) -> str:
    """The ``~/.aws/config`` section name of a profile (``default`` has no prefix)."""
    return profile if profile == "default" else f"profile {profile}"


def aws_config_path() -> Path:
    """``AWS_CONFIG_FILE`` or ``~/.aws/config``."""
    return Path(paths.aws_config_file())


def aws_credentials_path() -> Path:
    """``AWS_SHARED_CREDENTIALS_FILE`` or ``~/.aws/credentials``."""
    return Path(paths.aws_credentials_file())


def read_ini(path: Path) -> IniDocument:
    """Parse ``path`` (an empty document when it does not exist)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return IniDocument()
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path} is not UTF-8 text; keyless left the file unchanged",
            fix=f"check {path}: it should be an AWS INI file",
        ) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", fix=f"check {path}") from exc
    return IniDocument.parse(text, source=str(path))


def update_ini(path: Path, change: Callable[[IniDocument], None], *, mode: int = 0o600) -> None:
    """Apply ``change`` to the file at ``path`` under its lock, writing it atomically.

    A corrupt file raises ConfigError before anything is written.
    """
    # Follow a symlink (dotfile managers link ~/.aws/credentials) so the link
    # survives and its target is what gets replaced.
    real = Path(os.path.realpath(path))
    real.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with FileLock(lock_path_for(real)):
        before = read_ini(real)
        original = before.render() if real.exists() else ""
        change(before)
        text = before.render()
        if text == original and real.exists():
            return
        write_atomic(real, text.encode("utf-8"), mode=mode)


def write_credentials_profile(
    name: str,
    credentials: AwsCredentials,
    *,
    keyless_profile: str,
    region: str,
    endpoint_url: str | None = None,
    ca_bundle: str | None = None,
) -> None:
    """Write ``credentials`` as profile ``name`` in the shared credentials file (and its config).

    Refuses a profile that has ``credential_process`` in the config file:
    static keys in the credentials file take precedence over
    credential_process and would shadow it once they expire.
    """
    config_file = aws_config_path()
    existing = read_ini(config_file).get(config_section(name)) or {}
    if "credential_process" in existing:
        raise InputError(
            f"profile {name!r} uses credential_process in {config_file}; keyless will not "
            "write static credentials over it (they would shadow it once expired)",
            fix="pick another name with --write-profile",
        )
    values: dict[str, str | None] = {
        "aws_access_key_id": credentials.access_key_id,
        "aws_secret_access_key": credentials.secret_access_key,
        "aws_session_token": credentials.session_token,
        # gimme-aws-creds' key for the expiry, so tools that read it keep working.
        "x_security_token_expires": credentials.expiration_text,
        KEYLESS_MARKER: keyless_profile,
    }
    update_ini(aws_credentials_path(), lambda doc: doc.set(name, values))
    update_ini(
        config_file,
        lambda doc: doc.set(
            config_section(name), endpoint_settings(region, endpoint_url, ca_bundle)
        ),
    )


def endpoint_settings(
    region: str, endpoint_url: str | None, ca_bundle: str | None
) -> dict[str, str | None]:
    """A config-file profile's ``region``, ``endpoint_url`` and (for HTTPS) ``ca_bundle``."""
    values: dict[str, str | None] = {"region": region}
    if endpoint_url:
        values["endpoint_url"] = endpoint_url
        trusted = ca_bundle_for(endpoint_url, ca_bundle)
        if trusted:
            values["ca_bundle"] = trusted
    return values
