"""Interop corpus: AWS responses in Okta's shape, signed by four independent signers.

Each document is an Okta AWS Account Federation response (the shape of
``tests/lab_idp/test_okta_saml_shape.py``, here written out as Okta's
serializer writes it, with its repeated ``xmlns:saml2`` and ``xmlns:saml2p``
declarations) signed at test time, with keys generated at test time, by:

- ``xmlsec1`` (the Debian binary; what Okta-like IdPs built on xmlsec do), from a
  template carrying ``InclusiveNamespaces PrefixList="xs"`` as Okta's does;
- python3-saml (``OneLogin_Saml2_Utils.add_sign``, the xmlsec Python binding);
- signxml, told to use ``InclusiveNamespaces`` (which it writes on the
  CanonicalizationMethod as well as the Transform);
- the lab (``keyless_lab.saml.build``),

with the signature on the Response, on the Assertion, and on both. Every one
is accepted by ``keyless saml verify`` (the installed CLI, as a subprocess) and
by the lab STS through the AWS CLI; every tampered twin (NameID, Role, the
validity window) is refused by both with the right reason, and a genuinely
expired one as expired.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from lxml import etree
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod
from signxml.signer import XMLSigner

from keyless.saml.xmlsafe import format_instant
from keyless_lab.saml.build import build_response, new_id
from keyless_lab.saml.keys import SigningKey
from keyless_lab.saml.metadata import build_idp_metadata
from lab_aws_support import DEV, ENTITY_ID, PROD, AwsLab, assume, role_pair
from peers import debian_program, peer_module

utils = peer_module("onelogin.saml2.utils")

AWS = shutil.which("aws", path=str(Path(sys.executable).parent)) or "aws"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
DS = "http://www.w3.org/2000/09/xmldsig#"
NS = {"saml2": SAML, "saml2p": SAMLP, "ds": DS}
LOGIN = "alice@acme.example"
ROLES = (role_pair(PROD, "OktaAdminRole"), role_pair(DEV, "OktaAdminRole"))

# Okta's serialization of the AWS app's response (see test_okta_saml_shape.py for
# the sources); {response_signature} and {assertion_signature} mark where each
# Signature goes, right after its element's Issuer.
_OKTA = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<saml2p:Response xmlns:saml2p="{SAMLP}" Destination="https://signin.aws.amazon.com/saml"'
    ' ID="{response_id}" IssueInstant="{issued}" Version="2.0"'
    ' xmlns:xs="http://www.w3.org/2001/XMLSchema">'
    f'<saml2:Issuer xmlns:saml2="{SAML}"'
    ' Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">{issuer}</saml2:Issuer>'
    "{response_signature}"
    f'<saml2p:Status xmlns:saml2p="{SAMLP}">'
    '<saml2p:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></saml2p:Status>'
    f'<saml2:Assertion xmlns:saml2="{SAML}" ID="{{assertion_id}}" IssueInstant="{{issued}}"'
    ' Version="2.0" xmlns:xs="http://www.w3.org/2001/XMLSchema">'
    '<saml2:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity"'
    f' xmlns:saml2="{SAML}">{{issuer}}</saml2:Issuer>'
    "{assertion_signature}"
    f'<saml2:Subject xmlns:saml2="{SAML}">'
    '<saml2:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">'
    "{login}</saml2:NameID>"
    '<saml2:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
    '<saml2:SubjectConfirmationData NotOnOrAfter="{expires}"'
    ' Recipient="https://signin.aws.amazon.com/saml"/>'
    "</saml2:SubjectConfirmation></saml2:Subject>"
    '<saml2:Conditions NotBefore="{not_before}" NotOnOrAfter="{expires}"'
    f' xmlns:saml2="{SAML}"><saml2:AudienceRestriction>'
    "<saml2:Audience>urn:amazon:webservices</saml2:Audience>"
    "</saml2:AudienceRestriction></saml2:Conditions>"
    '<saml2:AuthnStatement AuthnInstant="{issued}" SessionIndex="{assertion_id}"'
    f' xmlns:saml2="{SAML}"><saml2:AuthnContext><saml2:AuthnContextClassRef>'
    "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
    "</saml2:AuthnContextClassRef></saml2:AuthnContext></saml2:AuthnStatement>"
    f'<saml2:AttributeStatement xmlns:saml2="{SAML}">{{attributes}}</saml2:AttributeStatement>'
    "</saml2:Assertion></saml2p:Response>"
)
_VALUE = (
    '<saml2:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema"'
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">'
    "{}</saml2:AttributeValue>"
)
_ATTRIBUTES = (
    '<saml2:Attribute Name="https://aws.amazon.com/SAML/Attributes/Role"'
    ' NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">'
    + "".join(_VALUE.format(pair.attribute_value()) for pair in ROLES)
    + "</saml2:Attribute>"
    '<saml2:Attribute Name="https://aws.amazon.com/SAML/Attributes/RoleSessionName"'
    ' NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">'
    + _VALUE.format(LOGIN)
    + "</saml2:Attribute>"
    '<saml2:Attribute Name="https://aws.amazon.com/SAML/Attributes/SessionDuration"'
    ' NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">'
    + _VALUE.format("3600")
    + "</saml2:Attribute>"
)
# xmlsec1's template: Okta's Signature with empty values for xmlsec1 to fill.
_XMLSEC_TEMPLATE = (
    f'<ds:Signature xmlns:ds="{DS}"><ds:SignedInfo>'
    '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
    '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
    '<ds:Reference URI="#{id}"><ds:Transforms>'
    '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
    '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#">'
    '<ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#"'
    ' PrefixList="xs"/></ds:Transform></ds:Transforms>'
    '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
    "<ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/>"
    "<ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature>"
)
_PLACEHOLDER = f'<ds:Signature xmlns:ds="{DS}" Id="placeholder"></ds:Signature>'

WHERE = ("response", "assertion", "both")


def _okta_document(
    *, issued: datetime, response_signature: str = "", assertion_signature: str = ""
) -> tuple[bytes, str, str]:
    """The unsigned response, its ID and its Assertion's ID."""
    response_id, assertion_id = new_id(), new_id()
    xml = _OKTA.format(
        response_id=response_id,
        assertion_id=assertion_id,
        issued=format_instant(issued),
        not_before=format_instant(issued - timedelta(minutes=5)),
        expires=format_instant(issued + timedelta(minutes=5)),
        issuer=ENTITY_ID,
        login=LOGIN,
        attributes=_ATTRIBUTES,
        response_signature=response_signature.replace("{id}", response_id),
        assertion_signature=assertion_signature.replace("{id}", assertion_id),
    )
    return xml.encode(), response_id, assertion_id


def _sign_xmlsec1(key: SigningKey, where: str, issued: datetime, work: Path) -> bytes:
    xml, _, _ = _okta_document(
        issued=issued,
        response_signature=_XMLSEC_TEMPLATE if where in ("response", "both") else "",
        assertion_signature=_XMLSEC_TEMPLATE if where in ("assertion", "both") else "",
    )
    key_file, cert_file = work / "key.pem", work / "cert.pem"
    key_file.write_bytes(key.key_pem())
    cert_file.write_bytes(key.cert_pem())
    document = work / "unsigned.xml"
    document.write_bytes(xml)
    # The Assertion first: the Response's signature covers the signed Assertion.
    targets = {
        "assertion": "/*/*[local-name()='Assertion']/*[local-name()='Signature']",
        "response": "/*/*[local-name()='Signature']",
    }
    for label in ("assertion", "response"):
        if where not in (label, "both"):
            continue
        signed = work / f"signed-{label}.xml"
        run = subprocess.run(
            [
                debian_program("xmlsec1", "xmlsec1"),
                "--sign",
                "--privkey-pem",
                f"{key_file},{cert_file}",
                "--id-attr:ID",
                f"{SAML}:Assertion",
                "--id-attr:ID",
                f"{SAMLP}:Response",
                "--node-xpath",
                targets[label],
                "--output",
                str(signed),
                str(document),
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert run.returncode == 0, run.stderr
        document = signed
    return document.read_bytes()


def _sign_python3_saml(key: SigningKey, where: str, issued: datetime, work: Path) -> bytes:
    xml, _, _ = _okta_document(issued=issued)
    root = etree.fromstring(xml)

    def add_sign(data: bytes) -> bytes:
        signed = utils.OneLogin_Saml2_Utils.add_sign(
            data, key.key_pem().decode(), key.cert_pem().decode()
        )
        return signed if isinstance(signed, bytes) else signed.encode()

    if where in ("assertion", "both"):
        assertion = root.find(f"{{{SAML}}}Assertion")
        assert assertion is not None
        root.replace(assertion, etree.fromstring(add_sign(etree.tostring(assertion))))
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return add_sign(xml) if where in ("response", "both") else xml


class _SignxmlSigner(XMLSigner):
    """signxml's signer, with its enveloped Transform carrying the PrefixList it digests with.

    signxml 5 digests an enveloped reference with ``inclusive_ns_prefixes`` and
    writes them on the CanonicalizationMethod, but leaves them off the
    exclusive-C14N Transform (it adds them only for detached signatures), so no
    verifier, signxml included, can recompute its digest. This adds them where
    its detached branch (and Okta, and xmlsec) put them; nothing else changes.
    """

    def _build_transforms_for_reference(
        self, *, transforms_node: etree._Element, reference: Any, **options: Any
    ) -> None:
        super()._build_transforms_for_reference(
            transforms_node=transforms_node, reference=reference, **options
        )
        if reference.inclusive_ns_prefixes:
            for transform in transforms_node:
                if transform.get("Algorithm") == reference.c14n_method.value:
                    etree.SubElement(
                        transform,
                        "{http://www.w3.org/2001/10/xml-exc-c14n#}InclusiveNamespaces",
                        PrefixList=" ".join(reference.inclusive_ns_prefixes),
                    )


def _sign_signxml(key: SigningKey, where: str, issued: datetime, work: Path) -> bytes:
    signer = _SignxmlSigner(
        signature_algorithm=SignatureMethod.RSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    xml, response_id, assertion_id = _okta_document(
        issued=issued,
        response_signature=_PLACEHOLDER if where in ("response", "both") else "",
        assertion_signature=_PLACEHOLDER if where in ("assertion", "both") else "",
    )
    root = etree.fromstring(xml)
    for label, element_id in (("assertion", assertion_id), ("response", response_id)):
        if where not in (label, "both"):
            continue
        # One placeholder at a time: hide the other until its turn.
        others = [
            p
            for p in root.iter(f"{{{DS}}}Signature")
            if p.get("Id") == "placeholder" and (p.getparent() is root) != (label == "response")
        ]
        for other in others:
            other.set("Id", "later")
        root = signer.sign(
            root,
            key=key.key_pem(),
            cert=key.cert_pem().decode(),
            reference_uri=element_id,
            inclusive_ns_prefixes=["xs"],
        )
        for later in root.iter(f"{{{DS}}}Signature"):
            if later.get("Id") == "later":
                later.set("Id", "placeholder")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _sign_lab(key: SigningKey, where: str, issued: datetime, work: Path) -> bytes:
    return build_response(
        key=key,
        issuer=ENTITY_ID,
        subject=LOGIN,
        roles=ROLES,
        session_name=LOGIN,
        now=issued,
        session_duration=3600,
        sign_assertion=where in ("assertion", "both"),
        sign_response=where in ("response", "both"),
    )


Signer = Callable[[SigningKey, str, datetime, Path], bytes]
SIGNERS: dict[str, Signer] = {
    "xmlsec1": _sign_xmlsec1,
    "python3-saml": _sign_python3_saml,
    "signxml": _sign_signxml,
    "lab": _sign_lab,
}


# -- tampering after signing ------------------------------------------------------------


def _edit(xml: bytes, path: str, change: Callable[[etree._Element], None]) -> bytes:
    root = etree.fromstring(xml)
    found = root.xpath(path, namespaces=NS)
    assert isinstance(found, list)
    assert found, path
    element = found[0]
    assert isinstance(element, etree._Element)
    change(element)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _set_text(value: str) -> Callable[[etree._Element], None]:
    def change(element: etree._Element) -> None:
        element.text = value

    return change


def _later(element: etree._Element) -> None:
    element.set("NotOnOrAfter", format_instant(datetime.now(UTC) + timedelta(hours=12)))


TAMPERED: dict[str, Callable[[bytes], bytes]] = {
    "nameid": lambda xml: _edit(
        xml, "saml2:Assertion/saml2:Subject/saml2:NameID", _set_text("mallory@acme.example")
    ),
    "role": lambda xml: _edit(
        xml,
        "saml2:Assertion/saml2:AttributeStatement/saml2:Attribute"
        "[@Name='https://aws.amazon.com/SAML/Attributes/Role']/saml2:AttributeValue",
        _set_text(role_pair(PROD, "ReadOnly").attribute_value()),
    ),
    "times": lambda xml: _edit(xml, "saml2:Assertion/saml2:Conditions", _later),
}


# -- the two verifiers --------------------------------------------------------------------


def _keyless() -> list[str]:
    script = Path(sys.executable).parent / "keyless"
    return [str(script)] if script.exists() else [sys.executable, "-m", "keyless"]


def keyless_verify(document: Path, metadata: Path) -> tuple[int, dict[str, Any]]:
    """``keyless saml verify --json`` as a user runs it: (exit code, its JSON)."""
    run = subprocess.run(
        [*_keyless(), "saml", "verify", str(document), "--metadata", str(metadata), "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert run.stdout, run.stderr
    answer: dict[str, Any] = json.loads(run.stdout)
    return run.returncode, answer


def xmlsec1_verifies(document: Path, key: SigningKey, label: str, work: Path) -> bool:
    cert = work / "idp-cert.pem"
    cert.write_bytes(key.cert_pem())
    element = "Response" if label == "response" else "Assertion"
    namespace = SAMLP if label == "response" else SAML
    holder = "/*" if label == "response" else "/*/*[local-name()='Assertion']"
    run = subprocess.run(
        [
            debian_program("xmlsec1", "xmlsec1"),
            "--verify",
            "--pubkey-cert-pem",
            str(cert),
            "--id-attr:ID",
            f"{namespace}:{element}",
            "--node-xpath",
            f"{holder}/*[local-name()='Signature']",
            str(document),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return run.returncode == 0


def aws_cli_assume(aws_lab: AwsLab, saml: str, work: Path) -> dict[str, Any]:
    saml_file = work / "saml.b64"
    saml_file.write_text(saml)
    pair = ROLES[0]
    run = subprocess.run(
        [
            AWS,
            "sts",
            "assume-role-with-saml",
            "--role-arn",
            pair.role_arn,
            "--principal-arn",
            pair.principal_arn,
            "--saml-assertion",
            f"file://{saml_file}",
            "--output",
            "json",
        ],
        env=aws_lab.cli_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    answer: dict[str, Any] = json.loads(run.stdout)
    return answer


@pytest.fixture(scope="module")
def metadata_file(idp_key: SigningKey, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("okta-corpus") / "metadata.xml"
    path.write_bytes(
        build_idp_metadata(
            entity_id=ENTITY_ID,
            certificates=[idp_key.certificate],
            sso_url="https://127.0.0.1:1/app/amazon_aws/0oatest/sso/saml",
        )
    )
    return path


@pytest.mark.slow
@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("signer", list(SIGNERS))
def test_okta_shaped_response_is_accepted_and_its_tampered_twins_refused(
    aws_lab: AwsLab,
    idp_key: SigningKey,
    metadata_file: Path,
    tmp_path: Path,
    signer: str,
    where: str,
) -> None:
    signed = SIGNERS[signer](idp_key, where, datetime.now(UTC), tmp_path)
    if signer != "python3-saml":
        # Okta's signature form: exclusive C14N with PrefixList="xs".
        assert b'PrefixList="xs"' in signed
    document = tmp_path / "response.xml"
    document.write_bytes(signed)
    # The document is valid for an independent verifier too (xmlsec1), so acceptance
    # below is agreement, not leniency.
    for label in ("response", "assertion") if where == "both" else (where,):
        assert xmlsec1_verifies(document, idp_key, label, tmp_path)

    code, answer = keyless_verify(document, metadata_file)
    assert code == 0, answer["reasons"]
    assert answer["accepted"] is True
    assert answer["subject"] == LOGIN
    assert [r["role_arn"] for r in answer["roles"]] == [pair.role_arn for pair in ROLES]

    for name, tamper in TAMPERED.items():
        twin = tmp_path / f"tampered-{name}.xml"
        twin.write_bytes(tamper(signed))
        code, refused = keyless_verify(twin, metadata_file)
        assert code == 1, (name, refused)
        assert refused["reasons"][0]["code"] == "signature_invalid", (name, refused["reasons"])
        with pytest.raises(ClientError) as caught:
            assume(aws_lab, base64.b64encode(twin.read_bytes()).decode())
        error = caught.value.response["Error"]
        assert (error["Code"], error["Message"]) == (
            "InvalidIdentityToken",
            "Response signature invalid",
        ), name

    # Through the AWS CLI, last: the lab STS accepts each assertion once.
    credentials = aws_cli_assume(aws_lab, base64.b64encode(signed).decode(), tmp_path)
    assert credentials["AssumedRoleUser"]["Arn"] == (
        f"arn:aws:sts::{PROD}:assumed-role/OktaAdminRole/{LOGIN}"
    )
    assert credentials["Issuer"] == ENTITY_ID


@pytest.mark.parametrize("signer", list(SIGNERS))
def test_an_expired_okta_shaped_response_is_refused_as_expired(
    aws_lab: AwsLab, idp_key: SigningKey, metadata_file: Path, tmp_path: Path, signer: str
) -> None:
    issued = datetime.now(UTC) - timedelta(minutes=15)
    document = tmp_path / "expired.xml"
    document.write_bytes(SIGNERS[signer](idp_key, "both", issued, tmp_path))
    code, answer = keyless_verify(document, metadata_file)
    assert code == 1
    assert "expired" in [r["code"] for r in answer["reasons"]], answer["reasons"]
    with pytest.raises(ClientError) as caught:
        assume(aws_lab, base64.b64encode(document.read_bytes()).decode())
    assert caught.value.response["Error"]["Code"] == "ExpiredTokenException"
