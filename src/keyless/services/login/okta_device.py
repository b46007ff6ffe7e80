"""Okta Identity Engine's device flow, as a :class:`~.okta_session.SamlPageSource`.

The OAuth 2.0 device authorization grant on the org's native OIDC app
(RFC 8628), then the web SSO token exchange for the AWS app (RFC 8693 with
Okta's ``urn:okta:oauth:token-type:web_sso_token``) and ``/login/token/sso``,
which answers the same SAML form page as the Classic app link: everything
after the page (role choice, STS, files, cache) is the same code. Where the
AWS app trusts the native app for Okta's Native to Web SSO, the exchange asks
for an interclient token instead and opens the app's SSO URL with it (the
profile's ``exchange``; :func:`~keyless.services.login.okta_flows.exchange_kind`).

The person signs in and passes MFA in a browser, at the verification URL
keyless prints (with a QR code in a terminal; ``--open`` opens it). The
access and ID tokens are kept in the secret store while they live, in place
of a ``sid``: the next login (or a ``credential-process`` refresh) exchanges
them again with no browser. When they are gone and nobody can act on the
URL, the prompter's :meth:`~keyless.core.ports.Prompter.missing_input` says
what to run (exit 4 under ``credential-process``).
"""

from __future__ import annotations

import time
import webbrowser
from collections.abc import Callable
from datetime import timedelta

from keyless.adapters.okta_oauth import (
    DeviceAuthorization,
    InterclientNotTrusted,
    OAuthTokens,
    OktaOAuthClient,
    Pending,
    ScopeNotGranted,
    TokensLackScope,
    WebSsoTokenReplayed,
)
from keyless.core.credentials import Clock, utcnow
from keyless.core.ports import Prompter, SecretStore
from keyless.errors import ConfigError, DeniedError
from keyless.services.login.okta_flows import (
    DEVICE_SETUP,
    app_id_of,
    device_scopes,
    exchange_kind,
    tokens_key,
)
from keyless.services.login.okta_session import SamlPages
from keyless.services.login.okta_signin import LoginInputs
from keyless.services.login.profiles import Settings

# Kept tokens with less than this left are not worth an exchange.
_TOKEN_MARGIN = timedelta(seconds=30)


class DeviceFlowPages:
    """:class:`~keyless.services.login.okta_session.SamlPageSource` for Identity Engine orgs.

    ``person_reads_output`` says whether whoever started this run reads what it
    prints even without a terminal (``keyless login``: yes; a credential
    provider behind the AWS CLI: only when the prompter is interactive).
    """

    def __init__(
        self,
        oauth: OktaOAuthClient,
        secrets: SecretStore,
        *,
        person_reads_output: bool,
        clock: Clock = utcnow,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.oauth = oauth
        self.secrets = secrets
        self.person_reads_output = person_reads_output
        self.clock = clock
        self.sleep = sleep
        self.monotonic = monotonic

    def __call__(self, settings: Settings, prompter: Prompter, inputs: LoginInputs) -> SamlPages:
        """Through the kept tokens while they live, else after a device authorization."""
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
        key = tokens_key(self.oauth.org_url, client_id, settings)

        def page_for(tokens: OAuthTokens) -> Callable[[], str]:
            # A new single-use token for every page (a second role, a retry).
            if exchange_kind(settings.exchange, tokens.scope) == "interclient_token":

                def interclient() -> str:
                    token = self.oauth.interclient_token(client_id, app_id, tokens)
                    return self.oauth.interclient_page(app_id, token)

                return interclient

            def fetch() -> str:
                try:
                    return self.oauth.sso_page(self.oauth.web_sso_token(client_id, app_id, tokens))
                except WebSsoTokenReplayed:
                    # Single-use token seen twice (a retried request): one fresh exchange.
                    return self.oauth.sso_page(self.oauth.web_sso_token(client_id, app_id, tokens))

            return fetch

        kept = self._kept(key)
        if kept is not None:
            fetch = page_for(kept)
            try:
                return SamlPages(first=fetch(), login=kept.login, reused=True, fetch=fetch)
            except InterclientNotTrusted:
                # The trust mapping went away since these tokens were granted: under
                # auto, a new authorization falls back to the web SSO scopes.
                if settings.exchange == "interclient_token":
                    raise
                self.secrets.delete(key)
            except TokensLackScope:
                # Useless until the admin grants the scope; a browser trip now would get
                # the same tokens, so none is made.
                self.secrets.delete(key)
                raise
            except DeniedError:
                # The approving browser session ended, or the app's policy asks for a
                # fresher sign-in: the kept tokens are no good any more. (The app's own
                # configuration, e.g. its Allowed Web SSO Client, is a ConfigError: it
                # passes through and the tokens stay kept.)
                self.secrets.delete(key)
        tokens = self._authorize(settings, prompter, inputs, client_id)
        self.secrets.set(key, tokens.to_json())
        fetch = page_for(tokens)
        try:
            first = fetch()
        except (TokensLackScope, DeniedError):
            # Fresh tokens the exchange refuses are no good to the next run either.
            self.secrets.delete(key)
            raise
        return SamlPages(first=first, login=tokens.login, reused=False, fetch=fetch)

    def _kept(self, key: str) -> OAuthTokens | None:
        raw = self.secrets.get(key)
        tokens = OAuthTokens.from_json(raw) if raw else None
        if tokens is None or tokens.expires_at <= self.clock() + _TOKEN_MARGIN:
            return None
        return tokens

    def _authorize(
        self, settings: Settings, prompter: Prompter, inputs: LoginInputs, client_id: str
    ) -> OAuthTokens:
        if not (self.person_reads_output or prompter.interactive):
            # Nobody would see the URL: the prompter says what that means here.
            raise prompter.missing_input(
                f"the Okta tokens of profile {settings.profile!r} have expired and signing "
                "in again needs a person at a browser",
            )
        grant = self._device_authorize(client_id, device_scopes(settings.exchange))
        _show(prompter, grant)
        if inputs.open_browser:
            webbrowser.open(grant.verification_uri_complete)
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
                tokens = self.oauth.poll(client_id, grant.device_code, self.clock())
            except Pending as pending:
                if pending.slow_down:
                    interval += 5  # RFC 8628 §3.5: slow_down adds five seconds
                continue
            prompter.notify(f"Okta: signed in as {tokens.login or 'you'}.")
            return tokens

    def _device_authorize(self, client_id: str, scopes: tuple[str, ...]) -> DeviceAuthorization:
        # Each scope set in turn: invalid_scope for the interclient scope means the org
        # does not offer Native to Web SSO to this client (no trust mapping).
        for scope in scopes[:-1]:
            try:
                return self.oauth.device_authorize(client_id, scope)
            except ScopeNotGranted:
                continue
        try:
            return self.oauth.device_authorize(client_id, scopes[-1])
        except ScopeNotGranted as exc:
            if "interclient_access" not in scopes[-1]:
                raise
            raise InterclientNotTrusted(
                "Okta refused the device authorization (invalid_scope): the org does not grant "
                "interclient_access to this OIDC app (Native to Web SSO is off, or the AWS app "
                "does not trust the app)",
                fix="in Okta, the AWS app's Sign On tab > Single use native to web exchange > "
                'Add app: the native app; or set `exchange = "auto"` in the profile',
            ) from exc


def _show(prompter: Prompter, grant: DeviceAuthorization) -> None:
    prompter.notify(
        "To sign in, open this page in a browser and approve keyless:\n"
        f"  {grant.verification_uri_complete}\n"
        f"(or open {grant.verification_uri} and enter the code {grant.user_code})"
    )
    qr = terminal_qr(grant.verification_uri_complete)
    if qr:
        prompter.notify(qr)


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
