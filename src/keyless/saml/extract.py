"""Find the SAML Response XML in whatever a user saved: XML, base64, a form, a page.

People debug with what they have: the ``SAMLResponse`` value copied from the
browser's network tab (base64, sometimes URL-encoded), the form body
(``SAMLResponse=...&RelayState=...``), the HTML page Okta returns with the
auto-submitting form, or the decoded XML.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import urllib.parse

from keyless.errors import SamlInputError

# Generous bound: AWS accepts at most 100,000 base64 characters; 8 MiB of
# input is far beyond any real page and small enough to scan.
MAX_INPUT = 8 * 1024 * 1024

_INPUT_TAG = re.compile(r"<input\b[^>]*>", re.IGNORECASE | re.DOTALL)
_NAME_ATTR = re.compile(r"""\bname\s*=\s*(["']?)SAMLResponse\1""", re.IGNORECASE)
_VALUE_ATTR = re.compile(r"""\bvalue\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)
_FIX = (
    "pass the raw XML, the base64 SAMLResponse value, the form body, "
    "or the saved HTML page that holds the SAMLResponse form"
)


def extract_saml_response(text: str | bytes) -> bytes:
    """Return the SAML Response XML from raw XML, base64, a form body or an HTML page.

    Raises :class:`keyless.errors.SamlInputError` when none of those is recognised.
    """
    if len(text) > MAX_INPUT:
        raise SamlInputError(
            f"the input is {len(text)} bytes, too large for a SAML response", fix=_FIX
        )
    if isinstance(text, bytes):
        raw = text
        try:
            decoded = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            # Not UTF-8: only XML in another declared encoding makes sense.
            if raw.lstrip().startswith((b"<", b"\xff\xfe", b"\xfe\xff")):
                return raw
            raise SamlInputError("the input is neither text nor XML", fix=_FIX) from None
    else:
        decoded = text.lstrip("\ufeff")
        raw = decoded.encode("utf-8")
    stripped = decoded.strip()
    if not stripped:
        raise SamlInputError("the input is empty", fix=_FIX)

    if stripped.startswith("<"):
        if _looks_like_html(stripped):
            return _decode_b64(_from_html(stripped))
        return raw.strip()
    if "SAMLResponse=" in stripped:
        fields = urllib.parse.parse_qs(stripped.split("?", 1)[-1])
        values = fields.get("SAMLResponse")
        if not values:
            raise SamlInputError("the form body has an empty SAMLResponse field", fix=_FIX)
        return _decode_b64(values[0])
    if "%" in stripped:
        stripped = urllib.parse.unquote(stripped)
    return _decode_b64(stripped)


def _looks_like_html(text: str) -> bool:
    head = text[:2000].lower()
    return "<html" in head or "<!doctype html" in head or "<form" in text.lower()


def _from_html(page: str) -> str:
    for tag in _INPUT_TAG.findall(page):
        if _NAME_ATTR.search(tag):
            value = _VALUE_ATTR.search(tag)
            if value is None:
                break
            # Okta escapes '+' and '=' as character references in the page.
            return html.unescape(next(group for group in value.groups() if group is not None))
    raise SamlInputError("the HTML page holds no SAMLResponse form field", fix=_FIX)


def _decode_b64(value: str) -> bytes:
    compact = "".join(value.split())
    try:
        xml = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SamlInputError(
            "the input is not XML and not valid base64 (a SAMLResponse value)", fix=_FIX
        ) from exc
    if not xml.lstrip().startswith((b"<", b"\xef\xbb\xbf<")):
        raise SamlInputError("the base64 input does not decode to XML", fix=_FIX)
    return xml.lstrip()
