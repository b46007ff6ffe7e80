"""A client for Okta's OAuth endpoints a CLI uses on an Identity Engine org.

The requests are those Okta's own AWS CLI sends (okta/okta-aws-cli,
``internal/webssoauth/webssoauth.go``) and gimme-aws-creds' Identity Engine
client (``gimme_aws_creds/okta_identity_engine.py``), per Okta's "OpenID
Connect & OAuth 2.0 API" reference and RFC 8628 / RFC 8693:

- ``GET /.well-known/okta-organization`` — ``pipeline`` ``v1`` is Classic,
  ``idx`` Identity Engine;
- ``POST /oauth2/v1/device/authorize`` (``client_id``, ``scope``) — the
  device and user codes, the verification URL, ``expires_in``, ``interval``;
- ``POST /oauth2/v1/token`` with the device code grant — polled until the
  person approves: ``authorization_pending``, ``slow_down`` (+5 s),
  ``access_denied``, ``expired_token``;
- ``POST /oauth2/v1/token`` with the token exchange grant — the ID token as
  subject, the access token as actor, ``audience=urn:okta:apps:<app id>``,
  ``requested_token_type=urn:okta:oauth:token-type:web_sso_token``;
- ``POST /login/token/sso`` (form field ``token``: okta-aws-cli posts it so
  the token stays out of URLs and logs) — the AWS app's SAML form page.

Where the org offers Native to Web SSO (Okta, "Configure Native to Web SSO",
https://developer.okta.com/docs/guides/native-to-web-sso/main/; generally
available in 2026) and the AWS app's trust map lists the native app, the same
exchange asks for ``urn:okta:params:oauth:token-type:interclient_token`` with
tokens granted ``interclient_access``, and the token opens the app's SSO URL
as ``?interclient_token=`` (:meth:`OktaOAuthClient.interclient_page`).

Every OAuth error Okta documents becomes a :mod:`keyless.errors` error with
the code, Okta's description and a fix (:func:`oauth_failure`).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from keyless.adapters.http import httpx
from keyless.adapters.okta import OktaClient
from keyless.errors import ConfigError, DeniedError, KeylessError, RemoteError

# Protocol names, not secrets.
GRANT_DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
GRANT_TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105
TOKEN_TYPE_ID = "urn:ietf:params:oauth:token-type:id_token"  # noqa: S105
TOKEN_TYPE_ACCESS = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105
TOKEN_TYPE_WEB_SSO = "urn:okta:oauth:token-type:web_sso_token"  # noqa: S105
TOKEN_TYPE_INTERCLIENT = "urn:okta:params:oauth:token-type:interclient_token"  # noqa: S105
# What Okta's own AWS CLI asks for on the org authorization server: ``openid
# okta.apps.sso`` for the web SSO exchange (okta/okta-aws-cli,
# internal/webssoauth/webssoauth.go, ``authorize()``; it adds okta.apps.read and
# okta.users.read.self only to list the AWS apps, which keyless does not: the
# profile names the app). Not ``device_sso``: that is Native SSO, offered only by
# custom authorization servers with ``openid offline_access``, and the org server
# refuses it as ``invalid_scope``.
DEVICE_SCOPE = "openid okta.apps.sso"
# Native to Web SSO: the org grants interclient_access only to a client the target
# app trusts (its interclient-allowed-apps), and answers invalid_scope otherwise.
INTERCLIENT_SCOPE = "openid interclient_access"

# Okta's descriptions that call for more than the generic advice.
ASSURANCE_NOT_MET = "assurance requirements are not met"
SESSION_ENDED = "session associated with it was terminated"
# invalid_grant when the AWS app's Allowed Web SSO Client (settings.app.webSSOAllowedClient)
# is not this client: "The target audience app must be configured to allow the client
# to request a 'web_sso_token'."
NOT_ALLOWED_CLIENT = "configured to allow the client to request"
# invalid_grant when the access token lacks the scope: "The 'actor_token' must have the
# 'okta.apps.sso' scope..."
ACTOR_LACKS_SCOPE = "must have the 'okta.apps.sso' scope"
REPLAYED = "web_sso_token_replayed"
# invalid_grant when the AWS app's trust map does not list this client (the same
# sentence as NOT_ALLOWED_CLIENT, naming the interclient token), and when the
# tokens lack the scope.
INTERCLIENT_NOT_TRUSTED = "request an 'interclient_token'"
ACTOR_LACKS_INTERCLIENT = "must have the 'interclient_access' scope"

# Okta's AWS CLI: "In authentication policy rule of AWS Federation app, Device State
# must be set to Any for using Okta AWS CLI" (okta/okta-aws-cli README, "Authentication
# policy"): a token exchange carries no device context, so a rule asking for a
# registered or managed device (device assurance) can never be met by it.
POSTURE_ADVICE = (
    "if the AWS app's authentication policy requires a registered or managed device "
    "(Device State: Registered/Managed, or a device assurance policy), a command-line "
    "token exchange can never meet it: Okta sees no device in the exchange. Ask your "
    "Okta admin for a rule on the AWS app with Device State Any for the CLI's sign-in, "
    "guarded by the same MFA; otherwise give the AWS app and the CLI's OIDC app the same "
    "authentication policy (MFA once per session, not at every sign-in)"
)


class WebSsoClientNotAllowed(ConfigError):
    """The AWS app does not list this OIDC client as its Allowed Web SSO Client.

    The app's configuration, not the tokens: they stay kept.
    """


class InterclientNotTrusted(ConfigError):
    """The AWS app's Native to Web SSO trust map does not list this OIDC client."""


class ScopeNotGranted(ConfigError):
    """The device authorization asked for scopes the org does not grant this client."""


class TokensLackScope(ConfigError):
    """The kept tokens were issued without ``okta.apps.sso``: useless until the admin
    grants it, but another browser trip now would get the same tokens."""


class WebSsoTokenReplayed(RemoteError):
    """Okta saw the single-use web SSO token twice; a fresh exchange fixes it."""


@dataclass(frozen=True)
class DeviceAuthorization:
    """Okta's answer to a device authorization request."""

    device_code: str = field(repr=False)
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int


@dataclass(frozen=True)
class OAuthTokens:
    """The tokens a device authorization yields (bearer secrets: kept out of repr)."""

    access_token: str = field(repr=False)
    id_token: str = field(repr=False)
    expires_at: datetime
    scope: str
    device_secret: str | None = field(default=None, repr=False)

    @property
    def login(self) -> str | None:
        """The Okta username: the access token's ``sub`` (read unverified, for display)."""
        claims = unverified_claims(self.access_token)
        sub = claims.get("sub")
        return sub if isinstance(sub, str) else None

    def to_json(self) -> str:
        return json.dumps(
            {
                "access_token": self.access_token,
                "id_token": self.id_token,
                "device_secret": self.device_secret,
                "expires_at": self.expires_at.isoformat(),
                "scope": self.scope,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> OAuthTokens | None:
        """Tokens kept by :meth:`to_json`, or None when the text is not that."""
        try:
            data = json.loads(text)
            return cls(
                access_token=str(data["access_token"]),
                id_token=str(data["id_token"]),
                expires_at=datetime.fromisoformat(data["expires_at"]),
                scope=str(data.get("scope", "")),
                device_secret=data.get("device_secret"),
            )
        except (ValueError, KeyError, TypeError):
            return None


def unverified_claims(jwt: str) -> dict[str, Any]:
    """A JWT's claims, NOT verified: only for showing who signed in. The tokens come
    straight from the org's token endpoint over TLS (OIDC Core §3.1.3.7 allows that)."""
    try:
        payload = jwt.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class Pending(Exception):
    """The person has not answered yet; ``slow_down`` says to poll less often."""

    def __init__(self, *, slow_down: bool) -> None:
        super().__init__("authorization_pending")
        self.slow_down = slow_down


def oauth_failure(error: str, description: str, *, what: str, org_url: str) -> KeylessError:
    """The keyless error for an OAuth error Okta answered during ``what``."""
    said = f"Okta refused {what} ({error}: {description})"
    if error == "access_denied":
        return DeniedError(
            "the device sign-in was denied in the browser (access_denied)",
            fix="run `keyless login` again and choose Allow on the activation page",
        )
    if error == "expired_token":
        return DeniedError(
            "the device code expired before anyone approved it (expired_token)",
            fix="run `keyless login` again and approve within the time shown",
        )
    if error == "invalid_grant" and ASSURANCE_NOT_MET in description:
        return DeniedError(
            f"{said}: the AWS app's authentication policy asks for more than this sign-in "
            "proved (a factor the sign-in did not use, or a device the exchange cannot show)",
            fix=POSTURE_ADVICE + "; then run `keyless login` again",
        )
    if error == "invalid_grant" and INTERCLIENT_NOT_TRUSTED in description:
        return InterclientNotTrusted(
            f"{said}: the AWS app does not trust this OIDC app for Native to Web SSO",
            fix="in Okta, the AWS app's Sign On tab > Single use native to web exchange > Add "
            "app: the native app (POST /api/v1/apps/<AWS app id>/interclient-allowed-apps); "
            'or set `exchange = "web_sso_token"` in the profile',
        )
    if error == "invalid_grant" and ACTOR_LACKS_INTERCLIENT in description:
        return TokensLackScope(
            f"{said}: the tokens were not granted interclient_access",
            fix='run `keyless login` again; if it persists, set `exchange = "web_sso_token"` '
            "in the profile",
        )
    if (error == "invalid_grant" and NOT_ALLOWED_CLIENT in description) or (
        error in ("invalid_target", "invalid_grant")
        and "allowed web sso client" in description.lower()
    ):
        return WebSsoClientNotAllowed(
            f"{said}: the AWS app's Allowed Web SSO Client is not this OIDC app",
            fix="set it once: `keyless apply` with okta.cli_client_id in the spec (it writes "
            "settings.app.webSSOAllowedClient), or in Okta, the AWS app's Sign On tab > Edit > "
            "Allowed Web SSO Client = the native app's client id; your sign-in is kept, so "
            "`keyless login` then needs no browser",
        )
    if error == "invalid_grant" and ACTOR_LACKS_SCOPE in description:
        return TokensLackScope(
            f"{said}: the CLI's OIDC app is not granted okta.apps.sso, so its tokens cannot "
            "be exchanged",
            fix="in Okta, the native app's Okta API Scopes tab: Grant okta.apps.sso; then run "
            "`keyless login` again (one browser sign-in for tokens with the scope)",
        )
    if REPLAYED in (error, description):
        return WebSsoTokenReplayed(
            f"{said}: the single-use web SSO token was presented twice",
            fix="run `keyless login` again (keyless exchanges a fresh one)",
        )
    if error == "invalid_grant" and SESSION_ENDED in description:
        return DeniedError(
            f"{said}: the browser session that approved this device has ended",
            fix="run `keyless login` again",
        )
    if error == "invalid_client":
        return ConfigError(
            f"{said}: {org_url} has no OIDC app with this client id",
            fix="set the native OIDC app's client id with `keyless configure --oidc-client-id`",
        )
    if error == "unauthorized_client":
        return ConfigError(
            f"{said}: the OIDC app may not use this grant",
            fix="in Okta, edit the native app: Grant type > enable Device Authorization and "
            "Token Exchange (see the README, 'Okta Identity Engine: the device flow')",
        )
    if error == "invalid_scope":
        return ScopeNotGranted(
            f"{said}: the OIDC app is not granted the scopes keyless asks for ({DEVICE_SCOPE})",
            fix="in Okta, the native app's Okta API Scopes tab: grant okta.apps.sso",
        )
    if error in ("invalid_target", "invalid_request") and "audience" in description.lower():
        return WebSsoClientNotAllowed(
            f"{said}: the AWS app does not accept this OIDC app",
            fix="check `keyless configure --aws-app-id` (the AWS app's id); in Okta, the AWS "
            "app's Sign On tab: Allowed Web SSO Client = the native app's client id "
            "(`keyless apply` sets it from okta.cli_client_id)",
        )
    if error in ("temporarily_unavailable", "server_error"):
        return RemoteError(said, fix="retry in a moment; check Okta's status page")
    return DeniedError(said, fix="run `keyless login` again; check the profile's Okta settings")


class OktaOAuthClient:
    """Okta's OAuth endpoints for one org, over the same transport as :class:`OktaClient`."""

    def __init__(self, okta: OktaClient) -> None:
        self.okta = okta
        self.org_url = okta.org_url

    def _post_form(self, path: str, form: dict[str, str], *, accept: str) -> httpx.Response:
        return self.okta.request(
            "POST",
            path,
            data=form,
            headers={"Accept": accept, "Content-Type": "application/x-www-form-urlencoded"},
        )

    def _oauth_json(self, response: httpx.Response, *, what: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise RemoteError(
                f"{self.org_url} answered {what} with {response.status_code} and no JSON",
                fix="check the org URL (e.g. https://acme.okta.com)",
            )
        if response.status_code == 429:
            # OktaClient already waited out 429s within its budget.
            raise RemoteError(
                f"Okta rate-limited {what} beyond the {self.okta.rate_limit_budget:.0f} s "
                "keyless waits",
                fix="retry after a minute; ask your Okta admin about the org's OAuth rate limits",
            )
        if response.status_code >= 400:
            error = str(body.get("error") or body.get("errorCode") or response.status_code)
            description = str(body.get("error_description") or body.get("errorSummary") or "")
            raise _OAuthAnswer(error, description)
        return body

    def pipeline(self) -> str | None:
        """``v1`` (Classic), ``idx`` (Identity Engine), or None when the org does not say."""
        response = self.okta.request("GET", "/.well-known/okta-organization")
        if response.status_code != 200:
            return None
        try:
            body = response.json()
        except ValueError:
            return None
        value = body.get("pipeline") if isinstance(body, dict) else None
        return value if isinstance(value, str) else None

    def device_authorize(self, client_id: str, scope: str = DEVICE_SCOPE) -> DeviceAuthorization:
        """Start a device authorization for ``scope``; :class:`ScopeNotGranted` when the
        org does not grant it to this client."""
        what = "the device authorization"
        response = self._post_form(
            "/oauth2/v1/device/authorize",
            {"client_id": client_id, "scope": scope},
            accept="application/json",
        )
        try:
            body = self._oauth_json(response, what=what)
            return DeviceAuthorization(
                device_code=str(body["device_code"]),
                user_code=str(body["user_code"]),
                verification_uri=str(body["verification_uri"]),
                verification_uri_complete=str(
                    body.get("verification_uri_complete") or body["verification_uri"]
                ),
                expires_in=int(body.get("expires_in", 600)),
                interval=int(body.get("interval", 5)),
            )
        except _OAuthAnswer as answer:
            raise answer.failure(what, self.org_url) from None
        except (KeyError, TypeError, ValueError) as exc:
            raise RemoteError(
                f"{self.org_url} answered the device authorization without its codes",
                fix="check the org URL",
            ) from exc

    def poll(self, client_id: str, device_code: str, now: datetime) -> OAuthTokens:
        """One poll of the token endpoint; raises :class:`Pending` while nobody has answered."""
        what = "the device sign-in"
        response = self._post_form(
            "/oauth2/v1/token",
            {"client_id": client_id, "device_code": device_code, "grant_type": GRANT_DEVICE_CODE},
            accept="application/json",
        )
        try:
            body = self._oauth_json(response, what=what)
        except _OAuthAnswer as answer:
            if answer.error in ("authorization_pending", "slow_down"):
                raise Pending(slow_down=answer.error == "slow_down") from None
            raise answer.failure(what, self.org_url) from None
        try:
            return OAuthTokens(
                access_token=str(body["access_token"]),
                id_token=str(body["id_token"]),
                expires_at=now + timedelta(seconds=int(body.get("expires_in", 3600))),
                scope=str(body.get("scope", "")),
                device_secret=body.get("device_secret"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RemoteError(
                f"{self.org_url} answered the device sign-in without an ID token",
                fix="the OIDC app must be granted the openid scope",
            ) from exc

    def web_sso_token(self, client_id: str, app_id: str, tokens: OAuthTokens) -> str:
        """Exchange the tokens for a single-use web SSO token for the AWS app ``app_id``."""
        return self._exchange(
            client_id, app_id, tokens, TOKEN_TYPE_WEB_SSO, "the web SSO token for the AWS app"
        )

    def interclient_token(self, client_id: str, app_id: str, tokens: OAuthTokens) -> str:
        """Exchange the tokens (granted ``interclient_access``) for a single-use
        interclient token for the AWS app ``app_id`` (Native to Web SSO)."""
        return self._exchange(
            client_id,
            app_id,
            tokens,
            TOKEN_TYPE_INTERCLIENT,
            "the interclient token for the AWS app",
        )

    def _exchange(
        self, client_id: str, app_id: str, tokens: OAuthTokens, requested: str, what: str
    ) -> str:
        response = self._post_form(
            "/oauth2/v1/token",
            {
                "client_id": client_id,
                "actor_token": tokens.access_token,
                "actor_token_type": TOKEN_TYPE_ACCESS,
                "subject_token": tokens.id_token,
                "subject_token_type": TOKEN_TYPE_ID,
                "grant_type": GRANT_TOKEN_EXCHANGE,
                "requested_token_type": requested,
                "audience": f"urn:okta:apps:{app_id}",
            },
            accept="application/json",
        )
        try:
            body = self._oauth_json(response, what=what)
        except _OAuthAnswer as answer:
            raise answer.failure(what, self.org_url) from None
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise RemoteError(f"{self.org_url} answered {what} without a token", fix="retry")
        return token

    def sso_page(self, web_sso_token: str) -> str:
        """``/login/token/sso``: the AWS app's page (normally the SAMLResponse form)."""
        response = self._post_form("/login/token/sso", {"token": web_sso_token}, accept="text/html")
        if response.status_code != 200:
            raise RemoteError(
                f"Okta refused the web SSO token at /login/token/sso ({response.status_code})",
                fix="run `keyless login` again",
            )
        return response.text

    def interclient_page(self, app_id: str, interclient_token: str) -> str:
        """The AWS app's SSO URL with ``?interclient_token=`` (Okta's documented form:
        the token is single-use and lives minutes): the app's SAML form page."""
        query = urlencode({"interclient_token": interclient_token})
        response = self.okta.request("GET", f"/app/amazon_aws/{app_id}/sso/saml?{query}")
        if response.status_code != 200:
            raise RemoteError(
                f"Okta refused the interclient token at the AWS app's SSO URL "
                f"({response.status_code})",
                fix="run `keyless login` again",
            )
        return response.text


class _OAuthAnswer(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(error)
        self.error = error
        self.description = description

    def failure(self, what: str, org_url: str) -> KeylessError:
        return oauth_failure(self.error, self.description, what=what, org_url=org_url)
