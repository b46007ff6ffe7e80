"""How ``keyless login`` gets the AWS app's SAML form from Okta as orgs run it today.

Two ways, chosen per profile by ``auth_flow`` (``auto``, ``classic``, ``device``):

- **classic**: the Authentication API (``/api/v1/authn``, factors, a session),
  then the app link — in :mod:`keyless.services.login`. When the AWS app has
  its own MFA policy, a Classic org answers the link with its *Extra
  Verification* page; :func:`classic_step_up` finishes it as Okta's
  Authentication API describes (``SESSION_STEP_UP``, then
  ``/login/step-up/redirect``).
- **device**: on an Identity Engine org (``/.well-known/okta-organization``
  says ``pipeline: idx``), the OAuth device authorization grant on a native
  OIDC app, then the web SSO token exchange for the AWS app and
  ``/login/token/sso`` (:class:`DeviceFlow`). The browser does the sign-in
  and MFA, so every authenticator Okta offers works.

``auto`` picks the device flow on an Identity Engine org when the profile
names an OIDC client id, classic otherwise; classic on Identity Engine fails
with a message naming the device flow and what the Okta admin sets up.

Whatever the flow, the page it returns goes through the same role choice,
STS call and files.
"""

from __future__ import annotations

import codecs
import re
import webbrowser
from collections.abc import Callable
from datetime import timedelta

from keyless.adapters.okta import AuthnState, OktaClient, OktaSession, SessionExpiredError
from keyless.adapters.okta_oauth import OAuthTokens, OktaOAuthClient, Pending
from keyless.adapters.secrets import SecretStore
from keyless.errors import ConfigError, DeniedError, KeylessError
from keyless.services.credentials import Clock
from keyless.services.profiles import Settings

# The Extra Verification page hands its transaction to the widget in JavaScript:
# ``var stateToken = '00…\x2D…';`` (gimme-aws-creds reads it the same way).
_STATE_TOKEN_JS = re.compile(r"""var\s+stateToken\s*=\s*'([^']*)'""")
_APP_ID = re.compile(r"/(?:home|app)/[^/]+/(0oa[A-Za-z0-9]+)(?:/|$)")

DEVICE_SETUP = (
    "an Okta admin creates an OIDC Native app with the Device Authorization and Token "
    "Exchange grants and the okta.apps.sso scope, and sets it as the AWS app's Allowed "
    "Web SSO Client (README: 'Okta Identity Engine: the device flow'); then "
    "`keyless configure --auth-flow device --oidc-client-id 0oa...`"
)


def page_state_token(page: str) -> str | None:
    """The ``stateToken`` of an Okta page that hands a transaction to its widget, decoded
    from JavaScript (``\\x2D`` is ``-``); None when the page holds none."""
    match = _STATE_TOKEN_JS.search(page)
    if match is None:
        return None
    try:
        decoded = codecs.decode(match.group(1), "unicode_escape")
    except UnicodeDecodeError:
        return None
    # A token is printable ASCII; anything else is not one of Okta's.
    return decoded if decoded and decoded.isascii() and decoded.isprintable() else None


def app_id_of(settings: Settings) -> str | None:
    """The AWS app's id: the profile's ``aws_app_id``, else read from its embed link."""
    if settings.aws_app_id:
        return settings.aws_app_id
    match = _APP_ID.search(settings.app_url or "")
    return match.group(1) if match else None


def choose_flow(settings: Settings, oauth: OktaOAuthClient) -> str:
    """``classic`` or ``device`` for this profile (asks the org only when it matters)."""
    wanted = settings.auth_flow or "auto"
    if wanted == "classic":
        return "classic"
    if wanted == "device":
        if not settings.oidc_client_id:
            raise ConfigError(
                f"profile {settings.profile!r} uses the device flow but names no OIDC client id",
                fix=f"run `keyless configure --profile {settings.profile} --oidc-client-id 0oa...`",
            )
        return "device"
    if settings.oidc_client_id and oauth.pipeline() == "idx":
        return "device"
    return "classic"


def identity_engine_refusal(settings: Settings) -> KeylessError:
    """What to say when the Classic API meets an Identity Engine app policy."""
    return DeniedError(
        "this Okta org runs Identity Engine and the AWS app's authentication policy is only "
        "met in Okta's own sign-in, not through the Classic authentication API: sign in with "
        "the device flow",
        fix=f"use the device flow: {DEVICE_SETUP}"
        if not settings.oidc_client_id
        else f"run `keyless login --profile {settings.profile} --auth-flow device`",
    )


def classic_step_up(
    okta: OktaClient,
    page: str,
    session: OktaSession,
    *,
    verify: Callable[[AuthnState], AuthnState],
    settings: Settings,
    is_identity_engine: Callable[[], bool],
) -> str | None:
    """Finish an app's Extra Verification for ``session``; the app's page after it.

    None when ``page`` is not a step-up page. ``verify`` runs the factor
    verification (the same as at sign-in) on the ``MFA_REQUIRED`` state.
    """
    state_token = page_state_token(page)
    if state_token is None:
        return None
    try:
        state = okta.resume(state_token)
    except SessionExpiredError:
        # Identity Engine's widget hands out a stateHandle the Classic API refuses
        # (401 E0000011): gimme-aws-creds meets the same wall with --force-classic.
        if is_identity_engine():
            raise identity_engine_refusal(settings) from None
        raise DeniedError(
            "Okta did not accept the step-up it had just asked for (E0000011)",
            fix="run `keyless login` again",
        ) from None
    if state.status == "MFA_REQUIRED":
        state = verify(state)
    if state.status != "SUCCESS" or not state.next_url:
        raise DeniedError(
            f"the AWS app's extra verification ended with status {state.status or 'none'}",
            fix="sign in to the app once in a browser to see what Okta asks for",
        )
    return okta.app_page(state.next_url, session.id)


class DeviceFlow:
    """Identity Engine's device authorization → web SSO token → the app's SAML form.

    The access and ID tokens (and the device secret) are kept in the secret
    store while they live, in place of a ``sid``: the next login exchanges them
    again without anyone opening a browser.
    """

    def __init__(
        self,
        settings: Settings,
        oauth: OktaOAuthClient,
        *,
        notify: Callable[[str], None],
        secrets: SecretStore,
        clock: Clock,
        sleep: Callable[[float], None],
        monotonic: Callable[[], float],
        person_present: bool,
        open_browser: bool = False,
    ) -> None:
        client_id, app_id = settings.oidc_client_id, app_id_of(settings)
        if not client_id:
            raise ConfigError(
                f"profile {settings.profile!r} names no OIDC client id", fix=DEVICE_SETUP
            )
        if not app_id:
            raise ConfigError(
                f"cannot tell the AWS app's id from {settings.app_url!r}",
                fix="set it with `keyless configure --aws-app-id 0oa...` (the app's id in Okta)",
            )
        self.settings = settings
        self.oauth = oauth
        self.client_id = client_id
        self.app_id = app_id
        self.notify = notify
        self.secrets = secrets
        self.clock = clock
        self.sleep = sleep
        self.monotonic = monotonic
        self.person_present = person_present
        self.open_browser = open_browser
        self.tokens: OAuthTokens | None = None

    @property
    def key(self) -> str:
        """The secret-store key of the kept tokens: per org, client and user (or profile)."""
        org = self.oauth.org_url.rstrip("/")
        who = self.settings.username or f"profile:{self.settings.profile}"
        return f"okta-tokens|{org}|{self.client_id}|{who}"

    def first_page(self) -> tuple[str, OktaSession, bool]:
        """The SAML form page, the session it stands for, and whether kept tokens served."""
        kept = self._kept()
        if kept is not None:
            try:
                self.tokens = kept
                return self.page(), self._session(kept), True
            except DeniedError:
                # The approving browser session ended, or the policy changed:
                # the kept tokens are no good any more.
                self.secrets.delete(self.key)
        tokens = self._authorize()
        self.tokens = tokens
        self.secrets.set(self.key, tokens.to_json())
        return self.page(), self._session(tokens), False

    def page(self) -> str:
        """A fresh SAML form page from the current tokens (a new web SSO token each time)."""
        assert self.tokens is not None
        web_sso = self.oauth.web_sso_token(self.client_id, self.app_id, self.tokens)
        return self.oauth.sso_page(web_sso)

    def _kept(self) -> OAuthTokens | None:
        raw = self.secrets.get(self.key)
        tokens = OAuthTokens.from_json(raw) if raw else None
        if tokens is None or tokens.expires_at <= self.clock() + timedelta(seconds=30):
            return None
        return tokens

    def _session(self, tokens: OAuthTokens) -> OktaSession:
        # The device flow keeps no sid; what login reports is who and until when.
        return OktaSession(id="", expires_at=tokens.expires_at, login=tokens.login)

    def _authorize(self) -> OAuthTokens:
        if not self.person_present:
            from keyless.services.login import LoginRequiredError

            raise LoginRequiredError(
                f"the Okta tokens of profile {self.settings.profile!r} have expired and "
                "signing in again needs a person at a browser",
                fix=f"run `keyless login --profile {self.settings.profile}`",
            )
        grant = self.oauth.device_authorize(self.client_id)
        self._show(grant.verification_uri, grant.verification_uri_complete, grant.user_code)
        deadline = self.monotonic() + grant.expires_in
        interval = max(grant.interval, 1)
        while True:
            if self.monotonic() > deadline:
                raise DeniedError(
                    "the device code expired before anyone approved it",
                    fix="run `keyless login` again and approve within the time shown",
                )
            self.sleep(interval)
            try:
                tokens = self.oauth.poll(self.client_id, grant.device_code, self.clock())
            except Pending as pending:
                if pending.slow_down:
                    interval += 5  # RFC 8628 §3.5
                continue
            self.notify(f"Okta: signed in as {tokens.login or 'you'}.")
            return tokens

    def _show(self, uri: str, complete: str, user_code: str) -> None:
        self.notify(
            "To sign in, open this page in a browser and approve keyless:\n"
            f"  {complete}\n"
            f"(or open {uri} and enter the code {user_code})"
        )
        qr = terminal_qr(complete)
        if qr:
            self.notify(qr)
        if self.open_browser:
            webbrowser.open(complete)


def terminal_qr(text: str) -> str | None:
    """A QR code of ``text`` drawn for a terminal, when segno is installed and there is one."""
    import sys

    if not sys.stderr.isatty():
        return None
    try:
        import io

        import segno
    except ImportError:
        return None
    buffer = io.StringIO()
    segno.make(text, error="l").terminal(out=buffer, compact=True)
    return buffer.getvalue()
