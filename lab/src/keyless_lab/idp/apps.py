"""The "AWS Account Federation" app: its embed link, SSO URL and metadata, and the
session-cookie redirect that clients use to reach them.

Reached with the ``sid`` cookie, or with a one-time ``sessionToken`` /
``onetimetoken`` in the query (ignored when a session cookie is already
there, as Okta's Classic Engine does), the app answers the page Okta answers:
an auto-submitting form, ``id="appForm"``, posting ``SAMLResponse`` to the AWS
sign-in URL. From the dashboard (``?fromHome=true``) the same form posts to
the lab's own AWS sign-in page, so a browser can finish the sign-on offline;
the assertion itself is the same either way.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from keyless_lab.idp.api import SID_COOKIE, client_of, idp_of, set_session_cookies
from keyless_lab.idp.body import read_form
from keyless_lab.idp.core import Idp, NoRoles, Session
from keyless_lab.idp.directory import User
from keyless_lab.idp.html import PAGE_HEADERS, render, same_origin_target
from keyless_lab.idp.oidc import WebSsoToken
from keyless_lab.idp.policy import app_sign_on, signed_on
from keyless_lab.idp.stepup import step_up_page, step_up_redirect, widget_page
from keyless_lab.saml.build import encode_response
from keyless_lab.saml.metadata import build_idp_metadata

LAB_SIGNIN_PATH = "/aws/saml"


def session_from_request(request: Request, idp: Idp) -> tuple[Session, User, bool] | None:
    """The caller's session: the ``sid`` cookie, else a one-time token in the query.

    The boolean says whether the session is new (its cookies must be set).
    """
    found = idp.session(request.cookies.get(SID_COOKIE))
    if found is not None:
        return found[0], found[1], False
    token = request.query_params.get("sessionToken") or request.query_params.get("onetimetoken")
    if token:
        session = idp.redeem(token)
        if session is not None:
            fresh = idp.session(session.id)
            if fresh is not None:
                idp.audit.write(
                    "session", login=fresh[1].login, ip=client_of(request), outcome="CREATED"
                )
                return fresh[0], fresh[1], True
    return None


def login_redirect(request: Request) -> Response:
    """Without a session Okta sends the browser to its sign-in page, coming back here after."""
    from_uri = request.url.path
    kept = [
        (k, v)
        for k, v in request.query_params.multi_items()
        if k not in ("sessionToken", "onetimetoken")
    ]
    if kept:
        from_uri += "?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in kept)
    return RedirectResponse(f"/login/login.htm?fromURI={quote(from_uri, safe='')}", 302)


def not_assigned_page(request: Request, idp: Idp, user: User) -> Response:
    """Okta's answer for a user the app is not assigned to: an error page, no assertion."""
    return render(
        request,
        "error.html",
        status_code=403,
        title="App not assigned",
        heading=(
            "Sorry, you can't access Amazon Web Services because you are not assigned "
            "this app in Okta."
        ),
        detail=(
            f"{user.login} belongs to no group that grants an AWS role. If you're wondering "
            "why this is happening, please contact your administrator."
        ),
        org=idp.settings.org_name,
    )


async def aws_sso(request: Request) -> Response:
    """``/home/amazon_aws/{appId}/272`` and ``/app/amazon_aws/{appId}/sso/saml``."""
    idp = idp_of(request)
    if request.path_params["app_id"] != idp.app_id:
        return render(
            request,
            "error.html",
            status_code=404,
            title="Not found",
            heading="404 - Page not found",
            detail="This app does not exist in this org.",
            org=idp.settings.org_name,
        )
    interclient = request.query_params.get("interclient_token")
    if interclient is not None:
        return interclient_sign_on(request, idp, interclient)
    found = session_from_request(request, idp)
    if found is None:
        return login_redirect(request)
    session, user, new = found
    from_home = request.query_params.get("fromHome") == "true"
    # The app's own sign-on policy (keyless_lab.idp.policy): a session that falls
    # short gets Classic's Extra Verification or Identity Engine's widget page.
    decision = app_sign_on(idp, session)
    if decision == "step_up" and idp.settings.step_up_style == "redirect":
        response = step_up_redirect(request, idp, session, user)
    elif decision == "step_up":
        response = step_up_page(request, idp, session, user)
    elif decision == "widget":
        response = widget_page(request, idp, user)
    else:
        via = "dashboard" if from_home else "app_link"
        action = f"{idp.base_url}{LAB_SIGNIN_PATH}" if from_home else idp.settings.recipient
        response = app_form(request, idp, user, via=via, action=action)
        signed_on(idp, session)
    if new:
        set_session_cookies(response, idp, session.id, session.device_token)
    return response


def interclient_sign_on(request: Request, idp: Idp, token: str) -> Response:
    """The app's SSO URL with an ``interclient_token`` (Native to Web SSO): the single-use
    token stands for the session its ID token was bound to (Okta, "Configure Native to
    Web SSO", https://developer.okta.com/docs/guides/native-to-web-sso/main/, steps 11-13).
    """
    assert idp.oauth is not None
    redeemed = idp.oauth.redeem_web_sso(token) if idp.settings.native_to_web_sso else None
    found = idp.session(redeemed.session_id) if isinstance(redeemed, WebSsoToken) else None
    if not isinstance(redeemed, WebSsoToken) or found is None or found[1].id != redeemed.user_id:
        return render(
            request,
            "error.html",
            status_code=401,
            title="Invalid token",
            heading="The interclient token is invalid, used or expired.",
            detail="Ask the app that sent you here to sign you in again.",
            org=idp.settings.org_name,
        )
    return app_form(request, idp, found[1], via="interclient_token", action=idp.settings.recipient)


def app_form(request: Request, idp: Idp, user: User, *, via: str, action: str) -> Response:
    """The auto-submitting SAML form for ``user`` (or Okta's "not assigned" page)."""
    try:
        issued = idp.issue_assertion(user, client=client_of(request), via=via)
    except NoRoles:
        return not_assigned_page(request, idp, user)
    lab_note = None
    if action != idp.settings.recipient:
        # Only where the form posts differs from Okta's page; the response itself
        # still names AWS's sign-in URL, which the lab STS checks as AWS does.
        lab_note = (
            f"Lab: this form posts to the lab's stand-in for {idp.settings.recipient} "
            f"({action}); the SAML response still names {idp.settings.recipient} as "
            "its Destination and Recipient, as Okta's does."
        )
    return render(
        request,
        "app_form.html",
        org=idp.settings.org_name,
        user_id=user.id,
        action=action,
        lab_note=lab_note,
        saml_response=encode_response(issued.xml),
    )


async def aws_metadata(request: Request) -> Response:
    """The IdP metadata for the AWS app: what goes into each account's IAM SAML provider."""
    idp = idp_of(request)
    if request.path_params["app_id"] != idp.app_id:
        return Response(status_code=404)
    return Response(
        metadata_xml(idp), media_type="application/xml", headers={"Cache-Control": "no-store"}
    )


def metadata_xml(idp: Idp) -> bytes:
    return build_idp_metadata(
        entity_id=idp.entity_id,
        certificates=[idp.key.certificate],
        sso_url=f"{idp.base_url}/app/amazon_aws/{idp.app_id}/sso/saml",
    )


async def session_cookie_redirect(request: Request) -> Response:
    """``/login/sessionCookieRedirect?token=&redirectUrl=``: set ``sid`` and ``DT``, then 302.

    ``redirectUrl`` must stay on this org (Okta's trusted origins), so the
    endpoint cannot be used as an open redirect. A token is ignored when a
    session cookie is already there (Okta's Classic Engine does the same).
    """
    idp = idp_of(request)
    params = dict(request.query_params)
    if request.method == "POST":
        params.update(await read_form(request))
    target = same_origin_target(
        params.get("redirectUrl"), idp.base_url, "/app/UserHome", param="redirectUrl"
    )
    if target is None:
        return render(
            request,
            "error.html",
            status_code=403,
            title="Redirect refused",
            heading="The redirect URL is not a trusted origin of this org.",
            detail="sessionCookieRedirect only redirects to pages of this identity provider.",
            org=idp.settings.org_name,
        )
    response = RedirectResponse(target, status_code=302, headers=PAGE_HEADERS)
    if idp.session(request.cookies.get(SID_COOKIE)) is not None:
        return response
    session = idp.redeem(params.get("token"))
    if session is not None:
        found = idp.session(session.id)
        if found is not None:
            idp.audit.write(
                "session", login=found[1].login, ip=client_of(request), outcome="CREATED"
            )
        set_session_cookies(response, idp, session.id, session.device_token)
    return response


ROUTES = [
    Route("/home/amazon_aws/{app_id}/272", aws_sso, methods=["GET"]),
    Route("/app/amazon_aws/{app_id}/sso/saml", aws_sso, methods=["GET", "POST"]),
    Route("/app/amazon_aws/{app_id}/sso/saml/metadata", aws_metadata, methods=["GET"]),
    Route("/login/sessionCookieRedirect", session_cookie_redirect, methods=["GET", "POST"]),
]
