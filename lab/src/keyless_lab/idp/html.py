"""What the lab's HTML pages share: templates, CSRF tokens, safe redirects, Okta's escaping."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
STATIC = Path(__file__).resolve().parent.parent / "static"
CSRF_COOKIE = "csrf_token"

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

# Security headers on every page: no framing (clickjacking), no sniffing, no
# referrer leaking tokens in URLs, scripts only from the page itself.
PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline';"
        " img-src 'self' data:; form-action 'self' https://*.amazon.com https://*.amazonaws.com"
        " https://*.amazonaws-us-gov.com https://*.amazonaws.cn; frame-ancestors 'none'"
    ),
}


def okta_attr(value: str) -> Markup:
    """Escape an attribute value as Okta's pages do: every character but letters,
    digits and ``,.-_`` becomes a hex character reference (``+`` is ``&#x2b;``)."""
    out = []
    for char in value:
        if char.isascii() and (char.isalnum() or char in ",.-_"):
            out.append(char)
        else:
            out.append(f"&#x{ord(char):x};")
    # Safe: every character outside [A-Za-z0-9,.-_] was escaped above.
    return Markup("".join(out))  # noqa: S704


def csrf_token(request: Request) -> tuple[str, bool]:
    """The browser's CSRF token (double-submit cookie) and whether it must be set now."""
    existing = request.cookies.get(CSRF_COOKIE)
    if existing and len(existing) >= 32:
        return existing, False
    return secrets.token_urlsafe(32), True


def csrf_ok(request: Request, submitted: object) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE)
    return (
        isinstance(submitted, str)
        and bool(cookie)
        and hmac.compare_digest(submitted.encode(), (cookie or "").encode())
    )


def render(
    request: Request, template: str, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """Render a page with a CSRF token in its context (and in a cookie when new)."""
    token, new = csrf_token(request)
    html = _env.get_template(template).render(csrf=token, okta_attr=okta_attr, **context)
    response = HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)
    if new:
        response.set_cookie(
            CSRF_COOKIE, token, path="/", httponly=True, secure=True, samesite="strict"
        )
    return response


def render_text(template: str, **context: Any) -> str:
    return _env.get_template(template).render(okta_attr=okta_attr, **context)


class MalformedTarget(ValueError):
    """A redirect target that is not a URL at all (bad port, scheme, host): Okta answers
    a request carrying one with its validation error (E0000001), never a server error."""

    def __init__(self, param: str, target: str, reason: str) -> None:
        super().__init__(f"{param}: {reason}")
        self.param = param
        self.target = target
        self.reason = reason


def same_origin_target(
    target: str | None, base_url: str, default: str, *, param: str = "fromURI"
) -> str | None:
    """``target`` when it stays on this server (a path, or a URL of ``base_url``'s origin);
    ``default`` when empty; None when it would leave (no open redirect).

    Raises :class:`MalformedTarget` (named by ``param``) for a target no browser could
    follow: a port that is not a number from 0 to 65535, a scheme other than http(s),
    an absolute URL without a host. Reading its port used to raise ValueError: a 500.
    """
    if not target:
        return default
    if "\\" in target or any(ord(char) < 0x20 for char in target):
        return None
    try:
        parts = urlsplit(target)
        port = parts.port
    except ValueError as exc:
        raise MalformedTarget(param, target, f"not a valid URL ({exc})") from None
    if not parts.scheme and not parts.netloc:
        return target if target.startswith("/") and not target.startswith("//") else None
    if parts.scheme and parts.scheme.lower() not in ("http", "https"):
        raise MalformedTarget(param, target, f"the scheme {parts.scheme!r} is not http or https")
    if not parts.hostname:
        raise MalformedTarget(param, target, "an absolute URL needs a host")
    base = urlsplit(base_url)
    origin = (parts.scheme, parts.hostname, port or 443)
    if origin == (base.scheme, base.hostname, base.port or 443):
        return target
    return None
