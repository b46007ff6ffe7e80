"""The XML the lab itself needs: SAML's namespaces, its timestamps, and a safe parser.

The lab parses XML only where AWS would receive it (its sign-in page reads the
posted SAML Response to draw the role picker), and parses it as a careful
service does: no DTD, no entity, no network, no processing instruction, a
bounded size and depth (OWASP's XML External Entity Prevention Cheat Sheet,
lxml's ``XMLParser(resolve_entities=False, no_network=True, load_dtd=False)``).
This is the lab's own reading, not keyless's: the lab never parses with the
product's code (see lab/README.md).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from lxml import etree

# SAML 2.0 Core (OASIS, 2005) section 1.2 and XML Signature's namespaces.
NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
    "xs": "http://www.w3.org/2001/XMLSchema",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
SAML = f"{{{NS['saml']}}}"
DS = f"{{{NS['ds']}}}"
MD = f"{{{NS['md']}}}"

# A SAML Response is a few kilobytes; AWS refuses assertions over 100,000 characters.
MAX_BYTES = 256 * 1024
MAX_DEPTH = 64

_DECLARATIONS = re.compile(rb"<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST)|<\?(?!xml[\s?])", re.IGNORECASE)


class UnsafeXml(ValueError):
    """Refused XML: a DTD, an entity or a processing instruction, too big, too deep, or broken."""


def format_instant(moment: datetime) -> str:
    """An xs:dateTime in UTC with milliseconds and a Z, as Okta writes SAML timestamps."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_posted(unverified: bytes) -> etree._Element:
    """The root element of ``unverified``, parsed safely; :class:`UnsafeXml` otherwise."""
    if len(unverified) > MAX_BYTES:
        raise UnsafeXml(f"{len(unverified)} bytes, more than {MAX_BYTES}")
    # Refused before parsing: XXE, billion laughs and external DTDs all need a declaration.
    if _DECLARATIONS.search(unverified):
        raise UnsafeXml("a DOCTYPE, ENTITY or processing instruction")
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(unverified, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise UnsafeXml(f"not well-formed XML: {exc}") from exc
    # Again on the tree, in case an encoding hid a declaration from the byte scan.
    if root.getroottree().docinfo.doctype:  # type: ignore[union-attr]
        raise UnsafeXml("a DOCTYPE")
    for _ in root.iter(etree.Entity, etree.ProcessingInstruction):
        raise UnsafeXml("an entity or processing instruction")
    depth = 0
    for event, _ in etree.iterwalk(root, events=("start", "end")):
        depth += 1 if event == "start" else -1
        if depth > MAX_DEPTH:
            raise UnsafeXml(f"elements nested deeper than {MAX_DEPTH} levels")
    return root


def text_of(element: etree._Element) -> str:
    """The XPath string value of ``element`` (all its text, comments skipped), trimmed.

    ``element.text`` would stop at a comment (``a<!---->b`` reads ``a``).
    """
    return str(element.xpath("string()")).strip()
