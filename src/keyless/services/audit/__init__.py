"""Find what is still long-lived, and prove what is not: the service behind `keyless audit`.

Every account of the spec is read concurrently, with the role the caller
names (a ReadOnly-class role is enough: every call here is a Get, List,
Generate or Lookup), in a fixed number of API calls per account
(:data:`CALLS_PER_ACCOUNT`, plus one per 50 sign-in events):

    sts:AssumeRole (member accounts)        1
    iam:ListRoles, GetAccountAuthorizationDetails,
        GetSAMLProvider, ListAccountAliases  4  (the same read `plan` makes)
    iam:ListSAMLProviders                   1
    iam:GenerateCredentialReport (twice: STARTED, then COMPLETE), GetCredentialReport
                                            3  (more only while AWS builds it)
    iam:GetAccountSummary                   1
    cloudtrail:LookupEvents                 1 per 50 AssumeRoleWithSAML events
    iam:ListUserTags                        1 per IAM user holding a key or a password

Each check yields :class:`Finding` objects with a severity, the resource, why it
matters, the fix, and the controls it evidences (:data:`CHECKS`). The Okta side
comes through the :class:`OktaAuditSource` seam when the spec configures an org.
"""

from keyless.services.audit.checks import AccountChecks
from keyless.services.audit.model import (
    CALLS_PER_ACCOUNT,
    CHECKS,
    DEFAULT_PARALLEL,
    DEFAULT_PERIOD,
    SEVERITIES,
    AccountAudit,
    AuditReport,
    Check,
    Finding,
    OktaAuditSource,
    Severity,
    SignIn,
    severity_rank,
)
from keyless.services.audit.reader import Auditor

__all__ = [
    "CALLS_PER_ACCOUNT",
    "CHECKS",
    "DEFAULT_PARALLEL",
    "DEFAULT_PERIOD",
    "SEVERITIES",
    "AccountAudit",
    "AccountChecks",
    "AuditReport",
    "Auditor",
    "Check",
    "Finding",
    "OktaAuditSource",
    "Severity",
    "SignIn",
    "severity_rank",
]
