"""Keys, building, metadata and input extraction."""

from __future__ import annotations

import base64
import textwrap
from datetime import UTC, datetime, timedelta

import pytest

from keyless.errors import InputError, SamlInputError
from keyless.saml.extract import extract_saml_response
from keyless.saml.inspect import inspect_response
from keyless.saml.metadata import certificate_fingerprint, parse_metadata
from keyless.saml.model import RolePair
from keyless.saml.verify import parse_role_value
from keyless_lab.saml.build import encode_response
from keyless_lab.saml.keys import SigningKey
from keyless_lab.saml.metadata import build_idp_metadata
from saml_data import ISSUER, NOW, PROD, Build
from saml_forge import DS, SAML, assertion_of, parse, signature_of


def test_signing_key_round_trips_through_pem(idp_key: SigningKey) -> None:
    loaded = SigningKey.from_pem(idp_key.key_pem(), idp_key.cert_pem())
    assert loaded.certificate == idp_key.certificate
    assert idp_key.key_pem().startswith(b"-----BEGIN PRIVATE KEY-----")


def test_signing_key_refuses_mismatched_certificate(
    idp_key: SigningKey, other_idp_key: SigningKey
) -> None:
    with pytest.raises(InputError, match="does not belong"):
        SigningKey.from_pem(idp_key.key_pem(), other_idp_key.cert_pem())
    with pytest.raises(InputError, match="not an unencrypted PEM"):
        SigningKey.from_pem(b"garbage", idp_key.cert_pem())


def test_built_response_shape(build: Build) -> None:
    root = parse(build())
    assertion = assertion_of(root)
    # The schema wants Signature right after Issuer, in the Response and the Assertion.
    assert root[1].tag == DS + "Signature"
    assert assertion[1].tag == DS + "Signature"
    signature = signature_of(assertion)
    assert signature is not None
    reference = signature.find(f"{DS}SignedInfo/{DS}Reference")
    assert reference is not None
    assert reference.get("URI") == "#" + str(assertion.get("ID"))
    assert root.get("Destination") == "https://signin.aws.amazon.com/saml"
    values = [v.text for v in assertion.iter(SAML + "AttributeValue")]
    assert values[0] == PROD.attribute_value(provider_first=True)
    assert "3600" in values


def test_ids_are_unique(build: Build) -> None:
    ids = {assertion_of(parse(build())).get("ID") for _ in range(20)}
    assert len(ids) == 20


def test_role_pair_order() -> None:
    assert PROD.attribute_value() == f"{PROD.principal_arn},{PROD.role_arn}"
    assert PROD.attribute_value(provider_first=False) == f"{PROD.role_arn},{PROD.principal_arn}"
    assert parse_role_value(PROD.attribute_value()) == (PROD, None)
    assert parse_role_value(f" {PROD.role_arn} , {PROD.principal_arn} ") == (PROD, None)
    pair, _ = parse_role_value(
        "arn:aws-us-gov:iam::123456789012:role/a/b/C,arn:aws-us-gov:iam::123456789012:saml-provider/x"
    )
    assert pair == RolePair(
        "arn:aws-us-gov:iam::123456789012:role/a/b/C",
        "arn:aws-us-gov:iam::123456789012:saml-provider/x",
    )


def _okta_metadata(*certs: SigningKey, valid_until: str | None = None) -> bytes:
    descriptors = "".join(
        '<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
        "<ds:X509Data><ds:X509Certificate>\n"
        + "\n".join(textwrap.wrap(key.cert_b64, 64))
        + "\n</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        for key in certs
    )
    until = f' validUntil="{valid_until}"' if valid_until else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?><md:EntityDescriptor '
        f'xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{ISSUER}"{until}>'
        '<md:IDPSSODescriptor WantAuthnRequestsSigned="false" '
        'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        f"{descriptors}"
        '<md:KeyDescriptor use="encryption"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
        "<ds:X509Data><ds:X509Certificate>bm90IGEgY2VydA==</ds:X509Certificate></ds:X509Data>"
        "</ds:KeyInfo></md:KeyDescriptor>"
        "<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat>"
        '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
        'Location="https://acme.okta.com/app/amazon_aws/exk1/sso/saml"/>'
        '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
        'Location="https://acme.okta.com/app/amazon_aws/exk1/sso/saml"/>'
        "</md:IDPSSODescriptor></md:EntityDescriptor>"
    ).encode()


def test_okta_metadata_during_rotation(idp_key: SigningKey, other_idp_key: SigningKey) -> None:
    metadata = parse_metadata(
        _okta_metadata(idp_key, other_idp_key, valid_until="2034-05-01T12:00:00.000Z")
    )
    assert metadata.entity_id == ISSUER
    assert metadata.certificates == (idp_key.certificate, other_idp_key.certificate)
    assert metadata.fingerprints() == [
        certificate_fingerprint(idp_key.certificate),
        certificate_fingerprint(other_idp_key.certificate),
    ]
    assert metadata.sso_urls == ("https://acme.okta.com/app/amazon_aws/exk1/sso/saml",) * 2
    assert metadata.valid_until == datetime(2034, 5, 1, 12, tzinfo=UTC)


def test_generated_metadata_round_trips(idp_key: SigningKey) -> None:
    xml = build_idp_metadata(
        entity_id=ISSUER, certificates=[idp_key.certificate], sso_url="https://idp.test/sso"
    )
    metadata = parse_metadata(xml)
    assert metadata.certificates == (idp_key.certificate,)
    assert metadata.sso_urls == ("https://idp.test/sso", "https://idp.test/sso")
    assert metadata.valid_until is None


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"not xml", "not well-formed"),
        (b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>', "refused"),
        (b'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"/>', "entityID"),
        (
            b'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x">'
            b"<md:SPSSODescriptor/></md:EntityDescriptor>",
            "no IDPSSODescriptor",
        ),
        (
            b'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x">'
            b"<md:IDPSSODescriptor/></md:EntityDescriptor>",
            "no signing certificate",
        ),
    ],
)
def test_bad_metadata_is_input_error(document: bytes, message: str) -> None:
    with pytest.raises(SamlInputError, match=message):
        parse_metadata(document)


def test_extract_from_every_form(build: Build) -> None:
    xml = build()
    encoded = encode_response(xml)
    assert extract_saml_response(xml) == xml
    assert extract_saml_response(xml.decode()) == xml
    assert extract_saml_response(encoded) == xml
    assert extract_saml_response("\n".join(textwrap.wrap(encoded, 76))) == xml
    form = "SAMLResponse=" + encoded.replace("+", "%2B").replace("=", "%3D") + "&RelayState="
    assert extract_saml_response(form) == xml
    page = f"<html><form><input type='hidden' name='SAMLResponse' value='{encoded}'></form></html>"
    assert extract_saml_response(page.encode()) == xml


@pytest.mark.parametrize(
    "text",
    ["", "   ", "!!!notbase64!!!", base64.b64encode(b"hello").decode(), "<html>no form</html>"],
)
def test_extract_refuses_unreadable_input(text: str) -> None:
    with pytest.raises(SamlInputError):
        extract_saml_response(text)


def test_unreadable_xml_is_input_error(build: Build) -> None:
    from keyless.saml.verify import verify_response

    with pytest.raises(SamlInputError, match="not well-formed"):
        verify_response(b"<samlp:Response>", metadata=None, now=NOW)  # type: ignore[arg-type]


def test_inspect_reads_without_metadata(build: Build) -> None:
    inspection = inspect_response(build(), now=NOW + timedelta(minutes=1))
    assert inspection.assertion is not None
    assert inspection.assertion.roles[0] == PROD
    assert [s.element for s in inspection.signatures] == ["response", "assertion"]
    assert inspection.signatures[0].signature_algorithm == "rsa-sha256"
    assert inspection.problems == ()
    late = inspect_response(build(), now=NOW + timedelta(hours=1))
    assert "expired" in [p.code for p in late.problems]
