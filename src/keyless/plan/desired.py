"""The desired state of every account, derived from a federation spec and the IdP's metadata.

This is the one description of "what the AWS side should look like" that
``plan``/``apply`` diff against and that ``export terraform|cloudformation``
render: both read it from here so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from keyless.core.aws import DEFAULT_SESSION_SECONDS
from keyless.plan.state import PolicyDocument
from keyless.spec.expand import role_arn, saml_provider_arn
from keyless.spec.model import Account, FederatedRole, FederationSpec

MANAGED_BY_TAG = "keyless:managed-by"
POLICY_VERSION = "2012-10-17"

# What the IdP's role-listing principal may do, and nothing more (Okta's documented minimum).
PROVISIONING_ACTIONS = ("iam:ListAccountAliases", "iam:ListRoles")
PROVISIONING_POLICY_NAME = "keyless-idp-list-roles"
# The user that Okta's API integration signs in with when the principal kind is `role`.
PROVISIONING_USER_NAME = "OktaProvisioningUser"
# sts:SetSourceIdentity: AWS refuses an assertion that carries SourceIdentity unless the
# trust policy allows it too (IAM User Guide, "Monitor and control actions taken with
# assumed roles", id_credentials_temp_control-access_monitor.html).
SAML_ACTIONS = ("sts:AssumeRoleWithSAML", "sts:SetSourceIdentity", "sts:TagSession")


@dataclass(frozen=True)
class DesiredProvider:
    """The IAM SAML provider of one account."""

    name: str
    arn: str
    metadata_xml: bytes | None  # None when planning without metadata (export)
    tags: dict[str, str]


@dataclass(frozen=True)
class DesiredRole:
    """One IAM role keyless manages in an account."""

    name: str
    path: str
    arn: str
    trust_policy: PolicyDocument
    managed_policies: tuple[str, ...]
    inline_policies: dict[str, PolicyDocument]
    max_session_duration: int
    permissions_boundary: str | None
    description: str
    tags: dict[str, str]
    purpose: str = "federated"  # or "provisioning"


@dataclass(frozen=True)
class DesiredUser:
    """An IAM user keyless manages (only the IdP's provisioning user)."""

    name: str
    arn: str
    inline_policies: dict[str, PolicyDocument]
    tags: dict[str, str]


@dataclass(frozen=True)
class DesiredAccount:
    """Everything keyless wants in one account."""

    account: Account
    provider: DesiredProvider
    roles: tuple[DesiredRole, ...]
    users: tuple[DesiredUser, ...] = ()
    alias: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def role_names(self) -> set[str]:
        return {role.name for role in self.roles}


def managed_tags(spec: FederationSpec) -> dict[str, str]:
    """The tag every resource keyless creates carries, naming the spec that owns it."""
    return {MANAGED_BY_TAG: spec.name}


def trust_policy(spec: FederationSpec, account: Account) -> PolicyDocument:
    """A federated role's trust policy: this account's SAML provider, for the spec's sign-in URLs.

    ``SAML:aud`` must equal the Recipient the IdP sends (the global sign-in URL
    unless the spec lists regional ones); a console-made policy naming only a
    regional URL is the classic cause of AccessDenied for everyone.
    """
    audiences = list(spec.identity_provider.signin_urls)
    condition: dict[str, Any] = {
        "StringEquals": {"SAML:aud": audiences[0] if len(audiences) == 1 else audiences}
    }
    if spec.identity_provider.source_identity.require:
        # "Null": false holds only when the key is present: an assertion without a
        # SourceIdentity matches no Allow and is refused (IAM, condition operators).
        condition["Null"] = {"sts:SourceIdentity": "false"}
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": "FederatedFromIdp",
                "Effect": "Allow",
                "Principal": {"Federated": saml_provider_arn(spec, account)},
                "Action": list(SAML_ACTIONS),
                "Condition": condition,
            }
        ],
    }


def provisioning_policy(extra_statements: list[dict[str, Any]] | None = None) -> PolicyDocument:
    """The IdP principal's only permissions: list roles and account aliases."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "IdpListsRoles",
            "Effect": "Allow",
            "Action": list(PROVISIONING_ACTIONS),
            # Neither action supports resource-level permissions: "*" is the only valid resource.
            "Resource": "*",
        }
    ]
    statements.extend(extra_statements or [])
    return {"Version": POLICY_VERSION, "Statement": statements}


def _federated_role(spec: FederationSpec, account: Account, role: FederatedRole) -> DesiredRole:
    return DesiredRole(
        name=role.name,
        path=role.path,
        arn=role_arn(account, role),
        trust_policy=trust_policy(spec, account),
        managed_policies=tuple(sorted(set(role.managed_policies))),
        inline_policies={name: dict(doc) for name, doc in sorted(role.inline_policies.items())},
        max_session_duration=role.max_session_duration,
        permissions_boundary=role.permissions_boundary,
        description=role.description,
        tags={**role.tags, **managed_tags(spec)},
    )


def _user_arn(account: Account, name: str) -> str:
    return f"arn:{account.partition}:iam::{account.id}:user/{name}"


def _cross_account_role_arn(account: Account, name: str) -> str:
    return f"arn:{account.partition}:iam::{account.id}:role/{name}"


def _provisioning(
    spec: FederationSpec, account: Account
) -> tuple[tuple[DesiredUser, ...], tuple[DesiredRole, ...], tuple[str, ...]]:
    principal = spec.provisioning_principal
    management = spec.management_account
    if principal is None:
        # Group mapping needs no API integration, so nothing lists roles with a key.
        return (), (), ()
    if management is None:
        return (
            (),
            (),
            ("no management account in the spec: the IdP's provisioning principal is not managed",),
        )
    user_name = principal.name if principal.kind == "user" else PROVISIONING_USER_NAME
    user_arn = _user_arn(management, user_name)
    users: tuple[DesiredUser, ...] = ()
    roles: tuple[DesiredRole, ...] = ()
    if account.id == management.id:
        extra: list[dict[str, Any]] = []
        if principal.kind == "role":
            members = [a for a in spec.accounts if a.id != management.id]
            if members:
                extra.append(
                    {
                        "Sid": "IdpReachesMemberAccounts",
                        "Effect": "Allow",
                        "Action": "sts:AssumeRole",
                        "Resource": sorted(
                            _cross_account_role_arn(a, principal.name) for a in members
                        ),
                    }
                )
        users = (
            DesiredUser(
                name=user_name,
                arn=user_arn,
                inline_policies={PROVISIONING_POLICY_NAME: provisioning_policy(extra)},
                tags=managed_tags(spec),
            ),
        )
    elif principal.kind == "role":
        trust = {
            "Version": POLICY_VERSION,
            "Statement": [
                {
                    "Sid": "TrustTheIdpProvisioningUser",
                    "Effect": "Allow",
                    # The management account as principal, narrowed to the one user by condition:
                    # a trust policy naming the user ARN directly breaks when the user is recreated.
                    "Principal": {"AWS": f"arn:{management.partition}:iam::{management.id}:root"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"ArnEquals": {"aws:PrincipalArn": user_arn}},
                }
            ],
        }
        roles = (
            DesiredRole(
                name=principal.name,
                path="/",
                arn=_cross_account_role_arn(account, principal.name),
                trust_policy=trust,
                managed_policies=(),
                inline_policies={PROVISIONING_POLICY_NAME: provisioning_policy()},
                max_session_duration=DEFAULT_SESSION_SECONDS,
                permissions_boundary=None,
                description="Lets the identity provider list this account's roles (keyless).",
                tags=managed_tags(spec),
                purpose="provisioning",
            ),
        )
    return users, roles, ()


def desired_account(
    spec: FederationSpec, account: Account, metadata_xml: bytes | None
) -> DesiredAccount:
    """The desired state of one account of ``spec``."""
    provider = DesiredProvider(
        name=spec.identity_provider.saml_provider_name,
        arn=saml_provider_arn(spec, account),
        metadata_xml=metadata_xml,
        tags=managed_tags(spec),
    )
    roles = [
        _federated_role(spec, account, role)
        for role in spec.roles
        if spec.role_in_account(role, account)
    ]
    users, provisioning_roles, notes = _provisioning(spec, account)
    return DesiredAccount(
        account=account,
        provider=provider,
        roles=(*roles, *provisioning_roles),
        users=users,
        alias=account.alias,
        notes=notes,
    )


def desired_state(spec: FederationSpec, metadata_xml: bytes | None) -> list[DesiredAccount]:
    """The desired state of every account of ``spec``, in spec order."""
    return [desired_account(spec, account, metadata_xml) for account in spec.accounts]
