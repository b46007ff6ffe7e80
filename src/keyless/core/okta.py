"""What an Okta Classic sign-in is made of: factors, transaction states, sessions.

Plain values shared by the Okta client (:mod:`keyless.adapters.okta`, which
builds them from Okta's JSON) and the sign-in state machine
(:mod:`keyless.services.login.okta_signin`, which acts on them). Standard library only.
Field meanings follow Okta's Authentication API reference (``/api/v1/authn``
transaction model: ``status``, ``stateToken``, ``_embedded.factors``,
``factorResult``, ``_links.next``, ``correctAnswer``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Factor:
    """One MFA factor the user is enrolled in."""

    id: str
    factor_type: str  # "token:software:totp", "push", "sms", ...
    provider: str  # "OKTA", "GOOGLE", ...
    verify_url: str
    profile: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """``totp``, ``push``, ``sms`` or the raw Okta factor type."""
        if self.factor_type in ("token:software:totp", "token:hotp", "token:hardware"):
            return "totp"
        return self.factor_type

    def describe(self) -> str:
        """A name a person recognises, e.g. ``Okta Verify push`` or ``SMS to +1 XXX-XXX-1234``."""
        if self.kind == "push":
            return "Okta Verify push"
        if self.kind == "sms":
            phone = self.profile.get("phoneNumber")
            return f"SMS to {phone}" if phone else "SMS"
        if self.kind == "totp":
            return "Google Authenticator" if self.provider == "GOOGLE" else "Okta Verify"
        return f"{self.factor_type} ({self.provider})"


@dataclass(frozen=True)
class AuthnState:
    """Where an authentication transaction stands after one call."""

    status: str  # SUCCESS, MFA_REQUIRED, MFA_CHALLENGE, LOCKED_OUT, PASSWORD_EXPIRED, ...
    state_token: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    factors: tuple[Factor, ...] = ()
    factor_result: str | None = None  # WAITING, REJECTED, TIMEOUT, ... during a push
    poll_url: str | None = None
    correct_answer: str | None = None  # Okta Verify number challenge
    login: str | None = None
    # SUCCESS of an app step-up: no sessionToken, ``_links.next`` back to the app.
    next_url: str | None = None


@dataclass(frozen=True)
class OktaSession:
    """An Okta session: ``id`` is the ``sid`` cookie value (a bearer secret, kept out of repr)."""

    id: str = field(repr=False)
    expires_at: datetime
    login: str | None = None


class StepUpRedirect(Exception):
    """The AWS app answered its step-up as a redirect carrying the transaction's
    ``stateToken`` (internal: the caller verifies a factor and resumes it), rather
    than as a page holding it; gimme-aws-creds handles both
    (gimme_aws_creds/okta_classic.py, ``get_saml_response``)."""

    def __init__(self, state_token: str) -> None:
        super().__init__("step-up redirect")
        self.state_token = state_token


class SessionExpiredError(Exception):
    """The kept Okta session is no longer valid (internal: the caller signs in again)."""
