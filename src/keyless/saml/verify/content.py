"""Stages 4 and 5: what AWS STS checks on the signed content, each with its reason.

Everything here reads only the element it is handed: after verification, the
copy the signature covered; when inspecting, the document as it claims to be.
Each check adds its reasons and none stops the rest, so a person sees every
problem at once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from lxml import etree

from keyless.core.aws import MAX_SESSION_SECONDS, MIN_SESSION_SECONDS
from keyless.saml.metadata import IdpMetadata
from keyless.saml.model import (
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
    VerifiedAssertion,
    make_reason,
)
from keyless.saml.roles import read_role_values
from keyless.saml.verify.common import FIX_IDP, ago, iso, matches, path_of, shown
from keyless.saml.xmlsafe import SAML, SAMLP, parse_instant, text_of

SESSION_NAME_RE = re.compile(r"^[a-zA-Z_0-9+=,.@-]{2,64}$")
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"


@dataclass
class ContentChecks:
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
            self.add("malformed", f"{path_of(element)}/@{name} {raw!r} is not a timestamp", FIX_IDP)
            return None

    def read(
        self,
        assertion: etree._Element,
        response: etree._Element,
        *,
        signed_element: str,
        signature_algorithm: str,
    ) -> VerifiedAssertion | None:
        """Read ``assertion`` (and its ``response``'s status) as AWS does; None if unusable.

        ``signed_element`` and ``signature_algorithm`` are reported as given (the
        signature stage's findings, or an inspection's claims).
        """
        status = response.find(f"{SAMLP}Status/{SAMLP}StatusCode")
        status_value = status.get("Value") if status is not None else None
        if status_value != SUCCESS:
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
            self.add("malformed", "the Assertion has no IssueInstant", FIX_IDP)
            return None

        name_id = assertion.find(f"{SAML}Subject/{SAML}NameID")
        subject = text_of(name_id)
        if name_id is None or not subject:
            self.add("malformed", "the Assertion's Subject has no NameID", FIX_IDP)

        recipient, confirmation_expiry = self._confirmation(assertion)
        not_before, conditions_expiry, audiences = self._conditions(assertion)
        expiries = [t for t in (confirmation_expiry, conditions_expiry) if t is not None]
        if not expiries:
            self.add(
                "malformed",
                "the Assertion has no NotOnOrAfter on its SubjectConfirmationData or Conditions",
                FIX_IDP,
            )
        not_on_or_after = min(expiries) if expiries else issue_instant
        self._check_times(issue_instant, not_before, not_on_or_after)

        attributes = attributes_of(assertion)
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
            signed_element=signed_element,
            signature_algorithm=signature_algorithm,
            attributes=attributes,
        )

    def _confirmation(self, assertion: etree._Element) -> tuple[str, datetime | None]:
        bearer = [
            sc
            for sc in assertion.iterfind(f"{SAML}Subject/{SAML}SubjectConfirmation")
            if sc.get("Method") == BEARER
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
            if matches(recipient, self.recipients):
                return recipient, self.instant(data, "NotOnOrAfter")
        given = ", ".join(repr(r) for r in found) or "none"
        self.add(
            "recipient_mismatch",
            f"the assertion's Recipient is {given}; AWS accepts only {shown(self.recipients)}",
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
            if not any(matches(value, self.audiences) for value in values):
                self.add(
                    "audience_mismatch",
                    f"the assertion's Audience is {', '.join(map(repr, values)) or 'empty'}; "
                    f"expected one of {shown(self.audiences)}",
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
                f"the assertion expired at {iso(not_on_or_after)}, "
                f"{ago(now - not_on_or_after)} before now ({iso(now)})",
                "sign in at the IdP again and use the new response at once; " + clock_fix,
            )
        start = max(t for t in (not_before, issue_instant) if t is not None)
        if now + skew < start:
            self.add(
                "not_yet_valid",
                f"the assertion is valid from {iso(start)}, {ago(start - now)} after now "
                f"({iso(now)})",
                clock_fix,
            )
        age = now - issue_instant
        if age > self.max_age:
            self.add(
                "too_old",
                f"the assertion was issued at {iso(issue_instant)}, {ago(age)} ago; AWS "
                f"refuses assertions not redeemed within {ago(self.max_age)} of issue",
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
        read = read_role_values(values)
        for malformed in read.malformed:
            self.add(
                "role_value_malformed",
                malformed.note(),
                "each Role value must be 'provider ARN,role ARN' (either order) in one "
                "account and partition; fix the role mapping in the IdP's AWS app",
            )
        if len(read.partitions) > 1:
            self.add(
                "role_value_malformed",
                f"the Role values span partitions {', '.join(sorted(read.partitions))}; one "
                "assertion serves one partition",
                "use a separate IdP app per AWS partition",
            )
        return read.pairs

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
        if not MIN_SESSION_SECONDS <= duration <= MAX_SESSION_SECONDS or len(values) > 1:
            self.add(
                "session_duration_invalid",
                f"the SessionDuration {values[0]!r} is not a whole number of seconds between "
                f"{MIN_SESSION_SECONDS} and {MAX_SESSION_SECONDS}",
                "set the AWS app's session duration in the IdP to "
                f"{MIN_SESSION_SECONDS}..{MAX_SESSION_SECONDS} seconds",
            )
            return None if duration < 0 else duration
        return duration


def attributes_of(assertion: etree._Element) -> dict[str, tuple[str, ...]]:
    """Every Attribute's values by Name (values of repeated Names joined)."""
    attributes: dict[str, tuple[str, ...]] = {}
    for attribute in assertion.iterfind(f"{SAML}AttributeStatement/{SAML}Attribute"):
        name = attribute.get("Name") or ""
        values = tuple(text_of(v) for v in attribute.findall(SAML + "AttributeValue"))
        attributes[name] = attributes.get(name, ()) + values
    return attributes
