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

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from keyless.adapters.aws import AwsConnector, describe_client_error, explain_error
from keyless.errors import InputError, KeylessError
from keyless.plan.revocations import (
    REVOCATION_TAG_PREFIX,
    cutoff,
    is_revocation,
    policy_name,
    releasable_at,
    revocation_policy,
)
from keyless.spec.expand import grants_for_groups, role_arn
from keyless.spec.model import Account, FederationSpec

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

    def as_dict(self) -> dict[str, str]:
        masked = (
            f"{self.access_key_id[:4]}****{self.access_key_id[-4:]}" if self.access_key_id else ""
        )
        return {"role_arn": self.role_arn, "access_key_id": masked, "issued_at": self.issued_at}


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

    @property
    def unreached(self) -> list[AccountOutcome]:
        return [a for a in self.accounts if not a.reached]

    @property
    def refused(self) -> list[RoleRevocation]:
        return [r for a in self.accounts for r in a.roles if r.status == "kept"]

    @property
    def ok(self) -> bool:
        """True when every account was reached and every revocation confirmed (or released)."""
        if self.unreached or self.okta_error or self.refused:
            return False
        wanted = {"would-attach", "would-release", "missing-role", "released"}
        return all(r.verified or r.status in wanted for a in self.accounts for r in a.roles)

    def as_dict(self) -> dict[str, Any]:
        okta: dict[str, Any] | None = None
        if self.okta is not None:
            okta = {
                "status_before": self.okta.status_before,
                "status_after": self.okta.status_after,
                "sessions_cleared": self.okta.sessions_cleared,
                "groups": list(self.okta.groups),
                "detail": self.okta.detail,
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
            "unreached_accounts": [f"{a.account.alias} ({a.account.id})" for a in self.unreached],
            "accounts": [a.as_dict() for a in self.accounts],
            "steps": [s.as_dict() for s in sorted(self.steps, key=lambda s: s.at)],
        }


# -- the work --------------------------------------------------------------------------------


def _targets(
    spec: FederationSpec, groups: Sequence[str] | None, role: str | None
) -> tuple[dict[str, list[tuple[str, str]]], str]:
    """Per account id, the (role name, role ARN) pairs to revoke on, and where they came from."""
    per_account: dict[str, list[tuple[str, str]]] = {a.id: [] for a in spec.accounts}
    if role is not None:
        found = spec.role(role)
        for account in spec.accounts:
            if found is None or spec.role_in_account(found, account):
                arn = (
                    role_arn(account, found)
                    if found
                    else (f"arn:{account.partition}:iam::{account.id}:role/{role}")
                )
                per_account[account.id].append((role, arn))
        return per_account, f"role {role} in every account of the spec"
    if groups is None:
        for spec_role in spec.roles:
            for account in spec.role_accounts(spec_role):
                per_account[account.id].append((spec_role.name, role_arn(account, spec_role)))
        return per_account, "every federated role of the spec (the person's groups are unknown)"
    for grant in grants_for_groups(spec, groups):
        pair = (grant.role_name, grant.role_arn)
        if pair not in per_account[grant.account.id]:
            per_account[grant.account.id].append(pair)
    return per_account, f"the spec's grants for the groups {', '.join(sorted(groups)) or '(none)'}"


def _spec_groups(spec: FederationSpec, login: str) -> tuple[str, ...] | None:
    user = next((u for u in spec.lab.users if u.login.lower() == login.lower()), None)
    return tuple(user.groups) if user is not None else None


class Offboarder:
    """Runs one offboarding (or release) across the spec's accounts."""

    def __init__(
        self,
        spec: FederationSpec,
        connector: AwsConnector,
        *,
        okta: OktaOffboarding | None = None,
        okta_skipped_reason: str | None = None,
        clock: Clock = _utcnow,
        parallel: int = DEFAULT_PARALLEL,
    ) -> None:
        if parallel < 1:
            raise InputError(f"--parallel must be at least 1, got {parallel}")
        self.spec = spec
        self.connector = connector
        self.okta = okta
        self.okta_skipped_reason = okta_skipped_reason or (
            "the spec configures no Okta org (identity_provider.kind is "
            f"{spec.identity_provider.kind!r}); deactivate the person at the IdP by hand"
        )
        self.clock = clock
        self.parallel = parallel

    # -- offboard / all sessions -----------------------------------------------------------

    def offboard(
        self, login: str, *, suspend: bool = False, dry_run: bool = False
    ) -> OffboardReport:
        """Okta step, then revoke ``login``'s sessions on every role their groups reach."""
        if not login.strip():
            raise InputError("name the person to offboard (their IdP login)")
        report = OffboardReport(
            subject=login, mode="offboard", dry_run=dry_run, started_at=self.clock()
        )
        groups = self._okta_step(report, login, suspend=suspend, dry_run=dry_run)
        if groups is None:
            groups = _spec_groups(self.spec, login)
        targets, report.role_source = _targets(self.spec, groups, None)
        self._revoke(report, targets, session_name=login, dry_run=dry_run)
        return report

    def revoke_all_sessions(self, role: str, *, dry_run: bool = False) -> OffboardReport:
        """An incident: every session of ``role`` issued before now, in every account."""
        report = OffboardReport(
            subject=f"every session of {role}",
            mode="all-sessions",
            dry_run=dry_run,
            started_at=self.clock(),
            okta_skipped="--all-sessions revokes AWS sessions only; the IdP is left as it is",
        )
        targets, report.role_source = _targets(self.spec, None, role)
        self._revoke(report, targets, session_name=None, dry_run=dry_run)
        return report

    def _okta_step(
        self, report: OffboardReport, login: str, *, suspend: bool, dry_run: bool
    ) -> tuple[str, ...] | None:
        if self.okta is None:
            report.okta_skipped = self.okta_skipped_reason
            report.steps.append(
                Step(self.clock(), "okta", "deactivate", login, "skipped", self.okta_skipped_reason)
            )
            return None
        action = "suspend" if suspend else "deactivate"
        try:
            outcome = self.okta.offboard_user(login, suspend=suspend, dry_run=dry_run)
        except KeylessError as exc:
            report.okta_error = exc.message
            report.steps.append(Step(self.clock(), "okta", action, login, "failed", exc.message))
            return None
        report.okta = outcome
        detail = f"status {outcome.status_before} -> {outcome.status_after}"
        if outcome.sessions_cleared:
            detail += "; IdP sessions cleared"
        report.steps.append(
            Step(self.clock(), "okta", action, login, "would-do" if dry_run else "done", detail)
        )
        return outcome.groups or None

    def _revoke(
        self,
        report: OffboardReport,
        targets: dict[str, list[tuple[str, str]]],
        *,
        session_name: str | None,
        dry_run: bool,
    ) -> None:
        report.cutoff = cutoff(self.clock())
        accounts = [a for a in self.spec.accounts if targets.get(a.id)]

        def work(account: Account) -> AccountOutcome:
            return self._revoke_in(
                report, account, targets[account.id], session_name=session_name, dry_run=dry_run
            )

        if accounts:
            with ThreadPoolExecutor(max_workers=min(self.parallel, len(accounts))) as pool:
                report.accounts = list(pool.map(work, accounts))
        report.finished_at = self.clock()

    def _revoke_in(
        self,
        report: OffboardReport,
        account: Account,
        roles: list[tuple[str, str]],
        *,
        session_name: str | None,
        dry_run: bool,
    ) -> AccountOutcome:
        assert report.cutoff is not None
        outcome = AccountOutcome(account=account)
        name = policy_name(session_name)
        document = revocation_policy(session_name, report.cutoff)
        text = json.dumps(document, separators=(",", ":"))
        try:
            iam = self.connector.client(account, "iam")
        except Exception as exc:  # contained per account: the others go on
            outcome.error = explain_error(exc)
            outcome.fix = getattr(exc, "fix", None) or "fix the cause and run the command again"
            report.steps.append(
                Step(
                    self.clock(),
                    account.alias,
                    "reach account",
                    account.id,
                    "failed",
                    outcome.error,
                )
            )
            return outcome
        for role_name, arn in roles:
            revocation = RoleRevocation(role_name=role_name, role_arn=arn, policy_name=name)
            outcome.roles.append(revocation)
            try:
                found = iam.get_role(RoleName=role_name)["Role"]
            except ClientError as exc:
                if describe_client_error(exc)[0] == "NoSuchEntity":
                    revocation.status = "missing-role"
                    revocation.detail = "the role does not exist here: nobody holds its sessions"
                    report.steps.append(
                        Step(
                            self.clock(),
                            account.alias,
                            "read role",
                            role_name,
                            "skipped",
                            revocation.detail,
                        )
                    )
                    continue
                revocation.status = "failed"
                revocation.detail = explain_error(exc)
                report.steps.append(
                    Step(
                        self.clock(),
                        account.alias,
                        "read role",
                        role_name,
                        "failed",
                        revocation.detail,
                    )
                )
                continue
            except BotoCoreError as exc:
                revocation.status, revocation.detail = "failed", explain_error(exc)
                continue
            max_duration = int(found.get("MaxSessionDuration", 3600))
            revocation.releasable_at = report.cutoff + timedelta(seconds=max_duration)
            if dry_run:
                revocation.status = "would-attach"
                report.steps.append(
                    Step(
                        self.clock(),
                        account.alias,
                        "attach deny",
                        f"{role_name}/{name}",
                        "would-do",
                    )
                )
                continue
            try:
                iam.put_role_policy(RoleName=role_name, PolicyName=name, PolicyDocument=text)
                revocation.attached_at = self.clock()
                revocation.status = "attached"
                report.steps.append(
                    Step(
                        revocation.attached_at,
                        account.alias,
                        "attach deny",
                        f"{role_name}/{name}",
                        "done",
                        f"sessions issued before {_stamp(report.cutoff)} denied",
                    )
                )
                iam.tag_role(
                    RoleName=role_name,
                    Tags=[
                        {
                            "Key": (REVOCATION_TAG_PREFIX + (session_name or "all-sessions"))[:128],
                            "Value": _stamp(revocation.releasable_at),
                        }
                    ],
                )
                # The fresh call that confirms it: read the policy back as IAM now holds it.
                held = iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
                revocation.verified_at = self.clock()
                revocation.verified = _as_document(held) == document
                report.steps.append(
                    Step(
                        revocation.verified_at,
                        account.alias,
                        "verify deny",
                        f"{role_name}/{name}",
                        "confirmed" if revocation.verified else "failed",
                        "read back from IAM"
                        if revocation.verified
                        else "IAM holds another document",
                    )
                )
            except (ClientError, BotoCoreError) as exc:
                revocation.status, revocation.detail = "failed", explain_error(exc)
                report.steps.append(
                    Step(
                        self.clock(),
                        account.alias,
                        "attach deny",
                        f"{role_name}/{name}",
                        "failed",
                        revocation.detail,
                    )
                )
        self._sessions_seen(outcome, roles, session_name=session_name, cut=report.cutoff)
        return outcome

    def _sessions_seen(
        self,
        outcome: AccountOutcome,
        roles: list[tuple[str, str]],
        *,
        session_name: str | None,
        cut: datetime,
    ) -> None:
        """The person's sessions CloudTrail shows still alive at the cut-off (best effort)."""
        if session_name is None:
            outcome.sessions_note = "every session of the role issued before the cut-off"
            return
        arns = {arn for _, arn in roles}
        longest = max(
            (r.releasable_at - cut for r in outcome.roles if r.releasable_at), default=None
        )
        window = longest or timedelta(hours=12)
        try:
            trail = self.connector.client(outcome.account, "cloudtrail")
            pages = trail.get_paginator("lookup_events").paginate(
                LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": session_name}],
                StartTime=cut - window,
                EndTime=cut,
            )
            for page in pages:
                for event in page.get("Events", []):
                    if event.get("EventName") != "AssumeRoleWithSAML":
                        continue
                    record = json.loads(event.get("CloudTrailEvent", "{}"))
                    role = (record.get("requestParameters") or {}).get("roleArn", "")
                    if record.get("errorCode") or role not in arns:
                        continue
                    credentials = (record.get("responseElements") or {}).get("credentials") or {}
                    outcome.sessions.append(
                        SessionSeen(
                            role_arn=role,
                            access_key_id=str(credentials.get("accessKeyId", "")),
                            issued_at=str(record.get("eventTime", "")),
                        )
                    )
            outcome.sessions_note = "from CloudTrail AssumeRoleWithSAML events"
        except (ClientError, BotoCoreError, KeylessError, ValueError) as exc:
            outcome.sessions_note = f"CloudTrail could not be read: {explain_error(exc)}"

    # -- release ---------------------------------------------------------------------------

    def release(
        self,
        subject: str | None,
        *,
        role: str | None = None,
        force: bool = False,
        dry_run: bool = False,
    ) -> OffboardReport:
        """Remove the revocations for ``subject`` (or every-session ones on ``role``)."""
        name = policy_name(subject if role is None else None)
        label = subject if role is None else f"every session of {role}"
        report = OffboardReport(
            subject=label or "", mode="release", dry_run=dry_run, started_at=self.clock()
        )
        report.okta_skipped = "release changes AWS only"

        def work(account: Account) -> AccountOutcome:
            return self._release_in(report, account, name, role=role, force=force, dry_run=dry_run)

        with ThreadPoolExecutor(max_workers=min(self.parallel, len(self.spec.accounts))) as pool:
            report.accounts = list(pool.map(work, self.spec.accounts))
        report.finished_at = self.clock()
        return report

    def _release_in(
        self,
        report: OffboardReport,
        account: Account,
        name: str,
        *,
        role: str | None,
        force: bool,
        dry_run: bool,
    ) -> AccountOutcome:
        outcome = AccountOutcome(account=account)
        try:
            iam = self.connector.client(account, "iam")
            details: list[dict[str, Any]] = []
            for page in iam.get_paginator("get_account_authorization_details").paginate(
                Filter=["Role"]
            ):
                details.extend(page.get("RoleDetailList", []))
        except Exception as exc:  # contained per account
            outcome.error = explain_error(exc)
            outcome.fix = getattr(exc, "fix", None) or "fix the cause and run the command again"
            return outcome
        now = self.clock()
        for detail in details:
            if role is not None and detail["RoleName"] != role:
                continue
            for policy in detail.get("RolePolicyList", []):
                if policy["PolicyName"] != name or not is_revocation(name):
                    continue
                document = _as_document(policy["PolicyDocument"])
                ready = releasable_at(document, int(detail.get("MaxSessionDuration", 3600)))
                revocation = RoleRevocation(
                    role_name=detail["RoleName"],
                    role_arn=detail["Arn"],
                    policy_name=name,
                    releasable_at=ready,
                )
                outcome.roles.append(revocation)
                if ready is not None and ready > now and not force:
                    revocation.status = "kept"
                    revocation.detail = (
                        f"a session it stops could live until {_stamp(ready)}; "
                        "release then, or pass --force"
                    )
                    report.steps.append(
                        Step(
                            now,
                            account.alias,
                            "release",
                            detail["RoleName"],
                            "refused",
                            revocation.detail,
                        )
                    )
                    continue
                if dry_run:
                    revocation.status = "would-release"
                    report.steps.append(
                        Step(self.clock(), account.alias, "release", detail["RoleName"], "would-do")
                    )
                    continue
                try:
                    iam.delete_role_policy(RoleName=detail["RoleName"], PolicyName=name)
                    tag = (
                        REVOCATION_TAG_PREFIX + (report.subject if role is None else "all-sessions")
                    )[:128]
                    iam.untag_role(RoleName=detail["RoleName"], TagKeys=[tag])
                    revocation.status = "released"
                    revocation.verified = True
                    revocation.verified_at = self.clock()
                    report.steps.append(
                        Step(
                            revocation.verified_at,
                            account.alias,
                            "release",
                            detail["RoleName"],
                            "done",
                        )
                    )
                except (ClientError, BotoCoreError) as exc:
                    revocation.status, revocation.detail = "failed", explain_error(exc)
        return outcome


def _as_document(value: Any) -> dict[str, Any]:
    """A policy document from boto3 (already decoded) or as URL-encoded JSON text."""
    if isinstance(value, dict):
        return value
    from urllib.parse import unquote

    decoded: dict[str, Any] = json.loads(unquote(str(value)))
    return decoded
