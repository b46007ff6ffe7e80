"""Who is calling the lab's AWS, and may they do it: SigV4 authentication and IAM authorization.

Every signed request is checked as AWS checks it before moto sees it:

1. the access key exists (an IAM user's key, or a session moto or the strict
   STS issued) and is active; a session's token matches and has not expired;
2. the SigV4 signature is the one the key's secret produces, and was made in
   the last 15 minutes;
3. the caller's identity policies (inline, attached, groups; the role's for a
   session), its permissions boundary and its session policy allow the action
   (:mod:`keyless_lab.aws.permissions`); ``sts:AssumeRole`` also needs the
   target role's trust policy.

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

import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from keyless_lab.aws.errors import AwsError
from keyless_lab.aws.organizations import scp_decision
from keyless_lab.aws.permissions import decide, parse_document, trust_allows
from keyless_lab.aws.sts import SamlSession

_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+)\s*,\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+)\s*,\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)
_MAX_CLOCK_SKEW = timedelta(minutes=15)
_INVALID_KEY = "The security token included in the request is invalid."
_EXPIRED = "The security token included in the request is expired"
# Calls AWS answers for any valid credentials, whatever the policies say.
_ALWAYS_ALLOWED = frozenset({"sts:getcalleridentity"})


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
    session_policy: tuple[Mapping[str, Any], ...] | None
    context: dict[str, list[str]] = field(default_factory=dict)


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
        saml_sessions: Mapping[str, SamlSession],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        partition: str = "aws",
    ) -> None:
        self._saml_sessions = saml_sessions
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
            session_policy=None,
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
        saml = self._saml_sessions.get(assumed.access_key_id)
        session_policy = saml.session_policy if saml else None
        if saml is not None:
            # Session tags override the role's tags of the same key.
            for key, value in saml.principal_tags.items():
                context[f"aws:PrincipalTag/{key}"] = [value]
            if saml.source_identity is not None:
                context["aws:SourceIdentity"] = [saml.source_identity]
        # moto stamps the session's key when it issues it: that is the token's issue time.
        issued = assumed.access_key.create_date
        if issued.tzinfo is None:
            issued = issued.replace(tzinfo=UTC)
        context.update(
            {
                "aws:PrincipalArn": [assumed.role_arn],
                "aws:PrincipalAccount": [assumed.account_id],
                "aws:PrincipalType": ["AssumedRole"],
                # role-id:RoleSessionName, as AWS documents aws:userid for a role session.
                "aws:userid": [assumed.user_id],
                "aws:TokenIssueTime": [issued.strftime("%Y-%m-%dT%H:%M:%SZ")],
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
            session_policy=session_policy,
            context=context,
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
        canonical = auth.canonical_request(aws_request)
        expected = auth.signature(auth.string_to_sign(aws_request, canonical), aws_request)
        if not hmac.compare_digest(expected, parsed["signature"]):
            raise AwsError(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you "
                "provided. Check your AWS Secret Access Key and signing method. Consult the "
                "service documentation for details.",
            )

    # -- authorization --------------------------------------------------------------

    def authorize(self, caller: Caller, *, action: str, resource: str) -> None:
        """Raise AccessDenied unless ``caller``'s policies allow ``action`` on ``resource``."""
        if action.lower() in _ALWAYS_ALLOWED:
            return
        decision = decide(
            caller.policies,
            boundary=caller.boundary,
            action=action,
            resource=resource,
            context=caller.context,
        )
        if decision.allowed and caller.session_policy is not None:
            decision = decide(
                (caller.session_policy,),
                boundary=None,
                action=action,
                resource=resource,
                context=caller.context,
            )
            if not decision.allowed:
                decision = type(decision)(False, f"no session policy allows the {action} action")
        if decision.allowed:
            # SCPs bound a member account's principals, never the management account's.
            scp = scp_decision(
                caller.account_id, action=action, resource=resource, context=caller.context
            )
            decision = scp or decision
        if not decision.allowed:
            raise AwsError(
                "AccessDenied",
                f"User: {caller.arn} is not authorized to perform: {action} on resource: "
                f"{resource} because {decision.reason}",
            )

    def authorize_assume_role(self, caller: Caller, params: Mapping[str, str]) -> None:
        """``sts:AssumeRole``: identity policies, then the target role's trust policy."""
        from moto.iam.models import iam_backends

        role_arn = params.get("RoleArn", "")
        self.authorize(caller, action="sts:AssumeRole", resource=role_arn)
        denied = AwsError(
            "AccessDenied",
            f"User: {caller.arn} is not authorized to perform: sts:AssumeRole on resource: "
            f"{role_arn}",
        )
        parts = role_arn.split(":")
        if len(parts) < 6 or not parts[4].isdigit():
            raise AwsError("ValidationError", f"{role_arn} is invalid")
        iam = dict.get(iam_backends.get(parts[4], {}), self._partition)
        role = next((r for r in iam.roles.values() if r.arn == role_arn), None) if iam else None
        if role is None:
            raise denied
        candidates = {caller.arn, f"arn:{self._partition}:iam::{caller.account_id}:root"}
        candidates.add(caller.account_id)
        if caller.role_arn:
            candidates.add(caller.role_arn)
        context: dict[str, Sequence[str]] = dict(caller.context)
        if params.get("ExternalId"):
            context["sts:ExternalId"] = [params["ExternalId"]]
        if params.get("RoleSessionName"):
            context["sts:RoleSessionName"] = [params["RoleSessionName"]]
        if not trust_allows(
            role.assume_role_policy_document,
            caller_candidates=candidates,
            action="sts:AssumeRole",
            resource=role_arn,
            context=context,
        ):
            raise denied
        duration = params.get("DurationSeconds")
        if (
            duration
            and duration.isdigit()
            and int(duration) > int(role.max_session_duration or 3600)
        ):
            raise AwsError(
                "ValidationError",
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
            )


def iam_resource(
    account_id: str, action: str, params: Mapping[str, str], partition: str = "aws"
) -> str:
    """The ARN an IAM action acts on, from its parameters; ``*`` when it names none."""
    from moto.iam.models import iam_backends

    prefix = f"arn:{partition}:iam::{account_id}"
    iam = dict.get(iam_backends.get(account_id, {}), partition)
    if params.get("PolicyArn"):
        return params["PolicyArn"]
    if params.get("SAMLProviderArn"):
        return params["SAMLProviderArn"]
    if action.lower() == "iam:createsamlprovider" and params.get("Name"):
        return f"{prefix}:saml-provider/{params['Name']}"
    if params.get("RoleName"):
        name = params["RoleName"]
        role = next((r for r in iam.roles.values() if r.name == name), None) if iam else None
        return role.arn if role else f"{prefix}:role{params.get('Path', '/')}{name}"
    if params.get("UserName"):
        name = params["UserName"]
        user = iam.users.get(name) if iam else None
        return user.arn if user else f"{prefix}:user{params.get('Path', '/')}{name}"
    if params.get("GroupName"):
        return f"{prefix}:group{params.get('Path', '/')}{params['GroupName']}"
    return "*"
