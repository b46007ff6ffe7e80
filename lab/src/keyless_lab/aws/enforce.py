"""Who is calling the lab's AWS, and may they do it: SigV4 authentication and IAM authorization.

Every signed request is checked as AWS checks it before moto sees it:

1. the access key exists (an IAM user's key, or a session moto or the strict
   STS issued) and is active; a session's token matches and has not expired;
2. the SigV4 signature is the one the key's secret produces, and was made in
   the last 15 minutes;
3. every check the request derives (:mod:`keyless_lab.aws.derive`: action,
   resource, owning account, resource policy) is allowed by
   :func:`keyless_lab.aws.permissions.evaluate` over the caller's identity
   policies (inline, attached, groups; the role's for a session), permissions
   boundary and session policies, the resource's policy (an S3 bucket policy, a
   role's trust policy), and the organization policies hook (``organization_policies``,
   default: none apply).

The payload hash is the lab's: for every service but S3 it is the SHA-256 of the
body received, whatever ``x-amz-content-sha256`` says (SigV4 "Create a canonical
request": "HashedPayload ... Hex(SHA256Hash(<payload>))"); S3 alone accepts
``UNSIGNED-PAYLOAD`` and ``STREAMING-UNSIGNED-PAYLOAD-TRAILER``, and a hex hash
there must be the body's (``XAmzContentSHA256Mismatch``; Amazon S3 API Reference,
"Authenticating Requests: Using the Authorization Header", "Signature
Calculations for the Authorization Header: Transferring Payload in a Single
Chunk"). Signed streaming uploads (``STREAMING-AWS4-HMAC-SHA256-PAYLOAD``) would
need each chunk's signature checked; the lab refuses them.

A session's role policies are read on every request, not when the session was
issued: as in AWS, a Deny attached to a role stops sessions already issued at
their next call. The context carries ``aws:userid`` (``AROA…:<RoleSessionName>``
for a role session) and ``aws:TokenIssueTime`` (temporary credentials only), the
keys AWS's "revoke active sessions" policy and ``keyless offboard`` match on
(IAM User Guide, "Revoking IAM role temporary security credentials"; "AWS global
condition context keys").

moto's own checks are left off (they are process-wide and treat an unmet
Condition as a Deny); this module replaces them for every principal.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from keyless_lab.aws.derive import Check, not_modelled
from keyless_lab.aws.errors import AwsError
from keyless_lab.aws.permissions import (
    OrganizationPolicies,
    Principal,
    Query,
    evaluate,
    no_organization_policies,
    parse_document,
)
from keyless_lab.aws.sts import RoleSession, SamlSession

_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+)\s*,\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+)\s*,\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)
_MAX_CLOCK_SKEW = timedelta(minutes=15)
_INVALID_KEY = "The security token included in the request is invalid."
_EXPIRED = "The security token included in the request is expired"
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
# x-amz-content-sha256 values S3 takes in place of the body's hash; the signed
# streaming variants carry per-chunk signatures the lab does not check.
_S3_UNSIGNED = frozenset({"UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"})
_S3_SIGNED_STREAMING = frozenset(
    {
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER",
    }
)
_HEX_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class IssuedSession(Protocol):
    """What the lab's STS remembers of a session beyond moto's record of it."""

    principal_tags: Mapping[str, str]
    transitive_tag_keys: tuple[str, ...]
    source_identity: str | None
    session_policy: tuple[Mapping[str, Any], ...] | None
    policy_arns: tuple[str, ...]


@dataclass(frozen=True)
class SignedRequest:
    """The parts of an HTTP request SigV4 covers."""

    method: str
    path: str  # raw path, as sent
    query: str  # raw query string
    headers: Mapping[str, str]  # lower-cased names
    body: bytes


@dataclass(frozen=True)
class Caller:
    """An authenticated principal and what IAM evaluates for it."""

    arn: str
    account_id: str
    access_key_id: str  # the key that signed: moto picks its account from it
    kind: Literal["user", "assumed-role"]
    name: str  # user name, or role name for a session
    role_arn: str | None
    service: str  # signing name from the credential scope: iam, sts, organizations...
    region: str
    policies: tuple[tuple[Mapping[str, Any], ...], ...]
    boundary: tuple[Mapping[str, Any], ...] | None
    # Inline and managed session policies, one set; None when the session has none.
    session_policies: tuple[tuple[Mapping[str, Any], ...], ...] | None
    context: dict[str, list[str]] = field(default_factory=dict)
    source_identity: str | None = None  # set once, carried into chained sessions
    transitive_tags: Mapping[str, str] = field(default_factory=dict)

    def principal(self) -> Principal:
        """The caller as :func:`keyless_lab.aws.permissions.evaluate` takes it."""
        return Principal(
            arn=self.arn,
            account_id=self.account_id,
            identity_policies=self.policies,
            role_arn=self.role_arn,
            boundary=self.boundary,
            session_policies=self.session_policies,
        )


@lru_cache(maxsize=1024)
def _statements(document: str) -> tuple[Mapping[str, Any], ...]:
    # Policy documents are immutable strings in moto; ReadOnlyAccess is large,
    # so parse each version once.
    return tuple(parse_document(document))


def _managed_document(policy: Any) -> str:
    for version in getattr(policy, "versions", []):
        if version.is_default:
            return str(version.document)
    return "{}"


class Gate:
    """Authenticates and authorizes signed requests against moto's IAM and STS state."""

    def __init__(
        self,
        *,
        sessions: Mapping[str, IssuedSession] | Mapping[str, SamlSession | RoleSession],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        partition: str = "aws",
        organization_policies: OrganizationPolicies = no_organization_policies,
    ) -> None:
        self._sessions: Mapping[str, IssuedSession] = sessions  # type: ignore[assignment]
        self._organization_policies = organization_policies
        self._clock = clock
        self._partition = partition

    # -- authentication -------------------------------------------------------------

    def authenticate(self, request: SignedRequest) -> Caller:
        """The caller of a SigV4-signed request; :class:`AwsError` as AWS would refuse it."""
        header = request.headers.get("authorization", "")
        if not header:
            raise AwsError("MissingAuthenticationToken", "Request is missing Authentication Token")
        parsed = _AUTH.match(header)
        if parsed is None:
            raise AwsError(
                "IncompleteSignature",
                "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' "
                "parameters, signed with AWS4-HMAC-SHA256.",
            )
        scope = parsed["credential"].split("/")
        if len(scope) != 5 or scope[4] != "aws4_request":
            raise AwsError(
                "IncompleteSignature", f"Credential scope {parsed['credential']!r} is malformed."
            )
        access_key_id, _, region, service, _ = scope
        token = request.headers.get("x-amz-security-token")
        secret, caller = self._principal(access_key_id, token, service=service, region=region)
        self._check_signature(request, parsed, secret, token, service=service, region=region)
        if caller.kind == "user":
            self._record_key_use(caller.account_id, access_key_id, service=service, region=region)
        return replace(caller, access_key_id=access_key_id)

    def _record_key_use(
        self, account_id: str, access_key_id: str, *, service: str, region: str
    ) -> None:
        # IAM records when and where an access key was last used (GetAccessKeyLastUsed,
        # the credential report); moto does so only with its own enforcement on.
        from moto.iam.models import AccessKeyLastUsed, iam_backends

        iam = dict.get(iam_backends.get(account_id, {}), self._partition)
        key = iam.access_keys.get(access_key_id) if iam is not None else None
        if key is not None:
            key.last_used = AccessKeyLastUsed(
                timestamp=self._clock().replace(tzinfo=None), service=service, region=region
            )

    def _principal(
        self, access_key_id: str, token: str | None, *, service: str, region: str
    ) -> tuple[str, Caller]:
        from moto.iam.models import iam_backends
        from moto.sts.models import sts_backends

        for account_id, per_partition in list(iam_backends.items()):
            iam = dict.get(per_partition, self._partition)
            if iam is None or access_key_id not in iam.access_keys:
                continue
            key = iam.access_keys[access_key_id]
            if key.status != "Active":
                break
            if key.user_name is not None:
                if token:
                    break
                user = iam.users.get(key.user_name)
                if user is None:
                    break
                return key.secret_access_key, self._user_caller(
                    iam, user, access_key_id, service=service, region=region
                )
            sts = dict.get(sts_backends.get(account_id, {}), self._partition)
            assumed = next(
                (r for r in (sts.assumed_roles if sts else []) if r.access_key_id == access_key_id),
                None,
            )
            if assumed is None or token is None:
                break
            if not hmac.compare_digest(token.encode(), assumed.session_token.encode()):
                break
            expiration = assumed.expiration
            if expiration.tzinfo is None:
                expiration = expiration.replace(tzinfo=UTC)
            if expiration <= self._clock():
                raise AwsError("ExpiredToken", _EXPIRED)
            return assumed.secret_access_key, self._session_caller(
                iam, assumed, access_key_id, service=service, region=region
            )
        raise AwsError("InvalidClientTokenId", _INVALID_KEY)

    def _common_context(self, *, region: str) -> dict[str, list[str]]:
        now = self._clock()
        return {
            "aws:RequestedRegion": [region],
            "aws:CurrentTime": [now.strftime("%Y-%m-%dT%H:%M:%SZ")],
            "aws:EpochTime": [str(int(now.timestamp()))],
            "aws:SecureTransport": ["true"],
        }

    def _user_caller(
        self, iam: Any, user: Any, access_key_id: str, *, service: str, region: str
    ) -> Caller:
        policies: list[tuple[Mapping[str, Any], ...]] = [
            _statements(str(doc)) for doc in user.policies.values()
        ]
        policies += [_statements(_managed_document(p)) for p in user.managed_policies.values()]
        for group in iam.get_groups_for_user(user.name):
            policies += [_statements(str(doc)) for doc in group.policies.values()]
            policies += [_statements(_managed_document(p)) for p in group.managed_policies.values()]
        context = self._common_context(region=region)
        context.update(
            {
                "aws:PrincipalArn": [user.arn],
                "aws:PrincipalAccount": [user.account_id],
                "aws:PrincipalType": ["User"],
                "aws:userid": [user.id],
                "aws:username": [user.name],
            }
        )
        for tag in iam.tagger.list_tags_for_resource(user.arn).get("Tags", []):
            context[f"aws:PrincipalTag/{tag['Key']}"] = [tag["Value"]]
        return Caller(
            arn=user.arn,
            account_id=user.account_id,
            access_key_id=access_key_id,
            kind="user",
            name=user.name,
            role_arn=None,
            service=service,
            region=region,
            policies=tuple(policies),
            boundary=None,
            session_policies=None,
            context=context,
        )

    def _session_caller(
        self, iam: Any, assumed: Any, access_key_id: str, *, service: str, region: str
    ) -> Caller:
        role = next((r for r in iam.roles.values() if r.arn == assumed.role_arn), None)
        policies: list[tuple[Mapping[str, Any], ...]] = []
        boundary: tuple[Mapping[str, Any], ...] | None = None
        context = self._common_context(region=region)
        if role is not None:
            policies = [_statements(str(doc)) for doc in role.policies.values()]
            policies += [_statements(_managed_document(p)) for p in role.managed_policies.values()]
            if role.permissions_boundary_arn:
                policy = iam.managed_policies.get(role.permissions_boundary_arn)
                boundary = _statements(_managed_document(policy)) if policy else ()
            for tag in role.tags or []:
                context[f"aws:PrincipalTag/{tag['Key']}"] = [tag["Value"]]
        issued = self._sessions.get(assumed.access_key_id)
        session_policies: list[tuple[Mapping[str, Any], ...]] | None = None
        source_identity: str | None = None
        transitive: dict[str, str] = {}
        if issued is not None:
            # Session tags override the role's tags of the same key.
            for key, value in issued.principal_tags.items():
                context[f"aws:PrincipalTag/{key}"] = [value]
            transitive = {
                key: issued.principal_tags[key]
                for key in issued.transitive_tag_keys
                if key in issued.principal_tags
            }
            source_identity = issued.source_identity
            if isinstance(issued, RoleSession):
                # AssumeRole's temporary credentials carry the key, false without MFA
                # (IAM User Guide, "AWS global condition context keys",
                # aws:MultiFactorAuthPresent); the lab verifies no MFA codes.
                context["aws:MultiFactorAuthPresent"] = ["false"]
            if source_identity is not None:
                context["aws:SourceIdentity"] = [source_identity]
            if issued.session_policy is not None or issued.policy_arns:
                # Managed session policies are read now, as the role's own are.
                session_policies = [issued.session_policy or ()] if issued.session_policy else []
                for arn in issued.policy_arns:
                    policy = iam.managed_policies.get(arn)
                    session_policies.append(
                        _statements(_managed_document(policy)) if policy else ()
                    )
        # moto stamps the session's key when it issues it: that is the token's issue time.
        issue_time = assumed.access_key.create_date
        if issue_time.tzinfo is None:
            issue_time = issue_time.replace(tzinfo=UTC)
        context.update(
            {
                "aws:PrincipalArn": [assumed.role_arn],
                "aws:PrincipalAccount": [assumed.account_id],
                "aws:PrincipalType": ["AssumedRole"],
                # role-id:RoleSessionName, as AWS documents aws:userid for a role session.
                "aws:userid": [assumed.user_id],
                "aws:TokenIssueTime": [issue_time.strftime("%Y-%m-%dT%H:%M:%SZ")],
            }
        )
        return Caller(
            arn=assumed.arn,
            account_id=assumed.account_id,
            access_key_id=access_key_id,
            kind="assumed-role",
            name=assumed.role_arn.rsplit("/", 1)[-1],
            role_arn=assumed.role_arn,
            service=service,
            region=region,
            policies=tuple(policies),
            boundary=boundary,
            session_policies=tuple(session_policies) if session_policies is not None else None,
            context=context,
            source_identity=source_identity,
            transitive_tags=transitive,
        )

    def _check_signature(
        self,
        request: SignedRequest,
        parsed: re.Match[str],
        secret: str,
        token: str | None,
        *,
        service: str,
        region: str,
    ) -> None:
        amz_date = request.headers.get("x-amz-date", "")
        try:
            signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError as exc:
            raise AwsError(
                "IncompleteSignature", "Authorization header requires existence of X-Amz-Date."
            ) from exc
        now = self._clock()
        if abs(now - signed_at) > _MAX_CLOCK_SKEW:
            raise AwsError(
                "SignatureDoesNotMatch",
                f"Signature expired: {amz_date} is now earlier than "
                f"{(now - _MAX_CLOCK_SKEW).strftime('%Y%m%dT%H%M%SZ')}",
            )
        signed_names = parsed["signed"].split(";")
        # SigV4 lists the signed headers in canonical form: lower-case names of headers
        # the request carries, host among them. Anything else is text smuggled into the
        # Authorization header (where moto looks for the access key id).
        if (
            "host" not in signed_names
            or any(not name or name != name.lower() for name in signed_names)
            or any(name not in request.headers for name in signed_names)
        ):
            raise AwsError(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you "
                "provided: SignedHeaders must name, in lower case, headers the request "
                "carries, host included.",
            )
        headers = {name: request.headers[name] for name in signed_names}
        url = request.path + (f"?{request.query}" if request.query else "")
        aws_request = AWSRequest(method=request.method, url=url, data=request.body, headers=headers)
        aws_request.context["timestamp"] = amz_date
        signer = S3SigV4Auth if service == "s3" else SigV4Auth
        auth = signer(Credentials("", secret, token), service, region)
        payload_hash = _payload_hash(request, service)
        canonical = _canonical_request(auth, aws_request, payload_hash)
        expected = auth.signature(auth.string_to_sign(aws_request, canonical), aws_request)
        if not hmac.compare_digest(expected, parsed["signature"]):
            raise AwsError(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you "
                "provided. Check your AWS Secret Access Key and signing method. Consult the "
                "service documentation for details.",
            )
        if (
            service == "s3"
            and _HEX_SHA256.match(payload_hash)
            and not hmac.compare_digest(payload_hash, hashlib.sha256(request.body).hexdigest())
        ):
            raise AwsError(
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
                400,
            )

    # -- authorization --------------------------------------------------------------

    def authorize(self, caller: Caller, checks: Sequence[Check]) -> None:
        """Raise AccessDenied unless IAM allows every check of the request."""
        principal = caller.principal()
        for check in checks:
            context = dict(caller.context)
            context.update({key: list(values) for key, values in check.context.items()})
            decision = evaluate(
                principal,
                Query(
                    action=check.action,
                    resource=check.resource,
                    resource_account=check.resource_account,
                    context=context,
                    resource_policy=check.resource_policy,
                ),
                organization_policies=self._organization_policies,
            )
            if decision.allowed:
                continue
            message = (
                f"User: {caller.arn} is not authorized to perform: {check.action} on "
                f"resource: {check.resource}"
            )
            if not (check.resource_policy is not None and check.resource_policy.required):
                # STS does not say why a trust policy refused (AWS's AssumeRole message).
                message += f" because {decision.reason}"
            raise AwsError("AccessDenied", message)


def _payload_hash(request: SignedRequest, service: str) -> str:
    """The HashedPayload of the canonical request, as the service computes it."""
    body_hash = hashlib.sha256(request.body).hexdigest() if request.body else _EMPTY_SHA256
    if service != "s3":
        return body_hash
    claimed = request.headers.get("x-amz-content-sha256")
    if claimed is None:
        raise AwsError(
            "InvalidRequest", "Missing required header for this request: x-amz-content-sha256", 400
        )
    if claimed in _S3_UNSIGNED or _HEX_SHA256.match(claimed):
        return claimed
    if claimed in _S3_SIGNED_STREAMING:
        raise not_modelled(f"x-amz-content-sha256: {claimed} (per-chunk signatures)")
    raise AwsError(
        "InvalidArgument",
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or a valid sha256 value.",
        400,
    )


def _canonical_request(auth: SigV4Auth, request: AWSRequest, payload_hash: str) -> str:
    """botocore's canonical request with the payload hash the service computed.

    botocore takes the client's ``X-Amz-Content-SHA256`` header as the hash
    whenever it is present; a server must not.
    """
    headers_to_sign = auth.headers_to_sign(request)
    return "\n".join(
        [
            str(request.method).upper(),
            # S3 signs the path as sent; the others normalize it (botocore's override).
            auth._normalize_url_path(urlsplit(request.url).path),  # type: ignore[attr-defined]
            auth.canonical_query_string(request),
            auth.canonical_headers(headers_to_sign) + "\n",
            auth.signed_headers(headers_to_sign),
            payload_hash,
        ]
    )
