"""What AWS reads from a SAML assertion, as AWS documents it, for the lab's own use.

The lab is an oracle of Okta and AWS: it keeps its own copy of these public
constants and rules rather than importing keyless's (an oracle that shares the
product's code repeats its bugs).

Source: AWS IAM User Guide, "Configure SAML assertions for the authentication
response"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_saml_assertions.html):

- the ``Role`` attribute holds one or more values, each a role ARN and a SAML
  provider ARN separated by a comma (either order);
- ``RoleSessionName`` (2-64 characters) names the session, ``SessionDuration``
  (900-43200 seconds) asks for its length;
- the ``Audience`` is ``urn:amazon:webservices`` and the SubjectConfirmationData
  ``Recipient`` the sign-in endpoint ``https://signin.aws.amazon.com/saml``;
- ``PrincipalTag:<key>``, ``TransitiveTagKeys`` and ``SourceIdentity`` are
  session tags and the source identity
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html#id_session-tags_adding-assume-role-saml,
  https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_monitor.html).

AWS refuses a Role value whose provider sits in another account or partition
than the role ("Not authorized to perform sts:AssumeRoleWithSAML"); the lab's
sign-in page, like AWS's, lists only the pairs it could assume.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

AWS_SIGNIN_URL = "https://signin.aws.amazon.com/saml"
AWS_AUDIENCE = "urn:amazon:webservices"

ATTR_PREFIX = "https://aws.amazon.com/SAML/Attributes/"
ATTR_ROLE = ATTR_PREFIX + "Role"
ATTR_SESSION_NAME = ATTR_PREFIX + "RoleSessionName"
ATTR_SESSION_DURATION = ATTR_PREFIX + "SessionDuration"
ATTR_PRINCIPAL_TAG = ATTR_PREFIX + "PrincipalTag:"
ATTR_TRANSITIVE_TAG_KEYS = ATTR_PREFIX + "TransitiveTagKeys"
ATTR_SOURCE_IDENTITY = ATTR_PREFIX + "SourceIdentity"

# An IAM role or SAML provider ARN (IAM User Guide, "IAM identifiers": ARNs;
# names of [\w+=,.@-], paths of printable characters between slashes).
IAM_ARN = re.compile(
    r"^arn:(?P<partition>aws|aws-us-gov|aws-cn|aws-iso|aws-iso-b):iam::(?P<account>\d{12}):"
    r"(?P<kind>role|saml-provider)/(?P<name>[\w+=,.@/-]{1,512})$"
)


class RoleAndProvider(Protocol):
    """Anything naming a role and the SAML provider to trust for it (one Role value)."""

    @property
    def role_arn(self) -> str: ...

    @property
    def principal_arn(self) -> str: ...


@dataclass(frozen=True)
class RolePair:
    """One value of the ``Role`` attribute: a role and the SAML provider that vouches for it."""

    role_arn: str
    principal_arn: str

    @property
    def account_id(self) -> str:
        """The account holding the role (empty when the ARN is not an IAM ARN)."""
        match = IAM_ARN.match(self.role_arn)
        return match["account"] if match else ""

    @property
    def role_name(self) -> str:
        """The role's name without its path."""
        return self.role_arn.rsplit("/", 1)[-1]


def role_value(pair: RoleAndProvider, *, provider_first: bool = True) -> str:
    """The Role attribute value for ``pair``; Okta writes the provider first."""
    if provider_first:
        return f"{pair.principal_arn},{pair.role_arn}"
    return f"{pair.role_arn},{pair.principal_arn}"


def assumable_pair(value: str) -> RolePair | None:
    """The pair a Role value names if AWS could assume it, else None.

    Two ARNs in either order, one role and one SAML provider, in the same
    account and partition.
    """
    parts = [part.strip() for part in value.split(",")]
    if len(parts) != 2:
        return None
    found: dict[str, tuple[str, re.Match[str]]] = {}
    for part in parts:
        match = IAM_ARN.match(part)
        if match is None:
            return None
        found[match["kind"]] = (part, match)
    if set(found) != {"role", "saml-provider"}:
        return None
    (role, role_match), (provider, provider_match) = found["role"], found["saml-provider"]
    if (role_match["partition"], role_match["account"]) != (
        provider_match["partition"],
        provider_match["account"],
    ):
        return None
    return RolePair(role_arn=role, principal_arn=provider)
