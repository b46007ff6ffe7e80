"""The lab IdP's pages for people: sign-in, MFA, the app dashboard, sign-out.

They drive the same transaction code as the JSON API (a browser sign-in is
one more Okta client). Every form carries a CSRF token (double-submit cookie,
SameSite=Strict), cookies are HttpOnly/Secure/SameSite=Lax, and ``fromURI``
only ever leads back to this server.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from keyless_lab.idp.api import (
    DT_COOKIE,
    SID_COOKIE,
    app_link_document,
    assigned,
    client_of,
    idp_of,
    primary_authentication,
    set_session_cookies,
    verify_factor,
)
from keyless_lab.idp.body import read_form
from keyless_lab.idp.core import Idp, Transaction
from keyless_lab.idp.directory import Factor, User
from keyless_lab.idp.html import PAGE_HEADERS, csrf_ok, render, same_origin_target

HOME = "/app/UserHome"

_FACTOR_LABELS = {
    "token:software:totp": "Authenticator app code",
    "sms": "SMS code",
    "push": "Okta Verify push",
}


def _field(form: Mapping[str, str], name: str) -> str:
    return form.get(name, "")


def _csrf_refused(request: Request, idp: Idp) -> Response:
    return render(
        request,
        "error.html",
        status_code=403,
        title="Request refused",
        heading="This form has expired or did not come from this page.",
        detail="Reload the sign-in page and try again.",
        org=idp.settings.org_name,
    )


async def root(request: Request) -> Response:
    idp = idp_of(request)
    if idp.session(request.cookies.get(SID_COOKIE)) is not None:
        return RedirectResponse(HOME, 302)
    return RedirectResponse("/login/login.htm", 302)


def _login_page(
    request: Request, idp: Idp, *, from_uri: str, error: str = "", status_code: int = 200
) -> Response:
    return render(
        request,
        "login.html",
        status_code=status_code,
        org=idp.settings.org_name,
        from_uri=from_uri,
        error=error,
    )


def _mfa_page(
    request: Request,
    idp: Idp,
    transaction: Transaction,
    user: User,
    *,
    from_uri: str,
    selected: Factor | None = None,
    error: str = "",
    waiting_number: int | None = None,
    code_sent: bool = False,
    status_code: int = 200,
) -> Response:
    factors = idp.needs_mfa(user)
    return render(
        request,
        "mfa.html",
        status_code=status_code,
        org=idp.settings.org_name,
        user=user,
        factors=[(f, _FACTOR_LABELS.get(f.factor_type, f.factor_type)) for f in factors],
        selected=selected or factors[0],
        state_token=transaction.state_token,
        from_uri=from_uri,
        error=error,
        waiting_number=waiting_number,
        code_sent=code_sent,
    )


def _signed_in(request: Request, idp: Idp, session_token: str, from_uri: str) -> Response:
    session = idp.redeem(session_token)
    if session is None:
        return _login_page(request, idp, from_uri=from_uri, error="Sign-in expired; try again.")
    found = idp.session(session.id)
    if found is not None:
        idp.audit.write("session", login=found[1].login, ip=client_of(request), outcome="CREATED")
    target = same_origin_target(from_uri, idp.base_url, HOME) or HOME
    response = RedirectResponse(target, status_code=303, headers=PAGE_HEADERS)
    set_session_cookies(response, idp, session.id, session.device_token)
    return response


async def login(request: Request) -> Response:
    """``/login/login.htm``: the sign-in form (GET) and its submission (POST)."""
    idp = idp_of(request)
    if request.method == "GET":
        from_uri = request.query_params.get("fromURI", "")
        if same_origin_target(from_uri, idp.base_url, HOME) is None:
            from_uri = ""
        return _login_page(request, idp, from_uri=from_uri)
    form = await read_form(request)
    from_uri = _field(form, "fromURI")
    if same_origin_target(from_uri, idp.base_url, HOME) is None:
        from_uri = ""
    if not csrf_ok(request, form.get("csrf")):
        return _csrf_refused(request, idp)
    username, password = _field(form, "username").strip(), _field(form, "password")
    if not username or not password:
        return _login_page(
            request,
            idp,
            from_uri=from_uri,
            error="Please enter a username and a password.",
            status_code=400,
        )
    outcome, document, user = await primary_authentication(
        idp, username, password, client_of(request), "web"
    )
    if outcome == "FAILED" or document is None or user is None:
        return _login_page(
            request, idp, from_uri=from_uri, error="Unable to sign in", status_code=401
        )
    if outcome == "LOCKED_OUT":
        return _login_page(
            request,
            idp,
            from_uri=from_uri,
            error="Your account is locked. Please contact your administrator.",
            status_code=403,
        )
    if outcome == "SUCCESS":
        return _signed_in(request, idp, document["sessionToken"], from_uri)
    if outcome == "MFA_ENROLL":
        return _login_page(
            request,
            idp,
            from_uri=from_uri,
            error="Your organization requires multifactor authentication: "
            "enrol a factor with `keyless lab mfa enroll` first.",
            status_code=403,
        )
    transaction = idp.transaction(document["stateToken"])
    assert transaction is not None
    return _mfa_page(request, idp, transaction, user, from_uri=from_uri)


async def verify(request: Request) -> Response:
    """``POST /signin/verify``: one MFA step from the MFA page (code, SMS send, push poll)."""
    idp = idp_of(request)
    form = await read_form(request)
    from_uri = _field(form, "fromURI")
    if same_origin_target(from_uri, idp.base_url, HOME) is None:
        from_uri = ""
    if not csrf_ok(request, form.get("csrf")):
        return _csrf_refused(request, idp)
    transaction = idp.transaction(_field(form, "stateToken"))
    user = idp.active_user(transaction.user_id) if transaction else None
    if transaction is None or user is None:
        return _login_page(
            request,
            idp,
            from_uri=from_uri,
            error="Your sign-in expired; please sign in again.",
            status_code=401,
        )
    factor = idp.directory.get_factor(_field(form, "factorId"))
    if factor is None or factor.user_id != user.id:
        return _mfa_page(request, idp, transaction, user, from_uri=from_uri, status_code=400)
    pass_code = _field(form, "passCode").strip() or None
    if factor.factor_type == "token:software:totp" and pass_code is None:
        # Choosing the authenticator tab: show its code form.
        return _mfa_page(request, idp, transaction, user, from_uri=from_uri, selected=factor)
    status, document, code = await verify_factor(
        idp, transaction, user, factor, pass_code, client_of(request)
    )
    if code is not None:
        return _mfa_page(
            request,
            idp,
            transaction,
            user,
            from_uri=from_uri,
            selected=factor,
            error="Your code doesn't match our records. Please try again.",
            status_code=403,
        )
    assert document is not None
    if document.get("status") == "SUCCESS":
        return _signed_in(request, idp, document["sessionToken"], from_uri)
    result = document.get("factorResult")
    if factor.factor_type == "push":
        if result == "WAITING":
            number = document["_embedded"]["factor"].get("_embedded", {}).get("challenge", {})
            return _mfa_page(
                request,
                idp,
                transaction,
                user,
                from_uri=from_uri,
                selected=factor,
                waiting_number=number.get("correctAnswer"),
            )
        message = "Push rejected." if result == "REJECTED" else "The push expired."
        return _mfa_page(
            request,
            idp,
            transaction,
            user,
            from_uri=from_uri,
            selected=factor,
            error=f"{message} Send a new one to try again.",
            status_code=status,
        )
    return _mfa_page(
        request, idp, transaction, user, from_uri=from_uri, selected=factor, code_sent=True
    )


async def dashboard(request: Request) -> Response:
    """``/app/UserHome``: the user's apps (the AWS app when a group grants a role)."""
    idp = idp_of(request)
    found = idp.session(request.cookies.get(SID_COOKIE))
    if found is None:
        return RedirectResponse(f"/login/login.htm?fromURI={HOME}", 302)
    _, user = found
    apps = []
    if assigned(idp, user):
        link = app_link_document(idp, user)
        apps.append({**link, "linkUrl": link["linkUrl"] + "?fromHome=true"})
    return render(request, "dashboard.html", org=idp.settings.org_name, user=user, apps=apps)


async def signout(request: Request) -> Response:
    """``POST /login/signout``: end the session (CSRF-checked) and clear the cookies."""
    idp = idp_of(request)
    form = await read_form(request)
    if not csrf_ok(request, form.get("csrf")):
        return _csrf_refused(request, idp)
    session_id = request.cookies.get(SID_COOKIE)
    if session_id:
        idp.end_session(session_id)
    response = RedirectResponse("/login/login.htm", status_code=303)
    response.delete_cookie(SID_COOKIE, path="/")
    response.delete_cookie(DT_COOKIE, path="/")
    return response


ROUTES = [
    Route("/", root, methods=["GET"]),
    Route("/login/login.htm", login, methods=["GET", "POST"]),
    Route("/signin/verify", verify, methods=["POST"]),
    Route(HOME, dashboard, methods=["GET"]),
    Route("/login/signout", signout, methods=["POST"]),
]
