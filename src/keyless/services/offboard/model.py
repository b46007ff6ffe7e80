"""What `keyless offboard` records: the Okta seam and its outcome, each step with its time,
the sessions seen, each role's revocation, per-account outcomes and the whole report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from keyless.core.credentials import mask
from keyless.spec.model import Account

DEFAULT_PARALLEL = 8
Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- the Okta seam ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OktaOutcome:
    """What the Okta step found and did."""

    status_before: str | None  # ACTIVE, SUSPENDED, DEPROVISIONED ... (None: no such user)
    status_after: str | None
    sessions_cleared: bool
    groups: tuple[str, ...] = ()  # the person's groups, read before the change
    detail: str = ""
    login: str | None = None  # the login as Okta stores it (the case may differ from the typed)
    # The username the AWS app sends for them (its username template's result):
    # their RoleSessionName, and SourceIdentity by default. None: it could not be read.
    app_user_name: str | None = None
    email: str | None = None  # their profile's email (a spec may send it as SourceIdentity)


class OktaOffboarding(Protocol):
    """Deactivates (or suspends) a person at the IdP and clears their sessions.

    ``dry_run`` reads the user's status and groups and changes nothing.
    Raises :class:`keyless.errors.KeylessError` when the org cannot be reached.
    """

    def offboard_user(self, login: str, *, suspend: bool, dry_run: bool) -> OktaOutcome: ...


# -- the report ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One thing offboard did or checked, when, and how it went."""

    at: datetime
    where: str  # "okta", or an account alias
    action: str
    target: str
    outcome: str  # done, would-do, confirmed, failed, skipped, refused
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "at": _stamp(self.at),
            "where": self.where,
            "action": self.action,
            "target": self.target,
            "outcome": self.outcome,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class SessionSeen:
    """A session CloudTrail shows the person took, that the revocation now stops."""

    role_arn: str
    access_key_id: str
    issued_at: str
    userid: str = ""  # <role id>:<session name>, as aws:userid
    chained: bool = False  # assumed from one of the person's sessions (AssumeRole)
    region: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "role_arn": self.role_arn,
            "access_key_id": mask(self.access_key_id),
            "issued_at": self.issued_at,
            "session": self.userid,
            "chained": self.chained,
            "region": self.region,
        }


@dataclass
class RoleRevocation:
    """The revocation on one role."""

    role_name: str
    role_arn: str
    policy_name: str
    attached_at: datetime | None = None
    verified_at: datetime | None = None
    verified: bool = False
    releasable_at: datetime | None = None
    status: str = "pending"  # attached, would-attach, missing-role, failed, released, kept
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "role": self.role_name,
            "role_arn": self.role_arn,
            "policy": self.policy_name,
            "status": self.status,
            "attached_at": _stamp(self.attached_at) if self.attached_at else None,
            "verified_at": _stamp(self.verified_at) if self.verified_at else None,
            "verified": self.verified,
            "releasable_at": _stamp(self.releasable_at) if self.releasable_at else None,
            "detail": self.detail,
        }


@dataclass
class AccountOutcome:
    """What offboard did in one account."""

    account: Account
    roles: list[RoleRevocation] = field(default_factory=list)
    sessions: list[SessionSeen] = field(default_factory=list)
    sessions_note: str = ""
    error: str | None = None
    fix: str | None = None

    @property
    def reached(self) -> bool:
        return self.error is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "account_id": self.account.id,
            "alias": self.account.alias,
            "reached": self.reached,
            "error": self.error,
            "fix": self.fix,
            "roles": [r.as_dict() for r in self.roles],
            "sessions_cleared": [s.as_dict() for s in self.sessions],
            "sessions_note": self.sessions_note,
        }


@dataclass
class OffboardReport:
    """Everything offboard did, per account, with timestamps: the evidence."""

    subject: str  # the person's login, or "every session of ROLE"
    mode: str  # offboard, all-sessions, release
    dry_run: bool
    started_at: datetime
    cutoff: datetime | None = None
    finished_at: datetime | None = None
    okta: OktaOutcome | None = None
    okta_skipped: str | None = None  # why the Okta step did not run
    okta_error: str | None = None
    role_source: str = ""
    steps: list[Step] = field(default_factory=list)
    accounts: list[AccountOutcome] = field(default_factory=list)
    # The organization's keyless SCPs written or released (one write covers every member).
    scps: list[RoleRevocation] = field(default_factory=list)
    organization: str = ""  # how member accounts are covered, and why
    keys: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # per person
    refusal: str | None = None  # refused up front: nothing changed
    releasable_at: datetime | None = None
    evidence_note: str = ""

    @property
    def unreached(self) -> list[AccountOutcome]:
        return [a for a in self.accounts if not a.reached]

    @property
    def refused(self) -> list[RoleRevocation]:
        every = [r for a in self.accounts for r in a.roles] + self.scps
        return [r for r in every if r.status == "kept"]

    @property
    def ok(self) -> bool:
        """True when every account was reached and every revocation confirmed (or released)."""
        if self.unreached or self.okta_error or self.refused or self.refusal:
            return False
        wanted = {"would-attach", "would-release", "missing-role", "released", "covered"}
        every = [r for a in self.accounts for r in a.roles] + self.scps
        return all(r.verified or r.status in wanted for r in every)

    def as_dict(self) -> dict[str, Any]:
        okta: dict[str, Any] | None = None
        if self.okta is not None:
            okta = {
                "status_before": self.okta.status_before,
                "status_after": self.okta.status_after,
                "sessions_cleared": self.okta.sessions_cleared,
                "groups": list(self.okta.groups),
                "detail": self.okta.detail,
                "login": self.okta.login,
                "app_user_name": self.okta.app_user_name,
            }
        return {
            "subject": self.subject,
            "mode": self.mode,
            "dry_run": self.dry_run,
            "ok": self.ok,
            "started_at": _stamp(self.started_at),
            "finished_at": _stamp(self.finished_at) if self.finished_at else None,
            "cutoff": _stamp(self.cutoff) if self.cutoff else None,
            "okta": okta,
            "okta_skipped": self.okta_skipped,
            "okta_error": self.okta_error,
            "role_source": self.role_source,
            "organization": self.organization,
            "scps": [r.as_dict() for r in self.scps],
            "keys": self.keys,
            "refusal": self.refusal,
            "releasable_at": _stamp(self.releasable_at) if self.releasable_at else None,
            "evidence_note": self.evidence_note,
            "unreached_accounts": [f"{a.account.alias} ({a.account.id})" for a in self.unreached],
            "accounts": [a.as_dict() for a in self.accounts],
            "steps": [s.as_dict() for s in sorted(self.steps, key=lambda s: s.at)],
        }
