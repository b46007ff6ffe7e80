"""Read a SAML response for a person, without verifying it (``keyless saml inspect``).

Nothing here is trusted: there is no metadata to check signatures against.
It shows what the document *claims* (issuer, subject, times, roles, which
element carries a signature and with which algorithm) and the problems that
are visible without a key, so a user can see at a glance why AWS might refuse
it before running ``keyless saml verify``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from lxml import etree

from keyless.saml.extract import extract_saml_response
from keyless.saml.metadata import certificate_fingerprint
from keyless.saml.model import Reason, VerifiedAssertion, make_reason
from keyless.saml.verify import DEFAULT_AUDIENCES, DEFAULT_RECIPIENTS, ContentChecks, check_shape
from keyless.saml.xmlsafe import DS, SAML, ForbiddenXml, TooDeep, parse_untrusted


@dataclass(frozen=True)
class SignatureInfo:
    """One ds:Signature as the document states it (not verified)."""

    element: str  # "response" | "assertion"
    signature_algorithm: str
    digest_algorithm: str
    reference: str
    certificate_subject: str | None  # from KeyInfo, for display only
    certificate_sha256: str | None


@dataclass(frozen=True)
class Inspection:
    """What a SAML response claims. ``assertion`` holds unverified fields."""

    assertion: VerifiedAssertion | None
    signatures: tuple[SignatureInfo, ...]
    problems: tuple[Reason, ...]


def inspect_response(unverified: bytes | str, *, now: datetime) -> Inspection:
    """Read a SAML response (XML, base64 or HTML form) without verifying it.

    Raises :class:`keyless.errors.SamlInputError` when it cannot be read as XML.
    """
    xml = extract_saml_response(unverified)
    try:
        root = parse_untrusted(xml, what="SAML response")
    except ForbiddenXml as exc:
        reason = make_reason(
            "dtd_forbidden",
            f"the document declares a DTD, entities or processing instructions ({exc})",
            "do not use this document; a real IdP never sends a DOCTYPE",
        )
        return Inspection(assertion=None, signatures=(), problems=(reason,))
    except TooDeep as exc:
        reason = make_reason("malformed", f"the document is refused: {exc}", "")
        return Inspection(assertion=None, signatures=(), problems=(reason,))
    shape = check_shape(root)
    problems = list(shape.reasons)
    assertion_el = shape.assertion
    if assertion_el is None:
        assertion_el = next(root.iter(SAML + "Assertion"), None)
    signatures = tuple(_signature_info(root, assertion_el))
    if assertion_el is None:
        return Inspection(assertion=None, signatures=signatures, problems=tuple(problems))
    if not signatures:
        problems.append(
            make_reason("unsigned", "neither the Response nor the Assertion is signed", "")
        )
    checks = ContentChecks(
        metadata=None,
        now=now,
        recipients=DEFAULT_RECIPIENTS,
        audiences=DEFAULT_AUDIENCES,
        max_age=timedelta(minutes=5),
        clock_skew=timedelta(minutes=5),
    )
    claimed = [s.element for s in signatures]
    assertion = checks.read(
        assertion_el,
        root,
        # What the document claims, in the words verification uses for what it proved.
        signed_element="both" if len(claimed) == 2 else (claimed[0] if claimed else "none"),
        signature_algorithm=",".join(dict.fromkeys(s.signature_algorithm for s in signatures)),
    )
    problems.extend(checks.reasons)
    return Inspection(assertion=assertion, signatures=signatures, problems=tuple(problems))


def _signature_info(root: etree._Element, assertion: etree._Element | None) -> list[SignatureInfo]:
    found: list[SignatureInfo] = []
    holders = [("response", root)] + ([("assertion", assertion)] if assertion is not None else [])
    for label, holder in holders:
        signature = holder.find(DS + "Signature")
        if signature is None:
            continue
        method = signature.find(f"{DS}SignedInfo/{DS}SignatureMethod")
        digest = signature.find(f"{DS}SignedInfo/{DS}Reference/{DS}DigestMethod")
        reference = signature.find(f"{DS}SignedInfo/{DS}Reference")
        subject = fingerprint = None
        cert_el = signature.find(f"{DS}KeyInfo/{DS}X509Data/{DS}X509Certificate")
        if cert_el is not None and cert_el.text:
            try:
                cert = x509.load_der_x509_certificate(
                    base64.b64decode("".join(cert_el.text.split()))
                )
                subject = cert.subject.rfc4514_string()
                fingerprint = certificate_fingerprint(cert)
            except ValueError:
                subject = "(unreadable certificate)"
        found.append(
            SignatureInfo(
                element=label,
                signature_algorithm=_fragment(method),
                digest_algorithm=_fragment(digest),
                reference=(reference.get("URI") or "") if reference is not None else "",
                certificate_subject=subject,
                certificate_sha256=fingerprint,
            )
        )
    return found


def _fragment(element: etree._Element | None) -> str:
    algorithm = (element.get("Algorithm") if element is not None else None) or "(none)"
    return algorithm.rsplit("#", 1)[-1]
