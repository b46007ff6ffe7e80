"""What the lab STS reads from an IAM SAML provider, and how it reads untrusted SAML XML.

The IAM SAML provider holds the IdP's metadata document; STS trusts the
signing certificates in it and nothing else, and the metadata's ``entityID``
is the issuer it expects. Sources:

- Creating a SAML identity provider in IAM ("the metadata document ... includes
  the issuer name, expiration information, and keys that can be used to validate
  the SAML authentication response"):
  https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_saml.html
- SAML 2.0 metadata, section 2.4.1.1 (``KeyDescriptor/@use``: absent means the
  key serves both signing and encryption):
  https://docs.oasis-open.org/security/saml/v2.0/saml-metadata-2.0-os.pdf

Every document here comes from outside (a caller's request, metadata an
operator uploaded), so it is parsed with no DTD, no entity expansion, no
network and no processing instructions: SAML needs none of them, and they are
how XXE and entity-expansion ("billion laughs") attacks get in.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from lxml import etree

SAML = "{urn:oasis:names:tc:SAML:2.0:assertion}"
SAMLP = "{urn:oasis:names:tc:SAML:2.0:protocol}"
DS = "{http://www.w3.org/2000/09/xmldsig#}"
MD = "{urn:oasis:names:tc:SAML:2.0:metadata}"


class UnsafeXml(ValueError):
    """A document that is not XML, or carries a DTD, entities or processing instructions."""


def safe_parser() -> etree.XMLParser:
    """lxml's parser with everything dangerous off (signxml is handed the same)."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,  # keeps libxml2's depth and size limits
        remove_pis=False,  # seen, so that they can be refused
    )


def parse_untrusted(document: bytes) -> etree._Element:
    """The root element of ``document``; :class:`UnsafeXml` for anything but plain XML."""
    try:
        tree = etree.fromstring(document, parser=safe_parser()).getroottree()
    except etree.XMLSyntaxError as exc:
        raise UnsafeXml(f"not well-formed XML: {exc}") from exc
    # lxml-stubs leave DocInfo.doctype out; it is the DOCTYPE line as written, or "".
    doctype: str = getattr(tree.docinfo, "doctype", "")
    if doctype or tree.docinfo.internalDTD is not None:
        raise UnsafeXml("the document declares a DTD")
    root = tree.getroot()
    for node in root.iter():
        if isinstance(node, etree._Entity | etree._ProcessingInstruction):
            raise UnsafeXml("the document holds an entity reference or a processing instruction")
    for sibling in (*root.itersiblings(preceding=True), *root.itersiblings()):
        if isinstance(sibling, etree._ProcessingInstruction):
            raise UnsafeXml("the document holds a processing instruction")
    return root


def text_of(element: etree._Element | None) -> str:
    """An element's text content, stripped ('' for a missing element)."""
    if element is None:
        return ""
    return "".join(str(piece) for piece in element.itertext()).strip()


def parse_instant(raw: str) -> datetime:
    """An ``xs:dateTime`` as SAML writes it (UTC, ``Z``); ValueError if it is not one.

    SAML core 1.3.3: "All SAML time values have the type xs:dateTime ... and MUST
    be expressed in UTC form, with no time zone component" — a value without a
    zone is read as UTC; one with an offset is converted.
    """
    moment = datetime.fromisoformat(raw.strip())
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class ProviderMetadata:
    """An IAM SAML provider as STS uses it: the issuer it expects and the keys it trusts."""

    entity_id: str
    certificates: tuple[x509.Certificate, ...]


def read_metadata(document: bytes) -> ProviderMetadata:
    """The IdP's entityID and signing certificates; ValueError when there is nothing to trust."""
    root = parse_untrusted(document)
    if root.tag == MD + "EntitiesDescriptor":
        holders = [e for e in root.iter(MD + "EntityDescriptor") if _idp(e) is not None]
        if len(holders) != 1:
            raise ValueError(f"the metadata describes {len(holders)} IdPs, not one")
        root = holders[0]
    if root.tag != MD + "EntityDescriptor":
        raise ValueError(f"the metadata's root is {root.tag}, not md:EntityDescriptor")
    entity_id = (root.get("entityID") or "").strip()
    idp = _idp(root)
    if not entity_id or idp is None:
        raise ValueError("the metadata has no entityID or no IDPSSODescriptor")
    certificates: list[x509.Certificate] = []
    for descriptor in idp.iterfind(MD + "KeyDescriptor"):
        if descriptor.get("use") not in (None, "signing"):
            continue
        for element in descriptor.iterfind(f"{DS}KeyInfo/{DS}X509Data/{DS}X509Certificate"):
            try:
                der = base64.b64decode("".join(text_of(element).split()), validate=True)
                certificates.append(x509.load_der_x509_certificate(der))
            except (binascii.Error, ValueError) as exc:
                raise ValueError(
                    f"a signing certificate in the metadata is unreadable: {exc}"
                ) from exc
    if not certificates:
        raise ValueError("the metadata holds no signing certificate")
    return ProviderMetadata(entity_id=entity_id, certificates=tuple(certificates))


def _idp(entity: etree._Element) -> etree._Element | None:
    return entity.find(MD + "IDPSSODescriptor")
