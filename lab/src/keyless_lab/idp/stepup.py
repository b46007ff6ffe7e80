"""App-level step-up in the lab: Classic's *Extra Verification*, Identity Engine's widget page.

See :mod:`keyless_lab.idp.policy` for when each is served. The Classic flow,
as Okta's Authentication API reference describes SP-initiated step-up:

1. the app link answers an HTML page (title "Extra Verification") whose
   script holds ``var stateToken = '…'``, JavaScript-escaped (``-`` is
   ``\\x2D``): the token of a ``SESSION_STEP_UP`` transaction bound to the
   caller's session;
2. ``POST /api/v1/authn {stateToken}`` answers ``MFA_REQUIRED`` with
   ``"type": "SESSION_STEP_UP"``, the user's factors and ``_embedded.target``
   (the app);
3. factor verification as at sign-in; ``SUCCESS`` carries no
   ``sessionToken`` but ``_links.next`` (``name: original``) to
   ``/login/step-up/redirect?stateToken=…``;
4. that redirect, with the same session cookie, marks the session stepped up
   and sends the caller back to the app, which now answers the SAML form.

With ``IdpSettings.step_up_style = "redirect"`` step 1 is instead a ``302`` to
``/login/step-up/redirect?stateToken=…``, which shows the same page until the
transaction succeeds (the variant gimme-aws-creds also reads: a ``stateToken=``
in the URL or body, ``_extract_state_token_from_http_response``).
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from keyless_lab.idp.api import SID_COOKIE, client_of, idp_of
from keyless_lab.idp.core import Idp, Session
from keyless_lab.idp.directory import User
from keyless_lab.idp.html import PAGE_HEADERS, render
from keyless_lab.idp.okta import STEP_UP, STEP_UP_REDIRECT


def js_escape(value: str) -> Markup:
    """Escape a string for a single-quoted JavaScript literal as Okta's pages do:
    letters, digits, ``,``, ``.`` and ``_`` as they are, everything else ``\\xHH``
    (``\\uHHHH`` above U+00FF)."""
    out = []
    for char in value:
        if char.isascii() and (char.isalnum() or char in ",._"):
            out.append(char)
        elif ord(char) <= 0xFF:
            out.append(f"\\x{ord(char):02X}")
        else:
            out.append(f"\\u{ord(char):04X}")
    # Safe inside a quoted JS string in HTML: no quote, '<', '&' or backslash is left raw.
    return Markup("".join(out))  # noqa: S704


def step_up_page(request: Request, idp: Idp, session: Session, user: User) -> Response:
    """Classic's Extra Verification page for this session and the AWS app."""
    transaction = idp.new_transaction(user, "MFA_REQUIRED", kind=STEP_UP, session=session)
    idp.audit.write(
        "step_up", login=user.login, ip=client_of(request), app_id=idp.app_id, outcome="REQUIRED"
    )
    return render(
        request,
        "step_up.html",
        org=idp.settings.org_name,
        title="Extra Verification",
        heading="Extra verification is required for Amazon Web Services",
        detail="Verify with one of your factors to continue.",
        state_token_js=js_escape(transaction.state_token),
        from_uri_js=js_escape(request.url.path),
    )


def step_up_redirect(request: Request, idp: Idp, session: Session, user: User) -> Response:
    """The redirect variant: ``302`` to ``/login/step-up/redirect?stateToken=…`` carrying
    the ``SESSION_STEP_UP`` transaction, which shows the Extra Verification page until the
    step-up passes (:func:`step_up_resume`)."""
    transaction = idp.new_transaction(user, "MFA_REQUIRED", kind=STEP_UP, session=session)
    idp.audit.write(
        "step_up", login=user.login, ip=client_of(request), app_id=idp.app_id, outcome="REQUIRED"
    )
    query = urlencode({"stateToken": transaction.state_token})
    return RedirectResponse(f"{STEP_UP_REDIRECT}?{query}", status_code=302, headers=PAGE_HEADERS)


def widget_page(request: Request, idp: Idp, user: User) -> Response:
    """Identity Engine's answer: the sign-in widget with a ``stateHandle`` (``02…``) that
    only its own pipeline (``/idp/idx``) continues; the Classic API refuses it."""
    idp.audit.write(
        "step_up", login=user.login, ip=client_of(request), app_id=idp.app_id, outcome="WIDGET"
    )
    return render(
        request,
        "step_up.html",
        org=idp.settings.org_name,
        title="Sign In",
        heading="Sign in to Amazon Web Services",
        detail=(
            "This app's authentication policy asks for more than your session proves. "
            "Command-line clients use the OAuth device authorization flow on this org."
        ),
        state_token_js=js_escape("02" + secrets.token_urlsafe(30)),
        from_uri_js=js_escape(request.url.path),
    )


async def step_up_resume(request: Request) -> Response:
    """``GET /login/step-up/redirect?stateToken=``: back to the app once the step-up passed;
    before that (the redirect variant's first stop), the Extra Verification page."""
    idp = idp_of(request)
    transaction = idp.transaction(request.query_params.get("stateToken"))
    session_id = request.cookies.get(SID_COOKIE)
    found = idp.session(session_id)
    if (
        transaction is not None
        and transaction.kind == STEP_UP
        and transaction.status != "SUCCESS"
        and found is not None
        and found[0].id == transaction.session_id
    ):
        return render(
            request,
            "step_up.html",
            org=idp.settings.org_name,
            title="Extra Verification",
            heading="Extra verification is required for Amazon Web Services",
            detail="Verify with one of your factors to continue.",
            state_token_js=js_escape(transaction.state_token),
            from_uri_js=js_escape(f"/app/amazon_aws/{idp.app_id}/sso/saml"),
        )
    if (
        transaction is None
        or transaction.kind != STEP_UP
        or transaction.status != "SUCCESS"
        or found is None
        or found[0].id != transaction.session_id
    ):
        return render(
            request,
            "error.html",
            status_code=403,
            title="Extra Verification",
            heading="This verification is not valid for your session.",
            detail="Open the app again to start a new verification.",
            org=idp.settings.org_name,
        )
    session, user = found
    session.step_up_at = idp.clock()
    idp.cancel(transaction)
    idp.audit.write(
        "step_up", login=user.login, ip=client_of(request), app_id=idp.app_id, outcome="SUCCESS"
    )
    target = f"/app/amazon_aws/{idp.app_id}/sso/saml"
    return RedirectResponse(target, status_code=302, headers=PAGE_HEADERS)


ROUTES = [Route(STEP_UP_REDIRECT, step_up_resume, methods=["GET"])]
