"""Federation as code, the pure part: desired state, actual state, and the diff between them.

``desired`` derives what every account should hold from a spec and the IdP's
metadata; ``state`` is what an account holds (read by the AWS adapter);
``diff`` turns the two into ordered changes, each with the IAM operations that
make it. Nothing here talks to AWS: ``keyless.services.provision.accounts`` does.
"""

from keyless.plan.desired import (
    MANAGED_BY_TAG,
    DesiredAccount,
    DesiredProvider,
    DesiredRole,
    DesiredUser,
    desired_account,
    desired_state,
    trust_policy,
)
from keyless.plan.diff import (
    AccountPlan,
    Change,
    DiffOptions,
    FieldChange,
    Operation,
    Plan,
    diff_account,
)
from keyless.plan.state import ActualAccount, ActualProvider, ActualRole, ActualUser

__all__ = [
    "MANAGED_BY_TAG",
    "AccountPlan",
    "ActualAccount",
    "ActualProvider",
    "ActualRole",
    "ActualUser",
    "Change",
    "DesiredAccount",
    "DesiredProvider",
    "DesiredRole",
    "DesiredUser",
    "DiffOptions",
    "FieldChange",
    "Operation",
    "Plan",
    "desired_account",
    "desired_state",
    "diff_account",
    "trust_policy",
]
