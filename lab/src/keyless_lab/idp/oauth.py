"""The lab org's OAuth 2.0 / OIDC endpoints and the device activation page, over HTTP.

What a CLI on an Identity Engine org calls, in order (okta/okta-aws-cli
``internal/webssoauth/webssoauth.go`` and gimme-aws-creds
``okta_identity_engine.py`` send exactly these; Okta's references: "OpenID
Connect & OAuth 2.0 API", "Configure Device Authorization Grant Flow",
"Okta AWS CLI" / web SSO token exchange):

- ``GET /.well-known/okta-organization`` (served in :mod:`keyless_lab.idp.api`) →
  ``pipeline`` ``v1`` (Classic) or ``idx`` (Identity Engine);
- ``GET /.well-known/openid-configuration`` and ``/.well-known/oauth-authorization-server``;
- ``POST /oauth2/v1/device/authorize`` (form: ``client_id``, ``scope``) →
  ``device_code``, ``user_code``, ``verification_uri[_complete]``,
  ``expires_in``, ``interval``;
- ``POST /oauth2/v1/token`` with ``grant_type=urn:ietf:params:oauth:grant-type:device_code``
  → 400 ``authorization_pending`` / ``slow_down`` / ``access_denied`` /
  ``expired_token`` (RFC 8628 §3.5), then the tokens;
- ``POST /oauth2/v1/token`` with the token exchange grant: ``subject_token`` =
  the ID token, ``actor_token`` = the access token, ``audience`` =
  ``urn:okta:apps:<AWS app id>``, ``requested_token_type`` =
  ``urn:okta:oauth:token-type:web_sso_token`` → a single-use web SSO token
  (or, where the org offers Native to Web SSO,
  ``urn:okta:params:oauth:token-type:interclient_token``
  for a client the app trusts, Okta's "Configure Native to Web SSO",
  https://developer.okta.com/docs/guides/native-to-web-sso/main/);
- ``GET|POST /login/token/sso`` (``token``) → the AWS app's SAML form, once
  (``interclient_token`` at the app's SSO URL for the interclient token);

The exchange is refused, each with Okta's ``invalid_grant`` and description:
the AWS app's ``settings.app.webSSOAllowedClient`` [Allowed Web SSO Client] is
not the client ("The target audience app must be configured to allow the
client to request a 'web_sso_token'.", as quoted in the P0 Security CLI's Okta
login, @p0security/cli, whose list of Okta configuration errors holds it beside
the assurance one); the access token lacks ``okta.apps.sso`` ("The 'actor_token' must have
the 'okta.apps.sso' scope."); the app's policy is not met, including a rule
that asks for a registered or managed device, which an exchange never shows
(:data:`ASSURANCE_NOT_MET`). A native app without the Authorization Code grant
may not exchange (okta/okta-aws-cli README: the native app "requires Grant Types
Authorization Code, Device Authorization, and Token Exchange"). The wording
of the actor-scope and grant-type descriptions is not in a published page;
it is the outside review's quotation (issue 22) and the lab's, respectively.
A web SSO token presented a second time answers ``web_sso_token_replayed``.
- ``GET /oauth2/v1/keys`` → the JWKS the tokens verify with.

Errors are OAuth's ``{"error", "error_description"}`` with Okta's status
codes (401 for ``invalid_client``, 400 otherwise); where a description is
known from Okta's answers quoted in real clients' issues, it is Okta's.

The device flow exists on Identity Engine orgs only: on a Classic org the
native app has no device grant, and the endpoints say so.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from keyless_lab.idp.api import SID_COOKIE, client_of, idp_of
from keyless_lab.idp.apps import app_form
from keyless_lab.idp.body import read_form
from keyless_lab.idp.core import Idp
from keyless_lab.idp.html import csrf_ok, render
from keyless_lab.idp.management import client_credentials_grant
from keyless_lab.idp.oidc import (
    APP_AUDIENCE_PREFIX,
    GRANT_AUTHORIZATION_CODE,
    GRANT_CLIENT_CREDENTIALS,
    GRANT_DEVICE_CODE,
    GRANT_TOKEN_EXCHANGE,
    INTERCLIENT_SCOPE,
    SCOPES,
    TOKEN_TYPE_ACCESS,
    TOKEN_TYPE_ID,
    TOKEN_TYPE_INTERCLIENT,
    TOKEN_TYPE_WEB_SSO,
    AuthorizationServer,
    IssuedTokens,
)
from keyless_lab.idp.okta import oauth_error
from keyless_lab.idp.policy import subject_meets_policy

# A web SSO token is redeemed at once by the client that asked for it.
WEB_SSO_LIFETIME = timedelta(minutes=5)
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

# Descriptions Okta answers, as quoted by users of okta-aws-cli and gimme-aws-creds
# (okta/okta-aws-cli#31, #153, #207, #275; Nike-Inc/gimme-aws-creds#467) and in
# Okta's OIDC reference; the others follow RFC 6749 §5.2 and RFC 8628 §3.5.
ASSURANCE_NOT_MET = "The application's assurance requirements are not met by the 'subject_token'."
NOT_ALLOWED_CLIENT = (
    "The target audience app must be configured to allow the client to request a 'web_sso_token'."
)
ACTOR_WITHOUT_SSO_SCOPE = "The 'actor_token' must have the 'okta.apps.sso' scope."
NO_AUTHORIZATION_CODE = (
    "The client must be configured with the 'authorization_code' grant type to request a "
    "'web_sso_token'."
)
WEB_SSO_REPLAYED = "web_sso_token_replayed"
SESSION_ENDED = (
    "The 'subject_token' either expired or the session associated with it was terminated."
)


def _server(idp: Idp) -> AuthorizationServer:
    assert idp.oauth is not None, "the lab IdP server attaches the authorization server"
    return idp.oauth


# -- discovery -------------------------------------------------------------------------------


def _metadata(idp: Idp, *, openid: bool) -> dict[str, Any]:
    base = idp.base_url
    grants = ["authorization_code", "implicit", "refresh_token", "password", "client_credentials"]
    if idp.settings.engine == "oie":
        grants += [GRANT_DEVICE_CODE, GRANT_TOKEN_EXCHANGE]
    document: dict[str, Any] = {
        "issuer": base,
        "authorization_endpoint": f"{base}/oauth2/v1/authorize",
        "token_endpoint": f"{base}/oauth2/v1/token",
        "jwks_uri": f"{base}/oauth2/v1/keys",
        "response_types_supported": ["code", "id_token", "code id_token", "token"],
        "grant_types_supported": grants,
        "scopes_supported": sorted(SCOPES),
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "client_secret_jwt",
            "private_key_jwt",
            "none",
        ],
        "revocation_endpoint": f"{base}/oauth2/v1/revoke",
        "introspection_endpoint": f"{base}/oauth2/v1/introspect",
        "end_session_endpoint": f"{base}/oauth2/v1/logout",
        "code_challenge_methods_supported": ["S256"],
    }
    if idp.settings.engine == "oie":
        document["device_authorization_endpoint"] = f"{base}/oauth2/v1/device/authorize"
    if openid:
        document |= {
            "userinfo_endpoint": f"{base}/oauth2/v1/userinfo",
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": [
                "iss",
                "sub",
                "aud",
                "iat",
                "exp",
                "jti",
                "amr",
                "idp",
                "sid",
                "auth_time",
                "at_hash",
                "preferred_username",
            ],
        }
    return document


async def openid_configuration(request: Request) -> Response:
    return JSONResponse(_metadata(idp_of(request), openid=True))


async def authorization_server_metadata(request: Request) -> Response:
    return JSONResponse(_metadata(idp_of(request), openid=False))


async def keys(request: Request) -> Response:
    return JSONResponse(
        _server(idp_of(request)).signer.jwks(), headers={"Cache-Control": "max-age=3600"}
    )


# -- the device authorization grant -------------------------------------------------------------


def _client_error(idp: Idp, client_id: str | None, grant_type: str) -> JSONResponse | None:
    """Okta's answer when ``client_id`` may not use ``grant_type`` here (None when it may)."""
    app = _server(idp).native_app
    if not client_id or client_id != app.client_id:
        return oauth_error("invalid_client", "Invalid value for 'client_id' parameter.", 401)
    if idp.settings.engine != "oie":
        # Classic orgs have no device authorization or web SSO token exchange.
        return oauth_error(
            "unauthorized_client",
            "The client is not authorized to use the provided grant type. "
            "Configured grant types: [authorization_code].",
        )
    if grant_type not in app.grant_types:
        return oauth_error(
            "unauthorized_client",
            "The client is not authorized to use the provided grant type. "
            f"Configured grant types: [{', '.join(app.grant_types)}].",
        )
    return None


async def device_authorize(request: Request) -> Response:
    """``POST /oauth2/v1/device/authorize``: a device code to poll with, a user code to show."""
    idp = idp_of(request)
    form = await read_form(request)
    refused = _client_error(idp, form.get("client_id"), GRANT_DEVICE_CODE)
    if refused is not None:
        return refused
    scopes = tuple(dict.fromkeys(form.get("scope", "").split()))
    offered = SCOPES | ({INTERCLIENT_SCOPE} if _trusted(idp, form["client_id"]) else set())
    if "openid" not in scopes or not set(scopes) <= offered:
        # Okta's answer to a scope the org authorization server does not have, as for
        # device_sso (a custom authorization server's, see keyless_lab.idp.oidc.SCOPES).
        return oauth_error(
            "invalid_scope",
            "One or more scopes are not configured for the authorization server resource.",
        )
    settings = idp.settings
    grant = _server(idp).new_grant(
        form["client_id"], scopes, settings.device_code_lifetime, settings.device_poll_interval
    )
    idp.audit.write("device_authorize", ip=client_of(request), client_id=grant.client_id)
    verification = f"{idp.base_url}/activate"
    complete = f"{verification}?{urlencode({'user_code': grant.user_code})}"
    return JSONResponse(
        {
            "device_code": grant.device_code,
            "user_code": grant.user_code,
            "verification_uri": verification,
            "verification_uri_complete": complete,
            "expires_in": int(settings.device_code_lifetime.total_seconds()),
            "interval": settings.device_poll_interval,
        },
        headers=_NO_STORE,
    )


async def token(request: Request) -> Response:
    """``POST /oauth2/v1/token``, the org authorization server's one token endpoint: it
    dispatches on ``grant_type`` to each grant's function (client credentials for the
    management API's service apps, in :mod:`keyless_lab.idp.management`; the device
    code grant and the web SSO token exchange for CLIs, here)."""
    idp = idp_of(request)
    form = await read_form(request)
    grant_type = form.get("grant_type", "")
    if grant_type == GRANT_CLIENT_CREDENTIALS:
        return await client_credentials_grant(request, form)
    if grant_type not in (GRANT_DEVICE_CODE, GRANT_TOKEN_EXCHANGE):
        return oauth_error(
            "unsupported_grant_type",
            f"The authorization grant type is not supported by the authorization server: "
            f"'{grant_type}'.",
        )
    refused = _client_error(idp, form.get("client_id"), grant_type)
    if refused is not None:
        return refused
    if grant_type == GRANT_DEVICE_CODE:
        return _device_code_token(request, idp, form)
    return _web_sso_exchange(request, idp, form)


def _device_code_token(request: Request, idp: Idp, form: dict[str, str]) -> Response:
    server = _server(idp)
    grant = server.grant_by_device_code(form.get("device_code", ""))
    if grant is None or grant.client_id != form["client_id"] or grant.status == "USED":
        return oauth_error("invalid_grant", "The device code is invalid or has expired.")
    if grant.expires <= idp.clock():
        return oauth_error("expired_token", "The device code has expired.")
    now = idp.clock().timestamp()
    previous, grant.last_poll = grant.last_poll, now
    if grant.status == "DENIED":
        return oauth_error(
            "access_denied", "The resource owner or authorization server denied the request."
        )
    if grant.status == "PENDING":
        # Okta does not publish how fast is too fast: real clients poll sooner than
        # `interval` (gimme-aws-creds every 2 s against 5) and get authorization_pending,
        # so the lab answers slow_down only below a second (or half the interval).
        if previous is not None and now - previous < min(1.0, grant.interval / 2):
            grant.interval += 5  # RFC 8628 §3.5: every later poll waits 5 s more
            return oauth_error(
                "slow_down", "The client is polling too frequently; wait longer between requests."
            )
        return oauth_error(
            "authorization_pending", "The device authorization is pending. Please try again later."
        )
    found = idp.session(grant.session_id)
    user = idp.active_user(grant.user_id or "")
    if found is None or user is None:
        return oauth_error("invalid_grant", SESSION_ENDED)
    body, _ = server.issue_tokens(
        grant,
        issuer=idp.base_url,
        login=user.login,
        idp_id=idp.idp_id,
        lifetime=idp.settings.token_lifetime,
    )
    idp.audit.write("tokens", login=user.login, ip=client_of(request), client_id=grant.client_id)
    return JSONResponse(body, headers=_NO_STORE)


def _trusted(idp: Idp, client_id: str) -> bool:
    """Whether the org offers Native to Web SSO and the AWS app trusts ``client_id``."""
    return idp.settings.native_to_web_sso and any(
        t["client_id"] == client_id for t in idp.appstate.trusted()
    )


def _actor_matches(
    server: AuthorizationServer, form: dict[str, str], subject: IssuedTokens
) -> bool:
    if form.get("actor_token_type", "") != TOKEN_TYPE_ACCESS:
        return False
    record = server.token_record(form.get("actor_token", ""), kind="AT")
    return record is not None and record.id_jti == subject.id_jti


def _web_sso_exchange(request: Request, idp: Idp, form: dict[str, str]) -> Response:
    server = _server(idp)
    requested = form.get("requested_token_type")
    interclient = requested == TOKEN_TYPE_INTERCLIENT and idp.settings.native_to_web_sso
    if requested != TOKEN_TYPE_WEB_SSO and not interclient:
        return oauth_error("invalid_request", "The 'requested_token_type' is invalid.")
    if GRANT_AUTHORIZATION_CODE not in server.native_app.grant_types:
        return oauth_error("invalid_grant", NO_AUTHORIZATION_CODE)
    if form.get("subject_token_type") != TOKEN_TYPE_ID:
        return oauth_error("invalid_request", "The 'subject_token_type' is invalid.")
    subject = server.token_record(form.get("subject_token", ""), kind="ID")
    if subject is None or subject.client_id != form["client_id"]:
        return oauth_error("invalid_grant", "'subject_token' is invalid.")
    if not _actor_matches(server, form, subject):
        return oauth_error("invalid_grant", "'actor_token' is invalid.")
    audience = form.get("audience", "")
    if audience != APP_AUDIENCE_PREFIX + idp.app_id:
        return oauth_error("invalid_target", "The 'audience' is invalid.")
    if interclient:
        # The trust map: the target app lists the clients that may ask (native-to-web-sso).
        if not _trusted(idp, form["client_id"]):
            return oauth_error(
                "invalid_grant",
                "The target audience app must be configured to allow the client to request "
                "an 'interclient_token'.",
            )
        if INTERCLIENT_SCOPE not in subject.scopes:
            return oauth_error(
                "invalid_grant", f"The 'actor_token' must have the '{INTERCLIENT_SCOPE}' scope."
            )
    else:
        allowed = idp.appstate.snapshot().settings.get("webSSOAllowedClient")
        if allowed != form["client_id"]:
            return oauth_error("invalid_grant", NOT_ALLOWED_CLIENT)
        if "okta.apps.sso" not in subject.scopes:
            return oauth_error("invalid_grant", ACTOR_WITHOUT_SSO_SCOPE)
    found = idp.session(subject.session_id)
    if found is None:
        return oauth_error("invalid_grant", SESSION_ENDED)
    _, user = found
    if not subject_meets_policy(idp, subject.amr):
        idp.audit.write(
            "web_sso_token", login=user.login, ip=client_of(request), outcome="POLICY_NOT_MET"
        )
        return oauth_error("invalid_grant", ASSURANCE_NOT_MET)
    web_sso = server.mint_web_sso(subject, idp.app_id, WEB_SSO_LIFETIME)
    idp.audit.write("web_sso_token", login=user.login, ip=client_of(request), outcome="ISSUED")
    return JSONResponse(
        {
            "token_type": "N_A",
            "expires_in": int(WEB_SSO_LIFETIME.total_seconds()),
            "access_token": web_sso,
            "issued_token_type": TOKEN_TYPE_INTERCLIENT if interclient else TOKEN_TYPE_WEB_SSO,
        },
        headers=_NO_STORE,
    )


async def token_sso(request: Request) -> Response:
    """``/login/token/sso?token=`` (or ``token`` in a POST form): the app's SAML form, once."""
    idp = idp_of(request)
    value = request.query_params.get("token")
    if request.method == "POST":
        form = await read_form(request)
        value = form.get("token") or value
    redeemed = _server(idp).redeem_web_sso(value)
    if redeemed == "REPLAYED":
        return render(
            request,
            "error.html",
            status_code=400,
            title=WEB_SSO_REPLAYED,
            heading=f"{WEB_SSO_REPLAYED}: this web SSO token was already used.",
            detail="Ask the command-line client to exchange a fresh one.",
            org=idp.settings.org_name,
        )
    found = idp.session(redeemed.session_id) if redeemed is not None else None
    if redeemed is None or found is None or found[1].id != redeemed.user_id:
        return render(
            request,
            "error.html",
            status_code=401,
            title="Invalid token",
            heading="The web SSO token is invalid, used or expired.",
            detail="Ask the command-line client to sign in again.",
            org=idp.settings.org_name,
        )
    return app_form(request, idp, found[1], via="web_sso_token", action=idp.settings.recipient)


# -- /activate: the person's side of the device flow ---------------------------------------------


def _activate_page(request: Request, idp: Idp, status_code: int = 200, **context: Any) -> Response:
    context.setdefault("user_code", "")
    context.setdefault("error", "")
    context.setdefault("result", "")
    return render(
        request,
        "activate.html",
        status_code=status_code,
        org=idp.settings.org_name,
        client_name=_server(idp).native_app.name,
        **context,
    )


async def activate(request: Request) -> Response:
    """``/activate``: enter (or confirm) the user code, sign in, then allow or deny."""
    idp = idp_of(request)
    if request.method == "POST":
        return await _activate_decide(request, idp)
    code = request.query_params.get("user_code", "").strip()
    if not code:
        return _activate_page(request, idp)
    grant = _server(idp).grant_by_user_code(code)
    if grant is None:
        return _activate_page(request, idp, status_code=400, error="Invalid code. Try again.")
    found = idp.session(request.cookies.get(SID_COOKIE))
    if found is None:
        back = f"/activate?{urlencode({'user_code': grant.user_code})}"
        return RedirectResponse(f"/login/login.htm?fromURI={quote(back, safe='')}", 302)
    _, user = found
    return _activate_page(request, idp, user=user, user_code=grant.user_code)


async def _activate_decide(request: Request, idp: Idp) -> Response:
    form = await read_form(request)
    if not csrf_ok(request, form.get("csrf")):
        return _activate_page(
            request, idp, status_code=403, error="This form has expired; open the link again."
        )
    grant = _server(idp).grant_by_user_code(form.get("user_code", ""))
    found = idp.session(request.cookies.get(SID_COOKIE))
    if grant is None or found is None:
        return _activate_page(
            request, idp, status_code=400, error="This code has expired or was already used."
        )
    session, user = found
    approve = form.get("decision") == "allow"
    _server(idp).decide(
        grant,
        approve=approve,
        user_id=user.id,
        session_id=session.id,
        auth_time=session.factor_at or session.password_at,
        amr=session.amr,
    )
    idp.audit.write(
        "device_activation",
        login=user.login,
        ip=client_of(request),
        client_id=grant.client_id,
        outcome="APPROVED" if approve else "DENIED",
    )
    result = (
        "Device activated. Return to your device to continue."
        if approve
        else "Device not activated. You can close this window."
    )
    return _activate_page(request, idp, result=result)


ROUTES = [
    Route("/.well-known/openid-configuration", openid_configuration, methods=["GET"]),
    Route(
        "/.well-known/oauth-authorization-server", authorization_server_metadata, methods=["GET"]
    ),
    Route("/oauth2/v1/keys", keys, methods=["GET"]),
    Route("/oauth2/v1/device/authorize", device_authorize, methods=["POST"]),
    Route("/oauth2/v1/token", token, methods=["POST"]),
    Route("/login/token/sso", token_sso, methods=["GET", "POST"]),
    Route("/activate", activate, methods=["GET", "POST"]),
]
