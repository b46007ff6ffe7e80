"""Tools to forge SAML responses for the attack corpus: re-sign, move, wrap, inject.

Everything here operates on documents built at test time from keyless's own
signed responses, so the corpus needs no committed key or fixture file.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
from collections.abc import Sequence

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree

from keyless_lab.saml.keys import SigningKey

NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
}
SAMLP = "{%s}" % NS["samlp"]  # noqa: UP031 - Clark notation reads better this way
SAML = "{%s}" % NS["saml"]  # noqa: UP031
DS = "{%s}" % NS["ds"]  # noqa: UP031
EC = "{http://www.w3.org/2001/10/xml-exc-c14n#}"

RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
HMAC_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
EXC_C14N_COMMENTS = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
XSLT = "http://www.w3.org/TR/1999/REC-xslt-19991116"
XPATH = "http://www.w3.org/TR/1999/REC-xpath-19991116"

_DIGESTS = {SHA256: hashlib.sha256, SHA1: hashlib.sha1}
_HASHES = {RSA_SHA256: hashes.SHA256(), RSA_SHA1: hashes.SHA1()}  # noqa: S303 - forging SHA-1 on purpose


def parse(xml: bytes) -> etree._Element:
    """Parse a document the test built itself (trusted: no safety needed)."""
    return etree.fromstring(xml)


def dump(root: etree._Element) -> bytes:
    """Serialize a forged document."""
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def response_of(root: etree._Element) -> etree._Element:
    return root


def assertion_of(root: etree._Element) -> etree._Element:
    found = root.find(SAML + "Assertion")
    assert found is not None
    return found


def signature_of(element: etree._Element) -> etree._Element | None:
    return element.find(DS + "Signature")


def strip_signature(element: etree._Element) -> None:
    signature = signature_of(element)
    if signature is not None:
        element.remove(signature)


def sign(
    element: etree._Element,
    key: SigningKey | None,
    *,
    signature_method: str = RSA_SHA256,
    digest_method: str = SHA256,
    transforms: Sequence[str | etree._Element] = (ENVELOPED, EXC_C14N),
    c14n_method: str = EXC_C14N,
    reference_uri: str | None = None,
    digest_target: etree._Element | None = None,
    hmac_key: bytes | None = None,
    include_certificate: bool = True,
    place_in: etree._Element | None = None,
    prefix_list: str | None = None,
) -> etree._Element:
    """Sign ``element`` (replacing its Signature) with any algorithm or transform.

    ``digest_target`` and ``reference_uri`` let a test digest one element and put
    the Signature in another (a Reference that does not point at its parent).
    The digest is always taken with exclusive C14N of the target without its
    Signature, which is what a verifier would compute if it ran the transforms.
    ``prefix_list`` adds ``ec:InclusiveNamespaces PrefixList`` to the exclusive-C14N
    transform and honours it in the digest, as xmlsec-based IdPs (Okta) sign.
    """
    strip_signature(element)
    target = digest_target if digest_target is not None else element
    uri = reference_uri if reference_uri is not None else "#" + (target.get("ID") or "")
    # Serialized and parsed again, not deep-copied: the copy must keep the namespaces
    # in scope from its ancestors, which InclusiveNamespaces may render (as
    # xmlsec1 and signxml do on the element in its document).
    target_copy = etree.fromstring(etree.tostring(target))
    strip_signature(target_copy)
    digest = _DIGESTS[digest_method](
        etree.tostring(
            target_copy,
            method="c14n",
            exclusive=True,
            inclusive_ns_prefixes=prefix_list.split() if prefix_list else None,
        )
    ).digest()

    signature = etree.Element(DS + "Signature", nsmap={"ds": NS["ds"]})
    signed_info = etree.SubElement(signature, DS + "SignedInfo")
    etree.SubElement(signed_info, DS + "CanonicalizationMethod", Algorithm=c14n_method)
    etree.SubElement(signed_info, DS + "SignatureMethod", Algorithm=signature_method)
    reference = etree.SubElement(signed_info, DS + "Reference", URI=uri)
    transforms_el = etree.SubElement(reference, DS + "Transforms")
    for transform in transforms:
        if isinstance(transform, str):
            added = etree.SubElement(transforms_el, DS + "Transform", Algorithm=transform)
            if prefix_list is not None and transform == EXC_C14N:
                added.append(inclusive_namespaces(prefix_list))
        else:
            transforms_el.append(transform)
    etree.SubElement(reference, DS + "DigestMethod", Algorithm=digest_method)
    etree.SubElement(reference, DS + "DigestValue").text = base64.b64encode(digest).decode()
    signed = etree.tostring(signed_info, method="c14n", exclusive=True)
    if hmac_key is not None:
        value = hmac.new(hmac_key, signed, hashlib.sha256).digest()
    else:
        assert key is not None
        value = key.private_key.sign(signed, padding.PKCS1v15(), _HASHES[signature_method])
    etree.SubElement(signature, DS + "SignatureValue").text = base64.b64encode(value).decode()
    if include_certificate and key is not None:
        key_info = etree.SubElement(signature, DS + "KeyInfo")
        data = etree.SubElement(key_info, DS + "X509Data")
        etree.SubElement(data, DS + "X509Certificate").text = key.cert_b64
    holder = place_in if place_in is not None else element
    issuer = holder.find(SAML + "Issuer")
    if issuer is not None:
        issuer.addnext(signature)
    else:
        holder.insert(0, signature)
    return signature


def inclusive_namespaces(prefix_list: str) -> etree._Element:
    """``<ec:InclusiveNamespaces PrefixList="..."/>``, the exclusive-C14N parameter."""
    return etree.Element(EC + "InclusiveNamespaces", PrefixList=prefix_list, nsmap={"ec": EXC_C14N})


def xslt_transform() -> etree._Element:
    """An XSLT Transform whose stylesheet would write a file if anyone ran it."""
    transform = etree.Element(DS + "Transform", Algorithm=XSLT)
    stylesheet = etree.SubElement(
        transform,
        "{http://www.w3.org/1999/XSL/Transform}stylesheet",
        version="1.0",
        nsmap={"xsl": "http://www.w3.org/1999/XSL/Transform"},
    )
    template = etree.SubElement(
        stylesheet, "{http://www.w3.org/1999/XSL/Transform}template", match="/"
    )
    etree.SubElement(
        template,
        "{http://exslt.org/common}document",
        href="/tmp/keyless-xslt-was-run",
        nsmap={"exsl": "http://exslt.org/common"},
    ).text = "pwned"
    return transform


def set_attribute_values(assertion: etree._Element, name: str, values: Sequence[str]) -> None:
    """Replace the values of one AWS attribute (the assertion must be re-signed after)."""
    for attribute in assertion.iter(SAML + "Attribute"):
        if attribute.get("Name") == name:
            template = attribute.find(SAML + "AttributeValue")
            assert template is not None
            for old in attribute.findall(SAML + "AttributeValue"):
                attribute.remove(old)
            for value in values:
                fresh = copy.deepcopy(template)
                fresh.text = value
                attribute.append(fresh)
            return
    raise AssertionError(f"no attribute {name}")


def evil_copy(assertion: etree._Element, new_id: str = "idEVIL") -> etree._Element:
    """A copy of the assertion claiming an admin role for the attacker, unsigned."""
    evil = copy.deepcopy(assertion)
    strip_signature(evil)
    evil.set("ID", new_id)
    name_id = evil.find(f"{SAML}Subject/{SAML}NameID")
    assert name_id is not None
    name_id.text = "attacker@evil.example"
    return evil
