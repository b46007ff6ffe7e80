"""The lab STS agrees with AWS's documentation, case by case, on responses built here.

Each response is written in this file from the documented shape (the IAM user
guide's "Configure SAML assertions for the authentication response" and SAML
2.0 core), signed here with signxml's signer and a key made at test time, and
sent to :class:`keyless_lab.aws.sts.StrictSts` over moto's IAM in-process. The
expected outcome of each case is the documented one, written out by hand: no
keyless code builds, signs, verifies or predicts anything here, so these cases
check the lab's verifier, not its agreement with the product's.

Sources (cited per case):
API    https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithSAML.html
CLAIMS https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_saml_assertions.html
KEYS   the same page, #saml-attribute-mapping (trust policy context keys)
CORE   https://docs.oasis-open.org/security/saml/v2.0/saml-core-2.0-os.pdf
PROF   https://docs.oasis-open.org/security/saml/v2.0/saml-profiles-2.0-os.pdf
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import methods
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod
from signxml.signer import XMLSigner

from keyless_lab.aws.errors import AwsError
from keyless_lab.aws.sts import StrictSts

moto = pytest.importorskip("moto")

ACCOUNT = "111122223333"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:saml-provider/ExampleIdP"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/Federated"
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/NotAssigned"
ISSUER = "http://www.example.com/exk-issuer"
SIGNIN = "https://signin.aws.amazon.com/saml"
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)

DENIED = ("AccessDenied", "Not authorized to perform sts:AssumeRoleWithSAML")
SIGNATURE = ("InvalidIdentityToken", "Response signature invalid")
MALFORMED = ("InvalidIdentityToken", "Invalid SAML response: malformed XML")


# -- a key and the metadata an IAM SAML provider would hold ------------------------------------


@dataclass(frozen=True)
class Key:
    private_pem: bytes
    cert_pem: bytes
    cert_b64: str


def make_key(name: str) -> Key:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .sign(private, hashes.SHA256())
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    return Key(
        private_pem=private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        cert_b64=base64.b64encode(der).decode(),
    )


def metadata_for(key: Key) -> str:
    # SAML metadata 2.4: EntityDescriptor / IDPSSODescriptor / KeyDescriptor use="signing".
    return (
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        f'entityID="{ISSUER}"><md:IDPSSODescriptor '
        'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        '<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
        f"<ds:X509Data><ds:X509Certificate>{key.cert_b64}</ds:X509Certificate></ds:X509Data>"
        "</ds:KeyInfo></md:KeyDescriptor>"
        '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
        'Location="https://idp.example.com/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>'
    )


# -- a response in the documented shape ------------------------------------------------------


def _instant(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Response:
    """The parts of a SAML Response a case changes; defaults are a valid one."""

    issued: datetime = NOW
    lifetime: timedelta = timedelta(minutes=5)
    issuer: str = ISSUER
    subject: str = "jane@example.com"
    name_format: str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
    recipient: str = SIGNIN
    audience: str = "urn:amazon:webservices"
    status: str = "urn:oasis:names:tc:SAML:2.0:status:Success"
    # One value per role the user is assigned, as an IdP sends them (not NotAssigned).
    roles: list[str] = field(
        default_factory=lambda: [
            f"{PROVIDER},arn:aws:iam::{ACCOUNT}:role/{name}"
            for name in ("Federated", "RegionalAudience", "OnlyJane", "ByNameQualifier", "Staff")
        ]
    )
    session_name: list[str] = field(default_factory=lambda: ["jane@example.com"])
    session_duration: list[str] = field(default_factory=list)
    extra_attributes: str = ""
    sign: bool = True
    key: Key | None = None
    doctype: str = ""
    second_assertion: bool = False

    def _attribute(self, name: str, values: list[str]) -> str:
        if not values:
            return ""
        inner = "".join(f"<saml:AttributeValue>{v}</saml:AttributeValue>" for v in values)
        return f'<saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/{name}">{inner}</saml:Attribute>'

    def assertion(self, assertion_id: str) -> str:
        expires = _instant(self.issued + self.lifetime)
        return (
            '<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
            f'ID="{assertion_id}" IssueInstant="{_instant(self.issued)}" Version="2.0">'
            f"<saml:Issuer>{self.issuer}</saml:Issuer>"
            f'<saml:Subject><saml:NameID Format="{self.name_format}">{self.subject}</saml:NameID>'
            '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
            f'<saml:SubjectConfirmationData NotOnOrAfter="{expires}" Recipient="{self.recipient}"/>'
            "</saml:SubjectConfirmation></saml:Subject>"
            f'<saml:Conditions NotBefore="{_instant(self.issued)}" NotOnOrAfter="{expires}">'
            f"<saml:AudienceRestriction><saml:Audience>{self.audience}</saml:Audience>"
            "</saml:AudienceRestriction></saml:Conditions>"
            f'<saml:AuthnStatement AuthnInstant="{_instant(self.issued)}"><saml:AuthnContext>'
            "<saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:"
            "PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext>"
            "</saml:AuthnStatement><saml:AttributeStatement>"
            + self._attribute("Role", self.roles)
            + self._attribute("RoleSessionName", self.session_name)
            + self._attribute("SessionDuration", self.session_duration)
            + self.extra_attributes
            + "</saml:AttributeStatement></saml:Assertion>"
        )

    def build(self, key: Key) -> str:
        """The base64 SAMLResponse, the Assertion signed (as Okta signs it) unless told not to."""
        assertion_id = "_a" + secrets.token_hex(16)
        assertion = etree.fromstring(self.assertion(assertion_id))
        if self.sign:
            signer = XMLSigner(
                method=methods.enveloped,
                signature_algorithm=SignatureMethod.RSA_SHA256,
                digest_algorithm=DigestAlgorithm.SHA256,
                c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
            )
            signing = self.key or key
            assertion = signer.sign(
                assertion,
                key=signing.private_pem,
                cert=signing.cert_pem.decode(),
                reference_uri=assertion_id,
            )
        signed = etree.tostring(assertion).decode()
        if self.second_assertion:
            signed += self.assertion("_b" + secrets.token_hex(16))
        xml = (
            self.doctype + '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
            f'ID="_r{secrets.token_hex(16)}" IssueInstant="{_instant(self.issued)}" '
            f'Version="2.0" Destination="{self.recipient}">'
            '<saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">'
            f"{self.issuer}</saml:Issuer>"
            f'<samlp:Status><samlp:StatusCode Value="{self.status}"/></samlp:Status>'
            f"{signed}</samlp:Response>"
        )
        return base64.b64encode(xml.encode()).decode()


# -- the lab STS over moto's IAM, in this process --------------------------------------------


def _trust(condition: dict[str, Any] | None = None) -> str:
    # CLAIMS / "Creating a role for SAML 2.0 federation": the documented trust policy.
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Federated": PROVIDER},
        "Action": "sts:AssumeRoleWithSAML",
        "Condition": condition or {"StringEquals": {"SAML:aud": SIGNIN}},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@dataclass
class Lab:
    sts: StrictSts
    key: Key
    clock: list[datetime]

    def assume(
        self, saml: str, *, role: str = ROLE, provider: str = PROVIDER, duration: int | None = None
    ) -> bytes:
        params = {"RoleArn": role, "PrincipalArn": provider, "SAMLAssertion": saml}
        if duration is not None:
            params["DurationSeconds"] = str(duration)
        return self.sts.assume_role_with_saml(params)

    def refusal(self, saml: str, **kwargs: Any) -> tuple[str, str]:
        with pytest.raises(AwsError) as caught:
            self.assume(saml, **kwargs)
        return caught.value.code, caught.value.message


@pytest.fixture(scope="module")
def idp_key() -> Key:
    return make_key("example IdP")


@pytest.fixture(scope="module")
def stranger_key() -> Key:
    return make_key("not the IdP")


@pytest.fixture
def lab(idp_key: Key) -> Iterator[Lab]:
    from moto.iam.models import iam_backends

    # Only this account's IAM is set afresh: mock_aws() would reset every moto backend in
    # the process, including those of another test area's in-process moto server (30 s).
    iam = iam_backends[ACCOUNT]["aws"]
    iam.reset()
    try:
        iam.create_saml_provider("ExampleIdP", metadata_for(idp_key))
        for name, trust in (
            ("Federated", _trust()),
            ("NotAssigned", _trust()),
            (
                "RegionalAudience",
                _trust(
                    {"StringEquals": {"SAML:aud": "https://us-east-2.signin.aws.amazon.com/saml"}}
                ),
            ),
            ("OnlyJane", _trust({"StringEquals": {"SAML:sub": "jane@example.com"}})),
            (
                "ByNameQualifier",
                _trust({"StringEquals": {"SAML:namequalifier": _namequalifier()}}),
            ),
            ("Staff", _trust({"ForAnyValue:StringEquals": {"SAML:eduPersonAffiliation": "staff"}})),
        ):
            iam.create_role(name, trust, "/", None, "", [], "3600")
        clock = [NOW + timedelta(seconds=30)]
        yield Lab(
            sts=StrictSts(state_lock=threading.Lock(), clock=lambda: clock[0]),
            key=idp_key,
            clock=clock,
        )
    finally:
        iam.reset()


def _namequalifier() -> str:
    # KEYS: SAML:namequalifier = Base64(SHA1(issuer + AWS account ID + "/" + provider name)),
    # the formula AWS documents, written out here.
    seed = f"{ISSUER}{ACCOUNT}/ExampleIdP".encode()
    return base64.b64encode(hashlib.sha1(seed, usedforsecurity=False).digest()).decode()


def _role(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


# -- the cases ------------------------------------------------------------------------------

# (id, the response, the request's keyword arguments, expected: None accepted, or (code, message))
CASES: list[tuple[str, Response, dict[str, Any], tuple[str, str] | None]] = [
    ("CLAIMS a valid response: accepted", Response(), {}, None),
    (
        "CLAIMS Role value role first: either order",
        Response(roles=[f"{ROLE},{PROVIDER}"]),
        {},
        None,
    ),
    (
        "CLAIMS Role value with spaces around the comma",
        Response(roles=[f"{PROVIDER}, {ROLE}"]),
        {},
        None,
    ),
    (
        "CLAIMS several Role values: the requested pair is among them",
        Response(roles=[f"{PROVIDER},{OTHER_ROLE}", f"{PROVIDER},{ROLE}"]),
        {},
        None,
    ),
    (
        "CLAIMS the requested role is not in the Role attribute",
        Response(roles=[f"{PROVIDER},{OTHER_ROLE}"]),
        {},
        DENIED,
    ),
    (
        "CLAIMS a Role value that is not two ARNs",
        Response(roles=[ROLE]),
        {},
        (
            "InvalidIdentityToken",
            "Invalid SAML response: Role attribute value is not a role ARN and a provider ARN",
        ),
    ),
    (
        "CLAIMS a Role value pairing a provider of another account",
        Response(roles=[f"arn:aws:iam::444455556666:saml-provider/ExampleIdP,{ROLE}"]),
        {},
        (
            "InvalidIdentityToken",
            "Invalid SAML response: Role attribute value is not a role ARN and a provider ARN",
        ),
    ),
    ("CLAIMS no Role attribute", Response(roles=[]), {}, DENIED),
    (
        "CLAIMS regional Recipient https://us-east-2.signin.aws.amazon.com/saml",
        Response(recipient="https://us-east-2.signin.aws.amazon.com/saml"),
        {"role": _role("RegionalAudience")},
        None,
    ),
    (
        "KEYS SAML:aud is the Recipient: a regional trust policy, a global Recipient",
        Response(),
        {"role": _role("RegionalAudience")},
        DENIED,
    ),
    (
        "CLAIMS a Recipient that is not AWS",
        Response(recipient="https://evil.example/saml"),
        {},
        DENIED,
    ),
    (
        "CLAIMS the sign-in URL as Audience",
        Response(audience=SIGNIN),
        {},
        None,
    ),
    (
        "CLAIMS an Audience that is not AWS",
        Response(audience="https://app.example.com"),
        {},
        DENIED,
    ),
    (
        "CLAIMS the Issuer must be the provider's entity ID",
        Response(issuer="http://www.example.com/another"),
        {},
        ("InvalidIdentityToken", "Issuer not present in specified provider"),
    ),
    ("API an unsigned response", Response(sign=False), {}, SIGNATURE),
    (
        "CORE a non-Success status",
        Response(status="urn:oasis:names:tc:SAML:2.0:status:Requester"),
        {},
        ("InvalidIdentityToken", "Response status is not Success"),
    ),
    (
        "CORE NotOnOrAfter in the past",
        Response(issued=NOW - timedelta(minutes=20)),
        {},
        ("ExpiredTokenException", "Token is expired"),
    ),
    (
        "CORE NotBefore in the future",
        Response(issued=NOW + timedelta(minutes=30)),
        {},
        ("InvalidIdentityToken", "Token is not yet valid"),
    ),
    (
        "CLAIMS RoleSessionName missing",
        Response(session_name=[]),
        {},
        ("InvalidIdentityToken", "RoleSessionName is required in AuthnResponse"),
    ),
    (
        "CLAIMS RoleSessionName of one character (2-64 allowed)",
        Response(session_name=["j"]),
        {},
        ("InvalidIdentityToken", "RoleSessionName is required in AuthnResponse"),
    ),
    (
        "CLAIMS RoleSessionName with a space",
        Response(session_name=["jane doe"]),
        {},
        ("InvalidIdentityToken", "RoleSessionName is required in AuthnResponse"),
    ),
    (
        "CLAIMS RoleSessionName of 64 allowed characters",
        Response(session_name=["a+=,.@-_" * 8]),
        {},
        None,
    ),
    ("CLAIMS SessionDuration 43200", Response(session_duration=["43200"]), {}, None),
    (
        "CLAIMS SessionDuration 899",
        Response(session_duration=["899"]),
        {},
        (
            "InvalidIdentityToken",
            "Invalid SAML response: SessionDuration must be between 900 and 43200",
        ),
    ),
    (
        "CLAIMS SessionDuration 43201",
        Response(session_duration=["43201"]),
        {},
        (
            "InvalidIdentityToken",
            "Invalid SAML response: SessionDuration must be between 900 and 43200",
        ),
    ),
    ("API DurationSeconds 900", Response(), {"duration": 900}, None),
    (
        "API DurationSeconds over the role's MaxSessionDuration (3600)",
        Response(),
        {"duration": 3601},
        (
            "ValidationError",
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ),
    ),
    (
        "API DurationSeconds under 900",
        Response(),
        {"duration": 899},
        (
            "ValidationError",
            "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy "
            "constraint: Member must have value greater than or equal to 900",
        ),
    ),
    (
        "KEYS SAML:sub in the trust policy",
        Response(),
        {"role": _role("OnlyJane")},
        None,
    ),
    (
        "KEYS SAML:sub in the trust policy, another subject",
        Response(subject="john@example.com"),
        {"role": _role("OnlyJane")},
        DENIED,
    ),
    (
        "KEYS SAML:namequalifier as documented",
        Response(),
        {"role": _role("ByNameQualifier")},
        None,
    ),
    (
        "KEYS SAML:eduPersonAffiliation from urn:oid:1.3.6.1.4.1.5923.1.1.1.1",
        Response(
            extra_attributes=(
                '<saml:Attribute Name="urn:oid:1.3.6.1.4.1.5923.1.1.1.1">'
                "<saml:AttributeValue>member</saml:AttributeValue>"
                "<saml:AttributeValue>staff</saml:AttributeValue></saml:Attribute>"
            )
        ),
        {"role": _role("Staff")},
        None,
    ),
    ("KEYS no affiliation: the Staff role refuses", Response(), {"role": _role("Staff")}, DENIED),
    (
        "CORE a DTD in the response",
        Response(doctype='<!DOCTYPE r [<!ENTITY e "x">]>'),
        {},
        MALFORMED,
    ),
    (
        "PROF one Assertion only",
        Response(second_assertion=True),
        {},
        ("InvalidIdentityToken", "Invalid SAML response: expected one Assertion"),
    ),
]


@pytest.mark.parametrize(
    ("response", "request_args", "expected"),
    [pytest.param(r, a, e, id=name) for name, r, a, e in CASES],
)
def test_lab_sts_answers_as_aws_documents(
    lab: Lab, response: Response, request_args: dict[str, Any], expected: tuple[str, str] | None
) -> None:
    saml = response.build(lab.key)
    if expected is None:
        answer = etree.fromstring(lab.assume(saml, **request_args))
        ns = {"sts": "https://sts.amazonaws.com/doc/2011-06-15/"}
        assert answer.findtext(".//sts:Issuer", namespaces=ns) == response.issuer
        assert answer.findtext(".//sts:Audience", namespaces=ns) == response.recipient
        assert answer.findtext(".//sts:Subject", namespaces=ns) == response.subject
    else:
        assert lab.refusal(saml, **request_args) == expected


def test_signed_by_a_key_the_provider_does_not_hold(lab: Lab, stranger_key: Key) -> None:
    # API InvalidIdentityToken: the signature must verify with the provider's metadata key.
    saml = Response(key=stranger_key).build(lab.key)
    assert lab.refusal(saml) == SIGNATURE


def test_a_signed_value_changed_after_signing_is_refused(lab: Lab) -> None:
    xml = base64.b64decode(Response().build(lab.key)).replace(
        b"jane@example.com</saml:NameID>", b"john@example.com</saml:NameID>"
    )
    assert lab.refusal(base64.b64encode(xml).decode()) == SIGNATURE


def test_an_assertion_is_redeemed_once(lab: Lab) -> None:
    # PROF 4.1.4.5: bearer assertion IDs are single use while the assertion is valid.
    saml = Response().build(lab.key)
    lab.assume(saml)
    assert lab.refusal(saml) == (
        "InvalidIdentityToken",
        "Invalid SAML response: assertion has already been used",
    )


def test_subject_type_and_name_qualifier_in_the_answer(lab: Lab) -> None:
    # API response elements SubjectType ("persistent") and NameQualifier (KEYS formula).
    answer = etree.fromstring(lab.assume(Response().build(lab.key)))
    ns = {"sts": "https://sts.amazonaws.com/doc/2011-06-15/"}
    assert answer.findtext(".//sts:SubjectType", namespaces=ns) == "persistent"
    assert answer.findtext(".//sts:NameQualifier", namespaces=ns) == _namequalifier()
