"""Take a person's access away everywhere, now: the service behind `keyless offboard`.

Each step is recorded with a timestamp in an :class:`OffboardReport`:

1. **Who** the person is to AWS: the username the Okta AWS app sends for them
   (read through the :class:`OktaOffboarding` seam), never only what was typed;
   it is their SourceIdentity and their session name (:mod:`keyless.plan.revocations`).
2. **Where**: the organization (:mod:`.organization`): member accounts are covered
   by the keyless SCP at the root, one write; the management account and accounts
   no SCP covers get one packed Deny on every federated role.
3. Every document is **sized** against IAM's and Organizations' quotas; one that
   does not fit refuses the whole run up front, nothing changed (Okta included).
4. **Okta**: deactivate or suspend, clear IdP sessions.
5. The **writes**, each read back with a fresh call.
6. **CloudTrail** in every Region (:mod:`.evidence`: the organization trail's log files
   when there is one, else each account's event history): the person's sessions and the
   sessions chained from them; a session name or chained session it adds is written
   in a second pass.

Accounts are worked on concurrently; one that cannot be reached is reported
with its cause and the others go on; running again finishes the job.
``dry_run`` reads and reports, and changes nothing.

``release`` removes a person from the revocations once the time recorded with
them has passed (refused before, or when unknown, unless ``force``).

Credentials for each account come exactly as `apply` gets them
(:class:`keyless.adapters.aws.AwsConnector`: the management credentials, and
each member account's access role).
"""

from keyless.services.offboard.model import (
    DEFAULT_PARALLEL,
    AccountOutcome,
    OffboardReport,
    OktaOffboarding,
    OktaOutcome,
    RoleRevocation,
    SessionSeen,
    Step,
)
from keyless.services.offboard.service import Offboarder

__all__ = [
    "DEFAULT_PARALLEL",
    "AccountOutcome",
    "OffboardReport",
    "Offboarder",
    "OktaOffboarding",
    "OktaOutcome",
    "RoleRevocation",
    "SessionSeen",
    "Step",
]
