"""The lab's organization: a management account, member accounts, aliases, access roles.

What a real AWS Organization gives an administrator on day one, built
directly in moto's backends (the lab's own process, before it serves):

- an organization owned by the management account, each member account
  created in it *with the spec's account id* and named by its alias;
- ``iam create-account-alias`` done in every account;
- in every member, the access role (``OrganizationAccountAccessRole`` unless
  the spec names another) trusting ``arn:aws:iam::<management>:root`` with
  ``AdministratorAccess`` attached, as Organizations creates it;
- in the management account only, an IAM user ``lab-admin`` with
  ``AdministratorAccess`` and one access key: the lab's stand-in for an
  administrator's first credentials.

Every step is idempotent, so a restart from a snapshot changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

BOOTSTRAP_USER = "lab-admin"
ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"
_PARTITION = "aws"
_REGION = "us-east-1"


@dataclass(frozen=True)
class LabAccount:
    """One account the lab creates."""

    id: str
    alias: str
    environment: str = "default"
    management: bool = False
    access_role: str = "OrganizationAccountAccessRole"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "alias": self.alias,
            "environment": self.environment,
            "management": self.management,
            "access_role": self.access_role,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabAccount:
        return cls(
            id=str(data["id"]),
            alias=str(data["alias"]),
            environment=str(data.get("environment", "default")),
            management=bool(data.get("management", False)),
            access_role=str(data.get("access_role", "OrganizationAccountAccessRole")),
        )


@contextmanager
def _account_ids(wanted: str) -> Iterator[None]:
    # moto draws member account ids at random; the lab needs the spec's ids.
    from moto.organizations import utils

    original = utils.make_random_account_id
    utils.make_random_account_id = lambda: wanted
    try:
        yield
    finally:
        utils.make_random_account_id = original


def management_of(accounts: Sequence[LabAccount]) -> LabAccount:
    """The management account: the one marked so, else the first listed."""
    return next((a for a in accounts if a.management), accounts[0])


def bootstrap(accounts: Sequence[LabAccount]) -> dict[str, str]:
    """Create (or find) the organization and accounts; return the bootstrap access key."""
    from moto.iam.models import iam_backends
    from moto.organizations.models import organizations_backends

    management = management_of(accounts)
    org = organizations_backends[management.id][_PARTITION]
    if org.org is None:
        iam = iam_backends[management.id][_PARTITION]
        had_role = any(r.name == "OrganizationAccountAccessRole" for r in iam.roles.values())
        # moto gives the management account's own record a random id, and an
        # access role in that random account; pin the id, drop the role (real
        # organizations create none in the management account).
        with _account_ids(management.id):
            org.create_organization(region=_REGION, FeatureSet="ALL")
        if not had_role:
            iam.delete_role("OrganizationAccountAccessRole")
        for member in org.accounts:
            if member.id == management.id:
                member.name = management.alias
    known = {account.id for account in org.accounts}
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{management.id}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    for account in accounts:
        iam = iam_backends[account.id][_PARTITION]
        if iam.account_aliases != [account.alias]:
            iam.create_account_alias(account.alias)
        if account.id == management.id:
            continue
        if not any(role.name == account.access_role for role in iam.roles.values()):
            iam.create_role(
                role_name=account.access_role,
                assume_role_policy_document=trust,
                path="/",
                permissions_boundary=None,
                description="Created by the keyless lab as AWS Organizations creates it",
                tags=[],
                max_session_duration="3600",
            )
            iam.attach_role_policy(ADMIN_POLICY, account.access_role)
        if account.id not in known:
            with _account_ids(account.id):
                org.create_account(
                    AccountName=account.alias,
                    Email=f"{account.alias}@lab.keyless.invalid",
                    RoleName=account.access_role,
                )
    return _bootstrap_key(management.id)


def _bootstrap_key(account_id: str) -> dict[str, str]:
    from moto.iam.models import iam_backends

    iam = iam_backends[account_id][_PARTITION]
    user = iam.users.get(BOOTSTRAP_USER)
    if user is None:
        user = iam.create_user(region_name=_REGION, user_name=BOOTSTRAP_USER, path="/")
        iam.attach_user_policy(ADMIN_POLICY, BOOTSTRAP_USER)
    # Named for people reading IAM; the audit knows it from the spec's
    # expected_access_keys (examples/acme.yaml), not from this tag.
    iam.tag_user(BOOTSTRAP_USER, [{"Key": "keyless-lab:bootstrap", "Value": "true"}])
    active = [key for key in user.access_keys if key.status == "Active"]
    key = active[0] if active else iam.create_access_key(BOOTSTRAP_USER)
    return {
        "aws_access_key_id": key.access_key_id,
        "aws_secret_access_key": key.secret_access_key,
    }
