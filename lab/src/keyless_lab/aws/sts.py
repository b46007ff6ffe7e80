"""A strict ``AssumeRoleWithSAML``: what AWS STS checks, over moto's IAM state.

moto's own implementation accepts an unsigned assertion for a role that does
not exist and records the session in the wrong account. This one reads the
SAML provider's metadata and the role (trust policy, MaxSessionDuration) from
the role's account in moto, verifies the assertion itself
(:mod:`keyless_lab.aws.saml_response`: signature against the provider's
certificates only, issuer, recipient, audience, validity window, age, the
Role, RoleSessionName and SessionDuration attributes), then the request
against it (the role/provider pair, the duration, the trust policy with the
SAML context keys, single use), and answers a refusal with the error code,
HTTP status and message real STS uses. Accepted requests get credentials from
moto's STS backend *of the role's account*, so ``GetCallerIdentity`` shows the
assumed role there.

Nothing here comes from keyless (the product): the lab is the oracle keyless
is tested against, and an oracle that shared the product's verifier would
repeat its bugs (an import-linter contract in ``pyproject.toml`` holds it).

Session length follows the STS API reference
(https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithSAML.html,
``DurationSeconds``): "from 900 seconds (15 minutes) up to the maximum session
duration setting for the role ... If you specify a value higher than this
setting, the operation fails"; absent, 3600 seconds. The assertion's
``SessionDuration`` attribute is validated (900..43200) but, as AWS documents,
only governs console sessions.

Citations in brackets name the sources listed in
:mod:`keyless_lab.aws.saml_response` ([API], [CLAIMS], [KEYS], [PROFILE]).
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

from keyless_lab.aws.errors import AwsError
from keyless_lab.aws.permissions import parse_document, trust_allows
from keyless_lab.aws.saml_provider import ProviderMetadata, UnsafeXml, read_metadata
from keyless_lab.aws.saml_response import (
    CLOCK_SKEW,
    IAM_ARN,
    Claims,
    access_denied,
    decode_assertion,
    read_claims,
    signature_invalid,
    verify_signatures,
)

# [API] DurationSeconds: "Valid Range: Minimum value of 900. Maximum value of 43200."
DEFAULT_DURATION = 3600
MIN_DURATION = 900
MAX_DURATION = 43200
STS_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
# [API] SAMLAssertion: "Length Constraints: Minimum length of 4. Maximum length of 100000."
MAX_ASSERTION_CHARS = 100_000

_ROLE_ARN = re.compile(r"^arn:(aws|aws-us-gov|aws-cn):iam::\d{12}:role/[\w+=,.@/-]+$")
# A managed policy: the account's own, or AWS's ("arn:aws:iam::aws:policy/...").
_POLICY_ARN = re.compile(r"^arn:(aws|aws-us-gov|aws-cn):iam::(\d{12}|aws):policy/[\w+=,.@/-]+$")
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
    policy_arns: tuple[str, ...] = ()  # managed session policies, read at each request
    transitive_tag_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class RoleSession:
    """What the lab remembers about credentials it issued for ``AssumeRole``."""

    access_key_id: str
    account_id: str
    role_arn: str
    session_name: str
    expiration: datetime
    principal_tags: Mapping[str, str] = field(default_factory=dict)
    transitive_tag_keys: tuple[str, ...] = ()
    source_identity: str | None = None
    session_policy: tuple[Mapping[str, Any], ...] | None = None
    policy_arns: tuple[str, ...] = ()


# [AR] https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
# SourceIdentity: "Length Constraints: Minimum length of 2. Maximum length of 64.
# Pattern: [\w+=,.@-]*"; PolicyArns: "no more than 10"; Tags: "up to 50".
_SOURCE_IDENTITY = re.compile(r"^[\w+=,.@-]{2,64}$")
MAX_POLICY_ARNS = 10
MAX_SESSION_TAGS = 50
# [AR] DurationSeconds: "Role chaining limits your AWS CLI or AWS API role session to a
# maximum of one hour."
CHAINED_MAX_DURATION = 3600


def member_list(params: Mapping[str, str], prefix: str, suffix: str = "") -> list[str]:
    """A query-protocol list: ``<prefix>.member.1<suffix>``, ``.2``... in order."""
    values = []
    index = 1
    while f"{prefix}.member.{index}{suffix}" in params:
        values.append(params[f"{prefix}.member.{index}{suffix}"])
        index += 1
    return values


def session_policy_parameters(
    params: Mapping[str, str],
) -> tuple[tuple[Mapping[str, Any], ...] | None, tuple[str, ...]]:
    """The inline ``Policy`` and the ``PolicyArns`` of an AssumeRole* call, validated."""
    inline: tuple[Mapping[str, Any], ...] | None = None
    if params.get("Policy"):
        statements = parse_document(params["Policy"])
        if not statements:
            raise AwsError("MalformedPolicyDocument", "The policy is not in the valid JSON format.")
        inline = tuple(statements)
    arns = tuple(member_list(params, "PolicyArns", ".arn"))
    if len(arns) > MAX_POLICY_ARNS:
        raise _validation(
            "1 validation error detected: Value at 'policyArns' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_POLICY_ARNS}"
        )
    if any(not _POLICY_ARN.match(arn) for arn in arns):
        raise _validation("Request ARN is invalid")
    return inline, arns


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


class UsedAssertions:
    """Assertion IDs already redeemed, each kept while the assertion could still be accepted.

    [PROFILE 4.1.4.5] "the relying party MUST ensure that any bearer assertions
    ... are not replayed, by maintaining the set of used ID values for the
    length of time for which the assertion would be considered valid"
    (https://docs.oasis-open.org/security/saml/v2.0/saml-profiles-2.0-os.pdf).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until: dict[str, datetime] = {}

    def first_use(self, assertion_id: str, *, until: datetime, now: datetime) -> bool:
        """Record ``assertion_id``; False if it was already recorded and not yet forgotten."""
        with self._lock:
            for known in [k for k, expiry in self._until.items() if expiry <= now]:
                del self._until[known]
            if assertion_id in self._until:
                return False
            self._until[assertion_id] = until
            return True


# Attributes AWS exposes as SAML:* trust-policy keys, by the OIDs IdPs name them with
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_saml_assertions.html
# #saml-attribute-mapping; eduPerson and X.500 object identifiers).
_SAML_ATTRIBUTE_KEYS = {
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.1": "SAML:eduPersonAffiliation",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.2": "SAML:eduPersonNickname",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.3": "SAML:eduPersonOrgDN",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.4": "SAML:eduPersonOrgUnitDN",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.5": "SAML:eduPersonPrimaryAffiliation",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.6": "SAML:eduPersonPrincipalName",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.7": "SAML:eduPersonEntitlement",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.8": "SAML:eduPersonPrimaryOrgUnitDN",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.9": "SAML:eduPersonScopedAffiliation",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.10": "SAML:eduPersonTargetedID",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.11": "SAML:eduPersonAssurance",
    "urn:oid:1.3.6.1.4.1.5923.1.2.1.2": "SAML:eduOrgHomePageURI",
    "urn:oid:1.3.6.1.4.1.5923.1.2.1.3": "SAML:eduOrgIdentityAuthNPolicyURI",
    "urn:oid:1.3.6.1.4.1.5923.1.2.1.4": "SAML:eduOrgLegalName",
    "urn:oid:1.3.6.1.4.1.5923.1.2.1.5": "SAML:eduOrgSuperiorURI",
    "urn:oid:1.3.6.1.4.1.5923.1.2.1.6": "SAML:eduOrgWhitePagesURI",
    "urn:oid:2.5.4.3": "SAML:cn",
    "urn:oid:0.9.2342.19200300.100.1.3": "SAML:mail",
    "urn:oid:2.5.4.10": "SAML:organization",
    "urn:oid:2.5.4.11": "SAML:organizationalUnit",
    "urn:oid:2.5.4.42": "SAML:givenName",
    "urn:oid:2.5.4.4": "SAML:surname",
    "urn:oid:0.9.2342.19200300.100.1.1": "SAML:uid",
}
_NAMEID_SHORT = {
    "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent": "persistent",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:transient": "transient",
}
# SAML core 8.3.1: a NameID without a Format is "unspecified".
_NAMEID_UNSPECIFIED = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"


def subject_type(claims: Claims) -> str:
    """SAML:sub_type: "persistent", "transient", or the full Format URI [KEYS]."""
    form = claims.subject_format or _NAMEID_UNSPECIFIED
    return _NAMEID_SHORT.get(form, form)


def name_qualifier(issuer: str, provider_arn: str) -> str:
    """SAML:namequalifier: "Base64 ( SHA1 ( issuer + AWS account ID + "/" + provider name ))"."""
    match = IAM_ARN.fullmatch(provider_arn)
    if match is None:
        return ""
    seed = f"{issuer}{match['account']}/{match['name']}".encode()
    # SHA-1 is AWS's identifier scheme here, not a security control.
    return base64.b64encode(hashlib.sha1(seed, usedforsecurity=False).digest()).decode()


def saml_context(claims: Claims, provider_arn: str) -> dict[str, list[str]]:
    """The condition keys STS puts in the request context of AssumeRoleWithSAML [KEYS].

    ``SAML:aud`` is the SubjectConfirmationData Recipient, not the Audience
    ("SAML:aud: The value of the Recipient attribute ... the URL to which SAML
    assertions are posted").
    """
    match = IAM_ARN.fullmatch(provider_arn)
    context: dict[str, list[str]] = {
        "SAML:aud": [claims.recipient],
        "SAML:iss": [claims.issuer],
        "SAML:sub": [claims.subject],
        "SAML:sub_type": [subject_type(claims)],
        "SAML:namequalifier": [name_qualifier(claims.issuer, provider_arn)],
    }
    if match is not None:
        context["SAML:doc"] = [f"{match['account']}/{match['name']}"]
    for name, values in claims.attributes.items():
        key = _SAML_ATTRIBUTE_KEYS.get(name)
        if key is not None:
            context[key] = list(values)
    # Session tags and source identity are checked as on every STS call that sets
    # them (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html,
    # id_credentials_temp_control-access_monitor.html).
    if claims.principal_tags:
        for tag, value in claims.principal_tags.items():
            context[f"aws:RequestTag/{tag}"] = [value]
        context["aws:TagKeys"] = list(claims.principal_tags)
    if claims.source_identity is not None:
        context["sts:SourceIdentity"] = [claims.source_identity]
    return context


def access_denied_for(caller_arn: str, role_arn: str) -> AwsError:
    """STS's refusal of an AssumeRole, which never says why [AR]."""
    return AwsError(
        "AccessDenied",
        f"User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
    )


class StrictSts:
    """``AssumeRoleWithSAML`` and ``AssumeRole`` as AWS STS answers them, over moto's state.

    ``state_lock`` serialises the moment credentials are recorded in moto with
    the lab's snapshots; verification itself runs outside it.
    """

    def __init__(
        self,
        *,
        state_lock: threading.Lock,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        used_assertions: UsedAssertions | None = None,
        region: str = "us-east-1",
    ) -> None:
        self._lock = state_lock
        self._clock = clock
        self._used = used_assertions if used_assertions is not None else UsedAssertions()
        self._region = region
        self._metadata: dict[tuple[str, str], ProviderMetadata] = {}
        self.sessions: dict[str, SamlSession | RoleSession] = {}

    # -- the action ---------------------------------------------------------------

    def assume_role_with_saml(self, params: Mapping[str, str]) -> bytes:
        """Answer one request (form parameters); the XML body on success, else :class:`AwsError`."""
        role_arn, principal_arn, assertion, duration, session_policy = self._parameters(params)
        _, policy_arns = session_policy_parameters(params)
        from moto.iam.models import iam_backends

        match = IAM_ARN.fullmatch(role_arn)
        if match is None or match["kind"] != "role":
            raise _validation("Request ARN is invalid")
        account, partition = match["account"], match["partition"]
        provider_match = IAM_ARN.fullmatch(principal_arn)
        if provider_match is None or provider_match["account"] != account:
            # A role can only trust a SAML provider of its own account.
            raise access_denied()
        iam = iam_backends[account][partition]
        provider = next((p for p in iam.saml_providers.values() if p.arn == principal_arn), None)
        role = next((r for r in iam.roles.values() if r.arn == role_arn), None)
        if provider is None or role is None:
            # STS does not tell a caller which roles or providers exist.
            raise access_denied()
        metadata = self._provider_metadata(principal_arn, provider.saml_metadata_document or "")
        max_duration = int(role.max_session_duration or DEFAULT_DURATION)
        now = self._clock()

        signed = verify_signatures(decode_assertion(assertion), metadata)
        if duration is not None and duration > max_duration:
            # [API] DurationSeconds: "If you specify a value higher than this setting,
            # the operation fails" (a request parameter error, so ValidationError).
            raise _validation(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
            )
        claims = read_claims(signed, metadata, now)
        # [CLAIMS] the Role attribute must pair the requested role with the provider named.
        if not any(
            pair.role_arn == role_arn and pair.provider_arn == principal_arn
            for pair in claims.roles
        ):
            raise access_denied()
        self._check_trust(role.assume_role_policy_document, claims, role_arn, principal_arn)
        if not self._used.first_use(
            claims.assertion_id, until=claims.not_on_or_after + CLOCK_SKEW, now=now
        ):
            raise AwsError(
                "InvalidIdentityToken", "Invalid SAML response: assertion has already been used"
            )

        issued = self._issue(
            account=account,
            role_arn=role_arn,
            session_name=claims.session_name,
            duration=duration or DEFAULT_DURATION,
        )
        self.sessions[issued.access_key_id] = SamlSession(
            access_key_id=issued.access_key_id,
            account_id=account,
            role_arn=role_arn,
            role_name=role.name,
            session_name=claims.session_name,
            expiration=issued.expiration,
            subject=claims.subject,
            issuer=claims.issuer,
            principal_tags=dict(claims.principal_tags),
            source_identity=claims.source_identity,
            session_policy=session_policy,
            policy_arns=policy_arns,
            transitive_tag_keys=tuple(claims.transitive_tag_keys),
        )
        return _response_xml(
            issued,
            issuer=claims.issuer,
            audience=claims.recipient,
            subject=claims.subject,
            subject_type=subject_type(claims),
            name_qualifier=name_qualifier(claims.issuer, principal_arn),
            source_identity=claims.source_identity,
            packed_policy_size=6 if claims.principal_tags else None,
        )

    def _check_trust(
        self, trust_policy: str, claims: Claims, role_arn: str, principal_arn: str
    ) -> None:
        """The role's trust policy must allow the federated provider every action the call takes.

        AssumeRoleWithSAML itself; sts:TagSession when the assertion carries
        session tags; sts:SetSourceIdentity when it carries a source identity
        (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html,
        https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_monitor.html).
        """
        context = saml_context(claims, principal_arn)
        actions = ["sts:AssumeRoleWithSAML"]
        if claims.principal_tags or claims.transitive_tag_keys:
            actions.append("sts:TagSession")
        if claims.source_identity is not None:
            actions.append("sts:SetSourceIdentity")
        for action in actions:
            if not trust_allows(
                trust_policy,
                caller_candidates={principal_arn},
                principal_type="Federated",
                action=action,
                resource=role_arn,
                context=context,
            ):
                raise access_denied()

    def assume_role(
        self,
        params: Mapping[str, str],
        *,
        caller_arn: str,
        caller_is_session: bool,
        source_identity: str | None,
        transitive_tags: Mapping[str, str],
    ) -> bytes:
        """``AssumeRole`` for a caller IAM has already authorized ([AR]); the XML answer.

        The session keeps its session policies, tags and source identity. A source
        identity once set cannot change: a chained call naming another is refused, and
        one naming none carries it on (IAM User Guide,
        id_credentials_temp_control-access_monitor.html: "The value that is set
        persists when a role is used to assume another role ... cannot be changed
        during the role session"). Transitive tags are carried the same way
        (id_session-tags.html, "Chaining roles with session tags").
        """
        from moto.iam.models import iam_backends

        role_arn = params["RoleArn"]
        match = IAM_ARN.fullmatch(role_arn)
        if match is None or match["kind"] != "role":
            raise _validation(f"{role_arn} is invalid")
        iam = iam_backends[match["account"]][match["partition"]]
        role = next((r for r in iam.roles.values() if r.arn == role_arn), None)
        if role is None:
            raise access_denied_for(caller_arn, role_arn)
        requested = params.get("SourceIdentity")
        if requested is not None and not _SOURCE_IDENTITY.match(requested):
            raise _validation(
                f"1 validation error detected: Value '{requested}' at 'sourceIdentity' failed "
                "to satisfy constraint: Member must satisfy regular expression pattern: "
                "[\\w+=,.@-]*"
            )
        if source_identity is not None and requested is not None and requested != source_identity:
            raise AwsError(
                "AccessDenied",
                f"User: {caller_arn} is not authorized to perform: sts:SetSourceIdentity on "
                f"resource: {role_arn}: the source identity of a role session cannot be changed",
            )
        duration = int(params.get("DurationSeconds") or DEFAULT_DURATION)
        if caller_is_session and duration > CHAINED_MAX_DURATION:
            raise _validation(
                "The requested DurationSeconds exceeds the 1 hour session limit for roles "
                "assumed by role chaining."
            )
        if duration > int(role.max_session_duration or DEFAULT_DURATION):
            raise _validation(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
            )
        inline, policy_arns = session_policy_parameters(params)
        keys = member_list(params, "Tags", ".Key")
        values = member_list(params, "Tags", ".Value")
        if len(keys) > MAX_SESSION_TAGS:
            raise _validation(
                "1 validation error detected: Value at 'tags' failed to satisfy constraint: "
                f"Member must have length less than or equal to {MAX_SESSION_TAGS}"
            )
        tags = dict(transitive_tags)
        tags.update(zip(keys, values, strict=False))
        transitive_keys = tuple(
            dict.fromkeys([*transitive_tags, *member_list(params, "TransitiveTagKeys")])
        )
        issued = self._issue(
            account=match["account"],
            role_arn=role_arn,
            session_name=params["RoleSessionName"],
            duration=duration,
        )
        kept = requested or source_identity
        self.sessions[issued.access_key_id] = RoleSession(
            access_key_id=issued.access_key_id,
            account_id=match["account"],
            role_arn=role_arn,
            session_name=params["RoleSessionName"],
            expiration=issued.expiration,
            principal_tags=tags,
            transitive_tag_keys=transitive_keys,
            source_identity=kept,
            session_policy=inline,
            policy_arns=policy_arns,
        )
        return _assume_role_xml(issued, source_identity=kept)

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
        if len(params["SAMLAssertion"]) > MAX_ASSERTION_CHARS:
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
        session_policy, _ = session_policy_parameters(params)
        return role_arn, principal_arn, params["SAMLAssertion"], duration, session_policy

    def _provider_metadata(self, arn: str, document: str) -> ProviderMetadata:
        key = (arn, hashlib.sha256(document.encode()).hexdigest())
        cached = self._metadata.get(key)
        if cached is not None:
            return cached
        try:
            metadata = read_metadata(document.encode())
        except (UnsafeXml, ValueError) as exc:
            # A provider whose metadata holds no usable certificate verifies nothing.
            raise signature_invalid() from exc
        self._metadata[key] = metadata
        return metadata

    def _issue(
        self, *, account: str, role_arn: str, session_name: str, duration: int
    ) -> IssuedCredentials:
        from moto.sts.models import sts_backends

        match = IAM_ARN.fullmatch(role_arn)
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


def _assume_role_xml(issued: IssuedCredentials, *, source_identity: str | None) -> bytes:
    """[AR] Response Elements: AssumedRoleUser, Credentials, SourceIdentity."""
    expiration = issued.expiration.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    extra = ""
    if source_identity is not None:
        extra = f"    <SourceIdentity>{escape(source_identity)}</SourceIdentity>\n"
    text = (
        f'<AssumeRoleResponse xmlns="{STS_NAMESPACE}">\n'
        "  <AssumeRoleResult>\n"
        f"{extra}"
        "    <AssumedRoleUser>\n"
        f"      <AssumedRoleId>{escape(issued.assumed_role_id)}</AssumedRoleId>\n"
        f"      <Arn>{escape(issued.assumed_role_arn)}</Arn>\n"
        "    </AssumedRoleUser>\n"
        "    <Credentials>\n"
        f"      <AccessKeyId>{issued.access_key_id}</AccessKeyId>\n"
        f"      <SecretAccessKey>{escape(issued.secret_access_key)}</SecretAccessKey>\n"
        f"      <SessionToken>{escape(issued.session_token)}</SessionToken>\n"
        f"      <Expiration>{expiration}</Expiration>\n"
        "    </Credentials>\n"
        "  </AssumeRoleResult>\n"
        f"  <ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>\n"
        "</AssumeRoleResponse>\n"
    )
    return text.encode()
