"""IAM's quotas on roles, refused before moto runs a call that would pass them.

moto accepts a role of any size; AWS stops a write that would take a role past
its quotas with ``LimitExceeded`` (HTTP 409) and changes nothing, so code that
would stop halfway in AWS must stop halfway here. Sources:

- [QUOTAS] IAM and AWS STS quotas
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
  ("Role policy size: inline policies ... 10,240 characters" in aggregate per
  role; "Managed policies attached to an IAM role: 10" (the default quota);
  "Tags per IAM role: 50"; "IAM doesn't count white space when calculating the
  size of a policy against these quotas");
- [API] IAM API reference, PutRolePolicy / AttachRolePolicy / TagRole:
  ``LimitExceeded`` "The request was rejected because it attempted to create
  resources beyond the current Amazon Web Services account limits. The error
  message describes the limit exceeded."

The messages are IAM's own, as its endpoints answer (and as AWS SDK users
report them): ``Maximum policy size of 10240 bytes exceeded for role <name>``
and ``Cannot exceed quota for PoliciesPerRole: 10``. For tags the lab answers
``Cannot exceed quota for TagsPerRole: 50`` in the same form (IAM names its
quotas so); no first-hand copy of that message was found.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from keyless_lab.aws.errors import AwsError

ROLE_POLICY_CHARACTERS = 10_240
MANAGED_POLICIES_PER_ROLE = 10
TAGS_PER_ROLE = 50
_PARTITION = "aws"
_WHITESPACE = re.compile(r"\s")
_TAG_KEY = re.compile(r"^Tags\.member\.(\d+)\.Key$")


def policy_size(document: str) -> int:
    """A policy's size as IAM counts it against quotas: its characters but white space."""
    return len(_WHITESPACE.sub("", document))


def _role(account_id: str, name: str) -> Any:
    from moto.iam.models import iam_backends

    iam = dict.get(dict.get(iam_backends, account_id, {}), _PARTITION)
    if iam is None:
        return None
    return next((role for role in iam.roles.values() if role.name == name), None)


def _limit(message: str) -> AwsError:
    return AwsError("LimitExceeded", message)


def check_call(account_id: str, action: str, params: Mapping[str, str]) -> None:
    """Raise ``LimitExceeded`` if running the IAM ``action`` would pass a role quota."""
    if action not in ("PutRolePolicy", "AttachRolePolicy", "TagRole"):
        return
    name = params.get("RoleName", "")
    role = _role(account_id, name)
    if role is None:
        return  # moto answers NoSuchEntity, as IAM does
    if action == "PutRolePolicy":
        replaced = params.get("PolicyName")
        total = policy_size(params.get("PolicyDocument", ""))
        total += sum(
            policy_size(str(document))
            for policy, document in role.policies.items()
            if policy != replaced
        )
        if total > ROLE_POLICY_CHARACTERS:
            raise _limit(
                f"Maximum policy size of {ROLE_POLICY_CHARACTERS} bytes exceeded for role {name}"
            )
    elif action == "AttachRolePolicy":
        arn = params.get("PolicyArn", "")
        if arn not in role.managed_policies and len(role.managed_policies) >= (
            MANAGED_POLICIES_PER_ROLE
        ):
            raise _limit(f"Cannot exceed quota for PoliciesPerRole: {MANAGED_POLICIES_PER_ROLE}")
    else:
        # Tag keys are case-insensitive in IAM: a key already there is overwritten.
        keys = {str(tag["Key"]).lower() for tag in role.tags or []}
        keys |= {value.lower() for key, value in params.items() if _TAG_KEY.match(key)}
        if len(keys) > TAGS_PER_ROLE:
            raise _limit(f"Cannot exceed quota for TagsPerRole: {TAGS_PER_ROLE}")
