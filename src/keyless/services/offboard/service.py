"""The offboarding work itself: the Okta step, then every account concurrently."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from keyless.adapters.aws import AwsConnector, describe_client_error, explain_error
from keyless.core.aws import DEFAULT_SESSION_SECONDS, MAX_SESSION_SECONDS
from keyless.errors import InputError, KeylessError
from keyless.plan.revocations import (
    REVOCATION_TAG_PREFIX,
    cutoff,
    is_revocation,
    policy_name,
    releasable_at,
    revocation_policy,
)
from keyless.services.fanout import across, checked_parallel
from keyless.services.offboard.model import (
    DEFAULT_PARALLEL,
    AccountOutcome,
    Clock,
    OffboardReport,
    OktaOffboarding,
    RoleRevocation,
    SessionSeen,
    Step,
    _stamp,
    _utcnow,
)
from keyless.spec.expand import grants_for_groups, role_arn
from keyless.spec.model import Account, FederationSpec

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
        self.spec = spec
        self.connector = connector
        self.okta = okta
        self.okta_skipped_reason = okta_skipped_reason or (
            "the spec configures no Okta org (identity_provider.kind is "
            f"{spec.identity_provider.kind!r}); deactivate the person at the IdP by hand"
        )
        self.clock = clock
        self.parallel = checked_parallel(parallel)

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

        report.accounts = across(accounts, work, parallel=self.parallel)
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
            max_duration = int(found.get("MaxSessionDuration", DEFAULT_SESSION_SECONDS))
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
        # Not known: as far back as the longest session AWS issues.
        window = longest or timedelta(seconds=MAX_SESSION_SECONDS)
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

        report.accounts = across(self.spec.accounts, work, parallel=self.parallel)
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
                ready = releasable_at(
                    document, int(detail.get("MaxSessionDuration", DEFAULT_SESSION_SECONDS))
                )
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
