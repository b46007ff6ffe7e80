"""``keyless login``: Okta sign-in (or a kept session), the SAML assertion, AssumeRoleWithSAML.

The one entry point is :func:`login`; every piece of I/O is handed in (the
Okta client, an STS client factory, a clock, a prompter, a secret store), so
the same code runs against real Okta and AWS, the lab, and tests::

    result = login(settings, okta_client=okta, sts_factory=sts, clock=clock, prompter=prompter)

The flow:

1. a kept Okta session (keyring or 0600 file) opens the AWS app directly —
   nothing is asked; otherwise username + password (``/api/v1/authn``), MFA
   (TOTP, SMS, or Okta Verify push with its number challenge), and the new
   session is kept for the next time;
2. the app's page gives the ``SAMLResponse``; its roles are read (either
   order, ``provider,role`` or ``role,provider``) through keyless.saml's safe
   parser — the client does not verify the IdP's signature, AWS does;
3. a role is picked by ``--role``/``--account`` (alias from the spec, or id)
   or interactively;
4. ``AssumeRoleWithSAML`` with an unsigned STS client for the role's
   partition (or the configured endpoint), the duration capped by the
   assertion's ``SessionDuration`` and retried at the role's limit on AWS's
   MaxSessionDuration error;
5. the credentials go to the credential_process cache and to a
   credentials-file profile that is never the credential_process profile
   (static keys there would shadow ``credential_process``).
"""

from __future__ import annotations

import base64
import html
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from keyless.adapters.credentials_file import (
    aws_config_path,
    aws_credentials_path,
    config_section,
    read_ini,
    update_ini,
)
from keyless.adapters.okta import (
    AuthnState,
    Factor,
    OktaClient,
    OktaSession,
    SessionExpiredError,
    looks_like_sign_in_page,
    make_http_client,
    page_title,
    step_up_state_token,
)
from keyless.adapters.okta_cookies import cookie_key
from keyless.adapters.okta_cookies import keep as keep_cookies
from keyless.adapters.okta_cookies import restore as restore_cookies
from keyless.adapters.okta_oauth import OktaOAuthClient
from keyless.adapters.secrets import SecretStore, open_secret_store
from keyless.credential_process import EXIT_LOGIN_REQUIRED
from keyless.errors import (
    ConfigError,
    DeniedError,
    InputError,
    KeylessError,
    RemoteError,
    SamlInputError,
)
from keyless.saml.model import ARN_RE, ATTR_ROLE, ATTR_SESSION_DURATION, ATTR_SESSION_NAME, RolePair
from keyless.services.credentials import AwsCredentials, Clock, CredentialCache, utcnow
from keyless.services.okta_flows import (
    DeviceFlow,
    choose_flow,
    classic_step_up,
    identity_engine_refusal,
)
from keyless.services.profiles import Settings

DEFAULT_DURATION = 3600
# AWS's default MaxSessionDuration for a role: the limit to retry at when the
# spec does not say what the role allows.
DEFAULT_ROLE_MAX = 3600
MAX_CLOCK_SKEW = timedelta(minutes=5)
PUSH_TIMEOUT = 300.0

_PARTITION_REGION = {"aws": "us-east-1", "aws-us-gov": "us-gov-west-1", "aws-cn": "cn-north-1"}
_SIGNIN_REGION = re.compile(r"^https://(?P<region>[a-z]{2}(-[a-z]+)+-\d)\.signin\.")
_FORM_ACTION = re.compile(r"""<form\b[^>]*\baction\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


class LoginRequiredError(KeylessError):
    """A refresh needs a person (a password, a code, a choice) and there is no terminal."""

    exit_code = EXIT_LOGIN_REQUIRED


class Prompter(Protocol):
    """How the login service talks to a person (see :mod:`keyless.adapters.terminal`)."""

    interactive: bool

    def notify(self, message: str) -> None:
        """Tell the person something (progress, the push number)."""
        ...

    def ask(self, label: str, *, secret: bool = False, flag: str | None = None) -> str:
        """Ask for a value; ``flag`` names the option that provides it non-interactively."""
        ...

    def choose(self, title: str, options: list[str], *, flag: str | None = None) -> int:
        """Pick one of ``options``; returns its index."""
        ...


StsFactory = Callable[[str, str | None], Any]  # (region, endpoint_url) -> boto3 STS client


@dataclass(frozen=True)
class LoginInputs:
    """What a person or a script hands to one login (never stored unless asked)."""

    password: str | None = field(default=None, repr=False)
    mfa_code: str | None = field(default=None, repr=False)
    remember_password: bool = False
    open_browser: bool = False  # the device flow's --open


@dataclass(frozen=True)
class UnverifiedAssertion:
    """What the client reads from the assertion before AWS checks it (nothing here is trusted)."""

    roles: tuple[RolePair, ...]
    session_duration: int | None
    session_name: str | None
    issue_instant: datetime | None
    signin_url: str


@dataclass(frozen=True)
class RoleLogin:
    """One role's credentials from one login."""

    role: RolePair
    account_alias: str | None
    credentials: AwsCredentials
    duration: int
    written_profile: str | None


@dataclass
class LoginResult:
    """What :func:`login` did: the roles taken, where credentials went, what it reused."""

    profile: str
    logins: list[RoleLogin]
    session_reused: bool
    okta_login: str | None
    notes: list[str] = field(default_factory=list)

    @property
    def credentials(self) -> AwsCredentials:
        """The (first) role's credentials."""
        return self.logins[0].credentials

    def as_dict(self) -> dict[str, object]:
        """The ``--json`` document (no secrets)."""
        return {
            "profile": self.profile,
            "okta_session_reused": self.session_reused,
            "okta_login": self.okta_login,
            "notes": self.notes,
            "roles": [
                {
                    "role_arn": item.role.role_arn,
                    "principal_arn": item.role.principal_arn,
                    "account_id": item.role.account_id,
                    "account_alias": item.account_alias,
                    "duration": item.duration,
                    "expiration": item.credentials.expiration_text,
                    "written_profile": item.written_profile,
                }
                for item in self.logins
            ],
        }


# --- the assertion -------------------------------------------------------------------


def read_unverified_assertion(page: str) -> tuple[str, UnverifiedAssertion]:
    """The base64 SAMLResponse from the app's page and what it says (read-only, unverified).

    The IdP signature is AWS's to check; keyless only reads the roles, and
    reads them through keyless.saml's parser that refuses DTDs and entities.
    """
    from keyless.saml.extract import extract_saml_response
    from keyless.saml.xmlsafe import NS, parse_instant, parse_untrusted, text_of

    unverified_xml = extract_saml_response(page)
    try:
        root = parse_untrusted(unverified_xml, what="SAML response from Okta")
    except SamlInputError:
        raise
    except Exception as exc:  # ForbiddenXml, TooDeep: hostile or broken
        raise RemoteError(
            f"the SAML response from Okta was refused by keyless's safe XML parser: {exc}",
            fix="report this to your Okta administrator; do not use this org until explained",
        ) from exc
    if root.find(".//saml:EncryptedAssertion", NS) is not None:
        raise ConfigError(
            "the AWS app sends an encrypted assertion, which a CLI cannot read",
            fix="turn off assertion encryption in the Okta AWS app (AWS does not support it)",
        )
    roles: list[RolePair] = []
    duration: int | None = None
    session_name: str | None = None
    for attribute in root.iterfind(".//saml:Assertion//saml:Attribute", NS):
        name = attribute.get("Name")
        values = [text_of(value) for value in attribute.iterfind("saml:AttributeValue", NS)]
        if name == ATTR_ROLE:
            for value in values:
                pair = _role_pair(value)
                if pair is not None and pair not in roles:
                    roles.append(pair)
        elif name == ATTR_SESSION_DURATION and values:
            duration = int(values[0]) if values[0].isdigit() else None
        elif name == ATTR_SESSION_NAME and values:
            session_name = values[0]
    issue_instant = None
    assertion = root.find(".//saml:Assertion", NS)
    if assertion is not None and assertion.get("IssueInstant"):
        try:
            issue_instant = parse_instant(assertion.get("IssueInstant", ""))
        except ValueError:
            issue_instant = None
    action = _FORM_ACTION.search(page)
    signin_url = html.unescape(action.group(1)) if action else "https://signin.aws.amazon.com/saml"
    encoded = base64.b64encode(unverified_xml).decode("ascii")
    return encoded, UnverifiedAssertion(
        roles=tuple(roles),
        session_duration=duration,
        session_name=session_name,
        issue_instant=issue_instant,
        signin_url=signin_url,
    )


def _role_pair(value: str) -> RolePair | None:
    """``provider,role`` or ``role,provider`` (Okta sends the first, others the second)."""
    parts = [part.strip() for part in value.split(",")]
    if len(parts) != 2:
        return None
    kinds = {}
    for part in parts:
        match = ARN_RE.match(part)
        if match is None:
            return None
        kinds[match["kind"]] = part
    if set(kinds) != {"role", "saml-provider"}:
        return None
    return RolePair(role_arn=kinds["role"], principal_arn=kinds["saml-provider"])


# --- the spec: aliases and role limits ------------------------------------------------


@dataclass(frozen=True)
class SpecHints:
    """What the federation spec tells a client: account aliases and role session limits."""

    aliases: dict[str, str] = field(default_factory=dict)  # account id -> alias
    max_durations: dict[tuple[str, str], int] = field(default_factory=dict)  # (id, role) -> s

    @classmethod
    def load(cls, path: str | None) -> SpecHints:
        """Hints from the spec at ``path`` (empty when no spec is configured)."""
        if not path:
            return cls()
        from keyless.spec import expand_accounts, load_spec

        spec = load_spec(Path(path))
        aliases = {account.id: account.alias for account in spec.accounts}
        limits: dict[tuple[str, str], int] = {}
        for account_roles in expand_accounts(spec):
            for role, _arn, _groups in account_roles.roles:
                limits[(account_roles.account.id, role.name)] = role.max_session_duration
        return cls(aliases=aliases, max_durations=limits)

    def label(self, pair: RolePair) -> str:
        """``acme-dev (333333333333) / Developer``."""
        alias = self.aliases.get(pair.account_id)
        account = f"{alias} ({pair.account_id})" if alias else pair.account_id
        return f"{account} / {pair.role_name}"


def select_roles(
    roles: tuple[RolePair, ...],
    *,
    role: str | None,
    account: str | None,
    hints: SpecHints,
    prompter: Prompter,
) -> RolePair:
    """The one role the flags (or the person) pick from ``roles``."""
    candidates = list(roles)
    if role:
        candidates = [
            pair
            for pair in candidates
            if role in (pair.role_arn, pair.role_name) or pair.role_arn.endswith(f":role/{role}")
        ]
    if account:
        candidates = [
            pair
            for pair in candidates
            if account in (pair.account_id, hints.aliases.get(pair.account_id))
        ]
    available = ", ".join(hints.label(pair) for pair in roles)
    if not candidates:
        wanted = " in ".join(
            f"{kind} {value!r}" for kind, value in (("role", role), ("account", account)) if value
        )
        raise InputError(
            f"the assertion offers no {wanted}; it offers: {available}",
            fix="pick one of those with --role and --account (or fix the profile's role/account)",
        )
    if len(candidates) == 1:
        return candidates[0]
    labels = [hints.label(pair) for pair in candidates]
    index = prompter.choose("Select a role", labels, flag="--role and --account")
    return candidates[index]


# --- STS -------------------------------------------------------------------------------


def sts_target(role: RolePair, signin_url: str, settings: Settings) -> tuple[str, str | None]:
    """The region and endpoint for the STS call: configured, or from the ARN and sign-in URL."""
    match = ARN_RE.match(role.role_arn)
    partition = match["partition"] if match else "aws"
    region = settings.region
    if region is None:
        found = _SIGNIN_REGION.match(signin_url)
        region = found["region"] if found else _PARTITION_REGION.get(partition, "us-east-1")
    return region, settings.aws_endpoint_url


def default_sts_factory(ca_bundle: str | None = None) -> StsFactory:
    """Unsigned boto3 STS clients: AssumeRoleWithSAML needs no AWS credentials."""

    def factory(region: str, endpoint_url: str | None) -> Any:
        import boto3
        from botocore import UNSIGNED
        from botocore.config import Config

        verify: str | bool | None = None
        if endpoint_url and endpoint_url.startswith("https://") and ca_bundle:
            verify = ca_bundle
        session = boto3.session.Session()
        return session.client(
            "sts",
            region_name=region,
            endpoint_url=endpoint_url,
            verify=verify,
            config=Config(
                signature_version=UNSIGNED, retries={"max_attempts": 2, "mode": "standard"}
            ),
        )

    return factory


def _assume(
    sts: Any, role: RolePair, saml_b64: str, duration: int, hints: SpecHints
) -> AwsCredentials:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = sts.assume_role_with_saml(
            RoleArn=role.role_arn,
            PrincipalArn=role.principal_arn,
            SAMLAssertion=saml_b64,
            DurationSeconds=duration,
        )
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        message = str(error.get("Message", ""))
        raise _sts_error(code, message, role, hints) from exc
    except BotoCoreError as exc:
        raise RemoteError(
            f"cannot reach AWS STS for {role.role_arn}: {exc}",
            fix="check your network; for the lab check that `keyless lab up` is running",
        ) from exc
    raw = response["Credentials"]
    expiration = raw["Expiration"]
    if isinstance(expiration, str):
        from keyless.services.credentials import parse_expiration

        expiration = parse_expiration(expiration)
    return AwsCredentials(
        access_key_id=raw["AccessKeyId"],
        secret_access_key=raw["SecretAccessKey"],
        session_token=raw["SessionToken"],
        expiration=expiration,
        role_arn=role.role_arn,
        account_id=role.account_id,
        account_alias=hints.aliases.get(role.account_id),
    )


class _DurationTooLongError(DeniedError):
    pass


def _sts_error(code: str, message: str, role: RolePair, hints: SpecHints) -> KeylessError:
    name = hints.label(role)
    if code == "ValidationError" and "MaxSessionDuration" in message:
        return _DurationTooLongError(f"AWS: {message}", fix="use a shorter --duration")
    if code == "ExpiredTokenException":
        return DeniedError(
            f"AWS refused the assertion for {name} as expired ({code}: {message})",
            fix="check this computer's clock (e.g. `timedatectl set-ntp true`) and log in again",
        )
    if code == "AccessDenied":
        return DeniedError(
            f"AWS refused role {name} ({code}: {message})",
            fix=f"check that {role.role_arn} trusts {role.principal_arn} for "
            "sts:AssumeRoleWithSAML with this sign-in URL (`keyless saml verify` explains why)",
        )
    if code in ("InvalidIdentityToken", "IDPRejectedClaim"):
        return DeniedError(
            f"AWS refused the assertion for {name} ({code}: {message})",
            fix="check that the account's SAML provider holds the IdP's current metadata "
            "(`keyless apply` updates it)",
        )
    return RemoteError(f"AWS STS failed for {name} ({code}: {message})", fix="retry")


# --- the Okta side ----------------------------------------------------------------------


def session_key(settings: Settings) -> str:
    """The secret-store key of the Okta session: one per org and user, shared by profiles."""
    org = (settings.org_url or "").rstrip("/")
    who = settings.username or f"profile:{settings.profile}"
    return f"okta-session|{org}|{who}"


def jar_key(settings: Settings) -> str:
    """The secret-store key of the Okta cookie jar: per org and user, like the session."""
    return cookie_key(settings.org_url or "", settings.username or f"profile:{settings.profile}")


def password_key(settings: Settings, username: str) -> str:
    """The secret-store key of a remembered Okta password."""
    return f"okta-password|{(settings.org_url or '').rstrip('/')}|{username}"


def _load_session(secrets: SecretStore, key: str) -> OktaSession | None:
    raw = secrets.get(key)
    if not raw:
        return None
    try:
        data = json.loads(raw)
        from keyless.services.credentials import parse_expiration

        return OktaSession(
            id=str(data["id"]),
            expires_at=parse_expiration(data["expires_at"]),
            login=data.get("login"),
        )
    except (ValueError, KeyError, TypeError):
        return None


def _store_session(secrets: SecretStore, key: str, session: OktaSession) -> None:
    secrets.set(
        key,
        json.dumps(
            {"id": session.id, "expires_at": session.expires_at.isoformat(), "login": session.login}
        ),
    )


class _OktaSignIn:
    """Signs in once with password and MFA; everything it needs is handed in."""

    def __init__(
        self,
        settings: Settings,
        okta: OktaClient,
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
        """An app's step-up (``MFA_REQUIRED``, ``SESSION_STEP_UP``): the same factor
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
        if getattr(self.prompter, "mode", None) == "credential-process":
            return LoginRequiredError(
                f"the Okta session of profile {self.settings.profile!r} has expired "
                "and signing in again needs MFA",
                fix=f"run `keyless login --profile {self.settings.profile}` in a terminal",
            )
        return InputError(
            "Okta asks for MFA and there is no terminal to ask",
            fix="pass --mfa-code CODE, or --mfa-factor push",
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


def _fetch_saml_page(
    settings: Settings,
    *,
    okta: OktaClient,
    prompter: Prompter,
    secrets: SecretStore,
    inputs: LoginInputs,
    clock: Clock,
    poll_interval: float,
    sleep: Callable[[float], None],
    monotonic: Callable[[], float],
) -> tuple[str, OktaSession, bool, Callable[[], str]]:
    """The AWS app's page: through the kept session when alive, else after a sign-in.

    Also returns how to fetch a fresh page for the same sign-in (a second role,
    a retry at a shorter duration).
    """
    _, app_url = settings.require_org()
    # HOOK (issue 12): Identity Engine's device flow (keyless.services.okta_flows),
    # when the profile and the org call for it; the Classic sign-in below otherwise.
    oauth = OktaOAuthClient(okta)
    if choose_flow(settings, oauth) == "device":
        device = DeviceFlow(
            settings,
            oauth,
            notify=prompter.notify,
            secrets=secrets,
            clock=clock,
            sleep=sleep,
            monotonic=monotonic,
            person_present=getattr(prompter, "mode", "login") != "credential-process",
            open_browser=inputs.open_browser,
        )
        page, device_session, reused = device.first_page()
        return page, device_session, reused, device.page
    signin = _OktaSignIn(
        settings,
        okta,
        prompter,
        secrets,
        inputs,
        poll_interval=poll_interval,
        sleep=sleep,
        monotonic=monotonic,
    )
    engine: list[str | None] = []

    def identity_engine() -> bool:
        if not engine:
            engine.append(oauth.pipeline())
        return engine[0] == "idx"

    def pages(session: OktaSession) -> Callable[[], str]:
        # HOOK (issue 12): an app step-up (Classic's Extra Verification) is finished
        # with the same factor verification as the sign-in.
        def step_up(page: str) -> str | None:
            return classic_step_up(
                okta,
                page,
                session,
                verify=signin.verify_step_up,
                settings=settings,
                is_identity_engine=identity_engine,
            )

        return lambda: _saml_page(okta, app_url, session, step_up=step_up)

    key = session_key(settings)
    kept = _load_session(secrets, key)
    if kept is not None and kept.expires_at > clock() + timedelta(seconds=30):
        try:
            # HOOK (issue 12): extend the kept session as a browser's activity does,
            # so it does not run out and ask for the password again early.
            refreshed = okta.refresh_session(kept.id)
            if refreshed is None:
                raise SessionExpiredError("the kept session has ended")
            kept = OktaSession(
                id=kept.id, expires_at=refreshed.expires_at, login=kept.login or refreshed.login
            )
            _store_session(secrets, key, kept)
            again = pages(kept)
            return again(), kept, True, again
        except SessionExpiredError:
            secrets.delete(key)
    session = signin.run()
    _store_session(secrets, key, session)
    again = pages(session)
    try:
        return again(), session, False, again
    except SessionExpiredError as exc:
        if identity_engine():
            raise identity_engine_refusal(settings) from exc
        raise RemoteError(
            "Okta did not accept the session it had just created for the AWS app",
            fix="check the app URL (`keyless configure --app-url`)",
        ) from exc


def _saml_page(
    okta: OktaClient,
    app_url: str,
    session: OktaSession,
    *,
    step_up: Callable[[str], str | None] | None = None,
) -> str:
    page = okta.app_page(app_url, session.id)
    if "SAMLResponse" in page:
        return page
    stepped = step_up(page) if step_up is not None else None
    if stepped is not None:
        if "SAMLResponse" in stepped:
            return stepped
        page = stepped
    if step_up_state_token(page):
        raise DeniedError(
            "the AWS app asks for a step-up MFA that Okta only offers in a browser",
            fix="sign in to the app once in a browser, or ask your Okta admin to drop the "
            "app-level MFA policy for CLI use",
        )
    if looks_like_sign_in_page(page):
        raise SessionExpiredError("sign-in page")
    title = page_title(page)
    raise DeniedError(
        f"Okta returned no SAML response for the AWS app"
        f"{f' ({title!r})' if title else ''}: the user may have no AWS roles assigned",
        fix="ask your Okta administrator to assign you to the AWS app with a role",
    )


# --- writing the results ----------------------------------------------------------------


def write_credentials_profile(
    name: str, credentials: AwsCredentials, *, settings: Settings, region: str
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
        "x_keyless_profile": settings.profile,
    }
    update_ini(aws_credentials_path(), lambda doc: doc.set(name, values))
    extra: dict[str, str | None] = {"region": region}
    if settings.aws_endpoint_url:
        extra["endpoint_url"] = settings.aws_endpoint_url
        if settings.aws_endpoint_url.startswith("https://") and settings.ca_bundle:
            extra["ca_bundle"] = settings.ca_bundle
    update_ini(config_file, lambda doc: doc.set(config_section(name), extra))


def _written_name(settings: Settings, pair: RolePair, hints: SpecHints, all_roles: bool) -> str:
    if not all_roles:
        return settings.credentials_profile
    alias = hints.aliases.get(pair.account_id, pair.account_id)
    return f"{settings.profile}-{alias}-{pair.role_name}"


# --- the entry point ---------------------------------------------------------------------


def login(
    settings: Settings,
    *,
    okta_client: OktaClient | None = None,
    sts_factory: StsFactory | None = None,
    clock: Clock = utcnow,
    prompter: Prompter,
    secrets: SecretStore | None = None,
    inputs: LoginInputs | None = None,
    all_roles: bool = False,
    write_files: bool = True,
    cache: CredentialCache | None = None,
    poll_interval: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> LoginResult:
    """Sign in (or reuse the Okta session), take the role(s), store the credentials.

    ``write_files`` writes the credentials-file profile(s); the
    credential_process cache of ``settings.profile`` is always updated with
    the picked role. Raises KeylessError subclasses with a fix.
    """
    org_url, _ = settings.require_org()
    secrets = secrets or open_secret_store()
    inputs = inputs or LoginInputs()
    cache = cache or CredentialCache()
    own_client = okta_client is None
    okta = okta_client or OktaClient(org_url, http=make_http_client(ca_bundle=settings.ca_bundle))
    sts_factory = sts_factory or default_sts_factory(settings.ca_bundle)
    hints = SpecHints.load(settings.spec)
    if write_files:
        # A corrupt credentials or config file is reported before anyone signs in.
        read_ini(aws_credentials_path())
        read_ini(aws_config_path())
    notes: list[str] = []
    # HOOK (issue 12): one cookie jar per Okta session (sid, DT, what Okta sets),
    # kept between runs in the secret store; rememberDevice when the profile asks.
    restore_cookies(secrets, jar_key(settings), okta.cookies, org_url)
    okta.remember_device = bool(settings.remember_device)
    try:
        page, session, reused, first_fetch = _fetch_saml_page(
            settings,
            okta=okta,
            prompter=prompter,
            secrets=secrets,
            inputs=inputs,
            clock=clock,
            poll_interval=poll_interval,
            sleep=sleep,
            monotonic=monotonic,
        )

        def fresh_page() -> str:
            # Later pages of the same sign-in (another role, a shorter duration): a
            # session Okta ends meanwhile is reported, never leaked as an internal error.
            try:
                return first_fetch()
            except SessionExpiredError as exc:
                raise DeniedError(
                    "Okta ended the session while keyless was taking the roles",
                    fix=f"run `keyless login --profile {settings.profile}` again",
                ) from exc

        saml_b64, unverified = read_unverified_assertion(page)
        _check_clock(unverified, clock)
        if not unverified.roles:
            raise DeniedError(
                f"Okta's assertion for {session.login or 'this user'} names no AWS role",
                fix="ask your Okta administrator to map one of your groups to an AWS role",
            )
        if all_roles:
            chosen = list(unverified.roles)
        else:
            chosen = [
                select_roles(
                    unverified.roles,
                    role=settings.role,
                    account=settings.account,
                    hints=hints,
                    prompter=prompter,
                )
            ]
        logins: list[RoleLogin] = []
        for index, pair in enumerate(chosen):
            if index > 0:
                # A fresh assertion per role: an STS that refuses replays (the
                # lab's does) must not see the same assertion twice.
                saml_b64, unverified = read_unverified_assertion(fresh_page())
            credentials, duration = _assume_with_limit(
                settings,
                pair,
                saml_b64,
                unverified,
                hints,
                sts_factory,
                notes,
                refetch=lambda: read_unverified_assertion(fresh_page())[0],
            )
            written = None
            if write_files:
                written = _written_name(settings, pair, hints, all_roles)
                region, _ = sts_target(pair, unverified.signin_url, settings)
                write_credentials_profile(written, credentials, settings=settings, region=region)
            logins.append(
                RoleLogin(pair, hints.aliases.get(pair.account_id), credentials, duration, written)
            )
        cached = _cache_choice(logins, settings, hints, all_roles)
        if cached is not None:
            cache.store(settings.profile, cached.credentials)
        return LoginResult(
            profile=settings.profile,
            logins=logins,
            session_reused=reused,
            okta_login=session.login,
            notes=notes,
        )
    finally:
        keep_cookies(secrets, jar_key(settings), okta.cookies, org_url)
        if own_client:
            okta._http.close()


def _cache_choice(
    logins: list[RoleLogin], settings: Settings, hints: SpecHints, all_roles: bool
) -> RoleLogin | None:
    if not all_roles:
        return logins[0]
    for item in logins:
        role_ok = settings.role in (None, item.role.role_name, item.role.role_arn)
        account_ok = settings.account in (None, item.role.account_id, item.account_alias)
        if role_ok and account_ok and (settings.role or settings.account):
            return item
    return logins[0] if len(logins) == 1 else None


def _check_clock(unverified: UnverifiedAssertion, clock: Clock) -> None:
    if unverified.issue_instant is None:
        return
    skew = clock() - unverified.issue_instant
    if abs(skew) > MAX_CLOCK_SKEW:
        minutes = abs(skew).total_seconds() / 60
        direction = "ahead of" if skew.total_seconds() > 0 else "behind"
        raise DeniedError(
            f"this computer's clock is {minutes:.0f} minutes {direction} Okta's; "
            "AWS would refuse the assertion as expired or not yet valid",
            fix="set the clock right (e.g. `sudo timedatectl set-ntp true`) and log in again",
        )


def _assume_with_limit(
    settings: Settings,
    pair: RolePair,
    saml_b64: str,
    unverified: UnverifiedAssertion,
    hints: SpecHints,
    sts_factory: StsFactory,
    notes: list[str],
    *,
    refetch: Callable[[], str],
) -> tuple[AwsCredentials, int]:
    requested = settings.duration or unverified.session_duration or DEFAULT_DURATION
    duration = requested
    if unverified.session_duration and duration > unverified.session_duration:
        notes.append(
            f"asked for {requested} s; the IdP's SessionDuration allows "
            f"{unverified.session_duration} s"
        )
        duration = unverified.session_duration
    limit = hints.max_durations.get((pair.account_id, pair.role_name))
    if limit is not None and duration > limit:
        notes.append(f"{hints.label(pair)} allows at most {limit} s; asked for that")
        duration = limit
    region, endpoint = sts_target(pair, unverified.signin_url, settings)
    sts = sts_factory(region, endpoint)
    try:
        return _assume(sts, pair, saml_b64, duration, hints), duration
    except _DurationTooLongError:
        retry_at = limit if limit is not None and limit < duration else DEFAULT_ROLE_MAX
        if retry_at >= duration:
            raise
        notes.append(
            f"{hints.label(pair)} refused {duration} s (its MaxSessionDuration is lower); "
            f"retried with {retry_at} s"
        )
        return _assume(sts, pair, refetch(), retry_at, hints), retry_at


class LoginProvider:
    """A :class:`~keyless.services.credentials.CredentialProvider` that logs in for a profile."""

    def __init__(self, settings: Settings, *, prompter: Prompter) -> None:
        self.settings = settings
        self.prompter = prompter

    def retrieve(self) -> AwsCredentials:
        """Log in (normally through the kept Okta session) and return the role's credentials."""
        result = login(self.settings, prompter=self.prompter, write_files=False)
        return result.credentials


def open_prompter(*, mode: str, profile: str) -> Prompter:
    """A terminal prompter when there is a terminal, else one that fails naming what is missing."""
    import os
    import sys

    from keyless.adapters.terminal import NonInteractivePrompter, TerminalPrompter, open_tty

    if os.environ.get("KEYLESS_NO_PROMPT") not in (None, "", "0"):
        return NonInteractivePrompter(mode=mode, profile=profile)
    if mode == "login" and not (sys.stdin.isatty() or sys.stderr.isatty()):
        return NonInteractivePrompter(mode=mode, profile=profile)
    tty = open_tty()
    if tty is None:
        return NonInteractivePrompter(mode=mode, profile=profile)
    return TerminalPrompter(tty)


def fetch_assertion_with_kept_session(
    settings: Settings,
    *,
    secrets: SecretStore | None = None,
    okta_client: OktaClient | None = None,
    clock: Clock = utcnow,
) -> tuple[str, UnverifiedAssertion]:
    """A fresh SAML response for the profile's user from the kept Okta session, asking nothing.

    Returns the base64 ``SAMLResponse`` and what it says (unverified). Raises
    :class:`LoginRequiredError` when no live session is kept, so callers that
    must not prompt (the demo, scripts) fail with the login command to run.
    """
    org_url, app_url = settings.require_org()
    secrets = secrets or open_secret_store()
    kept = _load_session(secrets, session_key(settings))
    if kept is None or kept.expires_at <= clock():
        raise LoginRequiredError(
            f"no live Okta session for profile {settings.profile!r}",
            fix=f"run `keyless login --profile {settings.profile}`",
        )
    own_client = okta_client is None
    okta = okta_client or OktaClient(org_url, http=make_http_client(ca_bundle=settings.ca_bundle))
    try:
        return read_unverified_assertion(_saml_page(okta, app_url, kept))
    finally:
        if own_client:
            okta._http.close()
