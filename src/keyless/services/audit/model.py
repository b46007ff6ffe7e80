"""What `keyless audit` reports: severities, the checks and the controls they evidence,
findings, sign-ins, per-account results, the whole report, and the Okta seam."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from keyless.spec.model import Account

Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")
DEFAULT_PARALLEL = 8
DEFAULT_PERIOD = timedelta(days=7)
CALLS_PER_ACCOUNT = 11  # the budget above: 1 + 4 + 1 + 3 + 1 + 1
CERT_WARN_DAYS = 30
KEY_MAX_AGE_DAYS = 90


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def severity_rank(severity: str) -> int:
    """0 for critical ... 4 for info (lower is worse)."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


@dataclass(frozen=True)
class Check:
    """One kind of finding: what it checks and which controls it evidences."""

    id: str
    title: str
    soc2: tuple[str, ...]
    nist: tuple[str, ...]


# The control mapping an auditor reads (SOC 2 Trust Services Criteria 2017;
# NIST SP 800-53 Rev. 5): CC6.1 logical access security, CC6.2 provisioning and
# removal of access, CC6.3 role-based least privilege, CC7.2 monitoring of
# anomalies; AC-2 account management, AC-2(3) disable accounts, AC-6 least
# privilege, IA-2(1) MFA for privileged accounts, IA-5(1) authenticator management.
CHECKS: dict[str, Check] = {
    c.id: c
    for c in (
        Check(
            "person-access-key",
            "IAM users holding long-lived access keys",
            ("CC6.1", "CC6.2"),
            ("AC-2", "IA-2(1)", "IA-5(1)"),
        ),
        Check(
            "expected-access-key",
            "Long-lived keys the spec keeps on purpose (expected_access_keys)",
            ("CC6.1", "CC6.2"),
            ("AC-2", "IA-5(1)"),
        ),
        Check(
            "provisioning-key",
            "The IdP's provisioning principal key (expected)",
            ("CC6.1", "CC6.3"),
            ("AC-6", "IA-5(1)"),
        ),
        Check(
            "provisioning-privilege",
            "The provisioning principal may only list roles",
            ("CC6.3",),
            ("AC-6",),
        ),
        Check(
            "console-without-mfa",
            "Console passwords without MFA",
            ("CC6.1",),
            ("IA-2(1)", "IA-5(1)"),
        ),
        Check("root-access-key", "Root user access keys", ("CC6.1", "CC6.3"), ("AC-6", "IA-2(1)")),
        Check(
            "saml-provider",
            "SAML provider metadata matches the IdP's current metadata",
            ("CC6.1", "CC7.2"),
            ("IA-2(1)",),
        ),
        Check(
            "saml-audience",
            "Trust policies accept the sign-in URL the IdP sends (SAML:aud)",
            ("CC6.1", "CC7.2"),
            ("AC-2",),
        ),
        Check(
            "foreign-provider",
            "Roles trusting a SAML provider that is not the spec's",
            ("CC6.1", "CC6.3"),
            ("AC-2", "AC-6"),
        ),
        Check(
            "source-identity-fallback",
            "Federated roles that cannot take a SourceIdentity (revocation falls back "
            "to session names)",
            ("CC6.2",),
            ("AC-2", "AC-2(3)"),
        ),
        Check(
            "max-session",
            "MaxSessionDuration no longer than the spec says",
            ("CC6.1",),
            ("AC-2",),
        ),
        Check(
            "drift",
            "Roles and providers as the spec describes them",
            ("CC6.2", "CC6.3", "CC7.2"),
            ("AC-2", "AC-6"),
        ),
        Check(
            "unmanaged",
            "Federated roles and providers keyless does not manage",
            ("CC6.2", "CC7.2"),
            ("AC-2",),
        ),
        Check(
            "revocation",
            "Session revocations left by `keyless offboard`",
            ("CC6.2",),
            ("AC-2", "AC-2(3)"),
        ),
        Check(
            "sign-ins",
            "Who assumed which role, from CloudTrail",
            ("CC7.2",),
            ("AC-2",),
        ),
        Check("okta", "The IdP side (Okta)", ("CC6.1", "CC6.2"), ("AC-2(3)", "IA-2(1)")),
        Check(
            "unreadable",
            "Accounts the audit could not read",
            ("CC7.2",),
            ("AC-2",),
        ),
    )
}


@dataclass(frozen=True)
class Finding:
    """One thing the audit found."""

    check: str
    severity: Severity
    account_id: str
    account_alias: str
    resource: str
    title: str
    why: str
    fix: str
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def controls(self) -> tuple[str, ...]:
        check = CHECKS.get(self.check)
        return (*check.soc2, *check.nist) if check else ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "severity": self.severity,
            "account_id": self.account_id,
            "account_alias": self.account_alias,
            "resource": self.resource,
            "title": self.title,
            "why": self.why,
            "fix": self.fix,
            "controls": list(self.controls),
            "detail": dict(self.detail),
        }


@dataclass(frozen=True)
class SignIn:
    """One AssumeRoleWithSAML from CloudTrail."""

    at: datetime
    person: str
    role_arn: str
    account_id: str
    account_alias: str
    source_ip: str
    error: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": _iso(self.at),
            "person": self.person,
            "role_arn": self.role_arn,
            "role": self.role_arn.rsplit("/", 1)[-1],
            "account_id": self.account_id,
            "account_alias": self.account_alias,
            "source_ip": self.source_ip,
            "error": self.error,
        }


@dataclass
class AccountAudit:
    """What one account holds: users with keys, roles, the provider, sign-ins."""

    account: Account
    findings: list[Finding] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    roles: list[dict[str, Any]] = field(default_factory=list)
    sign_ins: list[SignIn] = field(default_factory=list)
    error: str | None = None
    # IAM's credential report is cached up to four hours: when it was generated.
    credential_report_time: datetime | None = None
    audited_at: datetime | None = None
    # Checks that did not run here (check id -> why): their silence is not "no finding".
    not_evaluated: dict[str, str] = field(default_factory=dict)

    @property
    def federation_keys(self) -> int:
        """Active long-lived keys the federation itself holds (the role-listing principal's)."""
        return sum(len(u["access_keys"]) for u in self.users if u.get("kind") == "provisioning")

    def as_dict(self) -> dict[str, Any]:
        report = self.credential_report_time
        return {
            "account_id": self.account.id,
            "alias": self.account.alias,
            "error": self.error,
            "credential_report": {
                "generated_time": report.isoformat() if report else None,
                "age_seconds": (
                    int((self.audited_at - report).total_seconds())
                    if report and self.audited_at
                    else None
                ),
                "note": "IAM serves a cached credential report up to 4 hours old: keys "
                "deleted after generated_time may still be listed",
            },
            "federation_long_lived_keys": self.federation_keys,
            "users": self.users,
            "roles": self.roles,
            "sign_ins": [s.as_dict() for s in self.sign_ins],
            "findings": len(self.findings),
            "not_evaluated": dict(self.not_evaluated),
        }


class OktaAuditSource(Protocol):
    """Findings about the IdP side: people in AWS groups without MFA, deactivated
    users still in groups. Raises :class:`KeylessError` when the org cannot be read."""

    def findings(self) -> list[Finding]: ...


@dataclass
class AuditReport:
    """The whole audit: findings by severity, per-account tables, the sign-in timeline."""

    spec_name: str
    started_at: datetime
    period_start: datetime
    period_end: datetime
    accounts: list[AccountAudit]
    okta_findings: list[Finding] = field(default_factory=list)
    okta_skipped: str | None = None
    # The Okta org was meant to be audited but could not be read: why.
    okta_unreadable: str | None = None
    finished_at: datetime | None = None

    @property
    def findings(self) -> list[Finding]:
        found = [f for a in self.accounts for f in a.findings] + self.okta_findings
        return sorted(
            found, key=lambda f: (severity_rank(f.severity), f.account_alias, f.check, f.resource)
        )

    @property
    def sign_ins(self) -> list[SignIn]:
        return sorted((s for a in self.accounts for s in a.sign_ins), key=lambda s: s.at)

    def counts(self) -> dict[str, int]:
        totals: dict[str, int] = {severity: 0 for severity in SEVERITIES}
        for finding in self.findings:
            totals[finding.severity] += 1
        return totals

    def check_statuses(self) -> dict[str, dict[str, Any]]:
        """Per check: ``evaluated`` or ``not evaluated`` (and why), its findings, and the
        accounts it could not look at. A check that did not run has no findings, and
        that must never read as "none found"."""
        found: dict[str, int] = {}
        for finding in self.findings:
            found[finding.check] = found.get(finding.check, 0) + 1
        statuses: dict[str, dict[str, Any]] = {}
        for check in CHECKS.values():
            missed: dict[str, str] = {}
            reason: str | None = None
            if check.id == "okta":
                reason = self.okta_skipped or (
                    f"the Okta org could not be read: {self.okta_unreadable}"
                    if self.okta_unreadable
                    else None
                )
            elif check.id != "unreadable":
                missed = {
                    a.account.alias: a.not_evaluated[check.id]
                    for a in self.accounts
                    if check.id in a.not_evaluated
                }
                if self.accounts and len(missed) == len(self.accounts):
                    reason = "; ".join(sorted(set(missed.values())))
            statuses[check.id] = {
                "status": "not evaluated" if reason else "evaluated",
                "reason": reason,
                "findings": found.get(check.id, 0),
                "not_evaluated_in": missed,
            }
        return statuses

    def fails(self, threshold: Severity | None) -> bool:
        """True when a finding at ``threshold`` or worse exists (``--fail-on``)."""
        if threshold is None:
            return False
        limit = severity_rank(threshold)
        return any(severity_rank(f.severity) <= limit for f in self.findings)

    def as_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec_name,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at) if self.finished_at else None,
            "period": {"start": _iso(self.period_start), "end": _iso(self.period_end)},
            "counts": self.counts(),
            "findings": [f.as_dict() for f in self.findings],
            "accounts": [a.as_dict() for a in self.accounts],
            "sign_ins": [s.as_dict() for s in self.sign_ins],
            "okta_skipped": self.okta_skipped,
            "checks": self.check_statuses(),
            "controls": {
                c.id: {"title": c.title, "soc2": list(c.soc2), "nist": list(c.nist)}
                for c in CHECKS.values()
            },
        }
