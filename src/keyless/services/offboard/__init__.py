"""Take a person's access away everywhere, now: the service behind `keyless offboard`.

Two steps, each recorded with a timestamp in an :class:`OffboardReport`:

1. **Okta** (when the spec configures an org): deactivate or suspend the user and
   clear their IdP sessions, so no new assertion is issued. It goes through the
   :class:`OktaOffboarding` seam; without one the report says the step was
   skipped and why.
2. **AWS**, every account, every role the person's groups reach (the spec's
   grants): the sessions they already hold outlive an IdP deactivation by up
   to the role's MaxSessionDuration, so each role gets an inline Deny for that
   person's session name issued before now (:mod:`keyless.plan.revocations`),
   read back with a fresh call to confirm it is in place. CloudTrail's
   ``AssumeRoleWithSAML`` events name the sessions that were cut off.

Accounts are worked on concurrently; one that cannot be reached is reported
with its cause and the others go on. Running again finishes the job (the
Deny is put again with a fresh cut-off, which also catches a session taken
between the runs). ``dry_run`` reads and reports, and changes nothing.

``release`` removes a person's revocations once the longest session they stop
has expired on its own (refused before unless ``force``).

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
