"""A strict ``AssumeRoleWithSAML``: what AWS STS checks, over moto's IAM state.

moto's own implementation accepts an unsigned assertion for a role that does
not exist and records the session in the wrong account. This one reads the
SAML provider's metadata and the role (trust policy, MaxSessionDuration) from
the role's account in moto, verifies the assertion with
:func:`keyless.saml.verify.verify_response` (signature against the provider's
certificates only, issuer, recipient, audience, validity window, age, role
pair, session name, trust policy and its SAML conditions, duration, replay),
and answers a refusal with the error code, HTTP status and message real STS
uses. Accepted requests get credentials from moto's STS backend *of the role's
account*, so ``GetCallerIdentity`` shows the assumed role there.

Session length follows the STS API reference: ``DurationSeconds`` when given
(900 up to the role's MaxSessionDuration), else 3600 seconds. The assertion's
``SessionDuration`` attribute is validated (900..43200) but, as AWS documents,
only governs console sessions.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

from keyless.core.aws import MAX_SESSION_SECONDS, MIN_SESSION_SECONDS
from keyless.errors import SamlInputError
from keyless.saml.metadata import IdpMetadata, parse_metadata
from keyless.saml.model import ARN_RE, Reason
from keyless.saml.replay import MemoryReplayCache, ReplayCache
from keyless.saml.verify import verify_response
from keyless_lab.aws.errors import AwsError
from keyless_lab.aws.permissions import parse_document

DEFAULT_DURATION = 3600
MIN_DURATION = MIN_SESSION_SECONDS
MAX_DURATION = MAX_SESSION_SECONDS
STS_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"

_NOT_AUTHORIZED = "Not authorized to perform sts:AssumeRoleWithSAML"
_ROLE_ARN = re.compile(r"^arn:(aws|aws-us-gov|aws-cn):iam::\d{12}:role/[\w+=,.@/-]+$")
_PROVIDER_ARN = re.compile(r"^arn:(aws|aws-us-gov|aws-cn):iam::\d{12}:saml-provider/[\w.-]+$")


@dataclass(frozen=True)
class SamlSession:
    """What the lab remembers about credentials it issued for a SAML assertion."""

    access_key_id: str
    account_id: str
    role_arn: str
    role_name: str
    session_name: str
    expiration: datetime
    subject: str
    issuer: str
    principal_tags: Mapping[str, str] = field(default_factory=dict)
    source_identity: str | None = None
    session_policy: tuple[Mapping[str, Any], ...] | None = None


@dataclass
class IssuedCredentials:
    """The answer to an accepted request (also what the benchmark and tests read)."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime
    assumed_role_id: str
    assumed_role_arn: str


def _validation(message: str) -> AwsError:
    return AwsError("ValidationError", message)


def _reason_error(reasons: tuple[Reason, ...]) -> AwsError:
    # STS validates request parameters before it looks at the token, so a
    # ValidationError (DurationSeconds, size) is the one the caller sees.
    chosen = next((r for r in reasons if r.aws_error_code == "ValidationError"), reasons[0])
    return AwsError(chosen.aws_error_code, chosen.aws_message)


class StrictSts:
    """``AssumeRoleWithSAML`` as AWS STS answers it, backed by moto's IAM and STS state.

    ``state_lock`` serialises the moment credentials are recorded in moto with
    the lab's snapshots; verification itself runs outside it.
    """

    def __init__(
        self,
        *,
        state_lock: threading.Lock,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        replay_cache: ReplayCache | None = None,
        region: str = "us-east-1",
    ) -> None:
        self._lock = state_lock
        self._clock = clock
        self._replay = replay_cache if replay_cache is not None else MemoryReplayCache()
        self._region = region
        self._metadata: dict[tuple[str, str], IdpMetadata] = {}
        self.sessions: dict[str, SamlSession] = {}

    # -- the action ---------------------------------------------------------------

    def assume_role_with_saml(self, params: Mapping[str, str]) -> bytes:
        """Answer one request (form parameters); the XML body on success, else :class:`AwsError`."""
        role_arn, principal_arn, assertion, duration, session_policy = self._parameters(params)
        from moto.iam.models import iam_backends

        match = ARN_RE.match(role_arn)
        if match is None:
            raise _validation("Request ARN is invalid")
        account, partition = match["account"], match["partition"]
        provider_match = ARN_RE.match(principal_arn)
        if provider_match is None or provider_match["account"] != account:
            # A role can only trust a SAML provider of its own account.
            raise AwsError("AccessDenied", _NOT_AUTHORIZED)
        iam = iam_backends[account][partition]
        provider = next((p for p in iam.saml_providers.values() if p.arn == principal_arn), None)
        role = next((r for r in iam.roles.values() if r.arn == role_arn), None)
        if provider is None or role is None:
            # STS does not tell a caller which roles or providers exist.
            raise AwsError("AccessDenied", _NOT_AUTHORIZED)
        metadata = self._provider_metadata(principal_arn, provider.saml_metadata_document or "")
        trust = parse_document(role.assume_role_policy_document)
        max_duration = int(role.max_session_duration or DEFAULT_DURATION)
        try:
            result = verify_response(
                assertion,
                metadata=metadata,
                now=self._clock(),
                role_arn=role_arn,
                principal_arn=principal_arn,
                trust_policy={"Version": "2012-10-17", "Statement": trust},
                role_max_session_duration=max_duration,
                duration_seconds=duration,
                replay_cache=self._replay,
            )
        except SamlInputError as exc:
            raise AwsError("InvalidIdentityToken", "Invalid SAML response: malformed XML") from exc
        if not result.accepted or result.assertion is None:
            raise (
                _reason_error(result.reasons)
                if result.reasons
                else AwsError("InvalidIdentityToken", "Invalid SAML response")
            )
        verified = result.assertion
        session_name = verified.session_name or ""
        issued = self._issue(
            account=account,
            role_arn=role_arn,
            session_name=session_name,
            duration=duration or DEFAULT_DURATION,
        )
        self.sessions[issued.access_key_id] = SamlSession(
            access_key_id=issued.access_key_id,
            account_id=account,
            role_arn=role_arn,
            role_name=role.name,
            session_name=session_name,
            expiration=issued.expiration,
            subject=verified.subject,
            issuer=verified.issuer,
            principal_tags=dict(verified.principal_tags),
            source_identity=verified.source_identity,
            session_policy=session_policy,
        )
        context = verified.saml_context(principal_arn)
        return _response_xml(
            issued,
            issuer=verified.issuer,
            audience=verified.recipient,
            subject=verified.subject,
            subject_type=context["SAML:sub_type"][0],
            name_qualifier=context.get("SAML:namequalifier", [""])[0],
            source_identity=verified.source_identity,
            packed_policy_size=6 if verified.principal_tags else None,
        )

    # -- pieces -------------------------------------------------------------------

    def _parameters(
        self, params: Mapping[str, str]
    ) -> tuple[str, str, str, int | None, tuple[Mapping[str, Any], ...] | None]:
        for name, field_name in (
            ("RoleArn", "roleArn"),
            ("PrincipalArn", "principalArn"),
            ("SAMLAssertion", "sAMLAssertion"),
        ):
            if not params.get(name):
                raise _validation(
                    f"1 validation error detected: Value null at '{field_name}' failed to "
                    "satisfy constraint: Member must not be null"
                )
        role_arn, principal_arn = params["RoleArn"], params["PrincipalArn"]
        if not _ROLE_ARN.match(role_arn) or not _PROVIDER_ARN.match(principal_arn):
            raise _validation("Request ARN is invalid")
        if len(params["SAMLAssertion"]) > 100_000:
            raise _validation(
                "1 validation error detected: Value at 'sAMLAssertion' failed to satisfy "
                "constraint: Member must have length less than or equal to 100000"
            )
        duration: int | None = None
        raw = params.get("DurationSeconds")
        if raw:
            try:
                duration = int(raw)
            except ValueError as exc:
                raise _validation(
                    f"Value '{raw}' at 'durationSeconds' failed to satisfy constraint: "
                    "Member must be a number"
                ) from exc
            if duration < MIN_DURATION:
                raise _validation(
                    f"1 validation error detected: Value '{duration}' at 'durationSeconds' "
                    f"failed to satisfy constraint: Member must have value greater than or "
                    f"equal to {MIN_DURATION}"
                )
            if duration > MAX_DURATION:
                raise _validation(
                    f"1 validation error detected: Value '{duration}' at 'durationSeconds' "
                    f"failed to satisfy constraint: Member must have value less than or "
                    f"equal to {MAX_DURATION}"
                )
        session_policy: tuple[Mapping[str, Any], ...] | None = None
        if params.get("Policy"):
            statements = parse_document(params["Policy"])
            if not statements:
                raise AwsError(
                    "MalformedPolicyDocument", "The policy is not in the valid JSON format."
                )
            session_policy = tuple(statements)
        return role_arn, principal_arn, params["SAMLAssertion"], duration, session_policy

    def _provider_metadata(self, arn: str, document: str) -> IdpMetadata:
        key = (arn, hashlib.sha256(document.encode()).hexdigest())
        cached = self._metadata.get(key)
        if cached is not None:
            return cached
        try:
            metadata = parse_metadata(document.encode())
        except SamlInputError as exc:
            # A provider whose metadata holds no usable certificate verifies nothing.
            raise AwsError("InvalidIdentityToken", "Response signature invalid") from exc
        self._metadata[key] = metadata
        return metadata

    def _issue(
        self, *, account: str, role_arn: str, session_name: str, duration: int
    ) -> IssuedCredentials:
        from moto.sts.models import sts_backends

        match = ARN_RE.match(role_arn)
        partition = match["partition"] if match else "aws"
        with self._lock:
            backend = sts_backends[account][partition]
            assumed = backend.assume_role(
                region_name=self._region,
                role_session_name=session_name,
                role_arn=role_arn,
                # moto annotates these as str but stores None for "absent", as here.
                policy=None,  # type: ignore[arg-type]
                duration=duration,
                external_id=None,  # type: ignore[arg-type]
            )
        expiration = assumed.expiration
        if expiration.tzinfo is None:
            expiration = expiration.replace(tzinfo=UTC)
        return IssuedCredentials(
            access_key_id=assumed.access_key_id,
            secret_access_key=assumed.secret_access_key,
            session_token=assumed.session_token,
            expiration=expiration,
            assumed_role_id=assumed.user_id,
            assumed_role_arn=assumed.arn,
        )


def _response_xml(
    issued: IssuedCredentials,
    *,
    issuer: str,
    audience: str,
    subject: str,
    subject_type: str,
    name_qualifier: str,
    source_identity: str | None,
    packed_policy_size: int | None,
) -> bytes:
    expiration = issued.expiration.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    extra = ""
    if source_identity is not None:
        extra += f"    <SourceIdentity>{escape(source_identity)}</SourceIdentity>\n"
    if packed_policy_size is not None:
        extra += f"    <PackedPolicySize>{packed_policy_size}</PackedPolicySize>\n"
    import uuid

    text = (
        f'<AssumeRoleWithSAMLResponse xmlns="{STS_NAMESPACE}">\n'
        "  <AssumeRoleWithSAMLResult>\n"
        f"    <Issuer>{escape(issuer)}</Issuer>\n"
        "    <AssumedRoleUser>\n"
        f"      <Arn>{escape(issued.assumed_role_arn)}</Arn>\n"
        f"      <AssumedRoleId>{escape(issued.assumed_role_id)}</AssumedRoleId>\n"
        "    </AssumedRoleUser>\n"
        "    <Credentials>\n"
        f"      <AccessKeyId>{issued.access_key_id}</AccessKeyId>\n"
        f"      <SecretAccessKey>{escape(issued.secret_access_key)}</SecretAccessKey>\n"
        f"      <SessionToken>{escape(issued.session_token)}</SessionToken>\n"
        f"      <Expiration>{expiration}</Expiration>\n"
        "    </Credentials>\n"
        f"    <Audience>{escape(audience)}</Audience>\n"
        f"    <SubjectType>{escape(subject_type)}</SubjectType>\n"
        f"    <NameQualifier>{escape(name_qualifier)}</NameQualifier>\n"
        f"    <Subject>{escape(subject)}</Subject>\n"
        f"{extra}"
        "  </AssumeRoleWithSAMLResult>\n"
        f"  <ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>\n"
        "</AssumeRoleWithSAMLResponse>\n"
    )
    return text.encode()
