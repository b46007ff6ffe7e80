"""InclusiveNamespaces: accepted exactly where Okta (and xmlsec) put it, refused elsewhere.

Okta's AWS app signs with ``<ec:InclusiveNamespaces PrefixList="xs"/>`` inside
the exclusive-C14N Transform, so that ``xsi:type="xs:string"`` keeps its
namespace in the canonical form. Verification must honour it (the digest then
covers ``xmlns:xs`` on the signed element) and must refuse every other thing
placed inside a Transform or the CanonicalizationMethod.

Regression: before, any child of a Transform was ``transform_forbidden``, so a
genuine Okta response was reported as an attack (issue 11).
"""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree

from keyless.saml.metadata import IdpMetadata
from keyless.saml.verify import verify_response
from keyless_lab.saml.keys import SigningKey
from saml_data import NOW, Build
from saml_forge import (
    DS,
    EC,
    ENVELOPED,
    EXC_C14N,
    EXC_C14N_COMMENTS,
    SAML,
    assertion_of,
    dump,
    inclusive_namespaces,
    parse,
    sign,
)

XS = "http://www.w3.org/2001/XMLSchema"


def _with_xs_on_assertion(xml: bytes) -> etree._Element:
    """The response with ``xmlns:xs`` declared on the Assertion, as Okta declares it."""
    root = parse(xml)
    etree.cleanup_namespaces(assertion_of(root), top_nsmap={"xs": XS})
    return root


def _signed(build: Build, key: SigningKey, prefix_list: str | None = "xs") -> etree._Element:
    root = _with_xs_on_assertion(build(sign_assertion=False, sign_response=False))
    sign(assertion_of(root), key, prefix_list=prefix_list)
    return root


def _transform(root: etree._Element) -> etree._Element:
    found = assertion_of(root).find(
        f"{DS}Signature/{DS}SignedInfo/{DS}Reference/{DS}Transforms/{DS}Transform"
        f"[@Algorithm='{EXC_C14N}']"
    )
    assert found is not None
    return found


def test_prefix_list_on_the_exc_c14n_transform_is_accepted(
    build: Build, metadata: IdpMetadata, idp_key: SigningKey
) -> None:
    root = _signed(build, idp_key)
    result = verify_response(dump(root), metadata=metadata, now=NOW)
    assert result.accepted, result.reasons


def test_prefix_list_is_honoured_not_ignored(
    build: Build, metadata: IdpMetadata, idp_key: SigningKey
) -> None:
    """The digest covers xmlns:xs only because of the PrefixList: take the parameter
    away after signing and the same bytes no longer verify."""
    root = _signed(build, idp_key)
    transform = _transform(root)
    for child in list(transform):
        transform.remove(child)
    result = verify_response(dump(root), metadata=metadata, now=NOW)
    assert not result.accepted
    assert result.codes[0] == "signature_invalid", result.codes


def test_prefix_list_on_canonicalization_method_is_accepted(
    build: Build, metadata: IdpMetadata, idp_key: SigningKey
) -> None:
    """xmlsec1 and signxml honour it on SignedInfo's CanonicalizationMethod too."""
    root = parse(build(sign_assertion=False, sign_response=False))
    signature = sign(assertion_of(root), idp_key)
    method = signature.find(f"{DS}SignedInfo/{DS}CanonicalizationMethod")
    assert method is not None
    method.append(inclusive_namespaces("xs saml2"))
    # The SignatureValue no longer matches the SignedInfo bytes: re-sign with the
    # parameter in place, canonicalizing SignedInfo with that prefix list.
    _resign_signed_info(signature, idp_key, ["xs", "saml2"])
    result = verify_response(dump(root), metadata=metadata, now=NOW)
    assert result.accepted, result.reasons


def _resign_signed_info(signature: etree._Element, key: SigningKey, prefixes: list[str]) -> None:
    signed_info = signature.find(DS + "SignedInfo")
    assert signed_info is not None
    canonical = etree.tostring(
        signed_info, method="c14n", exclusive=True, inclusive_ns_prefixes=prefixes
    )
    value = key.private_key.sign(canonical, padding.PKCS1v15(), hashes.SHA256())
    value_el = signature.find(DS + "SignatureValue")
    assert value_el is not None
    value_el.text = base64.b64encode(value).decode()


def test_tampered_nameid_under_prefix_list_is_refused(
    build: Build, metadata: IdpMetadata, idp_key: SigningKey
) -> None:
    root = _signed(build, idp_key)
    name_id = assertion_of(root).find(f"{SAML}Subject/{SAML}NameID")
    assert name_id is not None
    name_id.text = "mallory@example.com"
    result = verify_response(dump(root), metadata=metadata, now=NOW)
    assert result.codes[0] == "signature_invalid", result.codes


def _extra_attribute(transform: etree._Element) -> None:
    transform[0].set("Other", "x")


def _no_prefix_list(transform: etree._Element) -> None:
    del transform[0].attrib["PrefixList"]


def _second_parameter(transform: etree._Element) -> None:
    transform.append(inclusive_namespaces("xsi"))


def _wrong_namespace(transform: etree._Element) -> None:
    transform.remove(transform[0])
    etree.SubElement(transform, DS + "InclusiveNamespaces", PrefixList="xs")


def _child_inside(transform: etree._Element) -> None:
    etree.SubElement(transform[0], EC + "InclusiveNamespaces", PrefixList="xs")


def _text_inside(transform: etree._Element) -> None:
    transform.text = "ignored?"


def _comment_inside(transform: etree._Element) -> None:
    transform.append(etree.Comment("hello"))


def _bad_prefix(transform: etree._Element) -> None:
    transform[0].set("PrefixList", "xs <script>")


def _empty_prefix_list(transform: etree._Element) -> None:
    transform[0].set("PrefixList", "")


def _doubled_space(transform: etree._Element) -> None:
    """signxml would read ["xs", "", "xsi"], xmlsec1 ["xs", "xsi"]: refused, not guessed."""
    transform[0].set("PrefixList", "xs  xsi")


def _xpath_parameter(transform: etree._Element) -> None:
    transform.remove(transform[0])
    etree.SubElement(transform, DS + "XPath").text = "not(ancestor-or-self::ds:Signature)"


@pytest.mark.parametrize(
    "spoil",
    [
        _extra_attribute,
        _no_prefix_list,
        _second_parameter,
        _wrong_namespace,
        _child_inside,
        _text_inside,
        _comment_inside,
        _bad_prefix,
        _empty_prefix_list,
        _doubled_space,
        _xpath_parameter,
    ],
)
def test_anything_else_inside_the_transform_is_refused(
    build: Build,
    metadata: IdpMetadata,
    idp_key: SigningKey,
    spoil: Callable[[etree._Element], None],
) -> None:
    root = _signed(build, idp_key)
    spoil(_transform(root))
    result = verify_response(dump(root), metadata=metadata, now=NOW)
    assert not result.accepted
    assert result.codes[0] == "transform_forbidden", result.codes


@pytest.mark.parametrize("algorithm", [ENVELOPED, EXC_C14N_COMMENTS])
def test_inclusive_namespaces_on_other_transforms_is_refused(
    build: Build, metadata: IdpMetadata, idp_key: SigningKey, algorithm: str
) -> None:
    root = _with_xs_on_assertion(build(sign_assertion=False, sign_response=False))
    transform = etree.Element(DS + "Transform", Algorithm=algorithm)
    transform.append(inclusive_namespaces("xs"))
    others = [t for t in (ENVELOPED, EXC_C14N) if t != algorithm]
    sign(assertion_of(root), idp_key, transforms=(transform, *others))
    result = verify_response(dump(root), metadata=metadata, now=NOW)
    assert not result.accepted
    assert result.codes[0] == "transform_forbidden", result.codes


def test_inclusive_namespaces_elsewhere_in_signed_info_is_refused(
    build: Build, metadata: IdpMetadata, idp_key: SigningKey
) -> None:
    """On the SignatureMethod or DigestMethod it is no parameter of theirs."""
    root = _signed(build, idp_key)
    method = assertion_of(root).find(f"{DS}Signature/{DS}SignedInfo/{DS}SignatureMethod")
    assert method is not None
    method.append(inclusive_namespaces("xs"))
    signature = method.getparent().getparent()  # type: ignore[union-attr]
    assert signature is not None
    _resign_signed_info(signature, idp_key, [])
    result = verify_response(dump(root), metadata=metadata, now=NOW)
    assert not result.accepted
    assert result.codes == ["algorithm_forbidden"], result.codes


def test_text_in_canonicalization_method_is_refused(
    build: Build, metadata: IdpMetadata, idp_key: SigningKey
) -> None:
    root = _signed(build, idp_key)
    method = assertion_of(root).find(f"{DS}Signature/{DS}SignedInfo/{DS}CanonicalizationMethod")
    assert method is not None
    method.append(etree.Comment("x"))
    result = verify_response(dump(root), metadata=metadata, now=NOW)
    assert not result.accepted
    assert result.codes[0] == "transform_forbidden", result.codes
