"""Interoperability with other SAML implementations, both ways, generated at test time.

- python3-saml (xmlsec, the C library) signs; keyless verifies.
- keyless signs; python3-saml validates the whole response, and ``xmlsec1 --verify``
  checks each signature.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from keyless.saml.metadata import IdpMetadata
from keyless.saml.verify import verify_response
from keyless_lab.saml.build import encode_response
from keyless_lab.saml.keys import SigningKey
from peers import debian_program, peer_module
from saml_data import DEV, ISSUER, PROD, Build
from saml_forge import SAML, assertion_of, dump, parse

utils = peer_module("onelogin.saml2.utils")
response_module = peer_module("onelogin.saml2.response")
settings_module = peer_module("onelogin.saml2.settings")


def _python3_saml_sign(xml: str | bytes, key: SigningKey) -> bytes:
    signed = utils.OneLogin_Saml2_Utils.add_sign(
        xml, key.key_pem().decode(), key.cert_pem().decode()
    )
    return signed if isinstance(signed, bytes) else signed.encode()


@pytest.mark.parametrize("where", ["assertion", "response", "both"])
def test_python3_saml_signed_responses_verify(
    build: Build, metadata: IdpMetadata, idp_key: SigningKey, where: str
) -> None:
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    root = parse(build(sign_assertion=False, sign_response=False, now=now))
    if where in ("assertion", "both"):
        assertion = assertion_of(root)
        signed_assertion = etree.fromstring(_python3_saml_sign(etree.tostring(assertion), idp_key))
        root.replace(assertion, signed_assertion)
    xml = dump(root)
    if where in ("response", "both"):
        xml = _python3_saml_sign(xml, idp_key)
    result = verify_response(xml, metadata=metadata, now=now)
    assert result.accepted, result.reasons
    assert result.assertion is not None
    assert result.assertion.signed_element == where
    assert result.assertion.roles == (PROD, DEV)


def _sp_settings(idp_key: SigningKey) -> object:
    return settings_module.OneLogin_Saml2_Settings(
        {
            "strict": True,
            "sp": {
                "entityId": "urn:amazon:webservices",
                "assertionConsumerService": {"url": "https://signin.aws.amazon.com/saml"},
            },
            "idp": {
                "entityId": ISSUER,
                "singleSignOnService": {"url": "https://idp.test/sso"},
                "x509cert": idp_key.cert_pem().decode(),
            },
            "security": {"wantAssertionsSigned": True},
        },
        sp_validation_only=True,
    )


@pytest.mark.parametrize("sign_response", [False, True])
def test_keyless_signed_responses_validate_with_python3_saml(
    build: Build, idp_key: SigningKey, sign_response: bool
) -> None:
    # python3-saml reads the real clock, so this response is issued now.
    xml = build(now=datetime.now(UTC), sign_response=sign_response)
    response = response_module.OneLogin_Saml2_Response(_sp_settings(idp_key), encode_response(xml))
    request = {"http_host": "signin.aws.amazon.com", "script_name": "/saml", "https": "on"}
    assert response.is_valid(request, raise_exceptions=True)
    assert response.get_nameid() == "alice@example.com"
    roles = response.get_attributes()["https://aws.amazon.com/SAML/Attributes/Role"]
    assert roles == [PROD.attribute_value(), DEV.attribute_value()]


def test_python3_saml_rejects_keyless_response_signed_by_other_key(
    build: Build, idp_key: SigningKey, attacker_key: SigningKey
) -> None:
    """The interop check is real: python3-saml does refuse a bad signature."""
    xml = build(now=datetime.now(UTC), key=attacker_key)
    response = response_module.OneLogin_Saml2_Response(_sp_settings(idp_key), encode_response(xml))
    request = {"http_host": "signin.aws.amazon.com", "script_name": "/saml", "https": "on"}
    assert not response.is_valid(request)


# keyless writes the canonical form itself (keyless_lab.saml.canonical): values that
# C14N escapes or readers normalize must still give the digest xmlsec1 computes.
_ESCAPED_VALUES = {
    "subject": 'o\'brien&co <ops> "x"\r\n\t é 𝄞',
    "recipient": 'https://signin.aws.amazon.com/saml?a=1&b="2"\t<3>',
    "principal_tags": {"team": "R&D\r\n<platform>"},
}


@pytest.mark.parametrize("values", ["plain", "escaped"])
@pytest.mark.parametrize("element", ["Response", "Assertion"])
def test_keyless_signatures_verify_with_xmlsec1(
    build: Build, idp_key: SigningKey, tmp_path: Path, element: str, values: str
) -> None:
    cert = tmp_path / "idp.pem"
    cert.write_bytes(idp_key.cert_pem())
    xml = build(**(_ESCAPED_VALUES if values == "escaped" else {}))
    root = parse(xml)
    target = root if element == "Response" else assertion_of(root)
    document = tmp_path / "response.xml"
    document.write_bytes(xml)  # the bytes keyless wrote, not a re-serialization
    namespace = "protocol" if element == "Response" else "assertion"
    run = subprocess.run(
        [
            debian_program("xmlsec1", "xmlsec1"),
            "--verify",
            "--pubkey-cert-pem",
            str(cert),
            "--id-attr:ID",
            f"urn:oasis:names:tc:SAML:2.0:{namespace}:{element}",
            "--node-xpath",
            f"//*[@ID='{target.get('ID')}']/*[local-name()='Signature']",
            str(document),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "OK" in run.stderr


def test_xmlsec1_rejects_tampered_keyless_response(
    build: Build, idp_key: SigningKey, tmp_path: Path
) -> None:
    cert = tmp_path / "idp.pem"
    cert.write_bytes(idp_key.cert_pem())
    root = parse(build(sign_response=False))
    name_id = assertion_of(root).find(f"{SAML}Subject/{SAML}NameID")
    assert name_id is not None
    name_id.text = "mallory@example.com"
    document = tmp_path / "response.xml"
    document.write_bytes(dump(root))
    run = subprocess.run(
        [
            debian_program("xmlsec1", "xmlsec1"),
            "--verify",
            "--pubkey-cert-pem",
            str(cert),
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
            str(document),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode != 0
