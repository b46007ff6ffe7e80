"""The sign-in state machine, the kept-session seam and the login orchestration, in milliseconds.

Every port is a small fake that fits its protocol in :mod:`keyless.core.ports`
by shape (no patching): a scripted Okta (``FakeOkta``), a scripted STS
(``FakeSts``), a prompter that answers from a script and records what it was
told, an in-memory secret store, a fake clock and a fake monotonic clock that
``sleep`` advances. Each test drives one branch of the transaction diagram in
:mod:`keyless.services.login.okta_signin`, or one refusal of
:func:`keyless.services.login.service.login`. The real Okta client and STS are
exercised against the lab in ``test_login_lab.py``.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from keyless.adapters.terminal import NonInteractivePrompter
from keyless.core.credentials import AwsCredentials
from keyless.core.okta import AuthnState, Factor, OktaSession, SessionExpiredError
from keyless.core.ports import StsApi, StsError
from keyless.errors import (
    EXIT_FINDING,
    EXIT_LOGIN_REQUIRED,
    EXIT_REMOTE,
    EXIT_USAGE,
    ConfigError,
    DeniedError,
    InputError,
    KeylessError,
    LoginRequiredError,
    RemoteError,
)
from keyless.services.login.okta_session import ClassicSessionPages, load_session, session_key
from keyless.services.login.okta_signin import PUSH_TIMEOUT, LoginInputs, OktaSignIn, password_key
from keyless.services.login.profiles import Settings, load_profiles
from keyless.services.login.service import LoginResult, login

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ORG = "https://acme.okta.example"
APP = f"{ORG}/home/amazon_aws/0oa1/272"
DEV = ("arn:aws:iam::111111111111:role/Developer", "arn:aws:iam::111111111111:saml-provider/okta")
OPS = ("arn:aws:iam::222222222222:role/Ops", "arn:aws:iam::222222222222:saml-provider/okta")

TOTP = Factor("f-totp", "token:software:totp", "OKTA", f"{ORG}/api/v1/authn/factors/f-totp/verify")
SMS = Factor("f-sms", "sms", "OKTA", f"{ORG}/api/v1/authn/factors/f-sms/verify")
PUSH = Factor("f-push", "push", "OKTA", f"{ORG}/api/v1/authn/factors/f-push/verify")
U2F = Factor("f-u2f", "u2f", "FIDO", f"{ORG}/api/v1/authn/factors/f-u2f/verify")
POLL = f"{ORG}/api/v1/authn/factors/f-push/verify?poll"


def settings(**changes: str | int | None) -> Settings:
    values: dict[str, str | int | None] = {
        "org_url": ORG,
        "app_url": APP,
        "username": "bob@acme.example",
        **changes,
    }
    return Settings(profile="dev", **values)  # type: ignore[arg-type]


def saml_page(
    *roles: tuple[str, str],
    issued: datetime = NOW,
    duration: int | None = None,
    encrypted: bool = False,
    serial: int = 0,
) -> str:
    """Okta's auto-submitting form page holding an (unsigned) SAML response."""
    values = "".join(
        f"<saml:AttributeValue>{provider},{role}</saml:AttributeValue>" for role, provider in roles
    )
    extra = (
        "<saml:Attribute Name='https://aws.amazon.com/SAML/Attributes/SessionDuration'>"
        f"<saml:AttributeValue>{duration}</saml:AttributeValue></saml:Attribute>"
        if duration
        else ""
    )
    body = (
        "<saml:EncryptedAssertion/>"
        if encrypted
        else (
            f"<saml:Assertion ID='a{serial}' "
            f"IssueInstant='{issued.strftime('%Y-%m-%dT%H:%M:%S.000Z')}'><saml:AttributeStatement>"
            "<saml:Attribute Name='https://aws.amazon.com/SAML/Attributes/Role'>"
            f"{values}</saml:Attribute>{extra}</saml:AttributeStatement></saml:Assertion>"
        )
    )
    xml = (
        "<samlp:Response xmlns:samlp='urn:oasis:names:tc:SAML:2.0:protocol' "
        f"xmlns:saml='urn:oasis:names:tc:SAML:2.0:assertion'>{body}</samlp:Response>"
    )
    encoded = base64.b64encode(xml.encode()).decode()
    return (
        "<html><body><form method='post' action='https://signin.aws.amazon.com/saml'>"
        f"<input type='hidden' name='SAMLResponse' value='{html.escape(encoded)}'/>"
        "</form></body></html>"
    )


class FakeOkta:
    """An :class:`~keyless.core.ports.OktaApi` that answers from a script and records calls."""

    def __init__(
        self,
        *,
        authn: AuthnState | None = None,
        verify: list[AuthnState | KeylessError] | None = None,
        poll: list[AuthnState] | None = None,
        pages: list[str] | None = None,
    ) -> None:
        self.authn_answer = authn or AuthnState("SUCCESS", session_token="st-1")
        self.verify_answers = list(verify or [])
        self.poll_answers = list(poll or [])
        self.pages = list(pages or [saml_page(DEV)])
        self.calls: list[str] = []
        self.codes: list[str | None] = []

    def authn(self, username: str, password: str) -> AuthnState:
        self.calls.append(f"authn {username}")
        return self.authn_answer

    def verify(self, factor: Factor, state_token: str, pass_code: str | None = None) -> AuthnState:
        self.calls.append(f"verify {factor.kind}")
        self.codes.append(pass_code)
        answer = self.verify_answers.pop(0)
        if isinstance(answer, KeylessError):
            raise answer
        return answer

    def poll(self, poll_url: str, state_token: str) -> AuthnState:
        self.calls.append("poll")
        return self.poll_answers.pop(0)

    def create_session(self, session_token: str) -> OktaSession:
        self.calls.append("create_session")
        return OktaSession(id="sid-new", expires_at=NOW + timedelta(hours=2), login=None)

    def app_page(self, app_url: str, session_id: str) -> str:
        self.calls.append(f"app_page {session_id}")
        return self.pages.pop(0) if len(self.pages) > 1 else self.pages[0]

    def resume(self, state_token: str) -> AuthnState:
        self.calls.append("resume")
        raise SessionExpiredError("no step-up in this script")

    def refresh_session(self, session_id: str) -> OktaSession | None:
        self.calls.append(f"refresh {session_id}")
        return OktaSession(id=session_id, expires_at=NOW + timedelta(hours=2), login=None)


class FakeSts:
    """An :class:`~keyless.core.ports.StsApi` that refuses from a script, then grants."""

    def __init__(self, refusals: list[StsError] | None = None) -> None:
        self.refusals = list(refusals or [])
        self.requests: list[tuple[str, str, int]] = []  # (role, assertion, duration)
        self.targets: list[tuple[str, str | None]] = []

    def __call__(self, region: str, endpoint_url: str | None) -> StsApi:
        self.targets.append((region, endpoint_url))
        return self

    def assume_role_with_saml(
        self, *, role_arn: str, principal_arn: str, saml_assertion: str, duration_seconds: int
    ) -> AwsCredentials:
        self.requests.append((role_arn, saml_assertion, duration_seconds))
        if self.refusals:
            raise self.refusals.pop(0)
        return AwsCredentials(
            access_key_id=f"ASIA{len(self.requests):016d}",
            secret_access_key="secret",
            session_token="token",
            expiration=NOW + timedelta(seconds=duration_seconds),
        )


class MemorySecrets:
    """An in-memory :class:`~keyless.core.ports.SecretStore`."""

    description = "memory"

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def set(self, key: str, value: str) -> None:
        self.values[key] = value

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


class Script:
    """An interactive :class:`~keyless.core.ports.Prompter`: answers by label, records notices."""

    interactive = True

    def __init__(self, answers: dict[str, list[str]] | None = None, choice: int = 0) -> None:
        self.answers = {label: list(values) for label, values in (answers or {}).items()}
        self.choice = choice
        self.told: list[str] = []
        self.asked: list[str] = []
        self.choices: list[list[str]] = []

    def notify(self, message: str) -> None:
        self.told.append(message)

    def ask(self, label: str, *, secret: bool = False, flag: str | None = None) -> str:
        self.asked.append(label)
        for key, values in self.answers.items():
            if key in label:
                return values.pop(0)
        raise AssertionError(f"unexpected question: {label}")

    def choose(self, title: str, options: list[str], *, flag: str | None = None) -> int:
        self.choices.append(options)
        return self.choice

    def missing_input(self, what: str, *, flag: str | None = None) -> KeylessError:
        raise AssertionError(f"an interactive prompter was told input is missing: {what}")


class Clocks:
    """A monotonic clock that only ``sleep`` moves (the push loop's time)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def mfa_required(*factors: Factor) -> AuthnState:
    return AuthnState("MFA_REQUIRED", state_token="state-1", factors=factors)


def success() -> AuthnState:
    return AuthnState("SUCCESS", session_token="st-1")


def waiting(answer: str | None = None) -> AuthnState:
    return AuthnState(
        "MFA_CHALLENGE",
        state_token="state-1",
        factor_result="WAITING",
        poll_url=POLL,
        correct_answer=answer,
    )


def sign_in(
    okta: FakeOkta,
    *,
    prompter: Script | NonInteractivePrompter | None = None,
    inputs: LoginInputs | None = None,
    clocks: Clocks | None = None,
    secrets: MemorySecrets | None = None,
    **overrides: str | None,
) -> OktaSession:
    clocks = clocks or Clocks()
    return OktaSignIn(
        settings(**overrides),
        okta,
        prompter or Script(),
        secrets or MemorySecrets(),
        inputs or LoginInputs(password="pw"),
        poll_interval=1.0,
        sleep=clocks.sleep,
        monotonic=clocks.monotonic,
    ).run()


# --- the sign-in state machine ------------------------------------------------------------


def test_password_only_success_creates_a_session_named_after_the_user() -> None:
    okta = FakeOkta()
    session = sign_in(okta)
    assert okta.calls == ["authn bob@acme.example", "create_session"]
    assert session.id == "sid-new"
    assert session.login == "bob@acme.example"  # Okta's session named nobody


def test_username_and_password_are_asked_and_a_remembered_password_is_kept() -> None:
    secrets = MemorySecrets()
    prompter = Script({"Okta username": ["alice@acme.example"], "Okta password": ["pw"]})
    sign_in(
        FakeOkta(),
        prompter=prompter,
        inputs=LoginInputs(remember_password=True),
        secrets=secrets,
        username=None,
    )
    assert prompter.asked == ["Okta username", "Okta password for alice@acme.example"]
    assert secrets.values[password_key(settings(), "alice@acme.example")] == "pw"
    # The next sign-in uses the remembered password and asks for none.
    again = Script({"Okta username": ["alice@acme.example"]})
    sign_in(FakeOkta(), prompter=again, inputs=LoginInputs(), secrets=secrets, username=None)
    assert not any("password" in label for label in again.asked)


def test_totp_code_given_up_front_is_verified_once() -> None:
    okta = FakeOkta(authn=mfa_required(TOTP), verify=[success()])
    sign_in(okta, inputs=LoginInputs(password="pw", mfa_code=" 123456 "))
    assert okta.calls == ["authn bob@acme.example", "verify totp", "create_session"]
    assert okta.codes == ["123456"]


def test_a_rejected_code_is_asked_again_when_a_person_types_it() -> None:
    rejected = DeniedError("Okta rejected the MFA code (E0000068: Invalid Passcode/Answer)")
    okta = FakeOkta(authn=mfa_required(TOTP), verify=[rejected, success()])
    prompter = Script({"Code from": ["111111", "222222"]})
    sign_in(okta, prompter=prompter)
    assert okta.codes == ["111111", "222222"]
    assert "That code was not accepted; try the next one." in prompter.told


def test_a_rejected_code_given_up_front_fails_at_once() -> None:
    rejected = DeniedError("Okta rejected the MFA code (E0000068: Invalid Passcode/Answer)")
    okta = FakeOkta(authn=mfa_required(TOTP), verify=[rejected])
    with pytest.raises(DeniedError, match="E0000068") as refused:
        sign_in(okta, inputs=LoginInputs(password="pw", mfa_code="111111"))
    assert refused.value.exit_code == 1
    assert okta.codes == ["111111"]


def test_three_rejected_codes_end_the_sign_in() -> None:
    rejected = DeniedError("Okta rejected the MFA code (E0000068: Invalid Passcode/Answer)")
    okta = FakeOkta(authn=mfa_required(TOTP), verify=[rejected, rejected, rejected])
    with pytest.raises(DeniedError, match="E0000068"):
        sign_in(okta, prompter=Script({"Code from": ["1", "2", "3"]}))
    assert len(okta.codes) == 3


def test_another_verify_error_is_not_retried() -> None:
    okta = FakeOkta(authn=mfa_required(TOTP), verify=[DeniedError("E0000004: locked")])
    with pytest.raises(DeniedError, match="E0000004"):
        sign_in(okta, prompter=Script({"Code from": ["1", "2"]}))
    assert len(okta.codes) == 1


def test_sms_sends_the_text_first_then_verifies_the_code() -> None:
    okta = FakeOkta(authn=mfa_required(SMS), verify=[mfa_required(SMS), success()])
    prompter = Script({"Code from SMS": ["424242"]})
    sign_in(okta, prompter=prompter)
    assert okta.codes == [None, "424242"]
    assert "Okta sent a code by SMS." in prompter.told


def test_push_shows_the_number_once_and_polls_until_approved() -> None:
    okta = FakeOkta(
        authn=mfa_required(PUSH),
        verify=[waiting()],
        poll=[waiting("42"), waiting("42"), success()],
    )
    prompter, clocks = Script(), Clocks()
    sign_in(okta, prompter=prompter, clocks=clocks, mfa_factor="push")
    assert okta.calls.count("poll") == 3
    assert prompter.told.count("Okta Verify: tap 42 on your phone to approve.") == 1
    assert clocks.slept == [1.0, 1.0, 1.0]


def test_push_rejected_on_the_phone() -> None:
    rejected = AuthnState("MFA_CHALLENGE", state_token="state-1", factor_result="REJECTED")
    okta = FakeOkta(authn=mfa_required(PUSH), verify=[waiting()], poll=[rejected])
    with pytest.raises(DeniedError, match="rejected on the phone"):
        sign_in(okta, mfa_factor="push")


@pytest.mark.parametrize("result", ["TIMEOUT", "TIME_WINDOW_EXCEEDED"])
def test_push_timed_out_at_okta(result: str) -> None:
    expired = AuthnState("MFA_CHALLENGE", state_token="state-1", factor_result=result)
    okta = FakeOkta(authn=mfa_required(PUSH), verify=[expired])
    with pytest.raises(DeniedError, match="timed out"):
        sign_in(okta, mfa_factor="push")


def test_push_unanswered_gives_up_after_the_push_timeout() -> None:
    polls = int(PUSH_TIMEOUT) + 5
    okta = FakeOkta(authn=mfa_required(PUSH), verify=[waiting()], poll=[waiting()] * polls)
    clocks = Clocks()
    with pytest.raises(DeniedError, match="timed out without an answer"):
        sign_in(okta, clocks=clocks, mfa_factor="push")
    # It waited the whole timeout on the fake clock, and not much longer.
    assert PUSH_TIMEOUT < clocks.now <= PUSH_TIMEOUT + 1.0


def test_push_answered_with_an_unexpected_status() -> None:
    odd = AuthnState("MFA_ENROLL", state_token="state-1", factor_result="CANCELLED")
    okta = FakeOkta(authn=mfa_required(PUSH), verify=[odd])
    with pytest.raises(RemoteError, match="MFA_ENROLL"):
        sign_in(okta, mfa_factor="push")


def test_factor_choice_by_flag_by_code_and_by_the_person() -> None:
    both = mfa_required(PUSH, TOTP)
    okta = FakeOkta(authn=both, verify=[success()])
    sign_in(okta, inputs=LoginInputs(password="pw", mfa_code="123456"))
    assert okta.calls[1] == "verify totp"  # a code implies a code factor
    prompter = Script({"Code from": ["654321"]}, choice=1)
    okta = FakeOkta(authn=both, verify=[success()])
    sign_in(okta, prompter=prompter)
    assert prompter.choices == [["Okta Verify push", "Okta Verify"]]
    assert okta.calls[1] == "verify totp"


def test_no_factor_usable_from_a_cli() -> None:
    with pytest.raises(DeniedError, match=r"u2f \(FIDO\)"):
        sign_in(FakeOkta(authn=mfa_required(U2F)), prompter=Script({"Code from": ["1"]}))


def test_asked_factor_not_enrolled() -> None:
    with pytest.raises(InputError, match="no sms MFA factor is enrolled"):
        sign_in(FakeOkta(authn=mfa_required(TOTP)), mfa_factor="sms")


def test_missing_mfa_without_a_terminal_is_a_usage_error_for_login() -> None:
    prompter = NonInteractivePrompter(mode="login", profile="dev")
    with pytest.raises(InputError) as missing:
        sign_in(FakeOkta(authn=mfa_required(TOTP)), prompter=prompter)
    assert missing.value.exit_code == EXIT_USAGE
    assert "--mfa-code" in str(missing.value)


def test_missing_mfa_under_credential_process_names_the_login_command() -> None:
    prompter = NonInteractivePrompter(mode="credential-process", profile="dev")
    with pytest.raises(LoginRequiredError) as missing:
        sign_in(FakeOkta(authn=mfa_required(TOTP)), prompter=prompter)
    assert missing.value.exit_code == EXIT_LOGIN_REQUIRED
    assert "keyless login --profile dev" in str(missing.value)


@pytest.mark.parametrize("status", ["PASSWORD_EXPIRED", "LOCKED_OUT", "MFA_ENROLL"])
def test_a_sign_in_that_ends_elsewhere_says_so(status: str) -> None:
    with pytest.raises(RemoteError, match=status):
        sign_in(FakeOkta(authn=AuthnState(status)))


# --- the kept session: the seam login() gets its page through ---------------------------


def pages_for(
    okta: FakeOkta, secrets: MemorySecrets, prompter: Script | None = None
) -> Callable[[], tuple[str, bool]]:
    source = ClassicSessionPages(okta, secrets, clock=lambda: NOW)

    def get() -> tuple[str, bool]:
        pages = source(settings(), prompter or Script(), LoginInputs(password="pw"))
        return pages.first, pages.reused

    return get


def keep(secrets: MemorySecrets, *, expires: datetime) -> None:
    secrets.set(
        session_key(settings()),
        f'{{"id": "sid-kept", "expires_at": "{expires.isoformat()}", "login": "bob"}}',
    )


def test_a_live_kept_session_opens_the_app_without_a_sign_in() -> None:
    secrets, okta = MemorySecrets(), FakeOkta()
    keep(secrets, expires=NOW + timedelta(hours=1))
    page, reused = pages_for(okta, secrets)()
    assert reused
    assert "SAMLResponse" in page
    assert okta.calls == ["app_page sid-kept"]


def test_a_session_okta_ended_is_forgotten_and_replaced() -> None:
    secrets = MemorySecrets()
    keep(secrets, expires=NOW + timedelta(hours=1))
    sign_in_page = '<html><input type="password" name="password"></html>'
    okta = FakeOkta(pages=[sign_in_page, saml_page(DEV)])
    _, reused = pages_for(okta, secrets)()
    assert not reused
    assert okta.calls == [
        "app_page sid-kept",
        "authn bob@acme.example",
        "create_session",
        "app_page sid-new",
    ]
    assert '"id": "sid-new"' in secrets.values[session_key(settings())]


def test_a_session_about_to_expire_is_not_used() -> None:
    secrets, okta = MemorySecrets(), FakeOkta()
    keep(secrets, expires=NOW + timedelta(seconds=10))
    _, reused = pages_for(okta, secrets)()
    assert not reused
    assert okta.calls[0] == "authn bob@acme.example"


def test_a_kept_session_near_its_end_is_refreshed_not_signed_in_again() -> None:
    secrets, okta = MemorySecrets(), FakeOkta()
    keep(secrets, expires=NOW + timedelta(minutes=2))
    _, reused = pages_for(okta, secrets)()
    assert reused
    assert okta.calls == ["refresh sid-kept", "app_page sid-kept"]
    kept = load_session(secrets, session_key(settings()))
    assert kept is not None
    assert kept.expires_at == NOW + timedelta(hours=2)


def test_a_kept_session_okta_will_not_refresh_means_a_sign_in() -> None:
    secrets = MemorySecrets()
    keep(secrets, expires=NOW + timedelta(minutes=2))

    class Ended(FakeOkta):
        def refresh_session(self, session_id: str) -> OktaSession | None:
            self.calls.append(f"refresh {session_id}")
            return None

    okta = Ended()
    _, reused = pages_for(okta, secrets)()
    assert not reused
    assert okta.calls[:2] == ["refresh sid-kept", "authn bob@acme.example"]


def test_a_session_ended_between_roles_is_a_denial_with_the_login_command() -> None:
    # Regression (issue 12): SessionExpiredError escaped uncaught from a later page.
    sign_in_page = '<html><input type="password" name="password"></html>'
    okta = FakeOkta(pages=[saml_page(DEV), sign_in_page])
    source = ClassicSessionPages(okta, MemorySecrets(), clock=lambda: NOW)
    pages = source(settings(), Script(), LoginInputs(password="pw"))
    with pytest.raises(DeniedError, match="ended the session") as denied:
        pages.fetch()
    assert "keyless login --profile dev" in str(denied.value.fix)


def test_a_step_up_page_is_named_as_such() -> None:
    step_up = "<html><script>var stepUp = true; stateToken = 'st-9';</script></html>"
    with pytest.raises(DeniedError, match="step-up MFA"):
        pages_for(FakeOkta(pages=[step_up]), MemorySecrets())()


def test_a_page_without_an_assertion_says_no_role_is_assigned() -> None:
    page = "<html><title>Dashboard</title><body>Apps</body></html>"
    with pytest.raises(DeniedError, match=r"'Dashboard'.*no AWS roles assigned"):
        pages_for(FakeOkta(pages=[page]), MemorySecrets())()


def test_a_new_session_okta_does_not_accept_is_a_remote_error() -> None:
    sign_in_page = "<html><div id='okta-sign-in'></div></html>"
    with pytest.raises(RemoteError, match="just created"):
        pages_for(FakeOkta(pages=[sign_in_page]), MemorySecrets())()


def test_the_kept_page_alone_asks_for_a_login_when_there_is_no_session() -> None:
    source = ClassicSessionPages(FakeOkta(), MemorySecrets(), clock=lambda: NOW)
    with pytest.raises(LoginRequiredError, match="no live Okta session"):
        source.kept_page(settings())


# --- login(): the assertion, the role, STS --------------------------------------------------


def run_login(
    okta: FakeOkta,
    sts: FakeSts,
    *,
    all_roles: bool = False,
    prompter: Script | None = None,
    record_role: bool = False,
    **overrides: str | int | None,
) -> LoginResult:
    return login(
        settings(**overrides),
        pages=ClassicSessionPages(okta, MemorySecrets(), clock=lambda: NOW),
        sts=sts,
        prompter=prompter or Script(),
        inputs=LoginInputs(password="pw"),
        all_roles=all_roles,
        write_files=False,
        record_role=record_role,
        clock=lambda: NOW,
    )


def test_one_role_is_taken_and_named_for_the_cache() -> None:
    sts = FakeSts()
    result = run_login(FakeOkta(), sts)
    assert [item.role.role_arn for item in result.logins] == [DEV[0]]
    assert result.cached is result.logins[0]
    assert result.credentials.role_arn == DEV[0]
    assert result.credentials.account_id == "111111111111"
    assert sts.targets == [("us-east-1", None)]
    assert sts.requests[0][2] == 3600


@pytest.mark.parametrize("minutes", [-10, 10])
def test_a_clock_far_from_okta_is_refused_before_aws_is_asked(minutes: int) -> None:
    sts = FakeSts()
    okta = FakeOkta(pages=[saml_page(DEV, issued=NOW + timedelta(minutes=minutes))])
    with pytest.raises(DeniedError, match="clock is 10 minutes") as refused:
        run_login(okta, sts)
    assert ("behind" if minutes > 0 else "ahead of") in refused.value.message
    assert sts.requests == []


def test_a_clock_within_five_minutes_is_accepted() -> None:
    okta = FakeOkta(pages=[saml_page(DEV, issued=NOW - timedelta(minutes=4))])
    assert run_login(okta, FakeSts()).logins


def test_an_encrypted_assertion_is_a_configuration_problem() -> None:
    with pytest.raises(ConfigError, match="encrypted assertion"):
        run_login(FakeOkta(pages=[saml_page(DEV, encrypted=True)]), FakeSts())


def test_an_assertion_without_roles_is_refused() -> None:
    with pytest.raises(DeniedError, match="names no AWS role"):
        run_login(FakeOkta(pages=[saml_page()]), FakeSts())


def test_the_person_picks_among_several_roles() -> None:
    prompter = Script({"Remember": ["n"]}, choice=1)
    result = run_login(FakeOkta(pages=[saml_page(DEV, OPS)]), FakeSts(), prompter=prompter)
    assert result.logins[0].role.role_arn == OPS[0]
    assert prompter.choices == [["111111111111 / Developer", "222222222222 / Ops"]]


# Issue 24: a role choice that sticks.


@pytest.mark.parametrize(
    ("answers", "remembered"),
    [([""], True), (["Y"], True), (["yes"], True), (["n"], False), (["maybe", "no"], False)],
)
def test_the_picker_offers_to_remember_the_pick_in_the_profile(
    answers: list[str], remembered: bool
) -> None:
    prompter = Script({"Remember": answers}, choice=1)
    result = run_login(FakeOkta(pages=[saml_page(DEV, OPS)]), FakeSts(), prompter=prompter)
    question = (
        "Remember 222222222222 / Ops for profile dev, so later logins and credential-process "
        "take it without asking? [Y/n]"
    )
    assert prompter.asked == [question] * len(answers)  # asked again until y or n
    stored = load_profiles().get("dev", {})
    if remembered:
        assert (stored["role"], stored["account"]) == ("Ops", "222222222222")
        assert result.recorded_role == ("Ops", "222222222222")
        assert any("profile dev now takes Ops in 222222222222" in note for note in result.notes)
        # The next login asks nothing: the profile names the role.
        again = Script()
        pages = [saml_page(DEV, OPS, serial=1)]
        run_login(FakeOkta(pages=pages), FakeSts(), prompter=again, **stored)
        assert (again.choices, again.asked) == ([], [])
    else:
        assert "role" not in stored
        assert result.recorded_role is None


def test_a_role_named_by_flags_is_recorded_without_asking() -> None:
    prompter = Script()
    result = run_login(
        FakeOkta(pages=[saml_page(DEV, OPS)]),
        FakeSts(),
        prompter=prompter,
        record_role=True,
        role="arn:aws:iam::111111111111:role/Developer",
    )
    assert (prompter.choices, prompter.asked) == ([], [])
    assert result.recorded_role == ("Developer", "111111111111")
    stored = load_profiles()["dev"]
    assert (stored["role"], stored["account"]) == ("Developer", "111111111111")
    # Nothing else of the login's settings lands in the profile.
    assert set(stored) == {"role", "account"}


def test_a_role_the_assertion_does_not_offer_is_not_recorded() -> None:
    with pytest.raises(InputError, match="offers no role 'Admin'"):
        run_login(FakeOkta(), FakeSts(), prompter=Script(), record_role=True, role="Admin")
    assert load_profiles() == {}


def test_a_role_aws_refuses_is_not_recorded() -> None:
    prompter = Script({"Remember": [""]})
    with pytest.raises(DeniedError):
        run_login(
            FakeOkta(pages=[saml_page(DEV, OPS)]),
            FakeSts([StsError("AccessDenied", "no")]),
            prompter=prompter,
        )
    assert prompter.asked  # the person said yes...
    assert load_profiles() == {}  # ...but AWS refused the role, so nothing sticks


def test_all_roles_take_a_fresh_assertion_each_and_cache_the_preferred_one() -> None:
    pages = [saml_page(DEV, OPS, serial=n) for n in range(3)]
    sts = FakeSts()
    result = run_login(FakeOkta(pages=pages), sts, all_roles=True, role="Ops")
    assert [item.role.role_arn for item in result.logins] == [DEV[0], OPS[0]]
    assertions = [assertion for _, assertion, _ in sts.requests]
    assert len(set(assertions)) == 2  # never the same assertion twice
    assert result.cached is not None
    assert result.cached.role.role_arn == OPS[0]


def test_all_roles_without_a_preference_cache_nothing() -> None:
    result = run_login(FakeOkta(pages=[saml_page(DEV, OPS)]), FakeSts(), all_roles=True)
    assert result.cached is None


def test_duration_is_capped_by_the_assertion_and_retried_at_the_role_limit() -> None:
    too_long = StsError(
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    )
    pages = [saml_page(DEV, duration=7200, serial=n) for n in range(2)]
    sts = FakeSts([too_long])
    result = run_login(FakeOkta(pages=pages), sts, duration=10800)
    assert [duration for _, _, duration in sts.requests] == [7200, 3600]
    assert sts.requests[0][1] != sts.requests[1][1]  # the retry has a fresh assertion
    assert result.logins[0].duration == 3600
    assert any("SessionDuration allows 7200 s" in note for note in result.notes)
    assert any("retried with 3600 s" in note for note in result.notes)


@pytest.mark.parametrize(
    ("code", "error", "exit_code"),
    [
        ("AccessDenied", "refused role", EXIT_FINDING),
        ("ExpiredTokenException", "as expired", EXIT_FINDING),
        ("InvalidIdentityToken", "refused the assertion", EXIT_FINDING),
        ("Throttling", "AWS STS failed", EXIT_REMOTE),
    ],
)
def test_sts_refusals_become_errors_with_a_fix(code: str, error: str, exit_code: int) -> None:
    sts = FakeSts([StsError(code, "no")])
    with pytest.raises(KeylessError, match=error) as refused:
        run_login(FakeOkta(), sts)
    assert refused.value.exit_code == exit_code
    assert refused.value.fix


def test_logout_forgets_the_session_its_cookie_jar_and_the_device_flow_tokens() -> None:
    from keyless.services.login.access import logout
    from keyless.services.login.okta_flows import tokens_key
    from keyless.services.login.okta_session import jar_key

    profile = settings(oidc_client_id="0oaclient")
    secrets = MemorySecrets()
    keep(secrets, expires=NOW + timedelta(hours=1))
    secrets.set(jar_key(profile), '[{"name": "DT", "value": "d", "domain": "x", "path": "/"}]')
    secrets.set(tokens_key(ORG, "0oaclient", profile), "{}")
    result = logout([profile], secrets=secrets, end_at_okta=False)
    assert result.okta_sessions == 1
    assert secrets.values == {}
