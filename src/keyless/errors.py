"""The errors keyless raises, and what each tells the user.

Every error keyless means a person to read derives from :class:`KeylessError`:
it carries a message saying what went wrong and where, and a ``fix`` saying
what to do about it. The CLI catches it once, prints both, and exits with the
error's ``exit_code``; ``--verbose`` adds the cause chain (``raise ... from``).

    KeylessError                     exit 2 unless a subclass says otherwise
    ├── InputError (ValueError)      bad input: a file, an option, a document
    │   ├── SpecError                the federation spec is invalid
    │   └── SamlInputError           a SAML document that cannot be read at all
    ├── ConfigError                  local configuration missing or broken
    ├── DeniedError                  exit 1: a refusal the user asked about
    │                                (an IdP or AWS said no)
    ├── RemoteError                  exit 3: a service could not be reached
    │                                or answered nonsense
    ├── LoginRequiredError           exit 4: a refresh needs a person and there
    │                                is no terminal (credential-process)
    └── LabError                     the embedded lab cannot start or is busy

Exit codes are documented in the README; keep the two in step.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDING = 1
EXIT_USAGE = 2
EXIT_REMOTE = 3
# credential-process needs a person: the AWS CLI shows our stderr and the user runs
# `keyless login`. Mirrored as a literal in keyless.credential_process (std lib only).
EXIT_LOGIN_REQUIRED = 4


class KeylessError(Exception):
    """Root of every error keyless reports to a person.

    ``message`` says what went wrong and where; ``fix`` says what to do next.
    """

    exit_code: int = EXIT_USAGE

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        if self.fix:
            return f"{self.message}\n  fix: {self.fix}"
        return self.message


class InputError(KeylessError, ValueError):
    """Input that keyless cannot use: an option, a file, a document."""


class SpecError(InputError):
    """The federation spec is invalid. ``problems`` lists every problem found."""

    def __init__(
        self, message: str, *, fix: str | None = None, problems: list[SpecProblem] | None = None
    ) -> None:
        super().__init__(message, fix=fix)
        self.problems: list[SpecProblem] = problems or []


class SpecProblem:
    """One problem in a spec file: where it is, what is wrong, how to fix it."""

    __slots__ = ("file", "fix", "line", "message", "path")

    def __init__(
        self, *, file: str, path: str, message: str, line: int | None = None, fix: str | None = None
    ) -> None:
        self.file = file
        self.path = path
        self.message = message
        self.line = line
        self.fix = fix

    def location(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.path}" if self.path else where

    def __str__(self) -> str:
        text = f"{self.location()}: {self.message}"
        if self.fix:
            text += f" (fix: {self.fix})"
        return text

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "path": self.path,
            "message": self.message,
            "fix": self.fix,
        }


class SamlInputError(InputError):
    """A SAML document or metadata that cannot be read at all (not a refusal)."""


class ConfigError(KeylessError):
    """Local configuration (profiles, credentials files) is missing or broken."""


class DeniedError(KeylessError):
    """An identity provider or AWS refused what the user asked for."""

    exit_code = EXIT_FINDING


class RemoteError(KeylessError):
    """A remote service could not be reached or answered something unusable."""

    exit_code = EXIT_REMOTE


class LoginRequiredError(KeylessError):
    """A refresh needs a person (a password, a code, a choice) and there is no terminal."""

    exit_code = EXIT_LOGIN_REQUIRED


class LabError(KeylessError):
    """The embedded lab cannot start, is busy, or is not running."""
