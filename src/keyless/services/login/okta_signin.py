"""The Okta Classic sign-in as a state machine: password, then MFA (TOTP, SMS, push).

Okta's ``/api/v1/authn`` transaction moves through statuses (Okta's
Authentication API reference, "Transaction state")::

    authn(username, password)
      ├── SUCCESS ─────────────────────────────────► sessionToken
      ├── MFA_REQUIRED ── pick a factor ──┬── totp/sms: verify(code) ──► SUCCESS
      │                                   │     (E0000068: a wrong code, up to 3 tries
      │                                   │      when a person types them)
      │                                   └── push: verify() ─► MFA_CHALLENGE (WAITING,
      │                                         maybe correctAnswer) ─ poll ─► SUCCESS
      │                                         | REJECTED | TIMEOUT
      └── anything else (LOCKED_OUT, PASSWORD_EXPIRED, ...) ──► an error with a fix

and the session token becomes an Okta session (``create_session``).
Everything it touches is a port (:mod:`keyless.core.ports`), so a test drives
every branch with a fake Okta in milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from keyless.core.okta import AuthnState, Factor, OktaSession
from keyless.core.ports import OktaApi, Prompter, SecretStore
from keyless.errors import DeniedError, InputError, KeylessError, RemoteError
from keyless.services.login.profiles import Settings

# How long a push may wait for an answer before keyless gives up (Okta's own
# push expires after five minutes).
PUSH_TIMEOUT = 300.0


@dataclass(frozen=True)
class LoginInputs:
    """What a person or a script hands to one login (never stored unless asked)."""

    password: str | None = field(default=None, repr=False)
    mfa_code: str | None = field(default=None, repr=False)
    remember_password: bool = False
    open_browser: bool = False  # the device flow's --open


def password_key(settings: Settings, username: str) -> str:
    """The secret-store key of a remembered Okta password."""
    return f"okta-password|{(settings.org_url or '').rstrip('/')}|{username}"


class OktaSignIn:
    """Signs in once with password and MFA; everything it needs is handed in."""

    def __init__(
        self,
        settings: Settings,
        okta: OktaApi,
        prompter: Prompter,
        secrets: SecretStore,
        inputs: LoginInputs,
        *,
        poll_interval: float,
        sleep: Callable[[float], None],
        monotonic: Callable[[], float],
    ) -> None:
        self.settings = settings
        self.okta = okta
        self.prompter = prompter
        self.secrets = secrets
        self.inputs = inputs
        self.poll_interval = poll_interval
        self.sleep = sleep
        self.monotonic = monotonic

    def run(self) -> OktaSession:
        username = self.settings.username or self.prompter.ask("Okta username", flag="--username")
        stored_password = self.secrets.get(password_key(self.settings, username))
        password = self.inputs.password or stored_password
        if not password:
            password = self.prompter.ask(
                f"Okta password for {username}", secret=True, flag="--password-stdin"
            )
        state = self.okta.authn(username, password)
        if self.inputs.remember_password and password != stored_password:
            self.secrets.set(password_key(self.settings, username), password)
        if state.status == "MFA_REQUIRED":
            state = self._mfa(state)
        if state.status != "SUCCESS" or not state.session_token:
            raise RemoteError(
                f"Okta ended the sign-in with status {state.status or 'none'}",
                fix="sign in once on the Okta web page to see what Okta asks for",
            )
        session = self.okta.create_session(state.session_token)
        if session.login is None:
            session = OktaSession(id=session.id, expires_at=session.expires_at, login=username)
        return session

    def verify_step_up(self, state: AuthnState) -> AuthnState:
        """An app's step-up (``MFA_REQUIRED`` with ``SESSION_STEP_UP``): the same factor
        verification as a sign-in."""
        return self._mfa(state)

    def _pick_factor(self, factors: tuple[Factor, ...]) -> Factor:
        supported = [factor for factor in factors if factor.kind in ("totp", "push", "sms")]
        enrolled = ", ".join(factor.describe() for factor in factors) or "none"
        if not supported:
            raise DeniedError(
                f"none of the MFA factors enrolled ({enrolled}) can be used from a CLI",
                fix="enrol Okta Verify (push or code), Google Authenticator or SMS in Okta",
            )
        wanted = self.settings.mfa_factor
        if wanted is None and self.inputs.mfa_code:
            wanted = "totp" if any(f.kind == "totp" for f in supported) else "sms"
        if wanted:
            matching = [factor for factor in supported if factor.kind == wanted]
            if not matching:
                raise InputError(
                    f"no {wanted} MFA factor is enrolled (enrolled: {enrolled})",
                    fix="pick another with --mfa-factor push|totp|sms",
                )
            return matching[0]
        if len(supported) == 1:
            return supported[0]
        labels = [factor.describe() for factor in supported]
        return supported[self.prompter.choose("Choose an MFA factor", labels, flag="--mfa-factor")]

    def _mfa(self, state: AuthnState) -> AuthnState:
        if not self.prompter.interactive and not (
            self.inputs.mfa_code or self.settings.mfa_factor == "push"
        ):
            raise self._missing_mfa()
        factor = self._pick_factor(state.factors)
        assert state.state_token is not None
        if factor.kind == "push":
            return self._push(factor, state.state_token)
        if factor.kind == "sms":
            self.okta.verify(factor, state.state_token)  # sends the text message
            self.prompter.notify(f"Okta sent a code by {factor.describe()}.")
        attempts = 1 if self.inputs.mfa_code or not self.prompter.interactive else 3
        for attempt in range(attempts):
            code = self.inputs.mfa_code or self.prompter.ask(
                f"Code from {factor.describe()}", flag="--mfa-code"
            )
            try:
                return self.okta.verify(factor, state.state_token, code.strip())
            except DeniedError as error:
                if attempt + 1 == attempts or "E0000068" not in error.message:
                    raise
                self.prompter.notify("That code was not accepted; try the next one.")
        raise AssertionError("unreachable")

    def _missing_mfa(self) -> KeylessError:
        # The prompter decides what missing input means (exit 2 or 4), not this class.
        return self.prompter.missing_input(
            f"Okta asks profile {self.settings.profile!r} for MFA",
            flag="--mfa-code CODE, or --mfa-factor push",
        )

    def _push(self, factor: Factor, state_token: str) -> AuthnState:
        state = self.okta.verify(factor, state_token)
        deadline = self.monotonic() + PUSH_TIMEOUT
        shown_number = False
        self.prompter.notify("Okta Verify: push sent; approve it on your phone.")
        while True:
            if state.correct_answer and not shown_number:
                self.prompter.notify(
                    f"Okta Verify: tap {state.correct_answer} on your phone to approve."
                )
                shown_number = True
            if state.status == "SUCCESS":
                return state
            result = state.factor_result or ""
            if result == "REJECTED":
                raise DeniedError(
                    "the Okta Verify push was rejected on the phone",
                    fix="run `keyless login` again and approve the push (or pick another factor)",
                )
            if result in ("TIMEOUT", "TIME_WINDOW_EXCEEDED") or self.monotonic() > deadline:
                raise DeniedError(
                    "the Okta Verify push timed out without an answer",
                    fix="run `keyless login` again and approve the push within a few minutes",
                )
            if state.status != "MFA_CHALLENGE" or not state.poll_url:
                raise RemoteError(
                    f"Okta answered the push with status {state.status} ({result})",
                    fix="retry, or pick another factor with --mfa-factor",
                )
            self.sleep(self.poll_interval)
            state = self.okta.poll(state.poll_url, state_token)
