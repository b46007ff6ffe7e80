"""Signing writes each element in its exclusive canonical form instead of asking a
C14N library (``keyless_lab.saml.canonical``). These tests hold that to libxml2's
exclusive C14N, through lxml, on values full of characters C14N escapes:
every digest and every signature must be what a verifier recomputes."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from keyless.saml.metadata import IdpMetadata
from keyless.saml.verify import verify_response
from keyless_lab.saml.canonical import attribute, text
from keyless_lab.saml.keys import SigningKey
from saml_data import NOW, Build
from saml_forge import DS, EC, SAML, assertion_of, parse, signature_of

# XML 1.0 Char, the only characters a document can hold at all.
_XML_CHAR = re.compile("[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Characters C14N escapes or that readers normalize, then anything XML can carry.
_TRICKY = st.sampled_from(["&", "<", ">", '"', "'", "\r", "\n", "\t", " ", "]]>", "&amp;", "é"])
_ANY = st.characters(codec="utf-8").filter(lambda c: _XML_CHAR.fullmatch(c) is not None)
values = st.lists(_TRICKY | _ANY, max_size=12).map("".join)


def _assert_signature_is_what_a_verifier_recomputes(
    element: etree._Element, key: SigningKey
) -> None:
    signature = signature_of(element)
    assert signature is not None
    # The enveloped-signature transform, then exclusive C14N with the transform's
    # PrefixList (Okta's "xs"), by libxml2, on a copy that keeps the namespaces in
    # scope from the ancestors (a serialization, as signxml makes it).
    prefix_list = signature.find(
        f"{DS}SignedInfo/{DS}Reference/{DS}Transforms/{DS}Transform/{EC}InclusiveNamespaces"
    )
    assert prefix_list is not None
    assert prefix_list.get("PrefixList") == "xs"
    unsigned = etree.fromstring(etree.tostring(element))
    unsigned.remove(signature_of(unsigned))  # type: ignore[arg-type]
    digest = hashlib.sha256(
        etree.tostring(unsigned, method="c14n", exclusive=True, inclusive_ns_prefixes=["xs"])
    ).digest()
    assert signature.findtext(f"{DS}SignedInfo/{DS}Reference/{DS}DigestValue") == (
        base64.b64encode(digest).decode()
    )
    signed_info = signature.find(DS + "SignedInfo")
    assert signed_info is not None
    value = base64.b64decode(signature.findtext(DS + "SignatureValue") or "")
    public_key = key.certificate.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(  # raises InvalidSignature
        value,
        etree.tostring(signed_info, method="c14n", exclusive=True),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    issuer=values,
    subject=values,
    session_name=values,
    tag_value=values,
    recipient=values,
    audience=values,
)
def test_signatures_match_libxml2_exclusive_c14n(
    build: Build,
    idp_key: SigningKey,
    issuer: str,
    subject: str,
    session_name: str,
    tag_value: str,
    recipient: str,
    audience: str,
) -> None:
    root = parse(
        build(
            issuer=issuer,
            subject=subject,
            session_name=session_name,
            principal_tags={"team": tag_value},
            recipient=recipient,
            audience=audience,
        )
    )
    assertion = assertion_of(root)
    for element in (root, assertion):
        _assert_signature_is_what_a_verifier_recomputes(element, idp_key)
    # And every value reads back exactly as given.
    assert root.get("Destination") == recipient
    assert (root.findtext(SAML + "Issuer") or "") == issuer
    assert (assertion.findtext(SAML + "Issuer") or "") == issuer
    assert (assertion.findtext(f"{SAML}Subject/{SAML}NameID") or "") == subject
    confirmation = assertion.find(
        f"{SAML}Subject/{SAML}SubjectConfirmation/{SAML}SubjectConfirmationData"
    )
    assert confirmation is not None
    assert confirmation.get("Recipient") == recipient
    assert (assertion.findtext(f".//{SAML}Audience") or "") == audience
    found = {
        attr.get("Name"): [value.text or "" for value in attr]
        for attr in assertion.iter(SAML + "Attribute")
    }
    assert found["https://aws.amazon.com/SAML/Attributes/RoleSessionName"] == [session_name]
    assert found["https://aws.amazon.com/SAML/Attributes/PrincipalTag:team"] == [tag_value]


@pytest.mark.parametrize(
    ("sign_assertion", "sign_response"), [(True, False), (False, True), (False, False)]
)
def test_each_signing_choice_matches_libxml2(
    build: Build, idp_key: SigningKey, sign_assertion: bool, sign_response: bool
) -> None:
    root = parse(build(sign_assertion=sign_assertion, sign_response=sign_response))
    assertion = assertion_of(root)
    assert (signature_of(assertion) is not None) == sign_assertion
    assert (signature_of(root) is not None) == sign_response
    for element, signed in ((assertion, sign_assertion), (root, sign_response)):
        if signed:
            _assert_signature_is_what_a_verifier_recomputes(element, idp_key)


def test_escaped_values_verify_with_keyless(build: Build, metadata: IdpMetadata) -> None:
    subject = "o'brien&co <ops> \"\r\n\t é 𝄞"
    result = verify_response(build(subject=subject), metadata=metadata, now=NOW)
    assert result.accepted, result.reasons
    assert result.assertion is not None
    assert result.assertion.subject == subject


def test_empty_role_list_writes_no_attribute_value(build: Build) -> None:
    assertion = assertion_of(parse(build(roles=[])))
    role = assertion.find(
        f".//{SAML}Attribute[@Name='https://aws.amazon.com/SAML/Attributes/Role']"
    )
    assert role is not None
    assert len(role) == 0


@pytest.mark.parametrize("bad", ["\x00", "a\x1bb", "\x0c", "\ufffe", "\ud800"])
@pytest.mark.parametrize("field", ["subject", "recipient", "session_name"])
def test_characters_xml_cannot_carry_are_refused(build: Build, field: str, bad: str) -> None:
    with pytest.raises(ValueError, match="a character XML cannot carry"):
        build(**{field: bad})


def test_escaping_is_c14n_escaping() -> None:
    raw = "a&b<c>d\"e'f\tg\nh\ri"
    assert text(raw) == "a&amp;b&lt;c&gt;d\"e'f\tg\nh&#xD;i"
    assert attribute(raw) == "a&amp;b&lt;c>d&quot;e'f&#x9;g&#xA;h&#xD;i"
    plain = "arn:aws:iam::111111111111:role/Admin"
    assert text(plain) is plain
    assert attribute(plain) is plain
