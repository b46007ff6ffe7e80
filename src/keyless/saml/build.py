"""Build and sign a SAML 2.0 Response for AWS, as an IdP (Okta's shape) sends it.

The signature is XML-DSig, enveloped, exclusive C14N, RSA-SHA256 and SHA-256
digests, with the certificate in KeyInfo as Okta includes it (verifiers must
ignore it and use metadata; keyless's own verifier does).

Signing is done here rather than through a generic XML-DSig library because
the document is ours and known: the Signature is placed where the SAML schema
wants it (right after Issuer), nothing is re-parsed, and the cost stays close
to the bare RSA operation (see ``benchmarks/bench_saml.py``).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree

from keyless.saml.keys import SigningKey
from keyless.saml.model import (
    ATTR_PRINCIPAL_TAG,
    ATTR_ROLE,
    ATTR_SESSION_DURATION,
    ATTR_SESSION_NAME,
    ATTR_SOURCE_IDENTITY,
    ATTR_TRANSITIVE_TAG_KEYS,
    AWS_AUDIENCE,
    AWS_SIGNIN_URL,
    RolePair,
)
from keyless.saml.xmlsafe import DS, NS, SAML, SAMLP, format_instant

ALG_RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
ALG_SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
ALG_EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ALG_ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"

_ATTRNAME_URI = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
_BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
_AUTHN_CONTEXT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
_XSI_TYPE = f"{{{NS['xsi']}}}type"

_RESPONSE_NSMAP = {"saml2p": NS["samlp"], "saml2": NS["saml"]}
_ASSERTION_NSMAP = {"saml2": NS["saml"]}
_ATTRIBUTE_VALUE_NSMAP = {"xs": NS["xs"], "xsi": NS["xsi"]}


def new_id() -> str:
    """A fresh SAML ID: an NCName (starts with a letter) with 128 random bits."""
    return "id" + secrets.token_hex(16)


def build_response(
    *,
    key: SigningKey,
    issuer: str,
    subject: str,
    roles: Sequence[RolePair],
    session_name: str,
    now: datetime,
    recipient: str = AWS_SIGNIN_URL,
    audience: str = AWS_AUDIENCE,
    session_duration: int | None = None,
    principal_tags: Mapping[str, str] | None = None,
    transitive_tag_keys: Sequence[str] = (),
    source_identity: str | None = None,
    lifetime: timedelta = timedelta(minutes=5),
    sign_assertion: bool = True,
    sign_response: bool = True,
    provider_first: bool = True,
    subject_format: str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
) -> bytes:
    """Build a SAML Response for AWS with one Assertion, signed as asked; return its XML.

    ``now`` is the IssueInstant; the assertion is valid from ``now`` until
    ``now + lifetime``. Role values are written ``provider,role`` as Okta does
    unless ``provider_first`` is false.
    """
    issued = format_instant(now)
    expires = format_instant(now + lifetime)

    # Copies of prebuilt skeletons, filled in by position: this keeps the
    # non-RSA part of signing small (see benchmarks/bench_saml.py).
    assertion = copy.deepcopy(_ASSERTION_TEMPLATE)
    assertion.set("ID", new_id())
    assertion.set("IssueInstant", issued)
    assertion[0].text = issuer
    name_id, confirmation = assertion[1]
    name_id.text = subject
    name_id.set("Format", subject_format)
    confirmation[0].set("NotOnOrAfter", expires)
    confirmation[0].set("Recipient", recipient)
    conditions = assertion[2]
    conditions.set("NotBefore", issued)
    conditions.set("NotOnOrAfter", expires)
    conditions[0][0].text = audience
    assertion[3].set("AuthnInstant", issued)
    assertion[3].set("SessionIndex", new_id())

    statement = assertion[4]
    _attribute(
        statement,
        ATTR_ROLE,
        [pair.attribute_value(provider_first=provider_first) for pair in roles],
    )
    _attribute(statement, ATTR_SESSION_NAME, [session_name])
    if session_duration is not None:
        _attribute(statement, ATTR_SESSION_DURATION, [str(session_duration)])
    for tag, value in (principal_tags or {}).items():
        _attribute(statement, ATTR_PRINCIPAL_TAG + tag, [value])
    if transitive_tag_keys:
        _attribute(statement, ATTR_TRANSITIVE_TAG_KEYS, list(transitive_tag_keys))
    if source_identity is not None:
        _attribute(statement, ATTR_SOURCE_IDENTITY, [source_identity])

    if sign_assertion:
        sign_element(assertion, key)

    response = copy.deepcopy(_RESPONSE_TEMPLATE)
    response.set("Destination", recipient)
    response.set("ID", new_id())
    response.set("IssueInstant", issued)
    response[0].text = issuer
    response.append(assertion)
    if sign_response:
        sign_element(response, key)
    return etree.tostring(response, xml_declaration=True, encoding="UTF-8")


def _skeletons() -> tuple[etree._Element, etree._Element, etree._Element, etree._Element]:
    """Response, Assertion, Attribute and AttributeValue with every fixed part in place."""
    entity = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
    assertion = etree.Element(
        SAML + "Assertion",
        nsmap=_ASSERTION_NSMAP,
        attrib={"ID": "", "IssueInstant": "", "Version": "2.0"},
    )
    _sub(assertion, SAML + "Issuer", Format=entity)
    subject = _sub(assertion, SAML + "Subject")
    _sub(subject, SAML + "NameID", Format="")
    confirmation = _sub(subject, SAML + "SubjectConfirmation", Method=_BEARER)
    _sub(confirmation, SAML + "SubjectConfirmationData", NotOnOrAfter="", Recipient="")
    conditions = _sub(assertion, SAML + "Conditions", NotBefore="", NotOnOrAfter="")
    _sub(_sub(conditions, SAML + "AudienceRestriction"), SAML + "Audience")
    authn = _sub(assertion, SAML + "AuthnStatement", AuthnInstant="", SessionIndex="")
    _sub(_sub(authn, SAML + "AuthnContext"), SAML + "AuthnContextClassRef", _AUTHN_CONTEXT)
    _sub(assertion, SAML + "AttributeStatement")

    response = etree.Element(
        SAMLP + "Response",
        nsmap=_RESPONSE_NSMAP,
        attrib={"Destination": "", "ID": "", "IssueInstant": "", "Version": "2.0"},
    )
    _sub(response, SAML + "Issuer", Format=entity)
    _sub(_sub(response, SAMLP + "Status"), SAMLP + "StatusCode", Value=_SUCCESS)

    attribute = etree.Element(SAML + "Attribute", Name="", NameFormat=_ATTRNAME_URI)
    value = etree.Element(SAML + "AttributeValue", nsmap=_ATTRIBUTE_VALUE_NSMAP)
    value.set(_XSI_TYPE, "xs:string")
    return response, assertion, attribute, value


def encode_response(xml: bytes) -> str:
    """The base64 form an IdP posts in the ``SAMLResponse`` field."""
    return base64.b64encode(xml).decode("ascii")


def sign_element(element: etree._Element, key: SigningKey) -> None:
    """Sign ``element`` in place: enveloped, exclusive C14N, RSA-SHA256, after its Issuer.

    ``element`` must carry an ``ID``. The digest is taken before the Signature
    is inserted, which is exactly what the enveloped-signature transform
    removes again when a verifier recomputes it.
    """
    reference_id = element.get("ID")
    if not reference_id:
        raise ValueError("the element to sign has no ID attribute")
    digest = hashlib.sha256(etree.tostring(element, method="c14n", exclusive=True)).digest()

    # A copy of a prebuilt Signature costs a fraction of building one node by node.
    signature = copy.deepcopy(_SIGNATURE_TEMPLATE)
    signed_info = signature[0]
    reference = signed_info[2]
    reference.set("URI", "#" + reference_id)
    reference[2].text = base64.b64encode(digest).decode("ascii")
    # Exclusive C14N of SignedInfo renders only the ds namespace it uses, so it
    # is the same standalone as it will be inside the document.
    signed_info_c14n = etree.tostring(signed_info, method="c14n", exclusive=True)
    value = key.private_key.sign(signed_info_c14n, _PKCS1V15, _SHA256)
    signature[1].text = base64.b64encode(value).decode("ascii")
    signature[2][0][0].text = key.cert_b64

    issuer = element.find(SAML + "Issuer")
    if issuer is not None:
        issuer.addnext(signature)
    else:
        element.insert(0, signature)


def _signature_template() -> etree._Element:
    signature = etree.Element(DS + "Signature", nsmap={"ds": NS["ds"]})
    signed_info = etree.SubElement(signature, DS + "SignedInfo")
    etree.SubElement(signed_info, DS + "CanonicalizationMethod", Algorithm=ALG_EXC_C14N)
    etree.SubElement(signed_info, DS + "SignatureMethod", Algorithm=ALG_RSA_SHA256)
    reference = etree.SubElement(signed_info, DS + "Reference", URI="")
    transforms = etree.SubElement(reference, DS + "Transforms")
    etree.SubElement(transforms, DS + "Transform", Algorithm=ALG_ENVELOPED)
    etree.SubElement(transforms, DS + "Transform", Algorithm=ALG_EXC_C14N)
    etree.SubElement(reference, DS + "DigestMethod", Algorithm=ALG_SHA256)
    etree.SubElement(reference, DS + "DigestValue")
    etree.SubElement(signature, DS + "SignatureValue")
    key_info = etree.SubElement(signature, DS + "KeyInfo")
    x509_data = etree.SubElement(key_info, DS + "X509Data")
    etree.SubElement(x509_data, DS + "X509Certificate")
    return signature


_SIGNATURE_TEMPLATE = _signature_template()
_PKCS1V15 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()


def _sub(
    parent: etree._Element, tag: str, text: str | None = None, **attrib: str
) -> etree._Element:
    child = etree.SubElement(parent, tag, attrib=attrib)
    if text is not None:
        child.text = text
    return child


def _attribute(statement: etree._Element, name: str, values: Sequence[str]) -> None:
    attribute = copy.deepcopy(_ATTRIBUTE_TEMPLATE)
    attribute.set("Name", name)
    for text in values:
        value = copy.deepcopy(_VALUE_TEMPLATE)
        value.text = text
        attribute.append(value)
    statement.append(attribute)


_RESPONSE_TEMPLATE, _ASSERTION_TEMPLATE, _ATTRIBUTE_TEMPLATE, _VALUE_TEMPLATE = _skeletons()
