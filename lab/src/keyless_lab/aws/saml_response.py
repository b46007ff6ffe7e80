"""The lab STS's reading of a SAML Response: its signature, then the signed claims.

Written from AWS's and OASIS's documents, not from keyless's verifier, so the
lab is an independent oracle for it:

- [API] AssumeRoleWithSAML, AWS STS API reference (errors; "The SAML assertion
  ... must be signed by the IdP"):
  https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithSAML.html
- [CLAIMS] Configure SAML assertions for the authentication response (IAM user
  guide: SubjectConfirmation, Recipient, Audience, the Role, RoleSessionName,
  SessionDuration, PrincipalTag and SourceIdentity attributes):
  https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_saml_assertions.html
- [KEYS] Mapping SAML attributes to AWS trust policy context keys (same page,
  #saml-attribute-mapping): SAML:aud is the Recipient, SAML:sub_type, SAML:doc,
  SAML:namequalifier = Base64(SHA1(issuer + account ID + "/" + provider name)).
- [CORE] SAML 2.0 core (2.4.1.2 SubjectConfirmationData, 2.5.1 Conditions and
  AudienceRestriction, 5 signatures: "the Reference ... MUST be a same-document
  reference to the ID of the enclosing element"):
  https://docs.oasis-open.org/security/saml/v2.0/saml-core-2.0-os.pdf
- [PROFILE] SAML 2.0 profiles 4.1.4.2/4.1.4.3 (the bearer SubjectConfirmation
  of Web Browser SSO; "the assertion ID ... single use"):
  https://docs.oasis-open.org/security/saml/v2.0/saml-profiles-2.0-os.pdf

The signature is verified with signxml against the provider's metadata
certificates only (never the document's KeyInfo), and only the element signxml
returns as ``signed_xml`` — the canonical bytes the signature covered,
re-parsed — is read afterwards.

Every refusal is an :class:`~keyless_lab.aws.errors.AwsError` with the code
and message the lab has always answered with (``lab/tests/lab_aws`` pins them).
"""

from __future__ import annotations

import base64
import functools
import importlib.resources
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography import x509
from lxml import etree
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import SignXMLException
from signxml.verifier import SignatureConfiguration, XMLVerifier

from keyless_lab.aws.errors import AwsError
from keyless_lab.aws.saml_provider import (
    DS,
    SAML,
    SAMLP,
    ProviderMetadata,
    UnsafeXml,
    parse_instant,
    parse_untrusted,
    safe_parser,
    text_of,
)

# -- the answers ----------------------------------------------------------------------------

NOT_AUTHORIZED = "Not authorized to perform sts:AssumeRoleWithSAML"


def signature_invalid() -> AwsError:
    return AwsError("InvalidIdentityToken", "Response signature invalid")


def malformed() -> AwsError:
    return AwsError("InvalidIdentityToken", "Invalid SAML response: malformed XML")


def access_denied() -> AwsError:
    return AwsError("AccessDenied", NOT_AUTHORIZED)


# -- what AWS accepts -------------------------------------------------------------------------

# [CLAIMS] Recipient: "https://region-code.signin.aws.amazon.com/saml" (the region
# optional: the global endpoint), and /static/saml; the other partitions' sign-in
# hosts the same way (AWS Sign-In endpoints,
# https://docs.aws.amazon.com/general/latest/gr/signin-service.html).
_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}"
_SIGNIN_HOSTS = r"signin\.aws\.amazon\.com|signin\.amazonaws-us-gov\.com|signin\.amazonaws\.cn"
RECIPIENT = re.compile(rf"https://(?:{_REGION}\.)?(?:{_SIGNIN_HOSTS})/(?:static/)?saml")
# [CLAIMS] Audience: "urn:amazon:webservices", or the sign-in URL the response is posted to.
AUDIENCE_URN = "urn:amazon:webservices"

BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"

ATTRIBUTES = "https://aws.amazon.com/SAML/Attributes/"
ROLE = ATTRIBUTES + "Role"
SESSION_NAME = ATTRIBUTES + "RoleSessionName"
SESSION_DURATION = ATTRIBUTES + "SessionDuration"
PRINCIPAL_TAG = ATTRIBUTES + "PrincipalTag:"
TRANSITIVE_TAG_KEYS = ATTRIBUTES + "TransitiveTagKeys"
SOURCE_IDENTITY = ATTRIBUTES + "SourceIdentity"

# [CLAIMS] RoleSessionName: "2-64 characters ... alphanumeric, underscores and +=,.@-".
SESSION_NAME_RE = re.compile(r"[A-Za-z0-9_+=,.@-]{2,64}")
# [CLAIMS] SessionDuration: "an integer ... from 900 seconds (15 minutes) to 43200 seconds".
SESSION_DURATION_RANGE = range(900, 43200 + 1)
# [CLAIMS] SourceIdentity: one value, "at least 2 characters and at most 64", the
# characters of RoleSessionName; [AR] "You cannot use a value that begins with the
# text aws:. This prefix is reserved for AWS internal use."
SOURCE_IDENTITY_RE = re.compile(r"[A-Za-z0-9_+=,.@-]{2,64}")

# [API] "Token must be redeemed within 5 minutes of issuance" is the refusal the lab
# answers for an older assertion; the same five minutes are allowed for clock skew
# on either side of the validity window.
MAX_AGE = timedelta(minutes=5)
CLOCK_SKEW = timedelta(minutes=5)

# IAM ARNs of the kinds a Role value pairs: arn:<partition>:iam::<account>:role/<path+name>
# and ...:saml-provider/<name> (IAM identifiers,
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html).
IAM_ARN = re.compile(
    r"arn:(?P<partition>aws|aws-us-gov|aws-cn):iam::(?P<account>\d{12}):"
    r"(?P<kind>role|saml-provider)/(?P<name>[\w+=,.@/-]{1,512})",
    re.ASCII,
)

# -- the signature ----------------------------------------------------------------------------

_ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
_EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
_INCLUSIVE = "{" + _EXC_C14N + "}InclusiveNamespaces"
_SIGNATURE_METHODS = frozenset(
    {SignatureMethod.RSA_SHA256, SignatureMethod.RSA_SHA384, SignatureMethod.RSA_SHA512}
)
_DIGESTS = frozenset({DigestAlgorithm.SHA256, DigestAlgorithm.SHA384, DigestAlgorithm.SHA512})
_PREFIX = re.compile(r"#default|[A-Za-z_][\w.-]*")
_ID_NAMES = ("ID", "Id", "id")


class _Verifier(XMLVerifier):
    """signxml's verifier, whose XML-DSig schema check also knows ec:InclusiveNamespaces.

    XML-DSig lets ``CanonicalizationMethod`` hold elements of any namespace,
    validated strictly, and signxml ships no schema for exclusive C14N's one
    parameter, so it refuses the ``InclusiveNamespaces`` that Okta, xmlsec and
    signxml's own signer put there (while honouring it when it canonicalizes).
    One more schema, tried before signxml's, declares it (Exclusive XML
    Canonicalization 1.0, section 3, https://www.w3.org/TR/xml-exc-c14n/).
    """

    @classmethod
    def schemas(cls) -> list[etree.XMLSchema]:
        theirs: list[etree.XMLSchema] = XMLVerifier.schemas()  # type: ignore[no-untyped-call]
        return [_exc_c14n_schema(), *theirs]


@functools.cache
def _exc_c14n_schema() -> etree.XMLSchema:
    dsig = importlib.resources.files("signxml.schemas") / "xmldsig-core-schema.xsd"
    xsd = "http://www.w3.org/2001/XMLSchema"
    schema = etree.Element(
        f"{{{xsd}}}schema",
        nsmap={"xs": xsd},
        targetNamespace=_EXC_C14N,
        elementFormDefault="qualified",
    )
    etree.SubElement(
        schema,
        f"{{{xsd}}}import",
        namespace="http://www.w3.org/2000/09/xmldsig#",
        schemaLocation=str(dsig),
    )
    element = etree.SubElement(schema, f"{{{xsd}}}element", name="InclusiveNamespaces")
    kind = etree.SubElement(element, f"{{{xsd}}}complexType")
    # The PrefixList may name "#default", which is no NMTOKEN: typed as a string,
    # its form is checked by _inclusive_namespaces_ok before signxml sees it.
    etree.SubElement(
        kind, f"{{{xsd}}}attribute", name="PrefixList", type="xs:string", use="required"
    )
    return etree.XMLSchema(schema)


def _inclusive_namespaces_ok(holder: etree._Element) -> bool:
    """Exclusive C14N's only parameter, and nothing else, in a Transform or C14N method."""
    children = list(holder)
    if text_of(holder) and not children:
        return False
    if not children:
        return True
    if len(children) != 1 or children[0].tag != _INCLUSIVE or len(children[0]):
        return False
    if (holder.text or "").strip() or (children[0].tail or "").strip():
        return False
    only = children[0]
    if set(only.attrib) != {"PrefixList"}:
        return False
    prefixes = only.get("PrefixList") or ""
    # One reading only: single spaces between prefixes (xmlsec splits on any
    # whitespace, signxml on one space; a list they would read apart is refused).
    return bool(prefixes) and all(_PREFIX.fullmatch(p) for p in prefixes.split(" "))


def _form_ok(holder: etree._Element, signature: etree._Element) -> bool:
    """The Signature says what a SAML signature says, and nothing signxml could be led by.

    [CORE 5.4]: one Reference, to the ID of the element holding the signature;
    enveloped-signature and exclusive C14N transforms only; no XPath or XSLT.
    RSA with SHA-2 only: SHA-1 is forgeable and the lab refuses it.
    """
    signed_info = signature.find(DS + "SignedInfo")
    if signed_info is None:
        return False
    references = signed_info.findall(DS + "Reference")
    if len(references) != 1 or references[0].get("URI") != "#" + (holder.get("ID") or ""):
        return False
    c14n = signed_info.find(DS + "CanonicalizationMethod")
    if c14n is None or c14n.get("Algorithm") != _EXC_C14N or not _inclusive_namespaces_ok(c14n):
        return False
    method = signed_info.find(DS + "SignatureMethod")
    if method is None or method.get("Algorithm") not in {m.value for m in _SIGNATURE_METHODS}:
        return False
    if len(method) or text_of(method):
        return False
    reference = references[0]
    for transform in reference.iterfind(f"{DS}Transforms/{DS}Transform"):
        algorithm = transform.get("Algorithm")
        if algorithm == _ENVELOPED:
            if len(transform) or text_of(transform):
                return False
        elif algorithm != _EXC_C14N or not _inclusive_namespaces_ok(transform):
            return False
    digest = reference.find(DS + "DigestMethod")
    return (
        digest is not None
        and digest.get("Algorithm") in {d.value for d in _DIGESTS}
        and not len(digest)
        and not text_of(digest)
    )


def _verified_copy(
    root: etree._Element, location: str, certificates: Sequence[x509.Certificate]
) -> etree._Element:
    """signxml's ``signed_xml`` for the Signature at ``location``, by a metadata key."""
    for certificate in certificates:
        config = SignatureConfiguration(
            location=location,
            expect_references=1,
            signature_methods=_SIGNATURE_METHODS,
            digest_algorithms=_DIGESTS,
            # The key is what is trusted, as AWS trusts the provider's key whatever
            # the certificate's dates say: check at a moment it is valid.
            verification_time=certificate.not_valid_before_utc,
        )
        try:
            result = _Verifier().verify(
                root, x509_cert=certificate, expect_config=config, parser=safe_parser()
            )
        except SignXMLException:
            continue
        signed = getattr(result, "signed_xml", None)
        if isinstance(signed, etree._Element):
            return signed
    raise signature_invalid()


@dataclass(frozen=True)
class Signed:
    """What the signatures covered (the Assertion), and the Response's status.

    The status is read from the signed Response when the Response is signed, else
    from the document: it can only refuse, never grant.
    """

    assertion: etree._Element
    status: str | None


def check_shape(root: etree._Element) -> etree._Element:
    """The one Assertion of a well-shaped Response, before any signature is looked at.

    Each XML signature-wrapping variant needs a second Assertion, an Assertion
    elsewhere than under the Response, a Signature elsewhere, or an ID used
    twice; none of those is in a response any IdP sends, so all are refused.
    """
    if root.tag != SAMLP + "Response":
        raise malformed()
    if next(root.iter(SAML + "EncryptedAssertion"), None) is not None:
        # [CLAIMS] AWS can decrypt for a provider with a private key; the lab's providers have none.
        raise malformed()
    assertions = list(root.iter(SAML + "Assertion"))
    if len(assertions) != 1:
        if not assertions:
            raise malformed()
        raise AwsError("InvalidIdentityToken", "Invalid SAML response: expected one Assertion")
    assertion = assertions[0]
    if assertion.getparent() is not root:
        raise signature_invalid()
    for signature in root.iter(DS + "Signature"):
        if signature.getparent() not in (root, assertion):
            raise signature_invalid()
    if len(root.findall(DS + "Signature")) > 1 or len(assertion.findall(DS + "Signature")) > 1:
        raise signature_invalid()
    seen: set[str] = set()
    for element in root.iter(etree.Element):
        for name in _ID_NAMES:
            value = element.get(name)
            if value is None:
                continue
            if value in seen:
                raise signature_invalid()
            seen.add(value)
    if not root.get("ID") or not assertion.get("ID"):
        raise malformed()
    return assertion


def verify_signatures(document: bytes, metadata: ProviderMetadata) -> Signed:
    """Parse, check the shape, verify every Signature; return only what they covered.

    [API] InvalidIdentityToken "Response signature invalid" for an unsigned
    response, a signature by any key but the provider's, or content changed
    after signing.
    """
    try:
        root = parse_untrusted(document)
    except UnsafeXml as exc:
        raise malformed() from exc
    assertion = check_shape(root)
    holders = [
        (root, "./"),
        (assertion, f"./{SAML}Assertion/"),
    ]
    present = [(h, loc) for h, loc in holders if h.find(DS + "Signature") is not None]
    if not present:
        raise signature_invalid()
    covered: dict[str, etree._Element] = {}
    for holder, location in present:
        signature = holder.find(DS + "Signature")
        assert signature is not None
        if not _form_ok(holder, signature):
            raise signature_invalid()
        signed = _verified_copy(root, location, metadata.certificates)
        if signed.tag != holder.tag or signed.get("ID") != holder.get("ID"):
            raise signature_invalid()
        covered[holder.tag] = signed
    signed_response = covered.get(SAMLP + "Response")
    signed_assertion = covered.get(SAML + "Assertion")
    if signed_assertion is None:
        assert signed_response is not None
        inner = signed_response.findall(SAML + "Assertion")
        if len(inner) != 1 or inner[0].get("ID") != assertion.get("ID"):
            raise signature_invalid()
        signed_assertion = inner[0]
    status_holder = signed_response if signed_response is not None else root
    status = status_holder.find(f"{SAMLP}Status/{SAMLP}StatusCode")
    return Signed(
        assertion=signed_assertion, status=status.get("Value") if status is not None else None
    )


# -- the claims -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RolePair:
    """One Role value: the role, and the SAML provider to trust for it."""

    role_arn: str
    provider_arn: str


@dataclass(frozen=True)
class Claims:
    """What a signed Assertion says, as STS uses it."""

    assertion_id: str
    issuer: str
    subject: str
    subject_format: str | None
    recipient: str
    issue_instant: datetime
    not_on_or_after: datetime
    roles: tuple[RolePair, ...]
    session_name: str
    session_duration: int | None
    principal_tags: dict[str, str] = field(default_factory=dict)
    transitive_tag_keys: tuple[str, ...] = ()
    source_identity: str | None = None
    attributes: dict[str, tuple[str, ...]] = field(default_factory=dict)


def read_role(value: str) -> RolePair | None:
    """A Role value: a role ARN and a SAML provider ARN, comma-separated, in either order.

    [CLAIMS] "Each [Role] value consists of a role ARN and a SAML provider ARN,
    separated by a comma"; Okta writes the provider first, the AWS example the
    role first. Both must be in one account and partition: a role can only
    trust a provider of its own account.
    """
    parts = [part.strip() for part in value.split(",")]
    if len(parts) != 2:
        return None
    found = [IAM_ARN.fullmatch(part) for part in parts]
    if found[0] is None or found[1] is None:
        return None
    by_kind = {m["kind"]: m for m in found if m is not None}
    if set(by_kind) != {"role", "saml-provider"}:
        return None
    role, provider = by_kind["role"], by_kind["saml-provider"]
    if (role["partition"], role["account"]) != (provider["partition"], provider["account"]):
        return None
    return RolePair(role_arn=role.group(0), provider_arn=provider.group(0))


def _attributes(assertion: etree._Element) -> dict[str, tuple[str, ...]]:
    found: dict[str, tuple[str, ...]] = {}
    for attribute in assertion.iterfind(f"{SAML}AttributeStatement/{SAML}Attribute"):
        name = attribute.get("Name") or ""
        values = tuple(text_of(v) for v in attribute.iterfind(SAML + "AttributeValue"))
        found[name] = found.get(name, ()) + values
    return found


def _instant(element: etree._Element | None, name: str) -> datetime | None:
    raw = element.get(name) if element is not None else None
    if raw is None:
        return None
    try:
        return parse_instant(raw)
    except ValueError:
        raise malformed() from None


def read_claims(signed: Signed, metadata: ProviderMetadata, now: datetime) -> Claims:
    """Check the signed content as STS does, in its order; the claims, or the refusal."""
    # [CORE 3.2.2.2] a Response whose StatusCode is not Success carries no authentication.
    if signed.status != SUCCESS:
        raise AwsError("InvalidIdentityToken", "Response status is not Success")
    assertion = signed.assertion

    # [CLAIMS] the Issuer must be the provider's entity ID.
    issuer = text_of(assertion.find(SAML + "Issuer"))
    if issuer != metadata.entity_id:
        raise AwsError("InvalidIdentityToken", "Issuer not present in specified provider")
    issue_instant = _instant(assertion, "IssueInstant")
    name_id = assertion.find(f"{SAML}Subject/{SAML}NameID")
    subject = text_of(name_id)
    if issue_instant is None or name_id is None or not subject:
        raise malformed()

    # [CLAIMS] "exactly one SubjectConfirmation element with a SubjectConfirmationData
    # element that includes both the NotOnOrAfter attribute and a Recipient attribute";
    # the method is bearer [PROFILE 4.1.4.2].
    confirmations = assertion.findall(f"{SAML}Subject/{SAML}SubjectConfirmation")
    bearer = [c for c in confirmations if c.get("Method") == BEARER]
    if not bearer:
        raise AwsError("InvalidIdentityToken", "Invalid SAML response: no bearer confirmation")
    if len(confirmations) != 1:
        raise malformed()
    data = bearer[0].find(SAML + "SubjectConfirmationData")
    recipient = (data.get("Recipient") or "").strip() if data is not None else ""
    if not RECIPIENT.fullmatch(recipient):
        raise access_denied()
    confirmation_expiry = _instant(data, "NotOnOrAfter")
    if confirmation_expiry is None:
        raise malformed()

    # [CORE 2.5.1.4] every AudienceRestriction must name us; [CLAIMS] the audience is
    # urn:amazon:webservices or the sign-in URL.
    conditions = assertion.find(SAML + "Conditions")
    restrictions = (
        conditions.findall(SAML + "AudienceRestriction") if conditions is not None else []
    )
    if not restrictions:
        raise access_denied()
    for restriction in restrictions:
        audiences = [text_of(a) for a in restriction.iterfind(SAML + "Audience")]
        if not any(a == AUDIENCE_URN or RECIPIENT.fullmatch(a) for a in audiences):
            raise access_denied()

    # [CORE 2.5.1.2] valid from NotBefore (and not before it was issued) until the
    # earliest NotOnOrAfter; the lab allows CLOCK_SKEW either side.
    not_before = _instant(conditions, "NotBefore")
    expiries = [t for t in (confirmation_expiry, _instant(conditions, "NotOnOrAfter")) if t]
    not_on_or_after = min(expiries)
    if now >= not_on_or_after + CLOCK_SKEW:
        raise AwsError("ExpiredTokenException", "Token is expired")
    start = max(t for t in (not_before, issue_instant) if t is not None)
    if now + CLOCK_SKEW < start:
        raise AwsError("InvalidIdentityToken", "Token is not yet valid")
    if now - issue_instant > MAX_AGE:
        raise AwsError(
            "ExpiredTokenException", "Token must be redeemed within 5 minutes of issuance"
        )

    attributes = _attributes(assertion)
    role_values = attributes.get(ROLE, ())
    if not role_values:
        raise access_denied()
    roles: list[RolePair] = []
    for value in role_values:
        pair = read_role(value)
        if pair is None:
            raise AwsError(
                "InvalidIdentityToken",
                "Invalid SAML response: Role attribute value is not a role ARN and a provider ARN",
            )
        if pair not in roles:
            roles.append(pair)
    # One assertion serves one partition: its sign-in endpoint is the partition's.
    if len({p.role_arn.split(":", 2)[1] for p in roles}) > 1:
        raise AwsError(
            "InvalidIdentityToken",
            "Invalid SAML response: Role attribute value is not a role ARN and a provider ARN",
        )

    names = attributes.get(SESSION_NAME, ())
    if len(names) != 1 or not SESSION_NAME_RE.fullmatch(names[0]):
        raise AwsError("InvalidIdentityToken", "RoleSessionName is required in AuthnResponse")

    session_duration: int | None = None
    durations = attributes.get(SESSION_DURATION, ())
    if durations:
        raw = durations[0]
        if len(durations) != 1 or not raw.isdigit() or int(raw) not in SESSION_DURATION_RANGE:
            raise AwsError(
                "InvalidIdentityToken",
                "Invalid SAML response: SessionDuration must be between 900 and 43200",
            )
        session_duration = int(raw)

    source_identities = attributes.get(SOURCE_IDENTITY, ())
    if source_identities and (
        len(source_identities) != 1
        or not SOURCE_IDENTITY_RE.fullmatch(source_identities[0])
        or source_identities[0].lower().startswith("aws:")
    ):
        raise AwsError(
            "InvalidIdentityToken",
            "Invalid SAML response: SourceIdentity must be one value of 2-64 characters "
            "(letters, digits and _+=,.@-), not starting with aws:",
        )

    return Claims(
        assertion_id=assertion.get("ID") or "",
        issuer=issuer,
        subject=subject,
        subject_format=name_id.get("Format"),
        recipient=recipient,
        issue_instant=issue_instant,
        not_on_or_after=not_on_or_after,
        roles=tuple(roles),
        session_name=names[0],
        session_duration=session_duration,
        principal_tags={
            name[len(PRINCIPAL_TAG) :]: values[0]
            for name, values in attributes.items()
            if name.startswith(PRINCIPAL_TAG) and values
        },
        transitive_tag_keys=attributes.get(TRANSITIVE_TAG_KEYS, ()),
        source_identity=next(iter(attributes.get(SOURCE_IDENTITY, ())), None),
        attributes=attributes,
    )


def decode_assertion(value: str) -> bytes:
    """The SAMLAssertion parameter: "The base64 encoded SAML authentication response" [API]."""
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except ValueError:
        raise malformed() from None
