"""The malicious corpus: every document is forged at test time from a valid signed
response, and each must be refused with its own reason code."""

from __future__ import annotations

import base64
import copy
from pathlib import Path

import pytest
from lxml import etree

from keyless.saml.metadata import IdpMetadata, certificate_fingerprint
from keyless.saml.model import VerificationResult
from keyless.saml.verify import verify_response
from keyless_lab.saml.keys import SigningKey
from saml_data import NOW, Build
from saml_forge import (
    DS,
    ENVELOPED,
    EXC_C14N,
    EXC_C14N_COMMENTS,
    HMAC_SHA256,
    RSA_SHA1,
    SAML,
    SAMLP,
    SHA1,
    XPATH,
    assertion_of,
    dump,
    evil_copy,
    parse,
    sign,
    signature_of,
    strip_signature,
    xslt_transform,
)


def refused(xml: bytes, metadata: IdpMetadata, code: str, **options: object) -> VerificationResult:
    result = verify_response(xml, metadata=metadata, now=NOW, **options)  # type: ignore[arg-type]
    assert not result.accepted
    assert result.codes[0] == code, result.codes
    for reason in result.reasons:
        assert reason.message
        assert reason.fix
        assert reason.aws_error_code
        assert reason.aws_message
    return result


# --- XML signature wrapping: the eight classic variants ------------------------------


def test_xsw1_signed_response_cloned_into_signature(build: Build, metadata: IdpMetadata) -> None:
    root = parse(build(sign_assertion=False))
    original = copy.deepcopy(root)
    strip_signature(original)
    signature = signature_of(root)
    assert signature is not None
    signature.append(original)  # the signed original now hides inside the Signature
    root.set("ID", "idOUTER")
    root.replace(assertion_of(root), evil_copy(assertion_of(root)))
    result = refused(dump(root), metadata, "multiple_assertions")
    assert result.assertion is None


def test_xsw2_signed_response_cloned_before_signature(build: Build, metadata: IdpMetadata) -> None:
    root = parse(build(sign_assertion=False))
    original = copy.deepcopy(root)
    strip_signature(original)
    signature = signature_of(root)
    assert signature is not None
    signature.addprevious(original)
    root.set("ID", "idOUTER")
    root.replace(assertion_of(root), evil_copy(assertion_of(root)))
    refused(dump(root), metadata, "multiple_assertions")


def test_xsw3_evil_assertion_before_signed_one(build: Build, metadata: IdpMetadata) -> None:
    root = parse(build(sign_response=False))
    signed = assertion_of(root)
    signed.addprevious(evil_copy(signed))
    refused(dump(root), metadata, "multiple_assertions")


def test_xsw4_evil_assertion_wraps_signed_one(build: Build, metadata: IdpMetadata) -> None:
    root = parse(build(sign_response=False))
    signed = assertion_of(root)
    evil = evil_copy(signed)
    root.replace(signed, evil)
    evil.append(signed)
    refused(dump(root), metadata, "multiple_assertions")


def test_xsw5_signature_moved_to_evil_assertion(build: Build, metadata: IdpMetadata) -> None:
    root = parse(build(sign_response=False))
    signed = assertion_of(root)
    evil = copy.deepcopy(signed)  # keeps the signature and the ID
    name_id = evil.find(f"{SAML}Subject/{SAML}NameID")
    assert name_id is not None
    name_id.text = "attacker@evil.example"
    root.replace(signed, evil)
    strip_signature(signed)
    root.append(signed)
    refused(dump(root), metadata, "multiple_assertions")


def test_xsw6_signed_assertion_inside_evil_signature(build: Build, metadata: IdpMetadata) -> None:
    root = parse(build(sign_response=False))
    signed = assertion_of(root)
    evil = copy.deepcopy(signed)
    evil.set("ID", "idEVIL")
    name_id = evil.find(f"{SAML}Subject/{SAML}NameID")
    assert name_id is not None
    name_id.text = "attacker@evil.example"
    root.replace(signed, evil)
    strip_signature(signed)
    evil_signature = signature_of(evil)
    assert evil_signature is not None
    evil_signature.append(signed)
    refused(dump(root), metadata, "multiple_assertions")


def test_xsw7_signed_assertion_in_extensions(build: Build, metadata: IdpMetadata) -> None:
    root = parse(build(sign_response=False))
    signed = assertion_of(root)
    evil = evil_copy(signed)
    root.replace(signed, evil)
    extensions = etree.Element(SAMLP + "Extensions")
    extensions.append(signed)
    evil.addprevious(extensions)
    refused(dump(root), metadata, "multiple_assertions")


def test_xsw8_signed_assertion_in_signature_object(build: Build, metadata: IdpMetadata) -> None:
    root = parse(build(sign_response=False))
    signed = assertion_of(root)
    evil = copy.deepcopy(signed)
    name_id = evil.find(f"{SAML}Subject/{SAML}NameID")
    assert name_id is not None
    name_id.text = "attacker@evil.example"
    root.replace(signed, evil)
    strip_signature(signed)
    evil_signature = signature_of(evil)
    assert evil_signature is not None
    obj = etree.SubElement(evil_signature, DS + "Object")
    obj.append(signed)
    refused(dump(root), metadata, "multiple_assertions")


# --- wrapping without a second assertion, ID collisions ------------------------------


def test_signed_assertion_moved_into_extensions(build: Build, metadata: IdpMetadata) -> None:
    root = parse(build(sign_response=False))
    signed = assertion_of(root)
    extensions = etree.Element(SAMLP + "Extensions")
    signed.addprevious(extensions)
    extensions.append(signed)
    refused(dump(root), metadata, "signature_wrapping")


def test_signature_hidden_in_extensions(build: Build, metadata: IdpMetadata) -> None:
    root = parse(build(sign_response=False))
    signature = signature_of(assertion_of(root))
    assert signature is not None
    extensions = etree.Element(SAMLP + "Extensions")
    extensions.append(signature)
    assertion_of(root).addprevious(extensions)
    refused(dump(root), metadata, "signature_wrapping")


def test_id_collision_between_response_and_assertion(build: Build, metadata: IdpMetadata) -> None:
    root = parse(build(sign_response=False))
    root.set("ID", assertion_of(root).get("ID") or "")
    refused(dump(root), metadata, "signature_wrapping")


def test_evil_assertion_with_colliding_id(build: Build, metadata: IdpMetadata) -> None:
    root = parse(build(sign_response=False))
    signed = assertion_of(root)
    signed.addnext(evil_copy(signed, new_id=signed.get("ID") or ""))
    refused(dump(root), metadata, "multiple_assertions")


def test_two_signatures_on_one_assertion(build: Build, metadata: IdpMetadata) -> None:
    root = parse(build(sign_response=False))
    signature = signature_of(assertion_of(root))
    assert signature is not None
    signature.addnext(copy.deepcopy(signature))
    refused(dump(root), metadata, "signature_wrapping")


def test_two_assertions_both_genuine(build: Build, metadata: IdpMetadata) -> None:
    root = parse(build(sign_response=False))
    second = copy.deepcopy(assertion_of(parse(build(sign_response=False))))
    root.append(second)
    refused(dump(root), metadata, "multiple_assertions")


# --- signatures missing, forged, or from the wrong key -------------------------------


def test_signature_removed(build: Build, metadata: IdpMetadata) -> None:
    root = parse(build())
    strip_signature(root)
    strip_signature(assertion_of(root))
    refused(dump(root), metadata, "unsigned")


def test_attacker_key_with_attacker_certificate_in_keyinfo(
    build: Build, metadata: IdpMetadata, attacker_key: SigningKey
) -> None:
    result = refused(build(key=attacker_key), metadata, "wrong_certificate")
    assert certificate_fingerprint(attacker_key.certificate) in result.reasons[0].message
    assert result.assertion is None


def test_signed_by_another_idps_key(
    build: Build, metadata: IdpMetadata, other_idp_key: SigningKey
) -> None:
    result = refused(build(key=other_idp_key, sign_response=False), metadata, "wrong_certificate")
    assert "CN=other-idp" in result.reasons[0].message


def test_another_idps_key_without_keyinfo(
    build: Build, metadata: IdpMetadata, other_idp_key: SigningKey
) -> None:
    root = parse(build(sign_response=False))
    sign(assertion_of(root), other_idp_key, include_certificate=False)
    refused(dump(root), metadata, "signature_invalid")


def test_assertion_changed_after_signing(build: Build, metadata: IdpMetadata) -> None:
    root = parse(build(sign_response=False))
    name_id = assertion_of(root).find(f"{SAML}Subject/{SAML}NameID")
    assert name_id is not None
    name_id.text = "attacker@evil.example"
    refused(dump(root), metadata, "signature_invalid")


def test_signed_response_with_unsigned_evil_assertion(build: Build, metadata: IdpMetadata) -> None:
    root = parse(build(sign_assertion=False))
    root.replace(assertion_of(root), evil_copy(assertion_of(root)))
    result = refused(dump(root), metadata, "signature_invalid")
    assert result.assertion is None


def test_signed_response_with_evil_assertion_in_its_signature(
    build: Build, metadata: IdpMetadata
) -> None:
    root = parse(build(sign_assertion=False))
    evil = evil_copy(assertion_of(root))
    root.remove(assertion_of(root))
    signature = signature_of(root)
    assert signature is not None
    etree.SubElement(signature, DS + "Object").append(evil)
    refused(dump(root), metadata, "signature_wrapping")


def test_both_signed_but_assertion_tampered(build: Build, metadata: IdpMetadata) -> None:
    root = parse(build())
    name_id = assertion_of(root).find(f"{SAML}Subject/{SAML}NameID")
    assert name_id is not None
    name_id.text = "attacker@evil.example"
    result = refused(dump(root), metadata, "signature_invalid")
    assert result.codes == ["signature_invalid", "signature_invalid"]


# --- comment injection ---------------------------------------------------------------


def test_comment_in_name_id_does_not_truncate_identity(build: Build, metadata: IdpMetadata) -> None:
    """The 2018 comment-injection bug class: `user@good.com<!---->.evil.com` must be read
    whole, never as `user@good.com`."""
    root = parse(build(subject="alice@example.com.evil.example", sign_response=False))
    name_id = assertion_of(root).find(f"{SAML}Subject/{SAML}NameID")
    assert name_id is not None
    name_id.text = "alice@example.com"
    comment = etree.Comment("")
    comment.tail = ".evil.example"
    name_id.append(comment)
    result = verify_response(dump(root), metadata=metadata, now=NOW)
    assert result.accepted, result.codes  # exclusive C14N ignores comments: still signed
    assert result.assertion is not None
    assert result.assertion.subject == "alice@example.com.evil.example"
    assert result.assertion.saml_context()["SAML:sub"] == ["alice@example.com.evil.example"]


def test_comment_in_role_value_is_read_whole(build: Build, metadata: IdpMetadata) -> None:
    root = parse(build(sign_response=False))
    value = assertion_of(root).find(f".//{SAML}AttributeValue")
    assert value is not None
    text = value.text or ""
    value.text = text[:20]
    comment = etree.Comment("x")
    comment.tail = text[20:]
    value.append(comment)
    result = verify_response(dump(root), metadata=metadata, now=NOW)
    assert result.accepted, result.codes
    assert result.assertion is not None
    assert result.assertion.roles[0].attribute_value() == text


# --- XXE, entity expansion, DTDs, processing instructions ----------------------------


def _with_prolog(build: Build, prolog: bytes, name_id_text: bytes | None = None) -> bytes:
    body = build()
    body = body.split(b"?>", 1)[1]  # drop the XML declaration
    if name_id_text is not None:
        body = body.replace(
            b">alice@example.com</saml2:NameID>", b">" + name_id_text + b"</saml2:NameID>", 1
        )
    return b'<?xml version="1.0"?>\n' + prolog + body


def test_xxe_external_entity(build: Build, metadata: IdpMetadata) -> None:
    xml = _with_prolog(
        build,
        b'<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n',
        b"&xxe;",
    )
    result = refused(xml, metadata, "dtd_forbidden")
    assert result.assertion is None


def test_billion_laughs(build: Build, metadata: IdpMetadata) -> None:
    entities = b'<!ENTITY lol "lol">' + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    xml = _with_prolog(build, b"<!DOCTYPE r [" + entities + b"]>\n", b"&lol9;")
    refused(xml, metadata, "dtd_forbidden")


def test_external_dtd(build: Build, metadata: IdpMetadata) -> None:
    xml = _with_prolog(build, b'<!DOCTYPE r SYSTEM "http://127.0.0.1:9/evil.dtd">\n')
    refused(xml, metadata, "dtd_forbidden")


def test_processing_instruction(build: Build, metadata: IdpMetadata) -> None:
    xml = _with_prolog(build, b'<?xml-stylesheet type="text/xsl" href="http://127.0.0.1:9/x"?>\n')
    refused(xml, metadata, "dtd_forbidden")


def test_doctype_hidden_by_utf16_encoding(build: Build, metadata: IdpMetadata) -> None:
    """A byte scan for '<!DOCTYPE' misses UTF-16; the parsed-tree check must catch it."""
    text = _with_prolog(build, b'<!DOCTYPE r [<!ENTITY e "x">]>\n').decode()
    text = text.replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>')
    refused(text.encode("utf-16"), metadata, "dtd_forbidden")


def test_deep_nesting_is_refused(build: Build, metadata: IdpMetadata) -> None:
    root = parse(build())
    node = etree.SubElement(root, SAMLP + "Extensions")
    for _ in range(100):
        node = etree.SubElement(node, "{urn:x}deep")
    refused(dump(root), metadata, "malformed")


# --- signature algorithms and transforms ---------------------------------------------


def test_sha1_is_weak(build: Build, metadata: IdpMetadata, idp_key: SigningKey) -> None:
    root = parse(build(sign_response=False))
    sign(assertion_of(root), idp_key, signature_method=RSA_SHA1, digest_method=SHA1)
    result = refused(dump(root), metadata, "weak_algorithm")
    assert "unsafe" in result.reasons[0].fix


def test_sha1_accepted_only_when_unsafe_allowed(
    build: Build, metadata: IdpMetadata, idp_key: SigningKey
) -> None:
    root = parse(build(sign_response=False))
    sign(assertion_of(root), idp_key, signature_method=RSA_SHA1, digest_method=SHA1)
    result = verify_response(dump(root), metadata=metadata, now=NOW, unsafe_allow_sha1=True)
    assert result.accepted, result.codes


def test_hmac_signature_refused(build: Build, metadata: IdpMetadata) -> None:
    root = parse(build(sign_response=False))
    sign(assertion_of(root), None, signature_method=HMAC_SHA256, hmac_key=b"guessable")
    refused(dump(root), metadata, "algorithm_forbidden")


def test_xslt_transform_refused_and_never_run(
    build: Build, metadata: IdpMetadata, idp_key: SigningKey
) -> None:
    marker = Path("/tmp/keyless-xslt-was-run")
    marker.unlink(missing_ok=True)
    root = parse(build(sign_response=False))
    sign(assertion_of(root), idp_key, transforms=(ENVELOPED, xslt_transform(), EXC_C14N))
    refused(dump(root), metadata, "transform_forbidden")
    assert not marker.exists()


@pytest.mark.parametrize(
    "transform", [XPATH, EXC_C14N_COMMENTS, "http://www.w3.org/2000/09/xmldsig#base64"]
)
def test_other_transforms_refused(
    build: Build, metadata: IdpMetadata, idp_key: SigningKey, transform: str
) -> None:
    root = parse(build(sign_response=False))
    sign(assertion_of(root), idp_key, transforms=(ENVELOPED, transform))
    refused(dump(root), metadata, "transform_forbidden")


def test_c14n_with_comments_for_signed_info_refused(
    build: Build, metadata: IdpMetadata, idp_key: SigningKey
) -> None:
    root = parse(build(sign_response=False))
    sign(assertion_of(root), idp_key, c14n_method=EXC_C14N_COMMENTS)
    refused(dump(root), metadata, "transform_forbidden")


def test_reference_not_pointing_at_parent(
    build: Build, metadata: IdpMetadata, idp_key: SigningKey
) -> None:
    """A valid signature over the Response, placed in the Assertion: it says nothing
    about the Assertion, whatever else it covers."""
    root = parse(build(sign_assertion=False, sign_response=False))
    assertion = assertion_of(root)
    sign(assertion, idp_key, digest_target=root)
    result = refused(dump(root), metadata, "signature_reference_invalid")
    assert str(root.get("ID")) in result.reasons[0].message


def test_reference_to_whole_document_refused(
    build: Build, metadata: IdpMetadata, idp_key: SigningKey
) -> None:
    root = parse(build(sign_assertion=False, sign_response=False))
    sign(root, idp_key, reference_uri="")
    refused(dump(root), metadata, "signature_reference_invalid")


def test_attack_corpus_through_base64_too(build: Build, metadata: IdpMetadata) -> None:
    root = parse(build(sign_response=False))
    signed = assertion_of(root)
    signed.addprevious(evil_copy(signed))
    encoded = base64.b64encode(dump(root)).decode()
    refused(encoded, metadata, "multiple_assertions")  # type: ignore[arg-type]
