"""Parsing untrusted XML: no DTDs, no entities, no network, bounded size and depth.

Everything that reads SAML or metadata from outside goes through
:func:`parse_untrusted`. A document that carries a DOCTYPE, an ENTITY or a
processing instruction is refused before the parser sees it (XXE, billion
laughs and external DTDs all need one of those), and checked again on the
parsed tree in case an encoding hid it from the byte scan.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from lxml import etree

from keyless.errors import SamlInputError

NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
    "xs": "http://www.w3.org/2001/XMLSchema",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
SAMLP = f"{{{NS['samlp']}}}"
SAML = f"{{{NS['saml']}}}"
DS = f"{{{NS['ds']}}}"
MD = f"{{{NS['md']}}}"

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 64

# A DOCTYPE (internal or external DTD, entity declarations) or a processing
# instruction other than the XML declaration. Case-insensitive because some
# parsers are lenient, and tolerant of whitespace after "<!".
_FORBIDDEN = re.compile(rb"<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST)|<\?(?!xml[\s?])", re.IGNORECASE)


class ForbiddenXml(Exception):
    """The document holds a DTD, an entity or a processing instruction."""


class TooDeep(Exception):
    """The document nests deeper than :data:`MAX_DEPTH`."""


def _parser() -> etree.XMLParser:
    # A fresh parser per call: lxml parsers are not thread-safe, and the lab IdP
    # and STS verify from several threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        dtd_validation=False,
        load_dtd=False,
        huge_tree=False,
        remove_comments=False,  # comments stay visible to the checks; c14n drops them
        remove_pis=False,
    )


def parse_untrusted(unverified: bytes, *, what: str = "SAML document") -> etree._Element:
    """Parse ``unverified`` XML safely and return its root element.

    Raises :class:`ForbiddenXml` for DTDs/entities/processing instructions,
    :class:`TooDeep` for deep nesting, and :class:`keyless.errors.SamlInputError`
    when the bytes are not XML at all or exceed :data:`MAX_BYTES`.
    """
    if len(unverified) > MAX_BYTES:
        raise SamlInputError(
            f"the {what} is {len(unverified)} bytes, more than the {MAX_BYTES} keyless reads",
            fix="check that the file is a SAML response or metadata and not something else",
        )
    if _FORBIDDEN.search(unverified):
        raise ForbiddenXml("DOCTYPE, ENTITY or processing instruction")
    try:
        root = etree.fromstring(unverified, parser=_parser())
    except etree.XMLSyntaxError as exc:
        if "entit" in str(exc).lower():
            raise ForbiddenXml(str(exc)) from exc
        raise SamlInputError(
            f"the {what} is not well-formed XML: {exc}",
            fix="pass the raw XML, the base64 SAMLResponse value, or the saved HTML form page",
        ) from exc
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:  # type: ignore[union-attr]
        raise ForbiddenXml("DOCTYPE")
    for node in root.iter(etree.Entity, etree.ProcessingInstruction):
        raise ForbiddenXml(f"{type(node).__name__} node")
    for sibling in root.itersiblings(preceding=True):
        if isinstance(sibling, etree._ProcessingInstruction):
            raise ForbiddenXml("processing instruction")
    _check_depth(root)
    return root


def _check_depth(root: etree._Element) -> None:
    depth = 0
    for event, _ in etree.iterwalk(root, events=("start", "end")):
        depth += 1 if event == "start" else -1
        if depth > MAX_DEPTH:
            raise TooDeep(f"elements nest deeper than {MAX_DEPTH} levels")


def text_of(element: etree._Element | None) -> str:
    """All text under ``element`` with comments ignored, whitespace trimmed.

    ``element.text`` stops at the first child node, so a comment injected in a
    NameID (``user@evil.com<!---->.good.com``) would cut the value short;
    XPath ``string()`` joins every text node and skips comments.
    """
    if element is None:
        return ""
    value = element.xpath("string()")
    return str(value).strip()


def parse_instant(value: str) -> datetime:
    """An xs:dateTime as SAML uses it, always in UTC. Raises ValueError."""
    text = value.strip()
    if not text:
        raise ValueError("empty timestamp")
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Python accepts at most 6 fractional digits; some IdPs send 7 or 9.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_instant(moment: datetime) -> str:
    """UTC with milliseconds and a Z, as Okta writes SAML timestamps."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
