"""Build and sign a SAML 2.0 Response for AWS, as an IdP (Okta's shape) sends it.

The signature is XML-DSig, enveloped, exclusive C14N, RSA-SHA256 and SHA-256
digests, with the certificate in KeyInfo as Okta includes it (verifiers must
ignore it and use metadata; keyless's own verifier does). The Assertion, the
Response or both are signed, each Signature right after its element's Issuer as
the SAML schema wants it.

The document is ours and its shape fixed, so it is written as text already in
exclusive canonical form (:mod:`keyless_lab.saml.canonical` says which rules make
that hold) rather than built as a tree and canonicalized: the digests are taken
over the text as written, nothing is parsed or serialized, and the cost stays
close to the two RSA operations (see ``benchmarks/bench_saml.py``).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from keyless_lab.saml.attributes import (
    ATTR_PRINCIPAL_TAG,
    ATTR_ROLE,
    ATTR_SESSION_DURATION,
    ATTR_SESSION_NAME,
    ATTR_SOURCE_IDENTITY,
    ATTR_TRANSITIVE_TAG_KEYS,
    AWS_AUDIENCE,
    AWS_SIGNIN_URL,
    RoleAndProvider,
    role_value,
)
from keyless_lab.saml.canonical import attribute, enveloped_signature, text
from keyless_lab.saml.keys import SigningKey
from keyless_lab.saml.xml import format_instant

# The markup, in exclusive canonical form (see keyless_lab.saml.canonical): attributes
# in C14N order, empty elements with an end tag, and Okta's namespace layout.
# Fields are filled with escaped values only.
#
# The shape is Okta's AWS Account Federation app's, as real responses show it
# (a redacted capture in segmentio/aws-okta's lib/saml_test.go; Okta's "How to
# Configure SAML 2.0 for Amazon Web Services" guide for the attributes):
# - saml2p/saml2 prefixes; xmlns:xs declared on the Response and on the
#   Assertion, and both signatures made with exclusive C14N whose Transform
#   carries <ec:InclusiveNamespaces PrefixList="xs"/>, so the canonical form of
#   each signed element declares xs (which xsi:type="xs:string" names only in
#   an attribute value) on that element;
# - Role with NameFormat uri, RoleSessionName and SessionDuration with NameFormat
#   basic; AttributeValues typed xsi:type="xs:string";
# - Conditions/@NotBefore five minutes before IssueInstant (Okta backdates it to
#   absorb clock skew), every NotOnOrAfter at IssueInstant plus the lifetime;
# - the bearer SubjectConfirmation with the sign-in URL as Recipient, audience
#   urn:amazon:webservices, AuthnContextClassRef PasswordProtectedTransport.
# Okta's serializer also repeats xmlns:saml2 on the Assertion's children and
# xmlns:saml2p on Status; C14N drops such repeats, no reader sees them, and the
# lab leaves them out.
_XS = 'xmlns:xs="http://www.w3.org/2001/XMLSchema"'
_RESPONSE_HEAD = (
    '<saml2p:Response xmlns:saml2p="urn:oasis:names:tc:SAML:2.0:protocol" ' + _XS + " "
    'Destination="{destination}" ID="{id}" IssueInstant="{issued}" Version="2.0">'
    '<saml2:Issuer xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" '
    'Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">{issuer}</saml2:Issuer>'
)
_RESPONSE_STATUS = (
    "<saml2p:Status>"
    '<saml2p:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"></saml2p:StatusCode>'
    "</saml2p:Status>"
)
_RESPONSE_END = "</saml2p:Response>"
# With xs: the Assertion's own canonical form (and the document). Inside the
# Response's canonical form the Response already renders xs, so the Assertion's
# start tag there is the same without it.
_ASSERTION_START = (
    '<saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" ' + _XS + " "
    'ID="{id}" IssueInstant="{issued}" Version="2.0">'
)
_ASSERTION_ISSUER = (
    '<saml2:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">'
    "{issuer}</saml2:Issuer>"
)
_ASSERTION_BODY = (
    "<saml2:Subject>"
    '<saml2:NameID Format="{subject_format}">{subject}</saml2:NameID>'
    '<saml2:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
    '<saml2:SubjectConfirmationData NotOnOrAfter="{expires}" Recipient="{recipient}">'
    "</saml2:SubjectConfirmationData>"
    "</saml2:SubjectConfirmation>"
    "</saml2:Subject>"
    '<saml2:Conditions NotBefore="{not_before}" NotOnOrAfter="{expires}">'
    "<saml2:AudienceRestriction><saml2:Audience>{audience}</saml2:Audience>"
    "</saml2:AudienceRestriction>"
    "</saml2:Conditions>"
    '<saml2:AuthnStatement AuthnInstant="{issued}" SessionIndex="{session_index}">'
    "<saml2:AuthnContext><saml2:AuthnContextClassRef>"
    "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
    "</saml2:AuthnContextClassRef></saml2:AuthnContext>"
    "</saml2:AuthnStatement>"
    "<saml2:AttributeStatement>{attributes}</saml2:AttributeStatement>"
    "</saml2:Assertion>"
)
_ATTRIBUTE = '<saml2:Attribute Name="{name}" NameFormat="{name_format}">{values}</saml2:Attribute>'
NAME_FORMAT_URI = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
NAME_FORMAT_BASIC = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
# Okta backdates NotBefore so that an SP whose clock runs behind still accepts it.
NOT_BEFORE_BACKDATE = timedelta(minutes=5)
# ``xsi:type="xs:string"`` names the xs prefix only inside an attribute value, and
# xs is rendered on the signed element (PrefixList), so C14N leaves the value's
# own declaration out: the canonical text lacks it and the document carries it,
# as Okta's does.
_VALUE_CANONICAL = (
    '<saml2:AttributeValue xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:type="xs:string">'
)
_VALUE_IN_DOCUMENT = (
    '<saml2:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">'
)
_VALUE_END = "</saml2:AttributeValue>"
_XML_DECLARATION = "<?xml version='1.0' encoding='UTF-8'?>\n"


def new_id() -> str:
    """A fresh SAML ID: an NCName (starts with a letter) with 128 random bits."""
    return "id" + secrets.token_hex(16)


def build_response(
    *,
    key: SigningKey,
    issuer: str,
    subject: str,
    roles: Sequence[RoleAndProvider],
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

    ``now`` is the IssueInstant; the assertion is valid from five minutes
    before ``now`` (Okta's backdated NotBefore) until ``now + lifetime``. Role
    values are written ``provider,role`` as Okta does unless ``provider_first``
    is false. Raises :class:`ValueError` when a value
    holds a character XML cannot carry (NUL, most control characters).
    """
    issued = format_instant(now)
    expires = format_instant(now + lifetime)
    issuer_text = text(issuer)
    recipient_attribute = attribute(recipient)

    attributes = [
        _attribute(ATTR_ROLE, [role_value(pair, provider_first=provider_first) for pair in roles]),
        _attribute(ATTR_SESSION_NAME, [session_name], NAME_FORMAT_BASIC),
    ]
    if session_duration is not None:
        attributes.append(
            _attribute(ATTR_SESSION_DURATION, [str(session_duration)], NAME_FORMAT_BASIC)
        )
    for tag, value in (principal_tags or {}).items():
        attributes.append(_attribute(ATTR_PRINCIPAL_TAG + tag, [value]))
    if transitive_tag_keys:
        attributes.append(_attribute(ATTR_TRANSITIVE_TAG_KEYS, transitive_tag_keys))
    if source_identity is not None:
        attributes.append(_attribute(ATTR_SOURCE_IDENTITY, [source_identity]))

    # The Assertion in two parts, so that its Signature can go between them.
    assertion_id = new_id()
    assertion_start = _ASSERTION_START.format(id=assertion_id, issued=issued)
    assertion_head = assertion_start + _ASSERTION_ISSUER.format(issuer=issuer_text)
    assertion_body = _ASSERTION_BODY.format(
        subject_format=attribute(subject_format),
        subject=text(subject),
        expires=expires,
        not_before=format_instant(now - NOT_BEFORE_BACKDATE),
        recipient=recipient_attribute,
        issued=issued,
        audience=text(audience),
        session_index=new_id(),
        attributes="".join(attributes),
    )
    if sign_assertion:
        assertion_head += enveloped_signature(assertion_head + assertion_body, assertion_id, key)
    assertion = assertion_head + assertion_body

    response_id = new_id()
    response_head = _RESPONSE_HEAD.format(
        destination=recipient_attribute, id=response_id, issued=issued, issuer=issuer_text
    )
    if sign_response:
        # The Response renders xs (PrefixList), so the Assertion inside does not again.
        inner = assertion.replace(assertion_start, assertion_start.replace(" " + _XS, ""), 1)
        canonical = response_head + _RESPONSE_STATUS + inner + _RESPONSE_END
        response_head += enveloped_signature(canonical, response_id, key)
    # Values are escaped, so "<" in the text is only ever keyless's own markup:
    # this rewrites AttributeValue start tags and nothing else.
    assertion = assertion.replace(_VALUE_CANONICAL, _VALUE_IN_DOCUMENT)
    document = _XML_DECLARATION + response_head + _RESPONSE_STATUS + assertion + _RESPONSE_END
    return document.encode()


def _attribute(name: str, values: Sequence[str], name_format: str = NAME_FORMAT_URI) -> str:
    """A saml2:Attribute with one string AttributeValue per value, in canonical form."""
    return _ATTRIBUTE.format(
        name=attribute(name),
        name_format=name_format,
        values="".join(_VALUE_CANONICAL + text(value) + _VALUE_END for value in values),
    )


def encode_response(xml: bytes) -> str:
    """The base64 form an IdP posts in the ``SAMLResponse`` field."""
    return base64.b64encode(xml).decode("ascii")
