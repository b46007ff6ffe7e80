"""The AWS side of SAML: attribute names, role pairs, and what verification returns.

A :class:`VerificationResult` is either accepted, or carries every
:class:`Reason` that AWS STS would refuse the response for, each with a stable
code, an explanation naming the values involved, the fix, and the error code
and message real STS gives (so a user can match what they saw in the AWS CLI).
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime

from keyless.core.aws import MAX_SESSION_SECONDS, MIN_SESSION_SECONDS

AWS_SIGNIN_URL = "https://signin.aws.amazon.com/saml"
AWS_AUDIENCE = "urn:amazon:webservices"

ATTR_PREFIX = "https://aws.amazon.com/SAML/Attributes/"
ATTR_ROLE = ATTR_PREFIX + "Role"
ATTR_SESSION_NAME = ATTR_PREFIX + "RoleSessionName"
ATTR_SESSION_DURATION = ATTR_PREFIX + "SessionDuration"
ATTR_PRINCIPAL_TAG = ATTR_PREFIX + "PrincipalTag:"
ATTR_TRANSITIVE_TAG_KEYS = ATTR_PREFIX + "TransitiveTagKeys"
ATTR_SOURCE_IDENTITY = ATTR_PREFIX + "SourceIdentity"

NAMEID_PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
NAMEID_TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"

# arn:<partition>:iam::<account>:role/<path/name> or :saml-provider/<name>
ARN_RE = re.compile(
    r"^arn:(?P<partition>aws|aws-us-gov|aws-cn|aws-iso|aws-iso-b):iam::(?P<account>\d{12}):"
    r"(?P<kind>role|saml-provider)/(?P<name>[\w+=,.@/-]{1,512})$"
)


@dataclass(frozen=True)
class RolePair:
    """One value of the AWS ``Role`` attribute: a role and the SAML provider to trust."""

    role_arn: str
    principal_arn: str

    def attribute_value(self, *, provider_first: bool = True) -> str:
        """The attribute value as an IdP sends it; Okta sends the provider first."""
        if provider_first:
            return f"{self.principal_arn},{self.role_arn}"
        return f"{self.role_arn},{self.principal_arn}"

    @property
    def account_id(self) -> str:
        """The AWS account that holds the role (empty if the ARN is not an IAM ARN)."""
        match = ARN_RE.match(self.role_arn)
        return match["account"] if match else ""

    @property
    def role_name(self) -> str:
        """The role's name without its path."""
        return self.role_arn.rsplit("/", 1)[-1]

    @property
    def provider_name(self) -> str:
        """The SAML provider's friendly name."""
        return self.principal_arn.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Reason:
    """Why AWS STS would refuse a SAML response, and what to do about it."""

    code: str
    message: str
    fix: str
    aws_error_code: str
    aws_message: str

    def as_dict(self) -> dict[str, str]:
        """The JSON form used by ``keyless saml verify --json``."""
        return {
            "code": self.code,
            "message": self.message,
            "fix": self.fix,
            "aws_error_code": self.aws_error_code,
            "aws_message": self.aws_message,
        }


# The error STS returns for each refusal, so the user can match what the AWS CLI
# printed. Codes not listed fall back to InvalidIdentityToken.
_SIGNATURE = ("InvalidIdentityToken", "Response signature invalid")
_NOT_AUTHORIZED = ("AccessDenied", "Not authorized to perform sts:AssumeRoleWithSAML")
AWS_ERRORS: dict[str, tuple[str, str]] = {
    "signature_invalid": _SIGNATURE,
    "unsigned": _SIGNATURE,
    "wrong_certificate": _SIGNATURE,
    "weak_algorithm": _SIGNATURE,
    "algorithm_forbidden": _SIGNATURE,
    "transform_forbidden": _SIGNATURE,
    "signature_reference_invalid": _SIGNATURE,
    "signature_wrapping": _SIGNATURE,
    "multiple_assertions": (
        "InvalidIdentityToken",
        "Invalid SAML response: expected one Assertion",
    ),
    "dtd_forbidden": ("InvalidIdentityToken", "Invalid SAML response: malformed XML"),
    "malformed": ("InvalidIdentityToken", "Invalid SAML response: malformed XML"),
    "too_large": (
        "ValidationError",
        "1 validation error detected: Value at 'sAMLAssertion' failed to satisfy constraint: "
        "Member must have length less than or equal to 100000",
    ),
    "issuer_mismatch": ("InvalidIdentityToken", "Issuer not present in specified provider"),
    "status_not_success": ("InvalidIdentityToken", "Response status is not Success"),
    "audience_mismatch": _NOT_AUTHORIZED,
    "recipient_mismatch": _NOT_AUTHORIZED,
    "bearer_missing": ("InvalidIdentityToken", "Invalid SAML response: no bearer confirmation"),
    "expired": ("ExpiredTokenException", "Token is expired"),
    "not_yet_valid": ("InvalidIdentityToken", "Token is not yet valid"),
    "too_old": ("ExpiredTokenException", "Token must be redeemed within 5 minutes of issuance"),
    "role_not_in_assertion": _NOT_AUTHORIZED,
    "role_value_malformed": (
        "InvalidIdentityToken",
        "Invalid SAML response: Role attribute value is not a role ARN and a provider ARN",
    ),
    "session_name_invalid": (
        "InvalidIdentityToken",
        "RoleSessionName is required in AuthnResponse",
    ),
    "session_duration_invalid": (
        "InvalidIdentityToken",
        "Invalid SAML response: SessionDuration must be between "
        f"{MIN_SESSION_SECONDS} and {MAX_SESSION_SECONDS}",
    ),
    "duration_exceeds_max": (
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    ),
    "trust_policy_denied": _NOT_AUTHORIZED,
    "replayed": ("InvalidIdentityToken", "Invalid SAML response: assertion has already been used"),
}


def make_reason(code: str, message: str, fix: str) -> Reason:
    """A :class:`Reason` with the AWS error STS gives for ``code``."""
    aws_code, aws_message = AWS_ERRORS.get(code, _SIGNATURE if "sign" in code else _NOT_AUTHORIZED)
    return Reason(code, message, fix, aws_code, aws_message)


def namequalifier(issuer: str, principal_arn: str) -> str:
    """``SAML:namequalifier`` as AWS computes it: base64(SHA1(issuer + account + "/" + name))."""
    match = ARN_RE.match(principal_arn)
    if not match:
        return ""
    seed = f"{issuer}{match['account']}/{match['name']}".encode()
    # SHA-1 here is AWS's identifier scheme, not a security control.
    return base64.b64encode(hashlib.sha1(seed, usedforsecurity=False).digest()).decode()


@dataclass(frozen=True)
class VerifiedAssertion:
    """What a verified Assertion says; every field comes from signed content."""

    assertion_id: str
    issuer: str
    subject: str
    subject_format: str | None
    name_qualifier: str | None
    issue_instant: datetime
    not_before: datetime | None
    not_on_or_after: datetime  # earliest of SubjectConfirmationData and Conditions
    recipient: str
    audiences: tuple[str, ...]
    roles: tuple[RolePair, ...]
    session_name: str | None
    session_duration: int | None
    principal_tags: dict[str, str]
    transitive_tag_keys: tuple[str, ...]
    source_identity: str | None
    signed_element: str  # "assertion" | "response" | "both"
    signature_algorithm: str
    attributes: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def saml_context(self, principal_arn: str | None = None) -> dict[str, list[str]]:
        """The condition keys STS puts in the request context for a trust policy.

        ``SAML:aud`` comes from the SubjectConfirmationData Recipient, not from
        the Audience (AWS documents it so, and it is the most common surprise).
        ``SAML:doc`` and ``SAML:namequalifier`` depend on the provider the
        caller names; without ``principal_arn`` the only provider in the
        assertion is used, if there is just one.
        """
        if principal_arn is None:
            providers = {pair.principal_arn for pair in self.roles}
            principal_arn = providers.pop() if len(providers) == 1 else None
        sub_type = self.subject_format or "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
        if sub_type == NAMEID_PERSISTENT:
            sub_type = "persistent"
        elif sub_type == NAMEID_TRANSIENT:
            sub_type = "transient"
        context: dict[str, list[str]] = {
            "SAML:aud": [self.recipient],
            "SAML:iss": [self.issuer],
            "SAML:sub": [self.subject],
            "SAML:sub_type": [sub_type],
        }
        if principal_arn is not None:
            match = ARN_RE.match(principal_arn)
            if match:
                context["SAML:doc"] = [f"{match['account']}/{match['name']}"]
                context["SAML:namequalifier"] = [namequalifier(self.issuer, principal_arn)]
        for name, values in self.attributes.items():
            key = _ATTRIBUTE_KEYS.get(name)
            if key is not None:
                context[key] = list(values)
        if self.principal_tags:
            for tag, value in self.principal_tags.items():
                context[f"aws:RequestTag/{tag}"] = [value]
            context["aws:TagKeys"] = list(self.principal_tags)
        if self.source_identity is not None:
            context["sts:SourceIdentity"] = [self.source_identity]
        return context


# Assertion attributes that AWS exposes as SAML:* condition keys (eduPerson and
# X.500 attributes, by OID as SAML 2.0 IdPs name them).
_ATTRIBUTE_KEYS = {
    "urn:oid:2.5.4.3": "SAML:cn",
    "urn:oid:0.9.2342.19200300.100.1.3": "SAML:mail",
    "urn:oid:2.5.4.10": "SAML:organization",
    "urn:oid:2.5.4.11": "SAML:organizationalUnit",
    "urn:oid:2.5.4.42": "SAML:givenName",
    "urn:oid:2.5.4.4": "SAML:surname",
    "urn:oid:0.9.2342.19200300.100.1.1": "SAML:uid",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.1": "SAML:eduPersonAffiliation",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.6": "SAML:eduPersonPrincipalName",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.7": "SAML:eduPersonEntitlement",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.9": "SAML:eduPersonScopedAffiliation",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.10": "SAML:eduPersonTargetedID",
}


@dataclass(frozen=True)
class VerificationResult:
    """The outcome of verifying a SAML response as AWS STS would."""

    accepted: bool
    reasons: tuple[Reason, ...]
    assertion: VerifiedAssertion | None  # None only when nothing could be trusted

    @property
    def codes(self) -> list[str]:
        """The reason codes, in the order they were found."""
        return [reason.code for reason in self.reasons]

    def as_dict(self) -> dict[str, object]:
        """The JSON document ``keyless saml verify --json`` prints."""
        assertion = self.assertion
        return {
            "accepted": self.accepted,
            "reasons": [reason.as_dict() for reason in self.reasons],
            "issuer": assertion.issuer if assertion else None,
            "subject": assertion.subject if assertion else None,
            "roles": [
                {"role_arn": pair.role_arn, "principal_arn": pair.principal_arn}
                for pair in (assertion.roles if assertion else ())
            ],
            "session_name": assertion.session_name if assertion else None,
            "session_duration": assertion.session_duration if assertion else None,
            "not_on_or_after": (
                assertion.not_on_or_after.isoformat().replace("+00:00", "Z") if assertion else None
            ),
        }
