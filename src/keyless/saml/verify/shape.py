"""Stage 2: the document's shape, checked before any signature.

Exactly one Assertion in the whole document, directly under the Response;
Signatures only directly under the Response or that Assertion, one each; no ID
used twice. Every XML signature wrapping (XSW) variant needs to break one of
these, so they stop here, before a signature is even looked at.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from keyless.saml.model import Reason, make_reason
from keyless.saml.verify.common import FIX_FORGED, FIX_IDP, path_of
from keyless.saml.xmlsafe import DS, SAML, SAMLP

_ID_ATTRIBUTES = ("ID", "Id", "id", "{http://www.w3.org/XML/1998/namespace}id")


@dataclass
class Shape:
    """The shape check's findings: its reasons, or the one Assertion when there are none."""

    reasons: list[Reason] = field(default_factory=list)
    assertion: etree._Element | None = None


def check_shape(root: etree._Element) -> Shape:
    """Structural checks that defeat signature wrapping, before any signature."""
    shape = Shape()
    if root.tag != SAMLP + "Response":
        shape.reasons.append(
            make_reason(
                "malformed",
                f"the document's root element is {path_of(root)} ({root.tag}), "
                "not a SAML 2.0 samlp:Response",
                FIX_IDP,
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
        shape.reasons.append(make_reason("malformed", "the response holds no Assertion", FIX_IDP))
        return shape
    if len(assertions) > 1:
        where = ", ".join(f"{path_of(a)} ID={a.get('ID')!r}" for a in assertions)
        shape.reasons.append(
            make_reason(
                "multiple_assertions",
                f"the response holds {len(assertions)} Assertions ({where}); AWS requires "
                "exactly one, and extra ones are how signature-wrapping attacks smuggle "
                "unsigned content",
                FIX_FORGED,
            )
        )
        return shape
    assertion = assertions[0]
    if assertion.getparent() is not root:
        shape.reasons.append(
            make_reason(
                "signature_wrapping",
                f"the Assertion sits at {path_of(assertion)}, not directly in the Response",
                FIX_FORGED,
            )
        )
    for signature in root.iter(DS + "Signature"):
        parent = signature.getparent()
        if parent is not root and parent is not assertion:
            shape.reasons.append(
                make_reason(
                    "signature_wrapping",
                    f"a Signature sits at {path_of(signature)}; only the Response and the "
                    "Assertion may carry one",
                    FIX_FORGED,
                )
            )
    for holder in (root, assertion):
        if len(holder.findall(DS + "Signature")) > 1:
            shape.reasons.append(
                make_reason(
                    "signature_wrapping",
                    f"{path_of(holder)} carries more than one Signature",
                    FIX_FORGED,
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
                    FIX_FORGED,
                )
            )
    for holder in (root, assertion):
        if not holder.get("ID"):
            shape.reasons.append(make_reason("malformed", f"{path_of(holder)} has no ID", FIX_IDP))
    if not shape.reasons:
        shape.assertion = assertion
    return shape
