"""The actual state of an account as read from IAM (filled in by the AWS adapter).

Plain data, so the diff is pure and tests can build states by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# An IAM policy document as parsed JSON (desired and actual state share it).
PolicyDocument = dict[str, Any]


@dataclass(frozen=True)
class ActualProvider:
    """An IAM SAML provider as IAM returns it."""

    arn: str
    metadata_xml: bytes
    tags: dict[str, str]


@dataclass(frozen=True)
class ActualRole:
    """An IAM role as IAM returns it (ListRoles + GetAccountAuthorizationDetails)."""

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
    instance_profiles: tuple[str, ...] = ()


@dataclass(frozen=True)
class ActualUser:
    """An IAM user as IAM returns it."""

    name: str
    arn: str
    inline_policies: dict[str, PolicyDocument]
    managed_policies: tuple[str, ...]
    tags: dict[str, str]


@dataclass(frozen=True)
class ActualAccount:
    """What one account holds of the things keyless manages or could collide with."""

    account_id: str
    provider: ActualProvider | None
    roles: dict[str, ActualRole] = field(default_factory=dict)
    users: dict[str, ActualUser] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
