"""The ports of the login side: what the services need from the outside world.

Each is a :class:`typing.Protocol`, so an adapter (or a test's fake) fits by
shape without importing this module::

    Prompter          a person: notify, ask, choose; and what to raise when
                      there is nobody to ask (keyless.adapters.terminal)
    SecretStore       small secrets by key: the Okta session, a remembered
                      password (keyless.adapters.secrets)
    CredentialStore   the per-profile credential cache
                      (keyless.adapters.credential_cache)
    OktaApi           Okta's Classic authentication API and the app's page
                      (keyless.adapters.okta)
    StsApi            AssumeRoleWithSAML (keyless.adapters.sts)
    CredentialProvider anything that produces fresh credentials
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from keyless.core.credentials import AwsCredentials
from keyless.core.okta import AuthnState, Factor, OktaSession
from keyless.errors import KeylessError


class Prompter(Protocol):
    """How a service talks to a person."""

    @property
    def interactive(self) -> bool:
        """Whether a person can answer (False: every question fails)."""
        ...

    def notify(self, message: str) -> None:
        """Tell the person something (progress, the push number)."""
        ...

    def ask(self, label: str, *, secret: bool = False, flag: str | None = None) -> str:
        """Ask for a value; ``flag`` names the option that provides it non-interactively."""
        ...

    def choose(self, title: str, options: list[str], *, flag: str | None = None) -> int:
        """Pick one of ``options``; returns its index."""
        ...

    def missing_input(self, what: str, *, flag: str | None = None) -> KeylessError:
        """The error for input that is needed and cannot be asked for here.

        The prompter decides what that means: for ``keyless login`` a usage
        error naming ``flag`` (exit 2); for ``credential-process`` a
        :class:`~keyless.errors.LoginRequiredError` naming the login command
        (exit 4). Services raise what it returns and never decide it themselves.
        """
        ...


class SecretStore(Protocol):
    """A place to keep small secrets by key."""

    @property
    def description(self) -> str:
        """Where the secrets go, for messages."""
        ...

    def get(self, key: str) -> str | None:
        """The secret stored under ``key``, or None."""
        ...

    def set(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``."""
        ...

    def delete(self, key: str) -> None:
        """Forget ``key`` (no error when absent)."""
        ...


class CredentialStore(Protocol):
    """The per-profile credential cache that ``credential-process`` answers from."""

    def load(self, profile: str) -> AwsCredentials | None:
        """The cached credentials of ``profile``, or None."""
        ...

    def store(self, profile: str, credentials: AwsCredentials) -> None:
        """Cache ``credentials`` for ``profile``."""
        ...


class OktaApi(Protocol):
    """The Okta calls a CLI sign-in makes (Classic authentication API, the app's page)."""

    def authn(self, username: str, password: str) -> AuthnState:
        """``POST /api/v1/authn``."""
        ...

    def verify(self, factor: Factor, state_token: str, pass_code: str | None = None) -> AuthnState:
        """Verify (or, for push and SMS, start) ``factor``."""
        ...

    def poll(self, poll_url: str, state_token: str) -> AuthnState:
        """Poll a push challenge through its ``next`` link."""
        ...

    def create_session(self, session_token: str) -> OktaSession:
        """Trade the one-time session token for a session."""
        ...

    def app_page(self, app_url: str, session_id: str) -> str:
        """The AWS app's page as the session sees it (HTML)."""
        ...

    def resume(self, state_token: str) -> AuthnState:
        """``POST /api/v1/authn {stateToken}``: a transaction Okta started (an app's step-up)."""
        ...

    def refresh_session(self, session_id: str) -> OktaSession | None:
        """Extend the session; None when it has already ended."""
        ...


class StsError(Exception):
    """AWS STS answered with an error (``code`` and ``message`` as AWS sent them)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class StsApi(Protocol):
    """``AssumeRoleWithSAML`` against one STS endpoint."""

    def assume_role_with_saml(
        self, *, role_arn: str, principal_arn: str, saml_assertion: str, duration_seconds: int
    ) -> AwsCredentials:
        """Credentials for the role; raises :class:`StsError` for AWS's refusals and
        :class:`~keyless.errors.RemoteError` when STS cannot be reached."""
        ...


# (region, endpoint URL or None for AWS's own) -> a client for that endpoint
StsFactory = Callable[[str, str | None], StsApi]


class CredentialProvider(Protocol):
    """Anything that can produce fresh credentials."""

    def retrieve(self) -> AwsCredentials:
        """New credentials (may sign in)."""
        ...
