"""Which way ``keyless login`` gets the AWS app's SAML form from Okta, as orgs run it today.

Two ways, chosen per profile by ``auth_flow`` (``auto``, ``classic``, ``device``)
in :func:`keyless.services.login.wiring.saml_pages`:

- **classic**: the Authentication API (``/api/v1/authn``, factors, a session),
  then the app link — :class:`keyless.services.login.okta_session.ClassicSessionPages`.
  When the AWS app has its own MFA policy, a Classic org answers the link with
  its *Extra Verification* page; :func:`classic_step_up` finishes it as Okta's
  Authentication API describes (``SESSION_STEP_UP``, then
  ``/login/step-up/redirect``).
- **device**: on an Identity Engine org (``/.well-known/okta-organization``
  says ``pipeline: idx``), the OAuth device authorization grant on a native
  OIDC app, then the web SSO token exchange for the AWS app and
  ``/login/token/sso`` (:class:`keyless.services.login.okta_device.DeviceFlowPages`).
  The browser does the sign-in and MFA, so every authenticator Okta offers works.

``auto`` picks the device flow on an Identity Engine org when the profile
names an OIDC client id, classic otherwise; classic on Identity Engine fails
with a message naming the device flow and what the Okta admin sets up.

Whatever the flow, the page it returns goes through the same role choice,
STS call and files.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable

from keyless.adapters.okta_oauth import DEVICE_SCOPE, INTERCLIENT_SCOPE
from keyless.core.okta import AuthnState, OktaSession, SessionExpiredError
from keyless.core.ports import OktaApi
from keyless.errors import ConfigError, DeniedError, KeylessError
from keyless.services.login.profiles import Settings

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


# The device authorization's scopes for each token the exchange can ask for. The
# web SSO token needs okta.apps.sso (okta/okta-aws-cli asks for exactly
# ``openid okta.apps.sso``); the interclient token needs interclient_access, which
# the org grants only to a client the target app's trust map lists (Okta, "Configure
# Native to Web SSO", https://developer.okta.com/docs/guides/native-to-web-sso/main/:
# the trust relationship is checked when the scope is granted and again at the
# exchange). interclient_access alone is the narrower grant: okta.apps.sso lets the
# client ask for web SSO tokens for any app that allows it.
WEB_SSO_SCOPES = DEVICE_SCOPE
INTERCLIENT_SCOPES = INTERCLIENT_SCOPE


def device_scopes(exchange: str | None) -> tuple[str, ...]:
    """The scopes to ask the device authorization for, in order of preference.

    ``auto`` asks for the interclient scope first: the org answers ``invalid_scope``
    when it does not offer Native to Web SSO or the AWS app does not trust this
    client, and the next entry (the web SSO scopes) is asked for instead.
    """
    if exchange == "interclient_token":
        return (INTERCLIENT_SCOPES,)
    if exchange == "web_sso_token":
        return (WEB_SSO_SCOPES,)
    return (INTERCLIENT_SCOPES, WEB_SSO_SCOPES)


def exchange_kind(exchange: str | None, granted_scope: str) -> str:
    """``interclient_token`` or ``web_sso_token``: what the tokens (granted
    ``granted_scope``) are exchanged for under the profile's ``exchange``.

    Under ``auto`` the granted scopes decide: tokens granted ``interclient_access``
    came from a client the AWS app trusts, others (kept from before, or from the
    fallback) get the web SSO token as they always did.
    """
    if exchange in ("interclient_token", "web_sso_token"):
        return exchange
    return "interclient_token" if "interclient_access" in granted_scope.split() else "web_sso_token"


def tokens_key(org_url: str, client_id: str, settings: Settings) -> str:
    """The secret-store key of the device flow's kept tokens: per org, OIDC client and
    user (or profile)."""
    who = settings.username or f"profile:{settings.profile}"
    return f"okta-tokens|{org_url.rstrip('/')}|{client_id}|{who}"


def choose_flow(settings: Settings, pipeline: Callable[[], str | None]) -> str:
    """``classic`` or ``device`` for this profile; ``pipeline`` asks the org which engine
    it runs (``v1`` or ``idx``), called only when it matters."""
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
    if settings.oidc_client_id and pipeline() == "idx":
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
    okta: OktaApi,
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
    return resume_step_up(
        okta,
        state_token,
        session,
        verify=verify,
        settings=settings,
        is_identity_engine=is_identity_engine,
    )


def resume_step_up(
    okta: OktaApi,
    state_token: str,
    session: OktaSession,
    *,
    verify: Callable[[AuthnState], AuthnState],
    settings: Settings,
    is_identity_engine: Callable[[], bool],
) -> str:
    """Resume the step-up transaction ``state_token`` (from a page or a redirect), verify
    the factor it asks for, and return the app's page after it."""
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
