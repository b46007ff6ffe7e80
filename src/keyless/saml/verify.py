"""Verify a SAML Response as strictly as AWS STS, and say why it would be refused.

The order is what keeps this safe:

1. Parse without DTDs, entities, network or processing instructions
   (:mod:`keyless.saml.xmlsafe`); anything of that kind is ``dtd_forbidden``.
2. Check the *shape* before any signature: exactly one Assertion in the whole
   document, directly under the Response; Signatures only directly under the
   Response or that Assertion; no ID used twice. Every XML signature wrapping
   (XSW) variant needs to break one of these, so they stop here.
3. Check each Signature's form (one Reference, pointing at the element that
   holds the Signature; only enveloped-signature and exclusive C14N; RSA with
   SHA-256/384/512), then verify it with signxml against the metadata's
   certificates only, never the document's KeyInfo.
4. From here on, read only signxml's ``signed_xml``: the canonicalized,
   re-parsed bytes the signature covered (comments gone, so a comment in a
   NameID cannot cut the identity short).
5. Check what AWS checks on that content, collecting every reason.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from lxml import etree
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidDigest, InvalidSignature, SignXMLException
from signxml.verifier import SignatureConfiguration, XMLVerifier

from keyless.policy.trust import TrustDecision, evaluate_trust_policy
from keyless.saml.extract import extract_saml_response
from keyless.saml.metadata import IdpMetadata
from keyless.saml.model import (
    ARN_RE,
    ATTR_PRINCIPAL_TAG,
    ATTR_ROLE,
    ATTR_SESSION_DURATION,
    ATTR_SESSION_NAME,
    ATTR_SOURCE_IDENTITY,
    ATTR_TRANSITIVE_TAG_KEYS,
    AWS_AUDIENCE,
    AWS_SIGNIN_URL,
    Reason,
    RolePair,
    VerificationResult,
    VerifiedAssertion,
    make_reason,
)
from keyless.saml.xmlsafe import (
    DS,
    NS,
    SAML,
    SAMLP,
    ForbiddenXml,
    TooDeep,
    parse_instant,
    parse_untrusted,
    text_of,
)

# "{region}" matches an AWS region name; everything else matches literally.
DEFAULT_RECIPIENTS: tuple[str, ...] = (
    AWS_SIGNIN_URL,
    "https://{region}.signin.aws.amazon.com/saml",
    "https://signin.amazonaws-us-gov.com/saml",
    "https://{region}.signin.amazonaws-us-gov.com/saml",
    "https://signin.amazonaws.cn/saml",
    "https://{region}.signin.amazonaws.cn/saml",
)
# AWS accepts the audience as the urn or as any sign-in URL.
DEFAULT_AUDIENCES: tuple[str, ...] = (AWS_AUDIENCE, *DEFAULT_RECIPIENTS)

AWS_MAX_ASSERTION_CHARS = 100_000
SESSION_NAME_RE = re.compile(r"^[a-zA-Z_0-9+=,.@-]{2,64}$")
_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}"

ALG_ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
ALG_EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
_BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"

_STRONG_SIGNATURES = frozenset(
    {SignatureMethod.RSA_SHA256, SignatureMethod.RSA_SHA384, SignatureMethod.RSA_SHA512}
)
_STRONG_DIGESTS = frozenset(
    {DigestAlgorithm.SHA256, DigestAlgorithm.SHA384, DigestAlgorithm.SHA512}
)
_ID_ATTRIBUTES = ("ID", "Id", "id", "{http://www.w3.org/XML/1998/namespace}id")


class ReplayCache(Protocol):
    """Remembers assertion IDs until they expire, so one assertion is used once."""

    def seen(self, assertion_id: str, expires: datetime) -> bool:
        """True if ``assertion_id`` was already seen; otherwise record it until ``expires``."""
        ...


class MemoryReplayCache:
    """A thread-safe in-process :class:`ReplayCache` that forgets IDs once they expire.

    ``clock`` tells when an entry has expired; pass the same clock the verifier
    uses (the lab passes its own), or leave the wall clock.
    """

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self._expires: dict[str, datetime] = {}
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()

    def seen(self, assertion_id: str, expires: datetime) -> bool:
        """True if ``assertion_id`` was already seen; otherwise record it until ``expires``."""
        with self._lock:
            if len(self._expires) >= 1024:
                # An expired assertion is refused anyway, so its ID need not be kept.
                now = self._clock()
                self._expires = {k: v for k, v in self._expires.items() if v > now}
            if assertion_id in self._expires:
                return True
            self._expires[assertion_id] = expires
            return False

    def __len__(self) -> int:
        return len(self._expires)


def verify_response(
    unverified: bytes | str,
    *,
    metadata: IdpMetadata,
    now: datetime,
    recipients: Sequence[str] = DEFAULT_RECIPIENTS,
    audiences: Sequence[str] = DEFAULT_AUDIENCES,
    role_arn: str | None = None,
    principal_arn: str | None = None,
    trust_policy: Mapping[str, Any] | None = None,
    role_max_session_duration: int | None = None,
    duration_seconds: int | None = None,
    max_age: timedelta = timedelta(minutes=5),
    clock_skew: timedelta = timedelta(minutes=5),
    replay_cache: ReplayCache | None = None,
    unsafe_allow_sha1: bool = False,
) -> VerificationResult:
    """Verify a SAML Response the way AWS STS ``AssumeRoleWithSAML`` does.

    ``unverified`` may be the XML, the base64 ``SAMLResponse`` value, or an HTML
    page holding the form. Returns a result listing every reason STS would
    refuse it for; raises :class:`keyless.errors.SamlInputError` only when the
    input cannot be read as XML at all.

    ``unsafe_allow_sha1`` accepts RSA-SHA1 signatures and SHA-1 digests, which
    are forgeable in practice; use it only to diagnose an old IdP.
    """
    xml = extract_saml_response(unverified)
    reasons: list[Reason] = []
    encoded_length = (len(xml) + 2) // 3 * 4
    if encoded_length > AWS_MAX_ASSERTION_CHARS:
        reasons.append(
            make_reason(
                "too_large",
                f"the SAMLResponse is {encoded_length} base64 characters; "
                f"STS accepts at most {AWS_MAX_ASSERTION_CHARS}",
                "send fewer roles or attributes in the assertion (Okta: narrow the group filter)",
            )
        )
    try:
        root = parse_untrusted(xml, what="SAML response")
    except ForbiddenXml as exc:
        return _refused(
            reasons,
            make_reason(
                "dtd_forbidden",
                f"the document declares a DTD, entities or processing instructions ({exc}); "
                "SAML never needs them and they are how XXE and entity-expansion attacks work",
                "do not accept this document; a real IdP never sends a DOCTYPE",
            ),
        )
    except TooDeep as exc:
        return _refused(
            reasons, make_reason("malformed", f"the document is refused: {exc}", _FIX_IDP)
        )

    shape = _check_shape(root)
    if shape.reasons:
        return _refused(reasons, *shape.reasons)
    assert shape.assertion is not None

    signatures = _verify_signatures(root, shape.assertion, metadata, unsafe_allow_sha1)
    reasons.extend(signatures.reasons)
    trusted = signatures.trusted_assertion
    if trusted is None:
        return _refused(reasons)

    response = signatures.trusted_response if signatures.trusted_response is not None else root
    checks = _Checks(
        metadata=metadata,
        now=now,
        recipients=recipients,
        audiences=audiences,
        max_age=max_age,
        clock_skew=clock_skew,
    )
    assertion = checks.read(trusted, response, signatures)
    reasons.extend(checks.reasons)
    if assertion is None:
        return _refused(reasons)

    pair = _check_role(assertion, role_arn, principal_arn, reasons)
    _check_duration(duration_seconds, role_max_session_duration, reasons)
    if trust_policy is not None:
        principal = pair.principal_arn if pair else principal_arn
        if principal is None and assertion.roles:
            principal = assertion.roles[0].principal_arn
        _check_trust(assertion, trust_policy, principal or "", pair, reasons)

    if (
        not reasons
        and replay_cache is not None
        # Kept as long as the assertion can still be accepted: NotOnOrAfter plus the skew.
        and replay_cache.seen(assertion.assertion_id, assertion.not_on_or_after + clock_skew)
    ):
        reasons.append(
            make_reason(
                "replayed",
                f"assertion {assertion.assertion_id} was already used",
                "sign in at the IdP again for a fresh assertion; each one is good for one use",
            )
        )
    return VerificationResult(accepted=not reasons, reasons=tuple(reasons), assertion=assertion)


_FIX_IDP = "check that the input is the SAMLResponse your IdP posted, unmodified"
_FIX_FORGED = (
    "do not trust this response: it was altered or built by someone other than the IdP. "
    "If it came straight from the IdP, report it as an IdP bug"
)


def _refused(reasons: list[Reason], *more: Reason) -> VerificationResult:
    return VerificationResult(accepted=False, reasons=(*reasons, *more), assertion=None)


def _path(element: etree._Element) -> str:
    names = [etree.QName(node).localname for node in (element, *element.iterancestors())]
    return "/".join(reversed(names))


@dataclass
class _Shape:
    reasons: list[Reason] = field(default_factory=list)
    assertion: etree._Element | None = None


def _check_shape(root: etree._Element) -> _Shape:
    """Structural checks that defeat signature wrapping, before any signature."""
    shape = _Shape()
    if root.tag != SAMLP + "Response":
        shape.reasons.append(
            make_reason(
                "malformed",
                f"the document's root element is {_path(root)} ({root.tag}), "
                "not a SAML 2.0 samlp:Response",
                _FIX_IDP,
            )
        )
        return shape
    if next(root.iter(SAML + "EncryptedAssertion"), None) is not None:
        shape.reasons.append(
            make_reason(
                "malformed",
                "the response holds an EncryptedAssertion, which keyless does not decrypt",
                "turn off assertion encryption for the AWS app at the IdP to debug with keyless",
            )
        )
        return shape
    assertions = list(root.iter(SAML + "Assertion"))
    if not assertions:
        shape.reasons.append(make_reason("malformed", "the response holds no Assertion", _FIX_IDP))
        return shape
    if len(assertions) > 1:
        where = ", ".join(f"{_path(a)} ID={a.get('ID')!r}" for a in assertions)
        shape.reasons.append(
            make_reason(
                "multiple_assertions",
                f"the response holds {len(assertions)} Assertions ({where}); AWS requires "
                "exactly one, and extra ones are how signature-wrapping attacks smuggle "
                "unsigned content",
                _FIX_FORGED,
            )
        )
        return shape
    assertion = assertions[0]
    if assertion.getparent() is not root:
        shape.reasons.append(
            make_reason(
                "signature_wrapping",
                f"the Assertion sits at {_path(assertion)}, not directly in the Response",
                _FIX_FORGED,
            )
        )
    for signature in root.iter(DS + "Signature"):
        parent = signature.getparent()
        if parent is not root and parent is not assertion:
            shape.reasons.append(
                make_reason(
                    "signature_wrapping",
                    f"a Signature sits at {_path(signature)}; only the Response and the "
                    "Assertion may carry one",
                    _FIX_FORGED,
                )
            )
    for holder in (root, assertion):
        if len(holder.findall(DS + "Signature")) > 1:
            shape.reasons.append(
                make_reason(
                    "signature_wrapping",
                    f"{_path(holder)} carries more than one Signature",
                    _FIX_FORGED,
                )
            )
    ids: dict[str, int] = {}
    for element in root.iter(etree.Element):
        for name in _ID_ATTRIBUTES:
            value = element.get(name)
            if value is not None:
                ids[value] = ids.get(value, 0) + 1
    for value, count in ids.items():
        if count > 1:
            shape.reasons.append(
                make_reason(
                    "signature_wrapping",
                    f"the ID {value!r} appears on {count} elements, so a signature reference "
                    "to it is ambiguous",
                    _FIX_FORGED,
                )
            )
    for holder in (root, assertion):
        if not holder.get("ID"):
            shape.reasons.append(make_reason("malformed", f"{_path(holder)} has no ID", _FIX_IDP))
    if not shape.reasons:
        shape.assertion = assertion
    return shape


@dataclass
class _Signatures:
    reasons: list[Reason] = field(default_factory=list)
    trusted_assertion: etree._Element | None = None
    trusted_response: etree._Element | None = None
    signed: list[str] = field(default_factory=list)
    algorithms: list[str] = field(default_factory=list)

    @property
    def signed_element(self) -> str:
        return "both" if len(self.signed) == 2 else (self.signed[0] if self.signed else "none")


def _verify_signatures(
    root: etree._Element,
    assertion: etree._Element,
    metadata: IdpMetadata,
    unsafe_allow_sha1: bool,
) -> _Signatures:
    result = _Signatures()
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
                    _FIX_FORGED,
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
            make_reason(
                "signature_invalid", f"the {label} Signature has no SignedInfo", _FIX_FORGED
            )
        ]
    references = signed_info.findall(DS + "Reference")
    expected = "#" + (holder.get("ID") or "")
    if len(references) != 1:
        problems.append(
            make_reason(
                "signature_reference_invalid",
                f"the {label} Signature has {len(references)} References; exactly one, to the "
                f"{label} itself, is accepted",
                _FIX_FORGED,
            )
        )
    elif references[0].get("URI") != expected:
        problems.append(
            make_reason(
                "signature_reference_invalid",
                f"the {label} Signature's Reference points at {references[0].get('URI')!r}, "
                f"not at the element holding it ({expected!r}); a signature over something "
                "else says nothing about this element",
                _FIX_FORGED,
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
    for reference in references:
        for transform in reference.iterfind(f"{DS}Transforms/{DS}Transform"):
            algorithm = transform.get("Algorithm")
            if algorithm not in (ALG_ENVELOPED, ALG_EXC_C14N) or len(transform):
                problems.append(
                    make_reason(
                        "transform_forbidden",
                        f"the {label} Signature applies the transform {algorithm!r}; only "
                        "enveloped-signature and exclusive C14N are accepted (XSLT and XPath "
                        "transforms are never run)",
                        _FIX_FORGED,
                    )
                )
        digest = reference.find(DS + "DigestMethod")
        problems.extend(_check_algorithm(label, digest, "digest", unsafe_allow_sha1))
    method = signed_info.find(DS + "SignatureMethod")
    problems.extend(_check_algorithm(label, method, "signature", unsafe_allow_sha1))
    return problems


def _check_algorithm(
    label: str, element: etree._Element | None, kind: str, unsafe_allow_sha1: bool
) -> list[Reason]:
    algorithm = (element.get("Algorithm") if element is not None else None) or ""
    strong: frozenset[Any] = _STRONG_SIGNATURES if kind == "signature" else _STRONG_DIGESTS
    if algorithm in {a.value for a in strong}:
        return []
    name = algorithm.rsplit("#", 1)[-1] or "(none)"
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
                _FIX_FORGED,
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
                _FIX_FORGED,
            )
        except InvalidSignature as exc:
            last_error = str(exc)
            continue
        except (SignXMLException, etree.LxmlError, ValueError, KeyError, TypeError) as exc:
            return None, make_reason(
                "signature_invalid",
                f"the {label} Signature cannot be verified: {exc}",
                _FIX_FORGED,
            )
        return outcome, None

    embedded = _embedded_certificate(signature)
    fingerprints = ", ".join(fp[:16] + "..." for fp in metadata.fingerprints())
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
            fingerprint = embedded.fingerprint(hashes.SHA256()).hex()
            return None, make_reason(
                "wrong_certificate",
                f"the {label} is signed by a key whose certificate ({subject}, SHA-256 "
                f"{fingerprint[:16]}...) is not in the IdP metadata of {metadata.entity_id} "
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
    outcome = XMLVerifier().verify(
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


def _matches(value: str, patterns: Iterable[str]) -> bool:
    for pattern in patterns:
        if "{region}" in pattern:
            regex = re.escape(pattern).replace(re.escape("{region}"), _REGION)
            if re.fullmatch(regex, value):
                return True
        elif value == pattern:
            return True
    return False


def _shown(patterns: Sequence[str]) -> str:
    return ", ".join(p.replace("{region}", "<region>") for p in patterns)


@dataclass
class _Checks:
    """The checks STS runs on the signed content; each adds reasons, none stops the rest."""

    metadata: IdpMetadata | None  # None: inspecting, nothing to compare the issuer with
    now: datetime
    recipients: Sequence[str]
    audiences: Sequence[str]
    max_age: timedelta
    clock_skew: timedelta
    reasons: list[Reason] = field(default_factory=list)

    def add(self, code: str, message: str, fix: str) -> None:
        self.reasons.append(make_reason(code, message, fix))

    def instant(self, element: etree._Element, name: str) -> datetime | None:
        raw = element.get(name)
        if raw is None:
            return None
        try:
            return parse_instant(raw)
        except ValueError:
            self.add("malformed", f"{_path(element)}/@{name} {raw!r} is not a timestamp", _FIX_IDP)
            return None

    def read(
        self, assertion: etree._Element, response: etree._Element, signatures: _Signatures
    ) -> VerifiedAssertion | None:
        status = response.find(f"{SAMLP}Status/{SAMLP}StatusCode")
        status_value = status.get("Value") if status is not None else None
        if status_value != _SUCCESS:
            self.add(
                "status_not_success",
                f"the Response status is {status_value!r}, not Success: the IdP reports that "
                "authentication failed",
                "sign in again at the IdP; check the IdP's system log for the failure",
            )

        issuer = text_of(assertion.find(SAML + "Issuer"))
        if self.metadata is not None and issuer != self.metadata.entity_id:
            self.add(
                "issuer_mismatch",
                f"the Assertion's Issuer is {issuer!r}, but the SAML provider's metadata is for "
                f"{self.metadata.entity_id!r}",
                "use the metadata of the IdP that issued this response (Okta: each AWS app "
                "instance has its own issuer), or update the IAM SAML provider",
            )
        issue_instant = self.instant(assertion, "IssueInstant")
        if issue_instant is None:
            self.add("malformed", "the Assertion has no IssueInstant", _FIX_IDP)
            return None

        name_id = assertion.find(f"{SAML}Subject/{SAML}NameID")
        subject = text_of(name_id)
        if name_id is None or not subject:
            self.add("malformed", "the Assertion's Subject has no NameID", _FIX_IDP)

        recipient, confirmation_expiry = self._confirmation(assertion)
        not_before, conditions_expiry, audiences = self._conditions(assertion)
        expiries = [t for t in (confirmation_expiry, conditions_expiry) if t is not None]
        if not expiries:
            self.add(
                "malformed",
                "the Assertion has no NotOnOrAfter on its SubjectConfirmationData or Conditions",
                _FIX_IDP,
            )
        not_on_or_after = min(expiries) if expiries else issue_instant
        self._check_times(issue_instant, not_before, not_on_or_after)

        attributes = _attributes(assertion)
        roles = self._roles(attributes.get(ATTR_ROLE, ()))
        session_name = self._session_name(attributes.get(ATTR_SESSION_NAME, ()))
        session_duration = self._session_duration(attributes.get(ATTR_SESSION_DURATION, ()))
        tags = {
            name[len(ATTR_PRINCIPAL_TAG) :]: values[0]
            for name, values in attributes.items()
            if name.startswith(ATTR_PRINCIPAL_TAG) and values
        }
        source_identity = next(iter(attributes.get(ATTR_SOURCE_IDENTITY, ())), None)
        return VerifiedAssertion(
            assertion_id=assertion.get("ID") or "",
            issuer=issuer,
            subject=subject,
            subject_format=name_id.get("Format") if name_id is not None else None,
            name_qualifier=name_id.get("NameQualifier") if name_id is not None else None,
            issue_instant=issue_instant,
            not_before=not_before,
            not_on_or_after=not_on_or_after,
            recipient=recipient,
            audiences=audiences,
            roles=roles,
            session_name=session_name,
            session_duration=session_duration,
            principal_tags=tags,
            transitive_tag_keys=attributes.get(ATTR_TRANSITIVE_TAG_KEYS, ()),
            source_identity=source_identity,
            signed_element=signatures.signed_element,
            signature_algorithm=",".join(dict.fromkeys(signatures.algorithms)),
            attributes=attributes,
        )

    def _confirmation(self, assertion: etree._Element) -> tuple[str, datetime | None]:
        bearer = [
            sc
            for sc in assertion.iterfind(f"{SAML}Subject/{SAML}SubjectConfirmation")
            if sc.get("Method") == _BEARER
        ]
        if not bearer:
            self.add(
                "bearer_missing",
                "the Assertion has no SubjectConfirmation with Method bearer",
                "configure the IdP for the SAML 2.0 Web Browser SSO profile (bearer)",
            )
            return "", None
        found: list[str] = []
        for confirmation in bearer:
            data = confirmation.find(SAML + "SubjectConfirmationData")
            if data is None:
                continue
            recipient = (data.get("Recipient") or "").strip()
            found.append(recipient)
            if _matches(recipient, self.recipients):
                return recipient, self.instant(data, "NotOnOrAfter")
        shown = ", ".join(repr(r) for r in found) or "none"
        self.add(
            "recipient_mismatch",
            f"the assertion's Recipient is {shown}; AWS accepts only {_shown(self.recipients)}",
            f"set the IdP's ACS URL / Recipient for the AWS app to {AWS_SIGNIN_URL} (or its "
            "regional form), or pass --recipient if you expect another endpoint",
        )
        first = next((sc.find(SAML + "SubjectConfirmationData") for sc in bearer), None)
        return (found[0] if found else ""), (
            self.instant(first, "NotOnOrAfter") if first is not None else None
        )

    def _conditions(
        self, assertion: etree._Element
    ) -> tuple[datetime | None, datetime | None, tuple[str, ...]]:
        conditions = assertion.find(SAML + "Conditions")
        if conditions is None:
            self.add(
                "audience_mismatch",
                "the Assertion has no Conditions, so no AudienceRestriction naming AWS",
                f"configure the IdP's audience (Okta: Audience URI) as {AWS_AUDIENCE}",
            )
            return None, None, ()
        all_audiences: list[str] = []
        restrictions = conditions.findall(SAML + "AudienceRestriction")
        for restriction in restrictions:
            values = [text_of(a) for a in restriction.findall(SAML + "Audience")]
            all_audiences.extend(values)
            if not any(_matches(value, self.audiences) for value in values):
                self.add(
                    "audience_mismatch",
                    f"the assertion's Audience is {', '.join(map(repr, values)) or 'empty'}; "
                    f"expected one of {_shown(self.audiences)}",
                    f"set the IdP's Audience URI for the AWS app to {AWS_AUDIENCE}, or pass "
                    "--audience with the value you configured",
                )
        if not restrictions:
            self.add(
                "audience_mismatch",
                "the Assertion has no AudienceRestriction",
                f"configure the IdP's audience (Okta: Audience URI) as {AWS_AUDIENCE}",
            )
        return (
            self.instant(conditions, "NotBefore"),
            self.instant(conditions, "NotOnOrAfter"),
            tuple(all_audiences),
        )

    def _check_times(
        self, issue_instant: datetime, not_before: datetime | None, not_on_or_after: datetime
    ) -> None:
        now, skew = self.now, self.clock_skew
        clock_fix = (
            "check the clocks of this machine and the IdP (NTP); skew allowed is "
            f"{int(skew.total_seconds())}s"
        )
        if now >= not_on_or_after + skew:
            self.add(
                "expired",
                f"the assertion expired at {_iso(not_on_or_after)}, "
                f"{_ago(now - not_on_or_after)} before now ({_iso(now)})",
                "sign in at the IdP again and use the new response at once; " + clock_fix,
            )
        start = max(t for t in (not_before, issue_instant) if t is not None)
        if now + skew < start:
            self.add(
                "not_yet_valid",
                f"the assertion is valid from {_iso(start)}, {_ago(start - now)} after now "
                f"({_iso(now)})",
                clock_fix,
            )
        age = now - issue_instant
        if age > self.max_age:
            self.add(
                "too_old",
                f"the assertion was issued at {_iso(issue_instant)}, {_ago(age)} ago; AWS "
                f"refuses assertions not redeemed within {_ago(self.max_age)} of issue",
                "sign in at the IdP again and redeem the response straight away",
            )

    def _roles(self, values: Sequence[str]) -> tuple[RolePair, ...]:
        if not values:
            self.add(
                "role_not_in_assertion",
                f"the assertion carries no {ATTR_ROLE} attribute, so it names no role",
                "assign the user (or a group) to AWS roles in the IdP's AWS app",
            )
            return ()
        pairs: list[RolePair] = []
        partitions: set[str] = set()
        for value in values:
            pair, problem = parse_role_value(value)
            if problem:
                self.add(
                    "role_value_malformed",
                    f"the Role value {value!r} {problem}",
                    "each Role value must be 'provider ARN,role ARN' (either order) in one "
                    "account and partition; fix the role mapping in the IdP's AWS app",
                )
                continue
            assert pair is not None
            match = ARN_RE.match(pair.role_arn)
            if match:
                partitions.add(match["partition"])
            pairs.append(pair)
        if len(partitions) > 1:
            self.add(
                "role_value_malformed",
                f"the Role values span partitions {', '.join(sorted(partitions))}; one assertion "
                "serves one partition",
                "use a separate IdP app per AWS partition",
            )
        return tuple(pairs)

    def _session_name(self, values: Sequence[str]) -> str | None:
        if not values:
            self.add(
                "session_name_invalid",
                f"the assertion has no {ATTR_SESSION_NAME} attribute",
                "map RoleSessionName in the IdP's AWS app (Okta sends the username)",
            )
            return None
        name = values[0]
        if len(values) > 1 or not SESSION_NAME_RE.match(name):
            self.add(
                "session_name_invalid",
                f"the RoleSessionName {name!r} is not 2-64 characters of letters, digits and "
                "+=,.@_-" + (f" (and {len(values)} values were sent)" if len(values) > 1 else ""),
                "map RoleSessionName to a value in that alphabet, such as the user's email",
            )
        return name

    def _session_duration(self, values: Sequence[str]) -> int | None:
        if not values:
            return None
        try:
            duration = int(values[0])
        except ValueError:
            duration = -1
        if not 900 <= duration <= 43200 or len(values) > 1:
            self.add(
                "session_duration_invalid",
                f"the SessionDuration {values[0]!r} is not a whole number of seconds between "
                "900 and 43200",
                "set the AWS app's session duration in the IdP to 900..43200 seconds",
            )
            return None if duration < 0 else duration
        return duration


def parse_role_value(value: str) -> tuple[RolePair | None, str | None]:
    """Read one Role attribute value; return the pair, or why it is malformed."""
    parts = [part.strip() for part in value.split(",")]
    if len(parts) != 2:
        return None, f"has {len(parts)} comma-separated parts, not two ARNs"
    matches = [ARN_RE.match(part) for part in parts]
    for part, match in zip(parts, matches, strict=True):
        if match is None:
            return None, f"contains {part!r}, which is not an IAM role or SAML provider ARN"
    kinds = sorted(m["kind"] for m in matches if m)
    if kinds != ["role", "saml-provider"]:
        return None, "does not hold one role ARN and one SAML provider ARN"
    role, provider = (
        (parts[0], parts[1])
        if matches[0] and matches[0]["kind"] == "role"
        else (
            parts[1],
            parts[0],
        )
    )
    role_match, provider_match = ARN_RE.match(role), ARN_RE.match(provider)
    assert role_match is not None
    assert provider_match is not None
    if role_match["partition"] != provider_match["partition"]:
        return None, "pairs ARNs from different partitions"
    if role_match["account"] != provider_match["account"]:
        return None, (
            f"pairs a role in account {role_match['account']} with a provider in account "
            f"{provider_match['account']}; the provider must be in the role's account"
        )
    return RolePair(role_arn=role, principal_arn=provider), None


def _attributes(assertion: etree._Element) -> dict[str, tuple[str, ...]]:
    attributes: dict[str, tuple[str, ...]] = {}
    for attribute in assertion.iterfind(f"{SAML}AttributeStatement/{SAML}Attribute"):
        name = attribute.get("Name") or ""
        values = tuple(text_of(v) for v in attribute.findall(SAML + "AttributeValue"))
        attributes[name] = attributes.get(name, ()) + values
    return attributes


def _check_role(
    assertion: VerifiedAssertion,
    role_arn: str | None,
    principal_arn: str | None,
    reasons: list[Reason],
) -> RolePair | None:
    if role_arn is None:
        return None
    listing = "; ".join(f"{p.role_arn} via {p.principal_arn}" for p in assertion.roles) or "none"
    fix = (
        "pass --role-arn and --principal-arn as a pair the assertion lists, or assign the "
        "role to the user in the IdP's AWS app"
    )
    role_kind = ARN_RE.match(role_arn)
    principal_kind = ARN_RE.match(principal_arn) if principal_arn else None
    if (
        role_kind
        and role_kind["kind"] == "saml-provider"
        and (principal_kind is None or principal_kind["kind"] == "role")
    ):
        reasons.append(
            make_reason(
                "role_not_in_assertion",
                f"the role ARN and the provider ARN are the wrong way round: the role ARN "
                f"given is {role_arn}, a SAML provider, and the principal ARN is "
                f"{principal_arn}",
                "swap them: RoleArn is arn:...:role/..., PrincipalArn is arn:...:saml-provider/...",
            )
        )
        return None
    for pair in assertion.roles:
        if pair.role_arn == role_arn and principal_arn in (None, pair.principal_arn):
            return pair
    same_role = [p for p in assertion.roles if p.role_arn == role_arn]
    if same_role:
        message = (
            f"the assertion pairs role {role_arn} with provider {same_role[0].principal_arn}, "
            f"not with {principal_arn}"
        )
    else:
        message = f"the role {role_arn} is not among the assertion's roles ({listing})"
    reasons.append(make_reason("role_not_in_assertion", message, fix))
    return None


def _check_duration(
    duration_seconds: int | None, role_max: int | None, reasons: list[Reason]
) -> None:
    if duration_seconds is None or role_max is None:
        return
    if duration_seconds > role_max:
        reasons.append(
            make_reason(
                "duration_exceeds_max",
                f"DurationSeconds {duration_seconds} exceeds the role's MaxSessionDuration "
                f"{role_max}",
                f"ask for at most {role_max} seconds, or raise the role's MaxSessionDuration "
                "(up to 43200) in the federation spec and apply it",
            )
        )


def _check_trust(
    assertion: VerifiedAssertion,
    trust_policy: Mapping[str, Any],
    principal_arn: str,
    pair: RolePair | None,
    reasons: list[Reason],
) -> None:
    context = assertion.saml_context(principal_arn or None)
    actions = ["sts:AssumeRoleWithSAML"]
    if assertion.principal_tags or assertion.transitive_tag_keys:
        actions.append("sts:TagSession")
    if assertion.source_identity is not None:
        actions.append("sts:SetSourceIdentity")
    role = pair.role_arn if pair else "the role"
    for action in actions:
        decision = evaluate_trust_policy(
            trust_policy, principal_arn=principal_arn, action=action, context=context
        )
        if not decision.allowed:
            reasons.append(trust_reason(decision, action=action, role=role, context=context))


def trust_reason(
    decision: TrustDecision, *, action: str, role: str, context: Mapping[str, Sequence[str]]
) -> Reason:
    """A ``trust_policy_denied`` reason that names the mismatched values and both fixes."""
    for failure in decision.failures:
        if failure.key.lower() == "saml:aud" and not failure.operator.lower().startswith("null"):
            recipient = ", ".join(failure.actual) or "(none)"
            wanted = ", ".join(failure.expected)
            return make_reason(
                "trust_policy_denied",
                f"the trust policy's audience does not match the Recipient: {role}'s trust "
                f"policy ({failure.statement}) requires SAML:aud {failure.operator} {wanted}, "
                f"but the assertion's Recipient (which AWS uses as SAML:aud) is {recipient}",
                f"either change the trust policy's SAML:aud condition to {recipient} (or list "
                f"both URLs), or set the IdP's Recipient / ACS URL for the AWS app to {wanted} "
                "so the assertion carries it",
            )
    return make_reason(
        "trust_policy_denied",
        f"{role}'s trust policy does not allow {action}: {decision.explanation}",
        "edit the role's trust policy (in the federation spec) so a statement allows "
        f"{action} for this provider and these SAML values, or remove the Deny that matches",
    )


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _ago(delta: timedelta) -> str:
    seconds = int(abs(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


__all__ = [
    "DEFAULT_AUDIENCES",
    "DEFAULT_RECIPIENTS",
    "NS",
    "MemoryReplayCache",
    "ReplayCache",
    "parse_role_value",
    "trust_reason",
    "verify_response",
]
