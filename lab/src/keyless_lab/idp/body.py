"""Request bodies in the lab IdP: one bounded, strict reader for every endpoint and form.

Every handler that reads a body calls one of these and nothing else:

    document = await read_json(request)   # a JSON object, as dict[str, Any]
    form = await read_form(request)       # an HTML form, as dict[str, str]

Both raise :class:`BadBody` for anything they cannot read safely; the app turns it
into Okta's answer (``400 E0000003`` "The request body was not well-formed." on the
API, a 400 error page on pages), so a handler needs no try/except of its own. A
body is refused when it is

- larger than :data:`MAX_BODY` bytes (declared by Content-Length, or as it streams:
  nothing larger is ever held in memory), or sent with a Content-Encoding;
- not UTF-8, or JSON holding a lone surrogate (``"\\ud800"``: SQLite and every
  ``.encode()`` downstream would fail on it);
- JSON nested deeper than :data:`MAX_DEPTH`, or not an object; NaN/Infinity;
- a form that is not ``application/x-www-form-urlencoded`` (multipart included),
  or has more than :data:`MAX_FIELDS` fields.

Okta documents the error (developer.okta.com/docs/reference/error-codes, E0000003,
"Reader exception", 400); its size limits are not published, so the lab's are far
above anything a client of these endpoints sends (a SAMLResponse is ~10 KB).
:class:`BodyLimitMiddleware` refuses an oversized Content-Length before routing, so
endpoints that ignore their body are covered too.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

MAX_BODY = 256 * 1024
MAX_DEPTH = 32
MAX_FIELDS = 64


class BadBody(Exception):
    """A request body the lab will not read; ``reason`` is for the audit log and errorCauses."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _declared_length(headers: Any) -> int | None:
    value = headers.get("content-length")
    if value is None:
        return None
    if not value.isascii() or not value.isdigit():
        raise BadBody("Content-Length is not a number")
    return int(value)


async def read_bytes(request: Request, *, limit: int = MAX_BODY) -> bytes:
    """The raw body, at most ``limit`` bytes (read once; later calls return the same)."""
    cached: bytes | None = request.scope.get("keyless.body")
    if cached is not None:
        return cached
    if request.headers.get("content-encoding", "identity").strip().lower() != "identity":
        raise BadBody("Content-Encoding is not supported")
    declared = _declared_length(request.headers)
    if declared is not None and declared > limit:
        raise BadBody(f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadBody(f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    request.scope["keyless.body"] = body
    return body


def _check(value: Any, depth: int) -> None:
    """Depth and lone surrogates, walking at most MAX_DEPTH levels down."""
    if depth > MAX_DEPTH:
        raise BadBody(f"JSON nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise BadBody("a JSON string holds a lone surrogate") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(key, depth + 1)
            _check(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check(item, depth + 1)


def _no_constants(name: str) -> Any:
    raise BadBody(f"{name} is not JSON")


async def read_json(request: Request) -> dict[str, Any]:
    """The body as a JSON object (an empty body is ``{}``, as Okta takes it)."""
    body = await read_bytes(request)
    if not body.strip():
        return {}
    try:
        document = json.loads(body.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError):
        raise BadBody("the body is not JSON in UTF-8") from None
    except RecursionError:
        raise BadBody(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    if not isinstance(document, dict):
        raise BadBody("the body is not a JSON object")
    _check(document, 0)
    return document


async def read_form(request: Request) -> dict[str, str]:
    """The body as an url-encoded HTML form; a repeated field keeps its first value."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise BadBody("the form is not application/x-www-form-urlencoded")
    body = await read_bytes(request)
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise BadBody("the form is not UTF-8, or has too many fields") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form


class BodyLimitMiddleware:
    """Refuse a declared body over :data:`MAX_BODY` before any endpoint runs, with the
    answer ``respond`` gives for :class:`BadBody` (the app's own handler)."""

    def __init__(
        self, app: ASGIApp, respond: Callable[[Request, Exception], Awaitable[Response]]
    ) -> None:
        self.app = app
        self.respond = respond

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope, receive)
            try:
                declared = _declared_length(request.headers)
                if declared is not None and declared > MAX_BODY:
                    raise BadBody(f"the body is larger than {MAX_BODY} bytes")
            except BadBody as refused:
                response = await self.respond(request, refused)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
