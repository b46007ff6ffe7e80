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
    ├── RemoteError                  exit 5: a service could not be reached
    │   │                            or answered nonsense
    │   └── UnreachableError         no answer at all: refused, DNS, TLS, timeout
    ├── LoginRequiredError           exit 4: a refresh needs a person and there
    │                                is no terminal (credential-process)
    └── LabError                     the embedded lab cannot start or is busy

Every exit code keyless uses is an ``EXIT_*`` constant here, and nowhere else;
the README's table lists the same codes (``tests/cli/test_exit_codes.py`` checks).
Each code means one thing, so a pipeline can act on it: in particular "changes
pending" (3) is never also "AWS could not be reached" (5), or a CI job that
applies on 3 would apply during an outage.
"""

from __future__ import annotations

EXIT_OK = 0  # os.EX_OK: credential-process's cached answer returns that, not importing this
EXIT_FINDING = 1  # a finding or denial the user asked about
EXIT_USAGE = 2  # usage error or bad input
# `plan --detailed-exitcode`: changes are pending. Terraform uses 2 for this, but 2 is
# usage here (as for every click/typer CLI), so keyless uses the next free code.
EXIT_CHANGES = 3
EXIT_LOGIN_REQUIRED = 4  # `credential-process` needs a person and has no terminal
EXIT_REMOTE = 5  # a service could not be reached or answered something unusable
EXIT_INTERRUPTED = 130  # Ctrl-C / an aborted prompt: 128 + SIGINT, as shells report it


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


class UnreachableError(RemoteError):
    """A service gave no answer at all: connection refused, DNS, TLS, proxy or timeout.

    Every HTTP client keyless builds maps its transport failures to this one
    error (:func:`keyless.adapters.http.unreachable`).
    """


class LoginRequiredError(KeylessError):
    """A refresh needs a person (a password, a code, a choice) and there is no terminal."""

    exit_code = EXIT_LOGIN_REQUIRED


class LabError(KeylessError):
    """The embedded lab cannot start, is busy, or is not running."""


def explain(error: Exception) -> tuple[str, str | None]:
    """What a failed step tells a person, and the fix (None: the caller names its own).

    A :class:`KeylessError` explains itself; anything else is a bug, named by its
    type so that callers that contain failures (one account, one org) still report
    it. Adapters put their own services' errors in front of this
    (:func:`keyless.adapters.aws.explain_error_and_fix`).
    """
    if isinstance(error, KeylessError):
        return error.message, error.fix
    return f"unexpected {type(error).__name__}: {error}", None
