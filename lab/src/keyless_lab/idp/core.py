"""The lab IdP's state and rules, apart from HTTP: sign-in transactions, sessions,
lockout, rate limits, the audit log and the SAML assertions it issues.

The HTTP layers (:mod:`keyless_lab.idp.api` for Okta's JSON APIs,
:mod:`keyless_lab.idp.web` for the pages) call into one :class:`Idp`.
Transactions, session tokens and sessions live in memory, as short-lived as
Okta's; users, groups and enrolments live in the :class:`Directory`, which
the CLI may change at any time, so every use re-reads the user.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import anyio
import pyotp

from keyless.spec.model import FederationSpec
from keyless_lab.idp import awsapp
from keyless_lab.idp.appstate import AppState
from keyless_lab.idp.directory import Directory, Factor, User
from keyless_lab.saml.attributes import AWS_AUDIENCE, AWS_SIGNIN_URL, RolePair
from keyless_lab.saml.build import build_response
from keyless_lab.saml.keys import SigningKey

if TYPE_CHECKING:
    from keyless_lab.idp.oidc import AuthorizationServer

SignWhat = Literal["both", "assertion", "response"]
# Okta's two engines: Classic (``pipeline: v1``) and Identity Engine (``pipeline: idx``),
# as ``/.well-known/okta-organization`` tells them apart.
Engine = Literal["classic", "oie"]
# The AWS app's own sign-on policy: none; MFA once per session; MFA at every sign-on.
AppPolicy = Literal["none", "mfa", "mfa_every_time"]
ENGINES: tuple[Engine, ...] = ("classic", "oie")
APP_POLICIES: tuple[AppPolicy, ...] = ("none", "mfa", "mfa_every_time")
AppDevice = Literal["any", "registered", "managed"]
StepUpStyle = Literal["page", "redirect"]


@dataclass(frozen=True)
class IdpSettings:
    """What an operator may tune; the defaults are Okta's."""

    lockout_threshold: int = 10
    # Requests per minute and client address, per bucket: Okta limits /api/v1/authn and
    # /oauth2/v1/token each on their own, apart from the rest of the API (Okta, "Rate
    # limits", https://developer.okta.com/docs/reference/rl-global-mgmt/ and
    # https://developer.okta.com/docs/reference/rl2-limits/).
    rate_limit_authn: int = 1200
    rate_limit_token: int = 2000
    rate_limit_other: int = 2400
    sign: SignWhat = "both"
    recipient: str = AWS_SIGNIN_URL
    audience: str = AWS_AUDIENCE
    transaction_lifetime: timedelta = timedelta(minutes=5)
    session_lifetime: timedelta = timedelta(hours=2)
    assertion_lifetime: timedelta = timedelta(minutes=5)
    push_timeout: float = 300.0
    org_name: str = "keyless-lab"
    # The sign-on policy's "remember device" (Okta: a rule's factor lifetime "per
    # device"): off by default, as in a new org. When on, ``rememberDevice=true`` on
    # a factor verify lets the next sign-in from the same device token (the DT
    # cookie) skip MFA for ``remember_device_lifetime``; ``policy.allowRememberDevice``
    # in MFA_REQUIRED says which.
    allow_remember_device: bool = False
    remember_device_lifetime: timedelta = timedelta(hours=12)
    engine: Engine = "classic"
    app_policy: AppPolicy = "none"
    # The AWS app's authentication policy rule's device condition (Identity Engine):
    # "any" (Device State: Any), "registered" or "managed". A token exchange carries no
    # device, so only "any" lets a CLI through (okta/okta-aws-cli README, "Authentication
    # policy": Device State "must be set to Any for using Okta AWS CLI").
    app_device: AppDevice = "any"
    # How Classic answers an app step-up: its Extra Verification "page", or a "redirect"
    # to /login/step-up/redirect?stateToken=... (which then shows the page), as
    # gimme-aws-creds handles both (gimme_aws_creds/okta_classic.py,
    # _extract_state_token_from_http_response).
    step_up_style: StepUpStyle = "page"
    # The CLIs' native app's grant types. okta-aws-cli's README: "The OIDC Native
    # Application requires Grant Types Authorization Code, Device Authorization, and
    # Token Exchange".
    native_app_grant_types: tuple[str, ...] = (
        "authorization_code",
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    )
    # Native to Web SSO (interclient tokens) offered by the org (Okta: Early Access, off
    # until enabled, https://developer.okta.com/docs/guides/native-to-web-sso/main/).
    native_to_web_sso: bool = False
    # The device authorization grant: Okta answers expires_in 600 and interval 5.
    device_code_lifetime: timedelta = timedelta(minutes=10)
    device_poll_interval: int = 5
    # Okta's org authorization server: access and ID tokens live an hour.
    token_lifetime: timedelta = timedelta(hours=1)


def _token(prefix: str, length: int) -> str:
    return prefix + secrets.token_urlsafe(length)[:length]


@dataclass
class Transaction:
    """An authentication transaction (Okta's ``stateToken``)."""

    state_token: str
    user_id: str
    status: str  # MFA_REQUIRED, MFA_CHALLENGE, MFA_ENROLL
    expires: datetime
    password_at: datetime
    factor_id: str | None = None
    push_id: str | None = None
    sms_code: str | None = field(default=None, repr=False)
    device_token: str | None = field(default=None, repr=False)  # the client's DT
    # "api" for /api/v1/authn, "web" for the sign-in page: the web sign-in is the
    # one an Identity Engine org runs through its own pipeline (idx).
    via: str = "api"
    # LOGIN, or SESSION_STEP_UP for an app's extra verification of a live session.
    kind: str = "LOGIN"
    session_id: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class SessionToken:
    """A one-time ``sessionToken``: proof of a finished sign-in, redeemed for a session."""

    user_id: str
    expires: datetime
    password_at: datetime
    factor_at: datetime | None
    amr: tuple[str, ...]
    device_token: str | None = None
    via: str = "api"


@dataclass
class Session:
    """An Okta session (the ``sid`` cookie)."""

    id: str
    user_id: str
    created: datetime
    expires: datetime
    password_at: datetime
    factor_at: datetime | None
    amr: tuple[str, ...]
    device_token: str
    via: str = "api"
    # A Classic app step-up passed for this session (one sign-on's worth when the
    # app asks for MFA every time).
    step_up_at: datetime | None = None


@dataclass(frozen=True)
class IssuedAssertion:
    """A signed SAML Response and what the audit log records of it."""

    xml: bytes
    assertion_id: str
    roles: tuple[RolePair, ...]


class NoRoles(Exception):
    """The user may take no AWS role: Okta answers "not assigned", not an empty assertion."""


class RateLimiter:
    """Fixed one-minute windows per (bucket, client); answers Okta's three headers."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], tuple[int, int]] = {}

    def hit(self, bucket: str, client: str, limit: int) -> tuple[bool, dict[str, str]]:
        """Count one request; return whether it may proceed and the X-Rate-Limit headers."""
        now = self._clock()
        window = int(now // 60)
        reset = (window + 1) * 60
        with self._lock:
            start, count = self._windows.get((bucket, client), (window, 0))
            if start != window:
                count = 0
            count += 1
            self._windows[(bucket, client)] = (window, count)
            if len(self._windows) > 10000:
                self._windows = {k: v for k, v in self._windows.items() if v[0] == window}
        headers = {
            "X-Rate-Limit-Limit": str(limit),
            "X-Rate-Limit-Remaining": str(max(0, limit - count)),
            "X-Rate-Limit-Reset": str(reset),
        }
        return count <= limit, headers


class AuditLog:
    """Append-only JSON lines, one per authentication event and per assertion issued."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_APPEND: every record lands at the end even with several writers;
        # 0600 because it names people and where they signed in from.
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def write(self, event: str, **fields: Any) -> None:
        record = {"event": event, "time": datetime.now(UTC).isoformat(), **fields}
        line = (json.dumps(record, sort_keys=True) + "\n").encode()
        with self._lock:
            os.write(self._fd, line)

    def close(self) -> None:
        with self._lock:
            os.close(self._fd)


_ASSERTION_ID = re.compile(rb"<saml2:Assertion\b[^>]*?\sID=\"([^\"]+)\"")


class Idp:
    """The lab IdP: one Okta org holding one "AWS Account Federation" app."""

    def __init__(
        self,
        *,
        spec: FederationSpec,
        directory: Directory,
        key: SigningKey,
        audit: AuditLog,
        base_url: str,
        app_id: str,
        entity_id: str,
        settings: IdpSettings,
        sms_log: Path,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.spec = spec
        self.directory = directory
        self.key = key
        self.audit = audit
        self.base_url = base_url
        self.app_id = app_id
        self.entity_id = entity_id
        self.settings = settings
        self.sms_log = sms_log
        self.clock = clock
        self.idp_id = directory.meta_setdefault("idp_id", "00o" + app_id[3:])
        # The org authorization server (keyless_lab.idp.oidc), attached by the server.
        self.oauth: AuthorizationServer | None = None
        self.rate_limiter = RateLimiter()
        self._lock = threading.Lock()
        self._transactions: dict[str, Transaction] = {}
        self._session_tokens: dict[str, SessionToken] = {}
        self._sessions: dict[str, Session] = {}
        # (user id, device token) -> (when the factor was verified, until when remembered)
        self._remembered: dict[tuple[str, str], tuple[datetime, datetime]] = {}
        self._roles_cache: dict[tuple[frozenset[tuple[str, str]], int], tuple[RolePair, ...]] = {}
        # The AWS app's stored configuration, tokens and service apps (the management API's).
        self.appstate = AppState(directory, app_id)
        self._hash_limiter: anyio.CapacityLimiter | None = None

    def hash_limiter(self) -> anyio.CapacityLimiter:
        """Password checks run in threads, at most one per core: argon2 is memory-hard,
        and two hundred at once would thrash rather than finish sooner."""
        if self._hash_limiter is None:
            self._hash_limiter = anyio.CapacityLimiter(os.cpu_count() or 2)
        return self._hash_limiter

    # -- users ------------------------------------------------------------------

    def active_user(self, user_id: str) -> User | None:
        """The user, re-read, if still ACTIVE (the CLI may have locked or removed them)."""
        user = self.directory.get_user_by_id(user_id)
        return user if user is not None and user.status == "ACTIVE" else None

    def needs_mfa(self, user: User) -> list[Factor]:
        """The factors a sign-in must verify one of ([] when MFA is not asked)."""
        return self.directory.factors(user.id)

    # -- transactions -----------------------------------------------------------

    def new_transaction(
        self,
        user: User,
        status: str,
        *,
        device_token: str | None = None,
        via: str = "api",
        kind: str = "LOGIN",
        session: Session | None = None,
    ) -> Transaction:
        now = self.clock()
        transaction = Transaction(
            state_token=_token("00", 40),
            user_id=user.id,
            status=status,
            expires=now + self.settings.transaction_lifetime,
            password_at=session.password_at if session is not None else now,
            device_token=device_token,
            via=via,
            kind=kind,
            session_id=session.id if session is not None else None,
        )
        with self._lock:
            self._prune(now)
            self._transactions[transaction.state_token] = transaction
        return transaction

    def transaction(self, state_token: object) -> Transaction | None:
        if not isinstance(state_token, str):
            return None
        with self._lock:
            transaction = self._transactions.get(state_token)
        if transaction is None or transaction.expires <= self.clock():
            return None
        return transaction

    def finish(
        self, transaction: Transaction, *, factor: Factor | None, remember_device: bool = False
    ) -> str:
        """End a transaction successfully; return the one-time ``sessionToken``.

        ``remember_device`` (the verify call's ``rememberDevice=true``) remembers the
        transaction's device token for this user, if the policy allows it.
        """
        now = self.clock()
        amr: tuple[str, ...] = ("pwd",)
        if factor is not None:
            amr = ("pwd", "swk", "mfa") if factor.factor_type == "push" else ("pwd", "otp", "mfa")
        device = transaction.device_token
        with self._lock:
            self._transactions.pop(transaction.state_token, None)
            if remember_device and factor and device and self.settings.allow_remember_device:
                until = now + self.settings.remember_device_lifetime
                self._remembered[(transaction.user_id, device)] = (now, until)
        return self.mint_session_token(
            transaction.user_id,
            password_at=transaction.password_at,
            factor_at=now if factor else None,
            amr=amr,
            device_token=device,
            via=transaction.via,
        )

    def remembered_factor(self, user: User, device_token: str | None) -> datetime | None:
        """When this device last verified a factor for ``user`` and asked to be
        remembered, if the policy allows it and that is still within its lifetime."""
        if not self.settings.allow_remember_device or not device_token:
            return None
        now = self.clock()
        with self._lock:
            found = self._remembered.get((user.id, device_token))
            if found is not None and found[1] <= now:
                del self._remembered[(user.id, device_token)]
                found = None
        return found[0] if found else None

    def cancel(self, transaction: Transaction) -> None:
        with self._lock:
            self._transactions.pop(transaction.state_token, None)

    def mint_session_token(
        self,
        user_id: str,
        *,
        password_at: datetime,
        factor_at: datetime | None,
        amr: tuple[str, ...],
        device_token: str | None = None,
        via: str = "api",
    ) -> str:
        token = _token("20111", 50)
        with self._lock:
            self._session_tokens[token] = SessionToken(
                user_id=user_id,
                expires=self.clock() + self.settings.transaction_lifetime,
                password_at=password_at,
                factor_at=factor_at,
                amr=amr,
                device_token=device_token,
                via=via,
            )
        return token

    def check_totp(self, factor: Factor, code: str) -> bool:
        """A TOTP code of the current, previous or next 30 s step, not used before."""
        # ASCII digits only: str.isdigit() accepts "١٢٣٤٥٦", which compare_digest refuses
        # with a TypeError (a 500 for a typo'd passcode).
        if factor.secret is None or not (code.isascii() and code.isdigit() and len(code) == 6):
            return False
        totp = pyotp.TOTP(factor.secret)
        now = self.clock()
        step_now = int(now.timestamp()) // totp.interval
        for step in (step_now, step_now - 1, step_now + 1):
            expected = totp.at(step * totp.interval)
            if secrets.compare_digest(expected, code):
                # Replay: the same code (or an older one) is refused once used.
                return self.directory.claim_totp_step(factor.id, step)
        return False

    def send_sms(self, transaction: Transaction, user: User) -> None:
        """ "Send" an SMS code: the lab writes it to its SMS log (mode 0600)."""
        code = f"{secrets.randbelow(10**6):06d}"
        transaction.sms_code = code
        record = {"time": iso_now(), "login": user.login, "to": user.phone, "code": code}
        fd = os.open(self.sms_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, (json.dumps(record) + "\n").encode())
        finally:
            os.close(fd)

    # -- sessions ---------------------------------------------------------------

    def redeem(self, session_token: object) -> Session | None:
        """Turn a one-time ``sessionToken`` into a session (None if unknown, used or expired)."""
        if not isinstance(session_token, str):
            return None
        now = self.clock()
        with self._lock:
            token = self._session_tokens.pop(session_token, None)
        if token is None or token.expires <= now or self.active_user(token.user_id) is None:
            return None
        session = Session(
            id=_token("102", 22),
            user_id=token.user_id,
            created=now,
            expires=now + self.settings.session_lifetime,
            password_at=token.password_at,
            factor_at=token.factor_at,
            amr=token.amr,
            # The device the sign-in came from keeps its token; a sign-in that
            # brought none (the lab's own pages) gets a fresh one.
            device_token=token.device_token or new_device_token(),
            via=token.via,
        )
        with self._lock:
            self._sessions[session.id] = session
        return session

    def session(self, session_id: str | None) -> tuple[Session, User] | None:
        """The live session ``session_id`` and its user (re-read; None when either is gone)."""
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
        if session is None or session.expires <= self.clock():
            return None
        user = self.active_user(session.user_id)
        if user is None:
            self.end_session(session.id)
            return None
        return session, user

    def refresh(self, session: Session) -> None:
        session.expires = self.clock() + self.settings.session_lifetime

    def end_session(self, session_id: str) -> bool:
        with self._lock:
            return self._sessions.pop(session_id, None) is not None

    def end_user_sessions(self, user_id: str) -> int:
        """End every session of a user (``DELETE /api/v1/users/{id}/sessions``); how many."""
        with self._lock:
            ended = [k for k, v in self._sessions.items() if v.user_id == user_id]
            for session_id in ended:
                del self._sessions[session_id]
        return len(ended)

    def forget_devices(self, user_id: str) -> int:
        """Forget every device ``user_id`` asked to have remembered; how many."""
        with self._lock:
            gone = [key for key in self._remembered if key[0] == user_id]
            for key in gone:
                del self._remembered[key]
        return len(gone)

    def _prune(self, now: datetime) -> None:
        # Called under the lock on every new transaction: keeps memory bounded.
        if len(self._transactions) + len(self._session_tokens) < 5000:
            return
        self._transactions = {k: v for k, v in self._transactions.items() if v.expires > now}
        self._session_tokens = {k: v for k, v in self._session_tokens.items() if v.expires > now}
        self._sessions = {k: v for k, v in self._sessions.items() if v.expires > now}
        self._remembered = {k: v for k, v in self._remembered.items() if v[1] > now}

    # -- the AWS app ----------------------------------------------------------------

    def roles_for(self, user: User) -> tuple[RolePair, ...]:
        """The (role, provider) pairs the AWS app grants the user's groups, no repeats.

        Read from the app's settings and group assignments as stored through the
        management API (see :mod:`keyless_lab.idp.awsapp`), as Okta's app does.
        """
        member_of = self.appstate.with_rules(self.directory.user_group_ids(user.id))
        key = (frozenset(member_of.items()), self.appstate.version)
        cached = self._roles_cache.get(key)
        if cached is not None:
            return cached
        snapshot = self.appstate.snapshot()
        pairs = awsapp.app_roles(self.spec, snapshot.settings, snapshot.assignments, member_of)
        if len(self._roles_cache) > 10000:
            self._roles_cache.clear()
        self._roles_cache[key] = pairs
        return pairs

    def user_profile(self, user: User) -> dict[str, str]:
        """The Okta profile attributes app expressions read: ``login`` and ``email`` (the
        lab's users' email is their login, as the Users API shows it)."""
        return {"login": user.login, "email": user.login}

    def session_duration(self) -> int:
        """The app's ``sessionDuration`` (Okta's default, 3600, while unconfigured)."""
        return awsapp.session_duration(self.appstate.snapshot().settings)

    def issue_assertion(self, user: User, *, client: str, via: str) -> IssuedAssertion:
        """Sign a SAML Response for the AWS app and write it to the audit log.

        Raises :class:`NoRoles` when the user may take no role.
        """
        roles = self.roles_for(user)
        if not roles:
            self.audit.write("no_roles", login=user.login, ip=client, app_id=self.app_id, via=via)
            raise NoRoles(user.login)
        settings = self.settings
        snapshot = self.appstate.snapshot()
        profile = self.user_profile(user)
        app_username = awsapp.app_username(snapshot.username_template, profile)
        xml = build_response(
            key=self.key,
            issuer=self.entity_id,
            subject=user.login,
            roles=roles,
            session_name=awsapp.role_session_name(app_username),
            source_identity=awsapp.source_identity(snapshot.attribute_statements, profile),
            now=self.clock(),
            recipient=settings.recipient,
            audience=settings.audience,
            session_duration=self.session_duration(),
            principal_tags=user.attributes or None,
            lifetime=settings.assertion_lifetime,
            sign_assertion=settings.sign in ("both", "assertion"),
            sign_response=settings.sign in ("both", "response"),
        )
        match = _ASSERTION_ID.search(xml)
        assertion_id = match.group(1).decode() if match else ""
        self.audit.write(
            "assertion",
            login=user.login,
            ip=client,
            app_id=self.app_id,
            assertion_id=assertion_id,
            roles=[pair.role_arn for pair in roles],
            session_name=app_username,
            recipient=settings.recipient,
            session_duration=self.session_duration(),
            via=via,
        )
        return IssuedAssertion(xml=xml, assertion_id=assertion_id, roles=roles)


def new_device_token() -> str:
    """A fresh ``DT`` value: 192 random bits."""
    return secrets.token_urlsafe(24)


def iso_now() -> str:
    return datetime.now(UTC).isoformat()
