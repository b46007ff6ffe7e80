"""Verify a SAML Response as strictly as AWS STS, and say why it would be refused.

The order is what keeps this safe:

1. Parse without DTDs, entities, network or processing instructions
   (:mod:`keyless.saml.xmlsafe`); anything of that kind is ``dtd_forbidden``.
2. Check the *shape* before any signature: exactly one Assertion in the whole
   document, directly under the Response; Signatures only directly under the
   Response or that Assertion; no ID used twice. Every XML signature wrapping
   (XSW) variant needs to break one of these, so they stop here.
3. Check each Signature's form (one Reference, pointing at the element that
   holds the Signature; only enveloped-signature and exclusive C14N, whose one
   parameter, InclusiveNamespaces, is honoured as xmlsec1 and signxml do; RSA
   with SHA-256/384/512), then verify it with signxml against the metadata's
   certificates only, never the document's KeyInfo.
4. From here on, read only signxml's ``signed_xml``: the canonicalized,
   re-parsed bytes the signature covered (comments gone, so a comment in a
   NameID cannot cut the identity short).
5. Check what AWS checks on that content, collecting every reason.

The stages live in their own modules (:mod:`.shape`, :mod:`.signatures`,
:mod:`.content`, :mod:`.request`); this module runs them in that order and is
the public surface, with :func:`check_shape` and :class:`ContentChecks` for
``keyless saml inspect``, which reads an unverified document the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from keyless.saml.extract import extract_saml_response
from keyless.saml.metadata import IdpMetadata
from keyless.saml.model import AWS_AUDIENCE, Reason, VerificationResult, make_reason
from keyless.saml.replay import MemoryReplayCache, ReplayCache
from keyless.saml.roles import parse_role_value
from keyless.saml.verify.common import DEFAULT_RECIPIENTS, FIX_IDP
from keyless.saml.verify.content import ContentChecks
from keyless.saml.verify.request import check_duration, check_role, check_trust, trust_reason
from keyless.saml.verify.shape import Shape, check_shape
from keyless.saml.verify.signatures import verify_signatures
from keyless.saml.xmlsafe import NS, ForbiddenXml, TooDeep, parse_untrusted

# AWS accepts the audience as the urn or as any sign-in URL.
DEFAULT_AUDIENCES: tuple[str, ...] = (AWS_AUDIENCE, *DEFAULT_RECIPIENTS)
AWS_MAX_ASSERTION_CHARS = 100_000


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
        return refused(
            reasons,
            make_reason(
                "dtd_forbidden",
                f"the document declares a DTD, entities or processing instructions ({exc}); "
                "SAML never needs them and they are how XXE and entity-expansion attacks work",
                "do not accept this document; a real IdP never sends a DOCTYPE",
            ),
        )
    except TooDeep as exc:
        return refused(
            reasons, make_reason("malformed", f"the document is refused: {exc}", FIX_IDP)
        )

    shape = check_shape(root)
    if shape.reasons:
        return refused(reasons, *shape.reasons)
    assert shape.assertion is not None

    signatures = verify_signatures(root, shape.assertion, metadata, unsafe_allow_sha1)
    reasons.extend(signatures.reasons)
    trusted = signatures.trusted_assertion
    if trusted is None:
        return refused(reasons)

    response = signatures.trusted_response if signatures.trusted_response is not None else root
    checks = ContentChecks(
        metadata=metadata,
        now=now,
        recipients=recipients,
        audiences=audiences,
        max_age=max_age,
        clock_skew=clock_skew,
    )
    assertion = checks.read(
        trusted,
        response,
        signed_element=signatures.signed_element,
        signature_algorithm=",".join(dict.fromkeys(signatures.algorithms)),
    )
    reasons.extend(checks.reasons)
    if assertion is None:
        return refused(reasons)

    pair = check_role(assertion, role_arn, principal_arn, reasons)
    check_duration(duration_seconds, role_max_session_duration, reasons)
    if trust_policy is not None:
        principal = pair.principal_arn if pair else principal_arn
        if principal is None and assertion.roles:
            principal = assertion.roles[0].principal_arn
        check_trust(assertion, trust_policy, principal or "", pair, reasons)

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


def refused(reasons: list[Reason], *more: Reason) -> VerificationResult:
    """A refusal carrying ``reasons`` and ``more``."""
    return VerificationResult(accepted=False, reasons=(*reasons, *more), assertion=None)


__all__ = [
    "DEFAULT_AUDIENCES",
    "DEFAULT_RECIPIENTS",
    "NS",
    "ContentChecks",
    "MemoryReplayCache",
    "ReplayCache",
    "Shape",
    "check_shape",
    "parse_role_value",
    "trust_reason",
    "verify_response",
]
