"""Okta's Classic JSON APIs as the lab answers them: authn, factors, sessions, appLinks.

Same paths, same JSON, same status values and error codes as Okta's public
documentation, so that existing Okta clients work unchanged. Each handler
reads the user afresh from the directory (the CLI may lock or remove them at
any moment) and writes what happened to the audit log.
"""

from __future__ import annotations

import hmac
import re
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from keyless_lab.idp.body import BadBody, read_json
from keyless_lab.idp.core import Idp, Transaction, new_device_token
from keyless_lab.idp.directory import Factor, User
from keyless_lab.idp.okta import (
    STEP_UP,
    app_target,
    cancel_links,
    challenge_links,
    embedded_user,
    error_response,
    factor_document,
    iso,
    link,
    session_document,
    step_up_success_document,
)

SID_COOKIE = "sid"
# Okta's device token. Okta sets it on its first answer to a client that sends
# none (gimme-aws-creds reads it from its cookie jar after the Classic API
# sign-in, okta_classic.py), and a client that sends one keeps it: Okta does not
# replace a device's token, and sign-on policies that remember a device key on
# it. The lab answers the same way, so a client that stores DT and sends it back
# never holds two.
DT_COOKIE = "DT"
# What the lab takes as a device token: a bounded run of URL-safe characters
# (Okta's and the lab's are base64url); anything else is treated as no token.
_DEVICE_TOKEN = re.compile(r"[A-Za-z0-9_\-+/=.]{8,128}")


def idp_of(request: Request) -> Idp:
    idp: Idp = request.app.state.idp
    return idp


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def json_body(request: Request) -> dict[str, Any] | None:
    """The request's JSON object, or None when it is not one (Okta's E0000003).

    Read with :func:`keyless_lab.idp.body.read_json` (bounded size and depth, UTF-8
    without lone surrogates). New endpoints may call ``read_json`` directly and let
    its :class:`~keyless_lab.idp.body.BadBody` reach the app's E0000003 handler.
    """
    try:
        return await read_json(request)
    except BadBody:
        return None


def device_token_of(request: Request) -> str | None:
    """The device token the client sent in its ``DT`` cookie, if it is one."""
    value = request.cookies.get(DT_COOKIE)
    return value if value is not None and _DEVICE_TOKEN.fullmatch(value) else None


def set_device_cookie(response: Response, idp: Idp, device_token: str) -> None:
    """``DT`` as Okta sets it (long-lived), plus HttpOnly, Secure and SameSite=Lax."""
    max_age = int(idp.settings.session_lifetime.total_seconds())
    response.set_cookie(
        DT_COOKIE,
        device_token,
        max_age=max_age * 12 * 365,
        path="/",
        httponly=True,
        secure=True,
        samesite="lax",
    )


def set_session_cookies(
    response: Response,
    idp: Idp,
    session_id: str,
    device_token: str,
    *,
    device_token_sent: str | None = None,
) -> None:
    """``sid`` and ``DT`` as Okta sets them, plus HttpOnly, Secure and SameSite=Lax.

    ``DT`` is left alone when the client already sent this very token.
    """
    response.set_cookie(
        SID_COOKIE, session_id, path="/", httponly=True, secure=True, samesite="lax"
    )
    if device_token_sent != device_token:
        set_device_cookie(response, idp, device_token)


# -- transaction documents ---------------------------------------------------------


def _user_part(user: User) -> dict[str, Any]:
    return {"user": embedded_user(user)}


def success_document(idp: Idp, user: User, session_token: str) -> dict[str, Any]:
    return {
        "expiresAt": iso(idp.clock() + idp.settings.transaction_lifetime),
        "status": "SUCCESS",
        "sessionToken": session_token,
        "_embedded": _user_part(user),
    }


def mfa_required_document(
    idp: Idp, transaction: Transaction, user: User, factors: list[Factor]
) -> dict[str, Any]:
    base = idp.base_url
    document: dict[str, Any] = {
        "stateToken": transaction.state_token,
        "expiresAt": iso(transaction.expires),
        "status": "MFA_REQUIRED",
    }
    if transaction.kind == STEP_UP:
        document["type"] = STEP_UP
    return document | {
        "_embedded": {
            **_user_part(user),
            **({"target": app_target(base)} if transaction.kind == STEP_UP else {}),
            "factors": [factor_document(f, user, base, verify_link=True) for f in factors],
            "policy": remember_device_policy(idp),
        },
        "_links": cancel_links(base),
    }


def remember_device_policy(idp: Idp) -> dict[str, Any]:
    """The "Remember Device Policy Object" of MFA_REQUIRED (Okta's Authentication API)."""
    allowed = idp.settings.allow_remember_device
    minutes = int(idp.settings.remember_device_lifetime.total_seconds() // 60)
    return {
        "allowRememberDevice": allowed,
        "rememberDeviceLifetimeInMinutes": minutes if allowed else 0,
        "rememberDeviceByDefault": False,
        "factorsPolicyInfo": {},
    }


def mfa_enroll_document(idp: Idp, transaction: Transaction, user: User) -> dict[str, Any]:
    base = idp.base_url
    enrollable = [
        ("token:software:totp", "GOOGLE"),
        ("push", "OKTA"),
        ("sms", "OKTA"),
    ]
    return {
        "stateToken": transaction.state_token,
        "expiresAt": iso(transaction.expires),
        "status": "MFA_ENROLL",
        "_embedded": {
            **_user_part(user),
            "factors": [
                {
                    "factorType": factor_type,
                    "provider": provider,
                    "vendorName": provider,
                    "status": "NOT_SETUP",
                    "enrollment": "REQUIRED",
                    "_links": {"enroll": link(f"{base}/api/v1/authn/factors", "POST")},
                }
                for factor_type, provider in enrollable
            ],
        },
        "_links": cancel_links(base),
    }


def challenge_document(
    idp: Idp,
    transaction: Transaction,
    user: User,
    factor: Factor,
    *,
    factor_result: str | None = None,
    correct_answer: int | None = None,
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "stateToken": transaction.state_token,
        "expiresAt": iso(transaction.expires),
        "status": "MFA_CHALLENGE",
    }
    if factor_result is not None:
        document["factorResult"] = factor_result
    embedded_factor = factor_document(factor, user, idp.base_url, verify_link=False)
    if correct_answer is not None:
        embedded_factor["_embedded"] = {"challenge": {"correctAnswer": correct_answer}}
    document["_embedded"] = {**_user_part(user), "factor": embedded_factor}
    next_name = "poll" if factor_result == "WAITING" else "verify"
    document["_links"] = challenge_links(idp.base_url, factor, next_name=next_name)
    return document


def transaction_document(idp: Idp, transaction: Transaction, user: User) -> dict[str, Any]:
    """The current state of a transaction, for ``POST /api/v1/authn {stateToken}``."""
    if transaction.kind == STEP_UP and transaction.status == "SUCCESS":
        return step_up_success_document(
            idp.base_url, transaction.state_token, transaction.expires, user
        )
    if transaction.status == "MFA_CHALLENGE" and transaction.factor_id:
        factor = idp.directory.get_factor(transaction.factor_id)
        if factor is not None:
            return challenge_document(idp, transaction, user, factor)
    if transaction.status == "MFA_ENROLL":
        return mfa_enroll_document(idp, transaction, user)
    return mfa_required_document(idp, transaction, user, idp.needs_mfa(user))


LOCKED_OUT_DOCUMENT_LINKS = "/api/v1/authn/recovery/unlock"


def locked_out_document(idp: Idp) -> dict[str, Any]:
    return {
        "status": "LOCKED_OUT",
        "_links": {
            "next": link(f"{idp.base_url}{LOCKED_OUT_DOCUMENT_LINKS}", "POST", name="unlock")
        },
    }


# -- primary authentication -------------------------------------------------------------


async def primary_authentication(
    idp: Idp,
    username: str,
    password: str,
    client: str,
    via: str,
    *,
    device_token: str | None = None,
) -> tuple[str, dict[str, Any] | None, User | None]:
    """Check a username and password; return (outcome, transaction document, user).

    Outcomes: ``SUCCESS`` (document holds the sessionToken), ``MFA_REQUIRED``,
    ``MFA_ENROLL``, ``LOCKED_OUT`` and ``FAILED`` (document None: E0000004).
    Shared by the JSON API and the sign-in page. ``device_token`` is the
    client's DT: a device remembered for this user skips MFA.
    """
    directory = idp.directory
    user = directory.get_user(username)
    # Okta answers a suspended or deactivated user as it answers a wrong password (E0000004).
    if user is None or user.status in ("DEPROVISIONED", "SUSPENDED"):
        await anyio.to_thread.run_sync(
            directory.burn_password_check, password, limiter=idp.hash_limiter()
        )
        idp.audit.write("authn", login=username, ip=client, outcome="FAILURE", via=via)
        return "FAILED", None, None
    if user.status == "LOCKED_OUT":
        idp.audit.write("authn", login=user.login, ip=client, outcome="LOCKED_OUT", via=via)
        return "LOCKED_OUT", locked_out_document(idp), user
    ok = await anyio.to_thread.run_sync(
        directory.verify_password, user, password, limiter=idp.hash_limiter()
    )
    if not ok:
        user = directory.record_failure(user, idp.settings.lockout_threshold)
        locked = user.status == "LOCKED_OUT"
        idp.audit.write(
            "authn",
            login=user.login,
            ip=client,
            outcome="FAILURE",
            failed_attempts=user.failed_attempts,
            locked_out=locked,
            via=via,
        )
        return "FAILED", None, user
    factors = idp.needs_mfa(user)
    remembered = idp.remembered_factor(user, device_token) if factors else None
    if remembered is not None:
        # The policy allows remembering devices and this one verified a factor with
        # rememberDevice=true: Okta answers SUCCESS without MFA_REQUIRED.
        directory.reset_failures(user)
        token = idp.mint_session_token(
            user.id,
            password_at=idp.clock(),
            factor_at=remembered,
            amr=("pwd",),
            device_token=device_token,
            via=via,
        )
        idp.audit.write(
            "authn",
            login=user.login,
            ip=client,
            outcome="SUCCESS",
            amr=["pwd"],
            remembered_device=True,
            via=via,
        )
        return "SUCCESS", success_document(idp, user, token), user
    if factors:
        # Failures are reset only once the sign-in is finished: a right password must
        # not wipe out the wrong MFA codes guessed before it (see verify_factor).
        transaction = idp.new_transaction(user, "MFA_REQUIRED", device_token=device_token, via=via)
        idp.audit.write("authn", login=user.login, ip=client, outcome="MFA_REQUIRED", via=via)
        return "MFA_REQUIRED", mfa_required_document(idp, transaction, user, factors), user
    if idp.spec.session.require_mfa:
        transaction = idp.new_transaction(user, "MFA_ENROLL")
        idp.audit.write("authn", login=user.login, ip=client, outcome="MFA_ENROLL", via=via)
        return "MFA_ENROLL", mfa_enroll_document(idp, transaction, user), user
    directory.reset_failures(user)
    token = idp.mint_session_token(
        user.id,
        password_at=idp.clock(),
        factor_at=None,
        amr=("pwd",),
        device_token=device_token,
        via=via,
    )
    idp.audit.write("authn", login=user.login, ip=client, outcome="SUCCESS", amr=["pwd"], via=via)
    return "SUCCESS", success_document(idp, user, token), user


async def authn(request: Request) -> Response:
    """``POST /api/v1/authn``: primary authentication, or the state of a transaction."""
    idp = idp_of(request)
    body = await json_body(request)
    if body is None:
        return error_response("E0000003")
    if "stateToken" in body and "password" not in body:
        transaction = idp.transaction(body["stateToken"])
        user = idp.active_user(transaction.user_id) if transaction else None
        if transaction is None or user is None:
            return error_response("E0000011")
        return JSONResponse(transaction_document(idp, transaction, user))
    username, password = body.get("username"), body.get("password")
    sent = device_token_of(request)
    device_token = sent or new_device_token()
    if not isinstance(username, str) or not isinstance(password, str) or not username:
        response = error_response("E0000004")
    else:
        _, document, _ = await primary_authentication(
            idp, username, password, client_of(request), "api", device_token=device_token
        )
        response = JSONResponse(document) if document is not None else error_response("E0000004")
    if sent is None:
        set_device_cookie(response, idp, device_token)
    return response


# -- factor verification ------------------------------------------------------------------


def finished_document(
    idp: Idp,
    transaction: Transaction,
    user: User,
    factor: Factor,
    *,
    remember_device: bool = False,
) -> dict[str, Any]:
    """The ``SUCCESS`` a verified factor ends a transaction with: a ``sessionToken`` for a
    sign-in, the link back to the app for a step-up (the transaction lives on until it).
    ``remember_device`` is the verify call's ``rememberDevice=true`` (sign-ins only)."""
    if transaction.kind == STEP_UP:
        transaction.status = "SUCCESS"
        return step_up_success_document(
            idp.base_url, transaction.state_token, transaction.expires, user
        )
    token = idp.finish(transaction, factor=factor, remember_device=remember_device)
    return success_document(idp, user, token)


async def verify_factor(
    idp: Idp,
    transaction: Transaction,
    user: User,
    factor: Factor,
    pass_code: object,
    client: str,
    *,
    remember_device: bool = False,
) -> tuple[int, dict[str, Any] | None, str | None]:
    """One step of factor verification; return (status, document, error code).

    Shared by the JSON API and the MFA page. The error code, when set, is an
    Okta error code whose response the caller renders. ``remember_device`` is
    the verify call's ``rememberDevice=true``.
    """
    if factor.factor_type == "push":
        return verify_push(idp, transaction, user, factor, client)
    if pass_code is None or pass_code == "":
        transaction.status = "MFA_CHALLENGE"
        transaction.factor_id = factor.id
        if factor.factor_type == "sms":
            idp.send_sms(transaction, user)
        return 200, challenge_document(idp, transaction, user, factor), None
    code = str(pass_code).strip()
    if factor.factor_type == "sms":
        expected = transaction.sms_code
        ok = expected is not None and transaction.factor_id == factor.id and _same(expected, code)
    else:
        ok = idp.check_totp(factor, code)
    if not ok:
        # A wrong code counts like a wrong password: without that, whoever knows the
        # password could guess six-digit codes for as long as the rate limit allows.
        user = idp.directory.record_failure(user, idp.settings.lockout_threshold)
        idp.audit.write(
            "mfa",
            login=user.login,
            ip=client,
            factor=factor.factor_type,
            outcome="FAILURE",
            failed_attempts=user.failed_attempts,
            locked_out=user.status == "LOCKED_OUT",
        )
        return 403, None, "E0000068"
    idp.directory.reset_failures(user)
    document = finished_document(idp, transaction, user, factor, remember_device=remember_device)
    idp.audit.write(
        "mfa", login=user.login, ip=client, factor=factor.factor_type, outcome="SUCCESS"
    )
    return 200, document, None


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())


def verify_push(
    idp: Idp, transaction: Transaction, user: User, factor: Factor, client: str
) -> tuple[int, dict[str, Any] | None, str | None]:
    """Send a push (or poll one): WAITING with the number to pick, then SUCCESS/REJECTED/TIMEOUT."""
    directory = idp.directory
    if transaction.push_id is None or transaction.factor_id != factor.id:
        transaction.status = "MFA_CHALLENGE"
        transaction.factor_id = factor.id
        transaction.push_id, _ = directory.start_push(user.id, factor.id)
        idp.audit.write("mfa", login=user.login, ip=client, factor="push", outcome="PUSH_SENT")
    status, answer = directory.push_status(transaction.push_id, idp.settings.push_timeout)
    if status == "APPROVED":
        directory.reset_failures(user)
        document = finished_document(idp, transaction, user, factor)
        idp.audit.write("mfa", login=user.login, ip=client, factor="push", outcome="SUCCESS")
        return 200, document, None
    if status == "WAITING":
        return (
            200,
            challenge_document(
                idp, transaction, user, factor, factor_result="WAITING", correct_answer=answer
            ),
            None,
        )
    # REJECTED or TIMEOUT: the next verify call sends a new push.
    transaction.push_id = None
    idp.audit.write("mfa", login=user.login, ip=client, factor="push", outcome=status)
    return 200, challenge_document(idp, transaction, user, factor, factor_result=status), None


def live_transaction(idp: Idp, body: dict[str, Any]) -> tuple[Transaction, User] | None:
    """The transaction ``body``'s stateToken names and its still-active user, or None
    (Okta answers E0000011 for an unknown, expired or finished transaction alike)."""
    transaction = idp.transaction(body.get("stateToken"))
    user = idp.active_user(transaction.user_id) if transaction else None
    return (transaction, user) if transaction is not None and user is not None else None


async def factor_verify(request: Request) -> Response:
    """``POST /api/v1/authn/factors/{factorId}/verify``.

    The code is ``passCode``, or ``answer`` as some clients send a TOTP code
    (okta-awscli; real Okta accepts it). ``?rememberDevice=true`` remembers the
    device when the policy allows it (gimme-aws-creds sends it as a query
    parameter, as Okta's reference documents it).
    """
    idp = idp_of(request)
    body = await json_body(request)
    if body is None:
        return error_response("E0000003")
    found = live_transaction(idp, body)
    if found is None:
        return error_response("E0000011")
    transaction, user = found
    if transaction.status not in ("MFA_REQUIRED", "MFA_CHALLENGE"):
        return error_response("E0000079")
    factor_id = request.path_params["factor_id"]
    factor = idp.directory.get_factor(factor_id)
    if factor is None or factor.user_id != user.id:
        return error_response("E0000007", detail=f"Resource not found: {factor_id} (UserFactor)")
    pass_code = body.get("passCode")
    if pass_code is None and factor.factor_type != "push":
        pass_code = body.get("answer")
    remember = request.query_params.get("rememberDevice", "").lower() == "true"
    status, document, code = await verify_factor(
        idp,
        transaction,
        user,
        factor,
        pass_code,
        client_of(request),
        remember_device=remember,
    )
    if code is not None:
        cause = (
            "Your answer doesn't match our records. Please try again."
            if factor.factor_type == "sms"
            else "Your passcode doesn't match our records. Please try again."
        )
        return error_response(code, causes=[cause])
    return JSONResponse(document, status_code=status)


async def factor_resend(request: Request) -> Response:
    """``POST /api/v1/authn/factors/{factorId}/verify/resend``: a new SMS code or push."""
    idp = idp_of(request)
    body = await json_body(request)
    if body is None:
        return error_response("E0000003")
    found = live_transaction(idp, body)
    if found is None:
        return error_response("E0000011")
    transaction, user = found
    factor = idp.directory.get_factor(request.path_params["factor_id"])
    if factor is None or factor.user_id != user.id or transaction.factor_id != factor.id:
        return error_response("E0000079")
    if factor.factor_type == "sms":
        idp.send_sms(transaction, user)
        return JSONResponse(challenge_document(idp, transaction, user, factor))
    if factor.factor_type == "push":
        transaction.push_id = None
        status, document, _ = verify_push(idp, transaction, user, factor, client_of(request))
        return JSONResponse(document, status_code=status)
    return error_response("E0000079")


async def authn_cancel(request: Request) -> Response:
    idp = idp_of(request)
    body = await json_body(request)
    if body is None:
        return error_response("E0000003")
    transaction = idp.transaction(body.get("stateToken"))
    if transaction is None:
        return error_response("E0000011")
    idp.cancel(transaction)
    return JSONResponse({})


async def authn_previous(request: Request) -> Response:
    idp = idp_of(request)
    body = await json_body(request)
    if body is None:
        return error_response("E0000003")
    found = live_transaction(idp, body)
    if found is None:
        return error_response("E0000011")
    transaction, user = found
    transaction.status, transaction.factor_id, transaction.push_id = "MFA_REQUIRED", None, None
    return JSONResponse(mfa_required_document(idp, transaction, user, idp.needs_mfa(user)))


# -- sessions -------------------------------------------------------------------------------


def _session_json(idp: Idp, session_id: str, *, me: bool) -> dict[str, Any] | None:
    found = idp.session(session_id)
    if found is None:
        return None
    session, user = found
    return session_document(
        session_id=session.id,
        user=user,
        created=session.created,
        expires=session.expires,
        password_at=session.password_at,
        factor_at=session.factor_at,
        amr=list(session.amr),
        mfa_active=bool(idp.directory.factors(user.id)),
        idp_id=idp.idp_id,
        base=idp.base_url,
        me=me,
    )


async def create_session(request: Request) -> Response:
    """``POST /api/v1/sessions {sessionToken}``: redeem a session token for a session.

    The answer also sets the ``sid`` cookie, so that a client that keeps
    cookies (as Okta CLI clients do) reaches apps with it.
    """
    idp = idp_of(request)
    body = await json_body(request)
    if body is None:
        return error_response("E0000003")
    session = idp.redeem(body.get("sessionToken"))
    if session is None:
        return error_response("E0000004")
    document = _session_json(idp, session.id, me=False)
    if document is None:
        return error_response("E0000004")
    found = idp.session(session.id)
    assert found is not None
    idp.audit.write("session", login=found[1].login, ip=client_of(request), outcome="CREATED")
    response = JSONResponse(document)
    set_session_cookies(
        response,
        idp,
        session.id,
        session.device_token,
        device_token_sent=device_token_of(request),
    )
    return response


def _me_not_found() -> Response:
    return error_response("E0000007", detail="Resource not found: me (Session)")


async def session_me(request: Request) -> Response:
    """``GET`` / ``DELETE /api/v1/sessions/me`` with the ``sid`` cookie."""
    idp = idp_of(request)
    session_id = request.cookies.get(SID_COOKIE)
    document = _session_json(idp, session_id or "", me=True)
    if document is None or session_id is None:
        return _me_not_found()
    if request.method == "DELETE":
        idp.end_session(session_id)
        response = Response(status_code=204)
        response.delete_cookie(SID_COOKIE, path="/")
        return response
    return JSONResponse(document)


async def session_me_refresh(request: Request) -> Response:
    """``POST /api/v1/sessions/me/lifecycle/refresh``: extend the current session."""
    idp = idp_of(request)
    session_id = request.cookies.get(SID_COOKIE) or ""
    found = idp.session(session_id)
    if found is None:
        return _me_not_found()
    idp.refresh(found[0])
    document = _session_json(idp, session_id, me=True)
    return JSONResponse(document) if document is not None else _me_not_found()


# -- the user's apps --------------------------------------------------------------------------


def app_link_document(idp: Idp, user: User) -> dict[str, Any]:
    """The AWS app as an entry of ``/api/v1/users/me/appLinks``."""
    return {
        "id": "0ua" + idp.app_id[3:],
        "label": "Amazon Web Services",
        "linkUrl": f"{idp.base_url}/home/amazon_aws/{idp.app_id}/272",
        "logoUrl": f"{idp.base_url}/static/aws-logo.svg",
        "appName": "amazon_aws",
        "appInstanceId": idp.app_id,
        "appAssignmentId": "0ua" + idp.app_id[3:],
        "credentialsSetup": False,
        "hidden": False,
        "sortOrder": 0,
    }


def assigned(idp: Idp, user: User) -> bool:
    """A user is assigned the AWS app when a group grants them at least one role."""
    return bool(idp.roles_for(user))


async def app_links(request: Request) -> Response:
    """``GET /api/v1/users/me/appLinks`` with the ``sid`` cookie."""
    idp = idp_of(request)
    found = idp.session(request.cookies.get(SID_COOKIE))
    if found is None:
        return error_response("E0000005")
    _, user = found
    links = [app_link_document(idp, user)] if assigned(idp, user) else []
    return JSONResponse(links)


async def okta_organization(request: Request) -> Response:
    """``GET /.well-known/okta-organization``: which engine the org runs, as clients
    tell them apart (okta-aws-cli ``isClassicOrg``, gimme-aws-creds): ``pipeline``
    ``v1`` is Classic, ``idx`` Identity Engine.

    The shape is Okta's WellKnownOrgMetadata (Okta Management API, Org; the
    okta-sdk-java model ``WellKnownOrgMetadata``/``WellKnownOrgMetadataSettings``):
    ``id``, ``pipeline``, ``settings`` {``analyticsCollectionEnabled``,
    ``bugReportingEnabled``, ``omEnabled``} and ``_links`` {``organization``,
    ``alternate``}; no sign-in needed.
    """
    idp = idp_of(request)
    return JSONResponse(
        {
            "id": idp.idp_id,
            "pipeline": "idx" if idp.settings.engine == "oie" else "v1",
            "settings": {
                "analyticsCollectionEnabled": False,
                "bugReportingEnabled": True,
                "omEnabled": False,
            },
            "_links": {
                "organization": {"href": idp.base_url},
                "alternate": {"href": idp.base_url},
            },
        }
    )


async def webfinger(request: Request) -> Response:
    """``GET /.well-known/webfinger``: every user signs in at this org (``okta:idp:type OKTA``)."""
    idp = idp_of(request)
    resource = request.query_params.get("resource", "")
    return JSONResponse(
        {
            "subject": resource,
            "links": [
                {
                    "rel": "okta:idp",
                    "href": f"{idp.base_url}/sso/idps/OKTA",
                    "titles": {"und": idp.settings.org_name},
                    "properties": {"okta:idp:type": "OKTA"},
                }
            ],
        },
        media_type="application/jrd+json",
    )


ROUTES = [
    Route("/.well-known/okta-organization", okta_organization, methods=["GET"]),
    Route("/.well-known/webfinger", webfinger, methods=["GET"]),
    Route("/api/v1/authn", authn, methods=["POST"]),
    Route("/api/v1/authn/cancel", authn_cancel, methods=["POST"]),
    Route("/api/v1/authn/previous", authn_previous, methods=["POST"]),
    Route("/api/v1/authn/factors/{factor_id}/verify", factor_verify, methods=["POST"]),
    Route("/api/v1/authn/factors/{factor_id}/verify/resend", factor_resend, methods=["POST"]),
    Route("/api/v1/sessions", create_session, methods=["POST"]),
    Route("/api/v1/sessions/me", session_me, methods=["GET", "DELETE"]),
    Route("/api/v1/sessions/me/lifecycle/refresh", session_me_refresh, methods=["POST"]),
    Route("/api/v1/users/me/appLinks", app_links, methods=["GET"]),
]
