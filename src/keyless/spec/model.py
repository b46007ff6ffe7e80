"""The federation spec's types (pydantic), with the rules a single field can check.

Rules that span fields (an alias a role names must exist, ids and aliases are
unique, a group maps to a known role) live in :func:`FederationSpec.check_references`
so that every problem is reported with its own path, not just the first one.
"""

from __future__ import annotations

import re
import string
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from keyless.core.aws import (
    DEFAULT_SESSION_SECONDS,
    MAX_SESSION_SECONDS,
    MIN_SESSION_SECONDS,
    SESSION_LIMITS_TEXT,
)
from keyless.spec.references import ROLE_IMPORT_MAX_ACCOUNTS, reference_problems

ACCOUNT_ID = re.compile(r"^\d{12}$")
# IAM role names: 1-64 of [\w+=,.@-]
ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
ALIAS = re.compile(r"^[a-z0-9]([a-z0-9-]{1,61}[a-z0-9])?$")
IAM_PATH = re.compile(r"^/([\x21-\x7e]{0,510}/)?$")
MANAGED_POLICY_ARN = re.compile(r"^arn:aws(-us-gov|-cn)?:iam::(aws|\d{12}):policy/[\w+=,.@/-]+$")

DEFAULT_GROUP_PATTERN = "aws#{alias}#{role}#{account_id}"

Partition = Literal["aws", "aws-us-gov", "aws-cn"]


# `keyless offboard`'s policies (keyless.plan.revocations.REVOCATION_PREFIX; the spec
# sits below plan, so the prefix is spelled here too and a test keeps the two equal).
RESERVED_POLICY_PREFIX = "keyless-revoke-"


class _Model(BaseModel):
    # Unknown keys are errors: a typo such as `max_session_duraton` must not be
    # silently ignored in a file that decides who can reach production.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _duration(value: int, *, what: str) -> int:
    if not MIN_SESSION_SECONDS <= value <= MAX_SESSION_SECONDS:
        raise ValueError(
            f"{what} must be between {MIN_SESSION_SECONDS} and {MAX_SESSION_SECONDS} seconds "
            f"({SESSION_LIMITS_TEXT}, AWS's limits), got {value}"
        )
    return value


class MetadataSource(_Model):
    """Where the IdP's SAML metadata comes from: a URL or a file (exactly one)."""

    url: str | None = None
    file: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> MetadataSource:
        if (self.url is None) == (self.file is None):
            raise ValueError("give exactly one of `url` or `file`")
        if self.url is not None and not self.url.startswith("https://"):
            raise ValueError(f"metadata url must use https://, got {self.url!r}")
        return self


# Which Okta user attribute becomes the session's SourceIdentity. `app_username` is
# the name the AWS app sends as RoleSessionName (its username template, by default
# the Okta username); the others are fixed Okta expressions (see keyless.plan.okta).
SourceIdentityAttribute = Literal["app_username", "login", "email", "email_prefix"]


class SourceIdentity(_Model):
    """The ``SourceIdentity`` the IdP sends and the federated roles' trust policies accept.

    AWS keeps it unchanged for the whole session and every session chained from
    it, and logs it in CloudTrail: it is what revocation is keyed on.
    """

    attribute: SourceIdentityAttribute = Field(
        default="app_username",
        description="The Okta attribute sent as https://aws.amazon.com/SAML/Attributes/"
        "SourceIdentity: app_username (default: the username the AWS app sends, as its "
        "username template makes it), login, email or email_prefix.",
    )
    require: bool = Field(
        default=False,
        description="Trust policies refuse an assertion without a SourceIdentity "
        "(a Null condition on sts:SourceIdentity). Switch on once Okta sends it.",
    )


class IdentityProvider(_Model):
    """The identity provider and its AWS app."""

    kind: Literal["okta", "lab"]
    org_url: str | None = Field(
        default=None, description="Okta org URL, e.g. https://acme.okta.com (lab: filled in)."
    )
    app_id: str | None = Field(
        default=None, description="The AWS Account Federation app's id, e.g. 0oa1b2c3d4..."
    )
    metadata: MetadataSource | None = Field(
        default=None, description="The app's SAML metadata (lab: served by the lab IdP)."
    )
    saml_provider_name: str = Field(
        default="Okta", description="Name of the IAM SAML provider created in each account."
    )
    signin_urls: list[str] = Field(
        default_factory=lambda: ["https://signin.aws.amazon.com/saml"],
        description="Sign-in URLs the trust policies accept as SAML:aud (the IdP's Recipient).",
    )
    source_identity: SourceIdentity = Field(default_factory=SourceIdentity)

    @field_validator("org_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError(f"org_url must start with https://, got {value!r}")
        return value.rstrip("/") if value else value

    @field_validator("saml_provider_name")
    @classmethod
    def _provider_name(cls, value: str) -> str:
        if not re.fullmatch(r"[\w._-]{1,128}", value):
            raise ValueError(
                f"SAML provider names are 1-128 letters, digits, '.', '_' or '-', got {value!r}"
            )
        return value

    @field_validator("signin_urls")
    @classmethod
    def _signin(cls, value: list[str]) -> list[str]:
        pattern = re.compile(
            r"^https://([a-z0-9-]+\.)?signin\.(aws\.amazon\.com|amazonaws-us-gov\.com|amazonaws\.cn)/saml$"
        )
        for url in value:
            if not pattern.match(url):
                raise ValueError(
                    f"{url!r} is not an AWS SAML sign-in URL "
                    "(https://signin.aws.amazon.com/saml or https://<region>.signin.aws.amazon.com/saml)"
                )
        if not value:
            raise ValueError("list at least one sign-in URL")
        return value

    @model_validator(mode="after")
    def _okta_needs(self) -> IdentityProvider:
        if self.kind == "okta":
            missing = [
                name for name in ("org_url", "app_id", "metadata") if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(
                    f"an okta identity provider needs {', '.join(missing)} "
                    "(from the AWS Account Federation app's Sign On tab)"
                )
        return self


class Account(_Model):
    """One AWS account of the federation."""

    id: str = Field(description="12-digit AWS account id, quoted.")
    alias: str = Field(description="Account alias, also used to name the account everywhere.")
    environment: str = Field(default="default", description="prod, dev, ... for grouping.")
    management: bool = Field(
        default=False,
        description="The organization's management account (reached with your own credentials).",
    )
    access_role: str = Field(
        default="OrganizationAccountAccessRole",
        description="Role assumed from the management account to reach this account.",
    )
    region: str = "us-east-1"
    partition: Partition = "aws"

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            # YAML reads unquoted digits as a number and drops leading zeros.
            text = str(value)
            if len(text) == 12:
                return text
            raise ValueError(
                f"must be 12 digits, got {text!r} (quote account ids in YAML: "
                "unquoted numbers lose their leading zeros)"
            )
        if isinstance(value, str) and not ACCOUNT_ID.match(value):
            raise ValueError(f"must be 12 digits, got {value!r}")
        return value

    @field_validator("alias")
    @classmethod
    def _alias(cls, value: str) -> str:
        if not ALIAS.match(value):
            raise ValueError(
                f"account aliases are 3-63 lowercase letters, digits and '-', got {value!r}"
            )
        return value

    @field_validator("access_role")
    @classmethod
    def _access_role(cls, value: str) -> str:
        if not ROLE_NAME.match(value):
            raise ValueError(f"not a valid IAM role name: {value!r}")
        return value


class FederatedRole(_Model):
    """A role people take through the IdP, created in each of its accounts."""

    name: str = Field(description="IAM role name, e.g. OktaAdminRole.")
    accounts: list[str] | Literal["all"] = Field(
        default="all", description="Account aliases, or 'all'."
    )
    managed_policies: list[str] = Field(default_factory=list)
    inline_policies: dict[str, dict[str, Any]] = Field(default_factory=dict)
    max_session_duration: int = DEFAULT_SESSION_SECONDS
    permissions_boundary: str | None = None
    path: str = "/"
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not ROLE_NAME.match(value):
            raise ValueError(f"IAM role names are 1-64 letters, digits and +=,.@_-, got {value!r}")
        return value

    @field_validator("max_session_duration")
    @classmethod
    def _max(cls, value: int) -> int:
        return _duration(value, what="max_session_duration")

    @field_validator("managed_policies")
    @classmethod
    def _managed(cls, value: list[str]) -> list[str]:
        for arn in value:
            if not MANAGED_POLICY_ARN.match(arn):
                raise ValueError(
                    f"{arn!r} is not a managed policy ARN "
                    "(e.g. arn:aws:iam::aws:policy/ReadOnlyAccess)"
                )
        return value

    @field_validator("permissions_boundary")
    @classmethod
    def _boundary(cls, value: str | None) -> str | None:
        if value is not None and not MANAGED_POLICY_ARN.match(value):
            raise ValueError(f"{value!r} is not a managed policy ARN")
        return value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not IAM_PATH.match(value):
            raise ValueError(f"IAM paths start and end with '/', got {value!r}")
        return value

    @field_validator("inline_policies")
    @classmethod
    def _inline(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, document in value.items():
            if name.lower().startswith(RESERVED_POLICY_PREFIX):
                # Regression (issue 23): a spec policy so named showed in plan as an update
                # replacing offboard's Deny; apply would have handed the sessions back.
                raise ValueError(
                    f"inline policy {name!r}: names starting with {RESERVED_POLICY_PREFIX!r} "
                    "are reserved for `keyless offboard`'s revocations; rename it"
                )
            if "Statement" not in document:
                raise ValueError(f"inline policy {name!r} has no Statement")
        return value


class GroupMapping(_Model):
    """An explicit mapping: members of IdP group ``group`` may take ``role`` in ``accounts``."""

    group: str
    role: str
    accounts: list[str] | Literal["all"] = Field(
        default="all", description="Account aliases, or 'all' (every account the role is in)."
    )


class GroupConvention(_Model):
    """Okta's naming convention: the group name itself says account and role."""

    enabled: bool = True
    pattern: str = Field(
        default=DEFAULT_GROUP_PATTERN,
        description="Placeholders {alias}, {role}, {account_id}; Okta's default is "
        "aws#{alias}#{role}#{account_id}.",
    )

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        fields = {name for _, name, _, _ in string.Formatter().parse(value) if name}
        unknown = fields - {"alias", "role", "account_id"}
        if unknown:
            raise ValueError(
                f"unknown placeholder(s) {sorted(unknown)}; use {{alias}}, {{role}}, {{account_id}}"
            )
        if "role" not in fields or not ({"alias", "account_id"} & fields):
            raise ValueError("the pattern must contain {role} and {alias} or {account_id}")
        return value


class Session(_Model):
    """Session settings the IdP sends and login asks for."""

    duration: int = DEFAULT_SESSION_SECONDS
    require_mfa: bool = True

    @field_validator("duration")
    @classmethod
    def _duration(cls, value: int) -> int:
        return _duration(value, what="session duration")


class ExpectedAccessKey(_Model):
    """An IAM user whose long-lived key the organization keeps on purpose (break-glass, say).

    `keyless audit` reports its key as expected (with the reason, and its age
    against the rotation limit) instead of as a person's key to remove.
    """

    user: str = Field(description="The IAM user name.")
    account: str = Field(description="The account (alias or id) it lives in.")
    reason: str = Field(min_length=1, description="Why this key may exist; shown by the audit.")


class ProvisioningPrincipal(_Model):
    """The principal the IdP uses to list roles (iam:ListRoles, iam:ListAccountAliases only)."""

    kind: Literal["user", "role"] = "user"
    name: str = "OktaProvisioningUser"

    @model_validator(mode="before")
    @classmethod
    def _default_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("kind") == "role" and "name" not in data:
            return {**data, "name": "Okta-Idp-cross-account-role"}
        return data


OKTA_SCOPES = (
    "okta.apps.read",
    "okta.apps.manage",
    "okta.groups.read",
    "okta.groups.manage",
    "okta.users.read",
    "okta.users.manage",
)


class OktaManagement(_Model):
    """How keyless manages the Okta org's half (the AWS app's settings, groups, assignments).

    The org and the app are ``identity_provider.org_url`` and ``app_id`` (or
    ``app_label`` here); the secret (an API token or the service app's private
    key) comes from the environment or the keyring, never from this file.
    """

    manage: bool = Field(default=True, description="Plan and apply the Okta side too.")
    auth: Literal["api_token", "private_key_jwt"] = Field(
        default="api_token",
        description="api_token: KEYLESS_OKTA_API_TOKEN (SSWS); private_key_jwt: a service app "
        "(client credentials) with KEYLESS_OKTA_PRIVATE_KEY_FILE.",
    )
    client_id: str | None = Field(default=None, description="The service app's client id.")
    cli_client_id: str | None = Field(
        default=None,
        description="The native OIDC app `keyless login --auth-flow device` signs in with; "
        "apply makes it the AWS app's Allowed Web SSO Client (settings.app.webSSOAllowedClient). "
        "With --lab, the lab's oidc_client_id when absent.",
    )
    app_label: str | None = Field(
        default=None, description="Find the AWS app by its label when app_id is not given."
    )
    scopes: list[str] = Field(
        default_factory=lambda: list(OKTA_SCOPES),
        description="Scopes the service app asks for (private_key_jwt).",
    )

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: list[str]) -> list[str]:
        unknown = [s for s in value if s not in OKTA_SCOPES]
        if unknown:
            raise ValueError(f"unknown scope(s) {unknown}; use some of: {', '.join(OKTA_SCOPES)}")
        return value

    @model_validator(mode="after")
    def _client(self) -> OktaManagement:
        if self.auth == "private_key_jwt" and not self.client_id:
            raise ValueError("auth private_key_jwt needs client_id (the service app's client id)")
        return self


MappingMode = Literal["group_mapping", "role_import"]


class FederationSpec(_Model):
    """A whole federation: the IdP, the accounts, the roles and who may take them."""

    version: Literal[1] = 1
    name: str = Field(description="Names this federation; tags what keyless manages.")
    mapping_mode: MappingMode = Field(
        default="group_mapping",
        description="How Okta puts roles in the assertion, one mode per federation, never "
        "mixed. group_mapping (the default): groups named by group_convention, read through "
        "the app's groupFilter/roleValuePattern; no API integration, so no static key; "
        "explicit group_mappings are realised with Okta group rules into the convention's "
        "groups. role_import: the app's API integration imports each account's roles with "
        "the provisioning principal's key and group assignments name them in samlRoles "
        f"(at most {ROLE_IMPORT_MAX_ACCOUNTS} accounts).",
    )
    identity_provider: IdentityProvider
    session: Session = Field(default_factory=Session)
    accounts: Annotated[list[Account], Field(min_length=1)]
    roles: list[FederatedRole] = Field(default_factory=list)
    group_mappings: list[GroupMapping] = Field(default_factory=list)
    group_convention: GroupConvention = Field(default_factory=GroupConvention)
    provisioning_principal: ProvisioningPrincipal | None = Field(
        default=None,
        description="The IAM principal Okta's API integration lists roles with. role_import "
        "needs it (the default {kind: user} when absent); group_mapping needs none, and "
        "without one the federation holds no long-lived key at all.",
    )
    expected_access_keys: list[ExpectedAccessKey] = Field(
        default_factory=list,
        description="Long-lived keys kept on purpose; the audit reports them as expected.",
    )
    lab: dict[str, Any] = Field(
        default_factory=dict,
        description="An extension section keyless ignores: the embedded lab (keyless-lab) reads "
        "the users, groups, engine and app policy it should play from it.",
    )
    okta: OktaManagement | None = Field(
        default=None, description="Manage the Okta org's side too (absent: AWS only)."
    )

    @model_validator(mode="before")
    @classmethod
    def _principal_default(cls, data: Any) -> Any:
        # Role import lists roles with the principal's key, so it gets one unless the
        # spec names it; group mapping needs none (no API integration, no static key).
        if (
            isinstance(data, dict)
            and data.get("mapping_mode") == "role_import"
            and "provisioning_principal" not in data
        ):
            return {**data, "provisioning_principal": {}}
        return data

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}", value):
            raise ValueError(f"names are letters, digits, '_', '.', '-', got {value!r}")
        return value

    # -- lookups used everywhere -------------------------------------------------

    @property
    def management_account(self) -> Account | None:
        return next((a for a in self.accounts if a.management), None)

    def account(self, alias_or_id: str) -> Account | None:
        """The account with this alias or id, or None."""
        return next((a for a in self.accounts if alias_or_id in (a.alias, a.id)), None)

    def role(self, name: str) -> FederatedRole | None:
        return next((r for r in self.roles if r.name == name), None)

    def role_accounts(self, role: FederatedRole) -> list[Account]:
        """The accounts a role is created in, in spec order."""
        if role.accounts == "all":
            return list(self.accounts)
        wanted = set(role.accounts)
        return [a for a in self.accounts if a.alias in wanted or a.id in wanted]

    def role_in_account(self, role: FederatedRole, account: Account) -> bool:
        """Whether ``role`` is created in ``account`` (without scanning every account)."""
        return (
            role.accounts == "all" or account.alias in role.accounts or account.id in role.accounts
        )

    def expected_key(self, account: Account, user: str) -> ExpectedAccessKey | None:
        """The ``expected_access_keys`` entry for ``user`` in ``account``, or None."""
        return next(
            (
                key
                for key in self.expected_access_keys
                if key.user == user and key.account in (account.alias, account.id)
            ),
            None,
        )

    def check_references(self) -> list[tuple[tuple[str | int, ...], str, str]]:
        """Problems that span fields, as (path, message, fix); empty when all is well."""
        return reference_problems(self.model_dump())
