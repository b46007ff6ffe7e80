"""Session revocations: the inline Deny ``keyless offboard`` puts on a role, and how to read it.

AWS revokes a role's sessions with an inline policy that denies everything to
credentials issued before a moment (IAM User Guide, "Revoking IAM role
temporary security credentials": the console's ``AWSRevokeOlderSessions``
policy, ``DateLessThan`` on ``aws:TokenIssueTime``). keyless adds the per-person
form: the same Deny narrowed by ``aws:userid``, which for a role session is
``<role id>:<RoleSessionName>`` and the IdP sends the person's login as the
session name; so only that person's sessions stop, everyone else's on the role
keep working.

The policies are named :data:`REVOCATION_PREFIX` ``...`` so that ``plan``
recognises them as keyless's own and leaves them alone (they are not in the
spec, and deleting one would hand a departed person their sessions back).
``keyless offboard --release`` removes them once no session they stop could
still be alive: the cut-off plus the role's MaxSessionDuration.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

from keyless.plan.state import PolicyDocument

REVOCATION_PREFIX = "keyless-revoke-"
ALL_SESSIONS_NAME = f"{REVOCATION_PREFIX}all-sessions"
REVOCATION_TAG_PREFIX = "keyless:revoked:"
_UNSAFE = re.compile(r"[^\w+=,.@-]")


def is_revocation(policy_name: str) -> bool:
    """True for an inline policy keyless put on a role to revoke sessions."""
    return policy_name.startswith(REVOCATION_PREFIX)


def policy_name(session_name: str | None) -> str:
    """The inline policy name for one person's revocation (None: every session of the role)."""
    if session_name is None:
        return ALL_SESSIONS_NAME
    # IAM policy names are 1-128 of [\w+=,.@-]; logins are e-mail addresses and fit.
    return (REVOCATION_PREFIX + "user-" + _UNSAFE.sub("_", session_name))[:128]


def cutoff(moment: datetime) -> datetime:
    """The revocation's cut-off: ``moment`` rounded up to the next whole second.

    ``aws:TokenIssueTime`` has second precision, so a session issued in the same
    second as the revocation must still count as "before" it.
    """
    return datetime.fromtimestamp(math.floor(moment.timestamp()) + 1, UTC)


def revocation_policy(session_name: str | None, issued_before: datetime) -> PolicyDocument:
    """Deny every action to sessions issued before ``issued_before`` (one person's, or all)."""
    condition: dict[str, dict[str, str]] = {
        "DateLessThan": {"aws:TokenIssueTime": issued_before.strftime("%Y-%m-%dT%H:%M:%SZ")}
    }
    if session_name is not None:
        condition["StringLike"] = {"aws:userid": f"*:{session_name}"}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "KeylessRevokeSessions" if session_name else "KeylessRevokeOlderSessions",
                "Effect": "Deny",
                "Action": ["*"],
                "Resource": ["*"],
                "Condition": condition,
            }
        ],
    }


def revocation_cutoff(document: PolicyDocument) -> datetime | None:
    """The ``aws:TokenIssueTime`` cut-off a revocation policy holds, or None if it holds none."""
    for statement in document.get("Statement") or []:
        if not isinstance(statement, dict):
            continue
        value = ((statement.get("Condition") or {}).get("DateLessThan") or {}).get(
            "aws:TokenIssueTime"
        )
        if isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return None
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


def releasable_at(document: PolicyDocument, max_session_duration: int) -> datetime | None:
    """When the last session this revocation stops has expired on its own (None: unknown)."""
    moment = revocation_cutoff(document)
    return None if moment is None else moment + timedelta(seconds=max_session_duration)
