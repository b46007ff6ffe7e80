"""Stage 3: each Signature's form, then its value against the metadata's certificates.

The form check refuses what signxml would not refuse on its own: a Reference
to anything but the element holding the Signature, transforms other than
enveloped-signature and exclusive C14N (with at most its InclusiveNamespaces
parameter), weak or MAC algorithms. Then signxml verifies the signature with
each metadata certificate, never the document's KeyInfo; what it returns as
``signed_xml`` (the canonicalized, re-parsed bytes the signature covered) is
the only content the later stages read.
"""

from __future__ import annotations

import base64
import functools
import importlib.resources
import re
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from lxml import etree
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidDigest, InvalidSignature, SignXMLException
from signxml.verifier import SignatureConfiguration, XMLVerifier

from keyless.saml.metadata import IdpMetadata, certificate_fingerprint
from keyless.saml.model import Reason, make_reason
from keyless.saml.verify.common import FIX_FORGED
from keyless.saml.xmlsafe import DS, SAML

ALG_ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
ALG_EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
INCLUSIVE_NAMESPACES = "{" + ALG_EXC_C14N + "}InclusiveNamespaces"
# An XML namespace prefix (NCName), ASCII letters and the usual punctuation: what
# IdPs put in a PrefixList ("xs", "xsi", "saml2"); anything else is refused.
_NCNAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")

_STRONG_SIGNATURES = frozenset(
    {SignatureMethod.RSA_SHA256, SignatureMethod.RSA_SHA384, SignatureMethod.RSA_SHA512}
)
_STRONG_DIGESTS = frozenset(
    {DigestAlgorithm.SHA256, DigestAlgorithm.SHA384, DigestAlgorithm.SHA512}
)


@dataclass
class Signatures:
    """The signature stage's findings: reasons, and the signed copies it verified."""

    reasons: list[Reason] = field(default_factory=list)
    trusted_assertion: etree._Element | None = None
    trusted_response: etree._Element | None = None
    signed: list[str] = field(default_factory=list)
    algorithms: list[str] = field(default_factory=list)

    @property
    def signed_element(self) -> str:
        return "both" if len(self.signed) == 2 else (self.signed[0] if self.signed else "none")


def verify_signatures(
    root: etree._Element,
    assertion: etree._Element,
    metadata: IdpMetadata,
    unsafe_allow_sha1: bool,
) -> Signatures:
    result = Signatures()
    holders = [
        ("response", root, "./"),
        ("assertion", assertion, f"./{SAML}Assertion/"),
    ]
    present = [(label, h, loc) for label, h, loc in holders if h.find(DS + "Signature") is not None]
    if not present:
        result.reasons.append(
            make_reason(
                "unsigned",
                "neither the Response nor the Assertion is signed",
                "configure the IdP to sign the assertion (Okta signs it by default); "
                "AWS refuses unsigned responses",
            )
        )
        return result
    verified: dict[str, etree._Element] = {}
    for label, holder, location in present:
        signature = holder.find(DS + "Signature")
        assert signature is not None
        problems = _check_signature_form(label, holder, signature, unsafe_allow_sha1)
        if problems:
            result.reasons.extend(problems)
            continue
        signed_xml, problem = _verify_with_metadata(
            label, root, signature, location, metadata, unsafe_allow_sha1
        )
        if problem is not None:
            result.reasons.append(problem)
            continue
        assert signed_xml is not None
        if signed_xml.tag != holder.tag or signed_xml.get("ID") != holder.get("ID"):
            result.reasons.append(
                make_reason(
                    "signature_reference_invalid",
                    f"the {label} signature covers {signed_xml.tag}, not the {label}",
                    FIX_FORGED,
                )
            )
            continue
        verified[label] = signed_xml
        result.signed.append(label)
        method = signature.find(f"{DS}SignedInfo/{DS}SignatureMethod")
        algorithm = (method.get("Algorithm") if method is not None else None) or ""
        result.algorithms.append(algorithm.rsplit("#", 1)[-1])

    if "response" in verified:
        result.trusted_response = verified["response"]
    if "assertion" in verified:
        result.trusted_assertion = verified["assertion"]
    elif "response" in verified:
        inner = verified["response"].findall(SAML + "Assertion")
        # The shape check saw one Assertion; the signed copy must agree.
        if len(inner) == 1 and inner[0].get("ID") == assertion.get("ID"):
            result.trusted_assertion = inner[0]
    return result


def _check_signature_form(
    label: str, holder: etree._Element, signature: etree._Element, unsafe_allow_sha1: bool
) -> list[Reason]:
    """What signxml would not refuse on its own: reference target, transforms, algorithms."""
    problems: list[Reason] = []
    signed_info = signature.find(DS + "SignedInfo")
    if signed_info is None:
        return [
            make_reason("signature_invalid", f"the {label} Signature has no SignedInfo", FIX_FORGED)
        ]
    references = signed_info.findall(DS + "Reference")
    expected = "#" + (holder.get("ID") or "")
    if len(references) != 1:
        problems.append(
            make_reason(
                "signature_reference_invalid",
                f"the {label} Signature has {len(references)} References; exactly one, to the "
                f"{label} itself, is accepted",
                FIX_FORGED,
            )
        )
    elif references[0].get("URI") != expected:
        problems.append(
            make_reason(
                "signature_reference_invalid",
                f"the {label} Signature's Reference points at {references[0].get('URI')!r}, "
                f"not at the element holding it ({expected!r}); a signature over something "
                "else says nothing about this element",
                FIX_FORGED,
            )
        )
    c14n = signed_info.find(DS + "CanonicalizationMethod")
    c14n_alg = c14n.get("Algorithm") if c14n is not None else None
    if c14n_alg != ALG_EXC_C14N:
        problems.append(
            make_reason(
                "transform_forbidden",
                f"the {label} Signature canonicalizes SignedInfo with {c14n_alg!r}; only "
                f"exclusive C14N ({ALG_EXC_C14N}) is accepted",
                "configure the IdP to sign with exclusive canonicalization (the SAML default)",
            )
        )
    elif c14n is not None and (problem := _exc_c14n_parameters(c14n)):
        problems.append(
            make_reason(
                "transform_forbidden",
                f"the {label} Signature's CanonicalizationMethod {problem}",
                FIX_FORGED,
            )
        )
    for reference in references:
        for transform in reference.iterfind(f"{DS}Transforms/{DS}Transform"):
            algorithm = transform.get("Algorithm")
            if algorithm not in (ALG_ENVELOPED, ALG_EXC_C14N):
                problems.append(
                    make_reason(
                        "transform_forbidden",
                        f"the {label} Signature applies the transform {algorithm!r}; only "
                        "enveloped-signature and exclusive C14N are accepted (XSLT and XPath "
                        "transforms are never run)",
                        FIX_FORGED,
                    )
                )
                continue
            problem = (
                _exc_c14n_parameters(transform)
                if algorithm == ALG_EXC_C14N
                else _no_parameters(transform)
            )
            if problem:
                problems.append(
                    make_reason(
                        "transform_forbidden",
                        f"the {label} Signature's {algorithm.rsplit('#', 1)[-1]} transform "
                        f"{problem}",
                        FIX_FORGED,
                    )
                )
        digest = reference.find(DS + "DigestMethod")
        problems.extend(_check_algorithm(label, digest, "digest", unsafe_allow_sha1))
    method = signed_info.find(DS + "SignatureMethod")
    problems.extend(_check_algorithm(label, method, "signature", unsafe_allow_sha1))
    return problems


def _no_parameters(element: etree._Element) -> str | None:
    """Why ``element`` (a transform that takes no parameters) is refused, if it is."""
    if len(element) or (element.text or "").strip():
        return "carries content, and it takes none"
    return None


def _exc_c14n_parameters(element: etree._Element) -> str | None:
    """Why an exclusive-C14N Transform or CanonicalizationMethod is refused, if it is.

    Its one parameter is ``ec:InclusiveNamespaces PrefixList="..."`` (Exclusive
    XML Canonicalization 1.0, section 3): the prefixes it lists are rendered as
    inclusive C14N would. xmlsec1 and signxml both honour it, and Okta and most
    xmlsec-based IdPs send ``PrefixList="xs"`` so that ``xsi:type="xs:string"``
    keeps its namespace. Anything else inside (other elements, text, comments,
    other attributes, a second InclusiveNamespaces) is refused: a verifier that
    ignored it would check a different canonical form than the signer meant.
    """
    children = list(element)
    if (element.text or "").strip() or any((c.tail or "").strip() for c in children):
        return "carries text, and it takes none"
    if not children:
        return None
    if len(children) > 1 or children[0].tag != INCLUSIVE_NAMESPACES:
        found = ", ".join(
            etree.QName(c).text if isinstance(c.tag, str) else "a comment or PI" for c in children
        )
        return (
            f"carries {found}; only one ec:InclusiveNamespaces ({ALG_EXC_C14N}) is accepted there"
        )
    inclusive = children[0]
    if len(inclusive) or (inclusive.text or "").strip():
        return "has content inside ec:InclusiveNamespaces, which takes none"
    names = {str(name) for name in inclusive.attrib}
    if names != {"PrefixList"}:
        extra = ", ".join(sorted(names - {"PrefixList"})) or "no PrefixList"
        return f"has ec:InclusiveNamespaces with {extra}; only a PrefixList attribute is accepted"
    prefix_list = inclusive.get("PrefixList") or ""
    # signxml splits the list on single spaces, xmlsec1 on any whitespace: a list
    # they would read differently (empty, doubled or other whitespace) is refused.
    if not prefix_list or prefix_list != " ".join(prefix_list.split()):
        return f"has PrefixList {prefix_list!r}; expected prefixes separated by single spaces"
    for prefix in prefix_list.split(" "):
        if prefix != "#default" and not _NCNAME.fullmatch(prefix):
            return f"lists {prefix!r} in PrefixList, which is not a namespace prefix"
    return None


def _check_algorithm(
    label: str, element: etree._Element | None, kind: str, unsafe_allow_sha1: bool
) -> list[Reason]:
    algorithm = (element.get("Algorithm") if element is not None else None) or ""
    strong: frozenset[Any] = _STRONG_SIGNATURES if kind == "signature" else _STRONG_DIGESTS
    name = algorithm.rsplit("#", 1)[-1] or "(none)"
    if algorithm in {a.value for a in strong}:
        if element is not None and (problem := _no_parameters(element)):
            # RSA and SHA-2 take no parameters: whatever is inside was not put there
            # by a signer, and no verifier should be asked to read it.
            return [
                make_reason(
                    "algorithm_forbidden",
                    f"the {label} Signature's {kind} method {name} {problem}",
                    FIX_FORGED,
                )
            ]
        return []
    if algorithm in (SignatureMethod.RSA_SHA1.value, DigestAlgorithm.SHA1.value):
        if unsafe_allow_sha1:
            return []
        return [
            make_reason(
                "weak_algorithm",
                f"the {label} Signature uses the {kind} algorithm {name} (SHA-1), which is "
                "forgeable; keyless refuses it like a careful verifier should",
                "configure the IdP to sign with RSA-SHA256 (Okta: the AWS app's Sign On "
                "settings); --unsafe-allow-sha1 accepts it for diagnosis only",
            )
        ]
    if "hmac" in algorithm.lower() or (element is not None and len(element)):
        return [
            make_reason(
                "algorithm_forbidden",
                f"the {label} Signature uses {name}, a shared-secret MAC: anyone holding the "
                "secret can forge it, and AWS trusts only the metadata certificate",
                FIX_FORGED,
            )
        ]
    return [
        make_reason(
            "algorithm_forbidden",
            f"the {label} Signature uses the {kind} algorithm {algorithm or '(none)'}; accepted "
            "are RSA with SHA-256, SHA-384 or SHA-512",
            "configure the IdP to sign with RSA-SHA256",
        )
    ]


def _verify_with_metadata(
    label: str,
    root: etree._Element,
    signature: etree._Element,
    location: str,
    metadata: IdpMetadata,
    unsafe_allow_sha1: bool,
) -> tuple[etree._Element | None, Reason | None]:
    """Verify one Signature with each metadata certificate; diagnose a failure."""
    signature_methods: frozenset[SignatureMethod] = _STRONG_SIGNATURES
    digests: frozenset[DigestAlgorithm] = _STRONG_DIGESTS
    if unsafe_allow_sha1:
        signature_methods |= {SignatureMethod.RSA_SHA1}
        digests |= {DigestAlgorithm.SHA1}
    last_error = ""
    for certificate in metadata.certificates:
        try:
            outcome = _signxml_verify(root, certificate, location, signature_methods, digests)
        except InvalidDigest as exc:
            # The signature value matched this certificate but the content changed.
            return None, make_reason(
                "signature_invalid",
                f"the {label} was changed after it was signed: {exc}",
                FIX_FORGED,
            )
        except InvalidSignature as exc:
            last_error = str(exc)
            continue
        except (SignXMLException, etree.LxmlError, ValueError, KeyError, TypeError) as exc:
            return None, make_reason(
                "signature_invalid",
                f"the {label} Signature cannot be verified: {exc}",
                FIX_FORGED,
            )
        return outcome, None

    embedded = _embedded_certificate(signature)
    fingerprints = ", ".join(metadata.fingerprints())
    if embedded is not None and embedded not in metadata.certificates:
        signed_by_embedded = True
        try:
            _signxml_verify(root, embedded, location, signature_methods, digests)
        except InvalidDigest:
            pass
        except (SignXMLException, etree.LxmlError, ValueError, KeyError, TypeError):
            signed_by_embedded = False
        if signed_by_embedded:
            subject = embedded.subject.rfc4514_string()
            fingerprint = certificate_fingerprint(embedded)
            return None, make_reason(
                "wrong_certificate",
                f"the {label} is signed by a key whose certificate ({subject}, SHA-256 "
                f"{fingerprint}) is not in the IdP metadata of {metadata.entity_id} "
                f"(which trusts {fingerprints}); the certificate inside the document is "
                "never trusted",
                "if the IdP rotated its signing certificate, upload its new metadata to the "
                "IAM SAML provider (keyless apply); if you do not know this certificate, the "
                "response is forged",
            )
    return None, make_reason(
        "signature_invalid",
        f"the {label} signature does not verify with any certificate in the metadata of "
        f"{metadata.entity_id} ({fingerprints}): {last_error}",
        "if the IdP rotated its signing certificate, upload its new metadata to the IAM SAML "
        "provider; otherwise the response was altered or forged",
    )


class _Verifier(XMLVerifier):
    """signxml's verifier, whose schema check also knows ec:InclusiveNamespaces.

    The XML-DSig schema lets CanonicalizationMethod hold any element, strictly
    validated, and signxml loads no schema for the exclusive-C14N namespace, so
    it refuses InclusiveNamespaces there although it honours it (and xmlsec1
    accepts it). This adds that one declaration beside signxml's own schemas;
    :func:`_exc_c14n_parameters` has already refused anything else.
    """

    @classmethod
    def schemas(cls) -> list[etree.XMLSchema]:
        own: list[etree.XMLSchema] = XMLVerifier.schemas()  # type: ignore[no-untyped-call]
        return [_schema_with_inclusive_namespaces(), *own]


@functools.cache
def _schema_with_inclusive_namespaces() -> etree.XMLSchema:
    core = importlib.resources.files("signxml.schemas").joinpath("xmldsig-core-schema.xsd")
    # Exclusive XML Canonicalization 1.0, section 3 (its exc-c14n.xsd): one
    # element, one attribute; the attribute is typed as text because the
    # prefix list may name "#default", which is no NMTOKEN.
    document = (
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        f'targetNamespace="{ALG_EXC_C14N}" elementFormDefault="qualified">'
        f'<xs:import namespace="http://www.w3.org/2000/09/xmldsig#" schemaLocation="{core}"/>'
        '<xs:element name="InclusiveNamespaces"><xs:complexType>'
        '<xs:attribute name="PrefixList" type="xs:string" use="required"/>'
        "</xs:complexType></xs:element></xs:schema>"
    )
    return etree.XMLSchema(etree.fromstring(document))


def _signxml_verify(
    root: etree._Element,
    certificate: x509.Certificate,
    location: str,
    signature_methods: frozenset[SignatureMethod],
    digests: frozenset[DigestAlgorithm],
) -> etree._Element:
    config = SignatureConfiguration(
        location=location,
        expect_references=1,
        signature_methods=signature_methods,
        digest_algorithms=digests,
        # AWS does not check the expiry of the metadata certificate; only the key matters.
        verification_time=certificate.not_valid_before_utc,
    )
    outcome = _Verifier().verify(
        root,
        x509_cert=certificate,
        expect_config=config,
        parser=etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False),
    )
    signed_xml = outcome.signed_xml  # type: ignore[union-attr]
    if signed_xml is None:
        raise InvalidSignature("the signed content is not XML")
    return signed_xml


def _embedded_certificate(signature: etree._Element) -> x509.Certificate | None:
    element = signature.find(f"{DS}KeyInfo/{DS}X509Data/{DS}X509Certificate")
    if element is None or not element.text:
        return None
    try:
        return x509.load_der_x509_certificate(base64.b64decode("".join(element.text.split())))
    except ValueError:
        return None
