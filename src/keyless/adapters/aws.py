"""AWS through boto3: sessions, reaching member accounts, reading and changing IAM.

Reaching accounts: the management session comes from the standard chain
(profile, environment, ``keyless exec``) or explicit credentials; an account
other than the caller's own is reached by assuming its ``access_role``
(default ``OrganizationAccountAccessRole``). The lab is nothing special here:
an endpoint URL and a CA bundle.

Reading is built for few calls: per account ``ListRoles`` (trust policies,
description, max session duration), one ``GetAccountAuthorizationDetails``
(inline and attached policies, boundaries and tags of every role and user),
``GetSAMLProvider`` and ``ListAccountAliases`` — nothing per role.

Throttling is retried with exponential backoff by botocore; how often and in
which mode is the user's own setting (``AWS_MAX_ATTEMPTS``, ``AWS_RETRY_MODE``,
the profile's ``max_attempts``/``retry_mode``), and :func:`client_config` adds
keyless's default (``standard`` mode, 10 retries) only for what they left unset.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, TypedDict

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from keyless.core.aws import DEFAULT_SESSION_SECONDS
from keyless.errors import ConfigError, DeniedError, RemoteError, explain
from keyless.plan.desired import MANAGED_BY_TAG
from keyless.plan.diff import Operation
from keyless.plan.state import ActualAccount, ActualProvider, ActualRole, ActualUser
from keyless.spec.model import Account

if TYPE_CHECKING:
    from botocore.config import _RetryDict
    from mypy_boto3_iam import IAMClient

CLIENT_CONFIG = Config(connect_timeout=10, read_timeout=60, max_pool_connections=32)
# Throttling (Throttling, TooManyRequests, RequestLimitExceeded...) and transient
# errors are retried with exponential backoff and jitter: an apply over many accounts
# meets IAM's rate limits, so more retries than botocore's 3 attempts, unless the
# user chose their own number.
DEFAULT_RETRY_MODE: Final = "standard"
DEFAULT_RETRIES = 10  # after the first attempt (botocore's client ``max_attempts``)

SESSION_NAME = "keyless-provision"

# The IAM calls apply may make: an Operation naming anything else is refused,
# so a plan document can never drive arbitrary API calls.
ALLOWED_OPERATIONS = frozenset(
    {
        "create_saml_provider",
        "update_saml_provider",
        "tag_saml_provider",
        "delete_saml_provider",
        "create_role",
        "update_role",
        "tag_role",
        "update_assume_role_policy",
        "put_role_policy",
        "delete_role_policy",
        "attach_role_policy",
        "detach_role_policy",
        "put_role_permissions_boundary",
        "delete_role_permissions_boundary",
        "remove_role_from_instance_profile",
        "delete_role",
        "create_user",
        "tag_user",
        "put_user_policy",
        "delete_user_policy",
        "detach_user_policy",
        "delete_user",
        "create_account_alias",
        "delete_account_alias",
    }
)


class AccountAccessError(DeniedError):
    """An account cannot be reached or read (access denied, missing access role)."""


@dataclass(frozen=True)
class AwsEndpoint:
    """Where AWS is: real AWS by default, or the lab's endpoint with its CA bundle."""

    endpoint_url: str | None = None
    region: str = "us-east-1"
    verify: str | bool | None = None


def management_session(
    *,
    profile: str | None = None,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    session_token: str | None = None,
    region: str = "us-east-1",
) -> boto3.Session:
    """A session for the management account: explicit credentials, or the standard chain."""
    if access_key_id and secret_access_key:
        return boto3.Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            aws_session_token=session_token,
            region_name=region,
        )
    try:
        return boto3.Session(profile_name=profile, region_name=region)
    except BotoCoreError as exc:
        raise ConfigError(
            f"cannot use AWS profile {profile!r}: {exc}",
            fix="check ~/.aws/config, or pass --lab to use the embedded lab",
        ) from exc


def client_config(session: boto3.Session) -> Config:
    """The botocore ``Config`` for every client made from ``session``.

    A retry setting the user made wins: ``AWS_MAX_ATTEMPTS`` / ``AWS_RETRY_MODE`` or
    the profile's ``max_attempts`` / ``retry_mode``, which botocore resolves itself
    when the client config leaves them out. keyless's defaults fill only the gaps
    (a ``retries`` value passed to botocore would override the user's).
    """
    botocore_session = session._session
    retries: _RetryDict = {}
    if botocore_session.get_config_variable("max_attempts") is None:
        retries["max_attempts"] = DEFAULT_RETRIES
    # retry_mode has a default in botocore (which one depends on its version), so
    # whether the user chose one is read where botocore reads it.
    if "AWS_RETRY_MODE" not in os.environ and not botocore_session.get_scoped_config().get(
        "retry_mode"
    ):
        retries["mode"] = DEFAULT_RETRY_MODE
    return CLIENT_CONFIG.merge(Config(retries=retries)) if retries else CLIENT_CONFIG


def describe_client_error(error: ClientError) -> tuple[str, str]:
    """(code, message) of a botocore ClientError."""
    body = error.response.get("Error", {})
    return str(body.get("Code", "Unknown")), str(body.get("Message", error))


def explain_error_and_fix(error: Exception) -> tuple[str, str | None]:
    """One line for a person about a failed AWS step (keyless's own message, the AWS
    error code and message, or that AWS could not be reached) and the fix, if there is
    one that holds whatever the step was (None: the caller names its own)."""
    if isinstance(error, ClientError):
        code, message = describe_client_error(error)
        operation = getattr(error, "operation_name", "an AWS call")
        return f"{operation} failed: {code}: {message}", None
    if isinstance(error, BotoCoreError):
        return f"AWS could not be reached: {error}", "check the network or the endpoint"
    return explain(error)


def explain_error(error: Exception) -> str:
    """The line :func:`explain_error_and_fix` gives, without the fix."""
    return explain_error_and_fix(error)[0]


class AwsConnector:
    """Hands out an IAM client for each account, assuming its access role when needed.

    Thread-safe: clients are created under a lock (boto3 sessions are not
    thread-safe), then used by one worker each — except the one STS client,
    which every worker shares for its ``AssumeRole`` (botocore clients are
    thread-safe once created). All clients share the management session's
    event system, so hooks registered on ``session.events`` (the benchmark
    counts calls that way) see every call.
    """

    def __init__(
        self,
        session: boto3.Session,
        *,
        endpoint: AwsEndpoint | None = None,
        config: Config | None = None,
        session_name: str = SESSION_NAME,
    ) -> None:
        self.session = session
        self.endpoint = endpoint or AwsEndpoint()
        self.config = config or client_config(session)
        self.session_name = session_name
        self._lock = threading.Lock()
        self._identity_lock = threading.Lock()
        self._caller_account: str | None = None
        # Assumed-role credentials per (account, role), so the clients of one account
        # (IAM, CloudTrail) share one AssumeRole; reused until 5 minutes before expiry.
        self._assumed: dict[tuple[str, str], dict[str, Any]] = {}
        self._sts_client: Any = None

    def _client(self, service: str, region: str | None = None, **credentials: str) -> Any:
        kwargs: dict[str, Any] = {
            "config": self.config,
            "region_name": region or self.endpoint.region,
        }
        if self.endpoint.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint.endpoint_url
        if self.endpoint.verify is not None:
            kwargs["verify"] = self.endpoint.verify
        with self._lock:
            return self.session.client(service, **kwargs, **credentials)  # type: ignore[call-overload]

    def _sts(self) -> Any:
        # One STS client for every AssumeRole: a botocore client costs milliseconds
        # of CPU and thousands of objects, which the garbage collector then walks
        # on every full collection; one per account made planning superlinear.
        # Sharing it across worker threads is safe: boto3's guide ("Multithreading
        # or multiprocessing with clients") calls clients thread-safe once created.
        if self._sts_client is None:
            client = self._client("sts")
            with self._lock:
                if self._sts_client is None:
                    self._sts_client = client
        return self._sts_client

    def caller_account(self) -> str:
        """The account the management credentials belong to (one STS call, cached)."""
        with self._identity_lock:  # workers asking at once make one call, not one each
            return self._read_caller_account()

    def _read_caller_account(self) -> str:
        if self._caller_account is None:
            try:
                identity = self._sts().get_caller_identity()
            except NoCredentialsError as exc:
                raise ConfigError(
                    "no AWS credentials for the management account",
                    fix="set AWS_PROFILE or pass --profile, use `keyless exec`, or pass --lab",
                ) from exc
            except ClientError as exc:
                code, message = describe_client_error(exc)
                raise DeniedError(
                    f"the management credentials are refused: {code}: {message}",
                    fix="refresh them (`keyless login`) or check the profile",
                ) from exc
            except BotoCoreError as exc:
                raise RemoteError(
                    f"cannot reach AWS STS: {exc}", fix="check the network or endpoint"
                ) from exc
            self._caller_account = str(identity["Account"])
        return self._caller_account

    def iam(self, account: Account) -> IamAccount:
        """An IAM client in ``account``: the caller's own, or through ``account.access_role``."""
        return IamAccount(self.client(account, "iam"), account)

    def client(
        self, account: Account, service: str, *, role: str | None = None, region: str | None = None
    ) -> Any:
        """A boto3 client for ``service`` in ``account`` (in ``region``: default the endpoint's).

        The caller's own account is used with the management credentials; any
        other is reached by assuming ``role`` there (default: the account's
        ``access_role``), which audit uses to read with a narrower role.
        """
        if account.id == self.caller_account() and role is None:
            return self._client(service, region)
        role_name = role or account.access_role
        role_arn = role_in(account, role_name)
        with self._lock:
            cached = self._assumed.get((account.id, role_name))
        if cached is not None and cached["Expiration"] > datetime.now(UTC) + timedelta(minutes=5):
            return self._client(
                service,
                region,
                aws_access_key_id=cached["AccessKeyId"],
                aws_secret_access_key=cached["SecretAccessKey"],
                aws_session_token=cached["SessionToken"],
            )
        try:
            credentials = assume_role(self._sts(), role_arn, self.session_name)
        except ClientError as exc:
            code, message = describe_client_error(exc)
            raise AccountAccessError(
                f"cannot reach account {account.alias} ({account.id}): assuming {role_arn} failed: "
                f"{code}: {message}",
                fix=f"make sure role {role_name!r} exists in {account.id} and trusts the "
                "management account (the spec's accounts[].access_role names it)",
            ) from exc
        except BotoCoreError as exc:
            raise RemoteError(f"cannot reach AWS STS for {account.alias}: {exc}") from exc
        with self._lock:
            self._assumed[(account.id, role_name)] = dict(credentials)
        return self._client(
            service,
            region,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )


def role_in(account: Account, role_name: str) -> str:
    """The ARN of role ``role_name`` in ``account`` (its partition, its id)."""
    return f"arn:{account.partition}:iam::{account.id}:role/{role_name}"


class AssumedKeys(TypedDict):
    """Temporary keys in the shape boto3's clients and Sessions take them."""

    aws_access_key_id: str
    aws_secret_access_key: str
    aws_session_token: str


def assume_role(sts: Any, role_arn: str, session_name: str) -> dict[str, Any]:
    """``sts:AssumeRole`` into ``role_arn``: STS's ``Credentials`` (keys and ``Expiration``).

    The one way keyless reaches another account. Raises botocore's errors.
    """
    credentials: dict[str, Any] = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)[
        "Credentials"
    ]
    return credentials


def assume_role_keys(sts: Any, role_arn: str, session_name: str) -> AssumedKeys:
    """``sts:AssumeRole`` into ``role_arn``; the keys as boto3 takes them (client or Session).

    The one way keyless reaches another account. Raises botocore's errors;
    callers say what the account was for.
    """
    credentials = assume_role(sts, role_arn, session_name)
    return AssumedKeys(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def _document(value: Any) -> dict[str, Any]:
    """A policy document as a dict; IAM's raw form is URL-encoded JSON (botocore decodes it)."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        decoded: dict[str, Any] = json.loads(urllib.parse.unquote(value))
        return decoded
    return {}


def _tags(items: Iterable[Any] | None) -> dict[str, str]:
    return {item["Key"]: item["Value"] for item in items or ()}


class IamAccount:
    """IAM in one account: read the state keyless cares about, run operations."""

    def __init__(self, client: IAMClient, account: Account) -> None:
        self.client = client
        self.account = account

    def _fail(self, action: str, exc: ClientError) -> AccountAccessError:
        code, message = describe_client_error(exc)
        return AccountAccessError(
            f"{self.account.alias} ({self.account.id}): {action} failed: {code}: {message}",
            fix="check that the access role has IAM permissions in this account",
        )

    def read(self, *, provider_arn: str, user_names: Iterable[str] = ()) -> ActualAccount:
        """The account's SAML provider, roles, relevant users and aliases."""
        try:
            return self._read(provider_arn=provider_arn, user_names=set(user_names))
        except ClientError as exc:
            raise self._fail("reading IAM", exc) from exc
        except BotoCoreError as exc:
            raise RemoteError(
                f"{self.account.alias} ({self.account.id}): reading IAM failed: {exc}"
            ) from exc

    def _read(self, *, provider_arn: str, user_names: set[str]) -> ActualAccount:
        listed: dict[str, Any] = {}
        for roles_page in self.client.get_paginator("list_roles").paginate():
            for role in roles_page["Roles"]:
                listed[role["RoleName"]] = role
        details: dict[str, Any] = {}
        user_details: list[Any] = []
        paginator = self.client.get_paginator("get_account_authorization_details")
        for page in paginator.paginate(Filter=["Role", "User"]):
            for detail in page.get("RoleDetailList", []):
                details[detail["RoleName"]] = detail
            user_details.extend(page.get("UserDetailList", []))
        roles: dict[str, ActualRole] = {}
        for name, role in listed.items():
            detail = details.get(name, {})
            boundary = detail.get("PermissionsBoundary") or role.get("PermissionsBoundary") or {}
            roles[name] = ActualRole(
                name=name,
                path=role.get("Path", "/"),
                arn=role["Arn"],
                trust_policy=_document(role.get("AssumeRolePolicyDocument")),
                managed_policies=tuple(
                    sorted(p["PolicyArn"] for p in detail.get("AttachedManagedPolicies", []))
                ),
                inline_policies={
                    p["PolicyName"]: _document(p["PolicyDocument"])
                    for p in detail.get("RolePolicyList", [])
                },
                max_session_duration=int(role.get("MaxSessionDuration", DEFAULT_SESSION_SECONDS)),
                permissions_boundary=boundary.get("PermissionsBoundaryArn"),
                description=role.get("Description", "") or "",
                tags=_tags(detail.get("Tags") or role.get("Tags")),
                instance_profiles=tuple(
                    p["InstanceProfileName"] for p in detail.get("InstanceProfileList", [])
                ),
            )
        users: dict[str, ActualUser] = {}
        for user in user_details:
            tags = _tags(user.get("Tags"))
            if user["UserName"] not in user_names and MANAGED_BY_TAG not in tags:
                continue
            users[user["UserName"]] = ActualUser(
                name=user["UserName"],
                arn=user["Arn"],
                inline_policies={
                    p["PolicyName"]: _document(p["PolicyDocument"])
                    for p in user.get("UserPolicyList", [])
                },
                managed_policies=tuple(
                    sorted(p["PolicyArn"] for p in user.get("AttachedManagedPolicies", []))
                ),
                tags=tags,
            )
        provider: ActualProvider | None = None
        try:
            found = self.client.get_saml_provider(SAMLProviderArn=provider_arn)
        except ClientError as exc:
            if describe_client_error(exc)[0] != "NoSuchEntity":
                raise
        else:
            provider = ActualProvider(
                arn=provider_arn,
                metadata_xml=found.get("SAMLMetadataDocument", "").encode("utf-8"),
                tags=_tags(found.get("Tags")),
            )
        aliases = tuple(self.client.list_account_aliases().get("AccountAliases", []))
        return ActualAccount(
            account_id=self.account.id, provider=provider, roles=roles, users=users, aliases=aliases
        )

    def run(self, operation: Operation) -> None:
        """Make one IAM call from a plan."""
        if operation.api not in ALLOWED_OPERATIONS:
            raise ValueError(f"refusing IAM operation {operation.api!r}: not one keyless plans")
        if operation.api == "delete_user":
            self._remove_user_credentials(str(operation.params["UserName"]))
        getattr(self.client, operation.api)(**operation.params)

    def _remove_user_credentials(self, user_name: str) -> None:
        # DeleteUser fails while the user still has access keys or a console password.
        for key in self.client.list_access_keys(UserName=user_name).get("AccessKeyMetadata", []):
            self.client.delete_access_key(UserName=user_name, AccessKeyId=key["AccessKeyId"])
        try:
            self.client.delete_login_profile(UserName=user_name)
        except ClientError as exc:
            if describe_client_error(exc)[0] != "NoSuchEntity":
                raise

    def access_key_ids(self, user_name: str) -> list[str]:
        """The ids of the user's access keys (never the secrets; IAM cannot return those)."""
        keys = self.client.list_access_keys(UserName=user_name).get("AccessKeyMetadata", [])
        return [k["AccessKeyId"] for k in keys]

    def create_access_key(self, user_name: str) -> tuple[str, str]:
        """A new access key for ``user_name``: (id, secret). The secret is shown once by AWS."""
        key = self.client.create_access_key(UserName=user_name)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]
