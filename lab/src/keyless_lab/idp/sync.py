"""Role sync, as Okta's AWS app "API integration" does it: list each account's roles
with the provisioning principal's credentials and compare them with the spec.

Okta reads roles with an IAM user's access key (``iam:ListRoles`` and
``iam:ListAccountAliases`` only), and reaches member accounts through a
cross-account role when the spec's provisioning principal is ``kind: role``.
The report names the roles the spec maps that AWS lacks, and the roles AWS
has for this SAML provider that the spec does not map.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import BotoCoreError, ClientError

from keyless.spec.model import Account, FederationSpec
from keyless_lab.idp.admin import granted_roles, provider_arn

# account -> a boto3 IAM client for it; raises AccountUnreachable (or a boto error).
IamFactory = Callable[[Account], Any]


class AccountUnreachable(Exception):
    """The provisioning principal cannot reach this account."""


@dataclass
class AccountSync:
    """What one account holds compared with what the spec maps there."""

    account_id: str
    alias: str
    aws_alias: str | None = None
    roles_in_aws: list[str] = field(default_factory=list)
    missing_in_aws: list[str] = field(default_factory=list)
    not_in_spec: list[str] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "alias": self.alias,
            "aws_alias": self.aws_alias,
            "roles_in_aws": self.roles_in_aws,
            "missing_in_aws": self.missing_in_aws,
            "not_in_spec": self.not_in_spec,
            "error": self.error,
        }


def _trusts_provider(document: Any, provider_arn: str) -> bool:
    if isinstance(document, str):
        document = json.loads(unquote(document))
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    if isinstance(statements, dict):
        statements = [statements]
    for statement in statements:
        federated = (statement.get("Principal") or {}).get("Federated")
        names = federated if isinstance(federated, list) else [federated]
        if provider_arn in names:
            return True
    return False


def sync_roles(spec: FederationSpec, iam_for: IamFactory) -> list[AccountSync]:
    """List each account's roles with the clients ``iam_for`` gives and compare with the spec."""
    reports: list[AccountSync] = []
    for account in spec.accounts:
        report = AccountSync(account_id=account.id, alias=account.alias)
        reports.append(report)
        expected = set(granted_roles(spec, account))
        try:
            iam = iam_for(account)
            aliases = iam.list_account_aliases().get("AccountAliases", [])
            report.aws_alias = aliases[0] if aliases else None
            provider = provider_arn(spec, account)
            federated: set[str] = set()
            for page in iam.get_paginator("list_roles").paginate():
                for role in page.get("Roles", []):
                    report.roles_in_aws.append(role["RoleName"])
                    if _trusts_provider(role.get("AssumeRolePolicyDocument", {}), provider):
                        federated.add(role["RoleName"])
        except (ClientError, BotoCoreError, AccountUnreachable) as exc:
            report.error = str(exc)
            continue
        present = set(report.roles_in_aws)
        report.missing_in_aws = sorted(expected - present)
        report.not_in_spec = sorted(federated - expected)
    return reports
