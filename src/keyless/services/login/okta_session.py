"""Getting the AWS app's SAML form page: through a kept Okta session, or after a sign-in.

This is the seam between "how the user signs in" and "what keyless does with
the assertion". :func:`keyless.services.login.service.login` asks a
:class:`SamlPageSource` for :class:`SamlPages` and never talks to Okta itself,
so another sign-in flow (Okta Identity Engine's device authorization grant,
a browser) plugs in as a second implementation of the same protocol:

    source(settings, prompter, inputs) -> SamlPages(first, login, reused, fetch)

:class:`ClassicSessionPages` is the one for Okta's Classic engine: the
Okta session is kept in the secret store (keyring or 0600 file) under one key
per org and user, shared by every profile of that user; while it lives, the
app page opens with no question asked (refreshed at Okta when close to its
end); otherwise :class:`OktaSignIn` signs in and the new session is kept. An
app's Classic step-up is finished with the same factor verification.
:class:`keyless.services.login.okta_device.DeviceFlowPages` is the one for
Identity Engine's device flow; :func:`keyless.services.login.wiring.saml_pages`
picks one per profile.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from keyless.adapters.okta import looks_like_sign_in_page, page_title, step_up_state_token
from keyless.core.credentials import Clock, parse_expiration, utcnow
from keyless.core.okta import OktaSession, SessionExpiredError, StepUpRedirect
from keyless.core.ports import OktaApi, Prompter, SecretStore
from keyless.errors import DeniedError, LoginRequiredError, RemoteError
from keyless.services.login.okta_flows import (
    classic_step_up,
    identity_engine_refusal,
    resume_step_up,
)
from keyless.services.login.okta_signin import LoginInputs, OktaSignIn
from keyless.services.login.profiles import Settings

# A kept session with less than this left is not worth trying: it could
# expire between the app page and the STS call.
_SESSION_MARGIN = timedelta(seconds=30)
# A kept session with less than this left is refreshed before it is used.
_REFRESH_WITHIN = timedelta(minutes=15)


@dataclass(frozen=True)
class SamlPages:
    """The AWS app's SAML form pages for one signed-in user.

    ``first`` is the page fetched while getting in; ``fetch`` gets another
    one (a fresh assertion) asking nothing, for a second role or a retry:
    an STS that refuses replays (the lab's does) never sees one assertion twice.
    """

    first: str
    login: str | None
    reused: bool
    fetch: Callable[[], str]


class SamlPageSource(Protocol):
    """Gets the SAML form page of ``settings``' AWS app, signing in when it must."""

    def __call__(self, settings: Settings, prompter: Prompter, inputs: LoginInputs) -> SamlPages:
        """The pages, or a KeylessError saying why not (with a fix)."""
        ...


def session_key(settings: Settings) -> str:
    """The secret-store key of the Okta session: one per org and user, shared by profiles."""
    org = (settings.org_url or "").rstrip("/")
    who = settings.username or f"profile:{settings.profile}"
    return f"okta-session|{org}|{who}"


def load_session(secrets: SecretStore, key: str) -> OktaSession | None:
    """The session kept under ``key``, or None (absent or unreadable)."""
    raw = secrets.get(key)
    if not raw:
        return None
    try:
        data = json.loads(raw)
        return OktaSession(
            id=str(data["id"]),
            expires_at=parse_expiration(data["expires_at"]),
            login=data.get("login"),
        )
    except (ValueError, KeyError, TypeError):
        return None


def store_session(secrets: SecretStore, key: str, session: OktaSession) -> None:
    """Keep ``session`` under ``key``."""
    secrets.set(
        key,
        json.dumps(
            {"id": session.id, "expires_at": session.expires_at.isoformat(), "login": session.login}
        ),
    )


def jar_key(settings: Settings) -> str:
    """The secret-store key of the Okta cookie jar (``sid``, ``DT``...): per org and user,
    like the session (:mod:`keyless.adapters.okta_cookies` keeps it)."""
    from keyless.adapters.okta_cookies import cookie_key

    return cookie_key(settings.org_url or "", settings.username or f"profile:{settings.profile}")


# An app's step-up page -> the page after the step-up, or None when it is not one.
StepUp = Callable[[str], str | None]
# An app's step-up redirect's stateToken -> the page after the step-up.
StepUpResume = Callable[[str], str]


def app_page(
    okta: OktaApi,
    app_url: str,
    session: OktaSession,
    *,
    step_up: StepUp | None = None,
    resume: StepUpResume | None = None,
) -> str:
    """The app's page holding the ``SAMLResponse`` form, as ``session`` sees it.

    ``step_up`` finishes an app's step-up (Classic's Extra Verification) when
    the app asks for one. Raises :class:`SessionExpiredError` when Okta shows
    its sign-in page instead (the session is gone), and DeniedError for a
    step-up MFA page nothing finished or a page with no assertion (no role
    assigned).
    """
    try:
        page = okta.app_page(app_url, session.id)
    except StepUpRedirect as redirect:
        if resume is None:
            raise DeniedError(
                "the AWS app asks for a step-up MFA (a redirect with a stateToken)",
                fix="sign in to the app once in a browser, or ask your Okta admin to drop the "
                "app-level MFA policy for CLI use",
            ) from None
        page = resume(redirect.state_token)
        if "SAMLResponse" in page:
            return page
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


class ClassicSessionPages:
    """:class:`SamlPageSource` for Okta's Classic engine, keeping the Okta session.

    A kept session close to its end is refreshed (as a browser's activity
    extends it) rather than signed in again early. An app step-up is finished
    with the sign-in's own factor verification (:func:`classic_step_up`).
    ``identity_engine`` says whether the org runs Identity Engine (asked only
    when the Classic API failed, to name the device flow in the error).
    """

    def __init__(
        self,
        okta: OktaApi,
        secrets: SecretStore,
        *,
        clock: Clock = utcnow,
        poll_interval: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        identity_engine: Callable[[], bool] = lambda: False,
    ) -> None:
        self.okta = okta
        self.secrets = secrets
        self.clock = clock
        self.poll_interval = poll_interval
        self.sleep = sleep
        self.monotonic = monotonic
        self.identity_engine = identity_engine

    def __call__(self, settings: Settings, prompter: Prompter, inputs: LoginInputs) -> SamlPages:
        """Through the kept session when alive, else after a sign-in (then kept)."""
        _, app_url = settings.require_org()
        signin = OktaSignIn(
            settings,
            self.okta,
            prompter,
            self.secrets,
            inputs,
            poll_interval=self.poll_interval,
            sleep=self.sleep,
            monotonic=self.monotonic,
        )
        key = session_key(settings)
        kept = self._kept(key)
        if kept is not None:
            try:
                return self._pages(settings, app_url, kept, signin, reused=True)
            except SessionExpiredError:
                self.secrets.delete(key)
        session = signin.run()
        store_session(self.secrets, key, session)
        try:
            return self._pages(settings, app_url, session, signin, reused=False)
        except SessionExpiredError as exc:
            if self.identity_engine():
                raise identity_engine_refusal(settings) from exc
            raise RemoteError(
                "Okta did not accept the session it had just created for the AWS app",
                fix="check the app URL (`keyless configure --app-url`)",
            ) from exc

    def _kept(self, key: str) -> OktaSession | None:
        """The kept session if it is worth using, refreshed when it is close to its end."""
        kept = load_session(self.secrets, key)
        now = self.clock()
        if kept is None or kept.expires_at <= now + _SESSION_MARGIN:
            return None
        if kept.expires_at > now + _REFRESH_WITHIN:
            return kept
        # Okta: POST /api/v1/sessions/me/lifecycle/refresh extends the session as a
        # browser's activity does, so it does not ask for the password again early.
        refreshed = self.okta.refresh_session(kept.id)
        if refreshed is None:
            self.secrets.delete(key)
            return None
        kept = OktaSession(
            id=kept.id, expires_at=refreshed.expires_at, login=kept.login or refreshed.login
        )
        store_session(self.secrets, key, kept)
        return kept

    def kept_page(self, settings: Settings) -> str:
        """A fresh page from the kept session alone; LoginRequiredError when there is none."""
        _, app_url = settings.require_org()
        kept = load_session(self.secrets, session_key(settings))
        if kept is None or kept.expires_at <= self.clock():
            raise LoginRequiredError(
                f"no live Okta session for profile {settings.profile!r}",
                fix=f"run `keyless login --profile {settings.profile}`",
            )
        return app_page(self.okta, app_url, kept)

    def _pages(
        self,
        settings: Settings,
        app_url: str,
        session: OktaSession,
        signin: OktaSignIn,
        *,
        reused: bool,
    ) -> SamlPages:
        def step_up(page: str) -> str | None:
            return classic_step_up(
                self.okta,
                page,
                session,
                verify=signin.verify_step_up,
                settings=settings,
                is_identity_engine=self.identity_engine,
            )

        def resume(state_token: str) -> str:
            return resume_step_up(
                self.okta,
                state_token,
                session,
                verify=signin.verify_step_up,
                settings=settings,
                is_identity_engine=self.identity_engine,
            )

        def fetch() -> str:
            # Later pages of the same sign-in (another role, a shorter duration): a
            # session Okta ends meanwhile is reported, never leaked as an internal error.
            try:
                return app_page(self.okta, app_url, session, step_up=step_up, resume=resume)
            except SessionExpiredError as exc:
                raise DeniedError(
                    "Okta ended the session while keyless was taking the roles",
                    fix=f"run `keyless login --profile {settings.profile}` again",
                ) from exc

        return SamlPages(
            first=app_page(self.okta, app_url, session, step_up=step_up, resume=resume),
            login=session.login,
            reused=reused,
            fetch=fetch,
        )
