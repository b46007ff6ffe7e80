"""The JSON documents Okta's Classic APIs answer with, built from the lab's state.

Shapes follow Okta's public documentation (Authentication API, Sessions API,
User resources): field names, ``_embedded`` and ``_links`` with ``hints``, and
the error object ``{errorCode, errorSummary, errorLink, errorId, errorCauses}``.
Nothing here touches the network or the directory; callers pass what is shown.
"""

from __future__ import annotations

import secrets
import string
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.responses import JSONResponse

from keyless_lab.idp.directory import Factor, User

_ALNUM = string.ascii_letters + string.digits

# App-level step-up (Authentication API, "SP-initiated step-up authentication").
STEP_UP = "SESSION_STEP_UP"
STEP_UP_REDIRECT = "/login/step-up/redirect"

# Okta's error catalogue: code -> (HTTP status, summary).
ERRORS: dict[str, tuple[int, str]] = {
    "E0000001": (400, "Api validation failed: {0}"),
    "E0000003": (400, "The request body was not well-formed."),
    "E0000004": (401, "Authentication failed"),
    "E0000005": (403, "Invalid session"),
    "E0000006": (403, "You do not have permission to perform the requested action"),
    "E0000007": (404, "Not found: {0}"),
    "E0000011": (401, "Invalid token provided"),
    "E0000016": (403, "Activation failed because the user is already active"),
    "E0000022": (405, "The endpoint does not support the provided HTTP method"),
    "E0000031": (400, "Invalid search criteria."),
    "E0000047": (429, "API call exceeded rate limit due to too many requests."),
    "E0000068": (403, "Invalid Passcode/Answer"),
    "E0000079": (403, "This operation is not allowed in the current authentication state."),
}


def iso(moment: datetime) -> str:
    """Okta's timestamp form: UTC, milliseconds, ``Z``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def error_id() -> str:
    """An ``errorId`` like Okta's (``oae`` and 22 characters)."""
    return "oae" + "".join(secrets.choice(_ALNUM) for _ in range(22))


def error_body(code: str, *, detail: str = "", causes: list[str] | None = None) -> dict[str, Any]:
    _, summary = ERRORS[code]
    return {
        "errorCode": code,
        "errorSummary": summary.replace("{0}", detail),
        "errorLink": code,
        "errorId": error_id(),
        "errorCauses": [{"errorSummary": cause} for cause in causes or []],
    }


def error_response(
    code: str,
    *,
    detail: str = "",
    causes: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """An Okta error answer with the status Okta uses for ``code``."""
    status, _ = ERRORS[code]
    return JSONResponse(
        error_body(code, detail=detail, causes=causes), status_code=status, headers=headers
    )


def link(href: str, *allow: str, name: str | None = None) -> dict[str, Any]:
    """A HAL link with Okta's ``hints.allow``."""
    document: dict[str, Any] = {}
    if name is not None:
        document["name"] = name
    document["href"] = href
    document["hints"] = {"allow": list(allow)}
    return document


def user_profile(user: User) -> dict[str, Any]:
    return {
        "login": user.login,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "locale": "en_US",
        "timeZone": "America/Los_Angeles",
    }


def embedded_user(user: User) -> dict[str, Any]:
    return {"id": user.id, "passwordChanged": user.password_changed, "profile": user_profile(user)}


def _mask_phone(phone: str | None) -> str:
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    return f"+1 XXX-XXX-{digits[-4:] if len(digits) >= 4 else '0000'}"


def factor_profile(factor: Factor, user: User) -> dict[str, Any]:
    if factor.factor_type == "push":
        return {
            "credentialId": user.login,
            "deviceType": "SmartPhone_IPhone",
            "name": "keyless lab phone",
            "platform": "IOS",
            "version": "17.4",
        }
    if factor.factor_type == "sms":
        return {"phoneNumber": _mask_phone(user.phone)}
    return {"credentialId": user.login}


def factor_document(factor: Factor, user: User, base: str, *, verify_link: bool) -> dict[str, Any]:
    """A factor as ``_embedded.factors[]`` (with its verify link) or ``_embedded.factor``."""
    document: dict[str, Any] = {
        "id": factor.id,
        "factorType": factor.factor_type,
        "provider": factor.provider,
        "vendorName": factor.provider,
        "profile": factor_profile(factor, user),
    }
    if verify_link:
        document["_links"] = {
            "verify": link(f"{base}/api/v1/authn/factors/{factor.id}/verify", "POST")
        }
    return document


def cancel_links(base: str) -> dict[str, Any]:
    return {"cancel": link(f"{base}/api/v1/authn/cancel", "POST")}


def challenge_links(base: str, factor: Factor, *, next_name: str) -> dict[str, Any]:
    """``_links`` of an ``MFA_CHALLENGE``: next (verify or poll), cancel, prev, resend."""
    verify = f"{base}/api/v1/authn/factors/{factor.id}/verify"
    links: dict[str, Any] = {
        "next": link(verify, "POST", name=next_name),
        "cancel": link(f"{base}/api/v1/authn/cancel", "POST"),
        "prev": link(f"{base}/api/v1/authn/previous", "POST"),
    }
    if factor.factor_type in ("push", "sms"):
        links["resend"] = [link(f"{verify}/resend", "POST", name=factor.factor_type)]
    return links


def session_document(
    *,
    session_id: str,
    user: User,
    created: datetime,
    expires: datetime,
    password_at: datetime,
    factor_at: datetime | None,
    amr: list[str],
    mfa_active: bool,
    idp_id: str,
    base: str,
    me: bool,
) -> dict[str, Any]:
    """A Session object; ``me`` gives the ``/sessions/me`` links as Okta does."""
    self_href = f"{base}/api/v1/sessions/{'me' if me else session_id}"
    user_href = f"{base}/api/v1/users/{'me' if me else user.id}"
    return {
        "id": session_id,
        "userId": user.id,
        "login": user.login,
        "createdAt": iso(created),
        "expiresAt": iso(expires),
        "status": "ACTIVE",
        "lastPasswordVerification": iso(password_at),
        "lastFactorVerification": iso(factor_at) if factor_at else None,
        "amr": amr,
        "idp": {"id": idp_id, "type": "OKTA"},
        "mfaActive": mfa_active,
        "_links": {
            "self": link(self_href, "GET", "DELETE"),
            "refresh": link(f"{self_href}/lifecycle/refresh", "POST"),
            "user": {"name": user.display_name, **link(user_href, "GET")},
        },
    }


def app_target(base: str) -> dict[str, Any]:
    """``_embedded.target`` of a step-up transaction: the app it is for."""
    return {
        "type": "APP",
        "name": "amazon_aws",
        "label": "Amazon Web Services",
        "_links": {
            "logo": {
                "name": "medium",
                "href": f"{base}/static/aws-logo.svg",
                "type": "image/svg+xml",
            }
        },
    }


def step_up_success_document(
    base: str, state_token: str, expires: datetime, user: User
) -> dict[str, Any]:
    """The ``SUCCESS`` of a step-up: no ``sessionToken``, ``_links.next`` back to the app."""
    query = urlencode({"stateToken": state_token})
    return {
        "stateToken": state_token,
        "expiresAt": iso(expires),
        "status": "SUCCESS",
        "type": STEP_UP,
        "_embedded": {"user": embedded_user(user), "target": app_target(base)},
        "_links": {"next": link(f"{base}{STEP_UP_REDIRECT}?{query}", "GET", name="original")},
    }


def oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    """An OAuth error body as Okta's authorization servers answer it (RFC 6749 §5.2:
    ``error`` and ``error_description``; 401 for ``invalid_client``, 400 otherwise)."""
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )
