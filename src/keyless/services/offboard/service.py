"""The offboarding work itself: the Okta step, then every account concurrently."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from keyless.adapters.aws import AwsConnector, describe_client_error, explain_error
from keyless.core.aws import DEFAULT_SESSION_SECONDS, MAX_SESSION_SECONDS
from keyless.errors import InputError, KeylessError
from keyless.plan.revocations import (
    REVOCATION_TAG_PREFIX,
    ROLE_INLINE_CHARACTERS,
    ROLE_POLICY_NAME,
    SCPS_PER_TARGET,
    PersonKeys,
    QuotaError,
    Revocations,
    ScpSlot,
    cutoff,
    is_revocation,
    pack_scps,
    policy_name,
    policy_size,
    policy_text,
    releasable_after,
    releasable_at,
    revocation_policy,
)
from keyless.services.fanout import across, checked_parallel
from keyless.services.offboard.evidence import (
    DELAY_NOTE,
    OrganizationTrail,
    TrailSession,
    find_organization_trail,
    person_sessions,
    read_sessions,
    read_trail_files,
)
from keyless.services.offboard.model import (
    DEFAULT_PARALLEL,
    AccountOutcome,
    Clock,
    OffboardReport,
    OktaOffboarding,
    OktaOutcome,
    RoleRevocation,
    SessionSeen,
    Step,
    _stamp,
    _utcnow,
)
from keyless.services.offboard.organization import OrgView, read_organization, write_slot
from keyless.spec.expand import grants_for_groups, role_arn
from keyless.spec.model import Account, FederationSpec

Sleep = Callable[[float], None]

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


def _source_identity(spec: FederationSpec, outcome: OktaOutcome, name: str) -> str:
    """The SourceIdentity the spec has Okta send for this person (the attribute statement
    apply writes; keyless.plan.okta), from what Okta said of them."""
    attribute = spec.identity_provider.source_identity.attribute
    login = outcome.login or name
    email = outcome.email or login
    if attribute == "login":
        return login
    if attribute == "email":
        return email
    if attribute == "email_prefix":
        return email.split("@", 1)[0]
    return name  # app_username: the name the app sends


@dataclass
class _Person:
    """One person being offboarded and the keys that identify their sessions."""

    login: str  # as typed
    name: str  # the name Okta sends: app username, else Okta's login, else as typed
    source: str
    # What the IdP sends as SourceIdentity (the spec's identity_provider.source_identity);
    # None: the same as ``name`` (the default, the app username).
    source_identity: str | None = None
    typed_variants: set[str] = field(default_factory=set)
    session_names: set[str] = field(default_factory=set)
    session_ids: set[str] = field(default_factory=set)

    def keys(self) -> PersonKeys:
        return PersonKeys(
            name=self.name,
            source_identities=tuple(dict.fromkeys((self.source_identity or self.name, self.name))),
            session_names=tuple(sorted(self.session_names - {self.name})),
            session_ids=tuple(sorted(self.session_ids)),
        )

    def as_dict(self) -> dict[str, list[str]]:
        keys = self.keys()
        return {
            "name": [self.name],
            "name_from": [self.source],
            "source_identity": list(keys.source_identities),
            "session_names": [self.name, *keys.session_names],
            "chained_sessions": list(keys.session_ids),
        }


@dataclass
class _AccountWork:
    """One account's per-role revocations, read and sized before anything is written."""

    account: Account
    iam: Any = None
    roles: list[tuple[str, str, dict[str, Any], bool]] = field(default_factory=list)
    missing: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    error: str | None = None
    fix: str | None = None


@dataclass
class _Work:
    """Everything one offboarding writes, prepared before the first write."""

    org: OrgView
    people: list[_Person]
    slots: list[ScpSlot] = field(default_factory=list)
    accounts: list[_AccountWork] = field(default_factory=list)
    covered: list[Account] = field(default_factory=list)
    seen: dict[str, list[SessionSeen]] = field(default_factory=dict)  # per account id
    notes: dict[str, str] = field(default_factory=dict)


def _role_details(iam: Any) -> dict[str, dict[str, Any]]:
    """Every role of the account with its inline policies: one paged read."""
    roles: dict[str, dict[str, Any]] = {}
    for page in iam.get_paginator("get_account_authorization_details").paginate(Filter=["Role"]):
        for detail in page.get("RoleDetailList", []):
            roles[str(detail["RoleName"])] = detail
    return roles


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
        sleep: Sleep = time.sleep,
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
        self.sleep = sleep

    # -- offboard / all sessions -----------------------------------------------------------

    def offboard(
        self, login: str, *, suspend: bool = False, dry_run: bool = False
    ) -> OffboardReport:
        """Offboard one person: see :meth:`offboard_people`."""
        return self.offboard_people([login], suspend=suspend, dry_run=dry_run)

    def offboard_people(
        self, logins: Sequence[str], *, suspend: bool = False, dry_run: bool = False
    ) -> OffboardReport:
        """Revoke everything ``logins`` hold, in this order, so nothing stops halfway:

        1. who they are to AWS: their app username from Okta (read only);
        2. where: the organization (member accounts get the root's keyless SCP), and
           every federated role of the management account and of accounts no SCP covers;
        3. every document sized against IAM's and Organizations' quotas: refused
           here, with the numbers, before anything changes (Okta included);
        4. the Okta step; 5. the writes, each read back; 6. CloudTrail, every Region:
           the sessions found, chained ones too; any session name or chained session
           it adds is written in a second pass.
        """
        names = [login.strip() for login in logins]
        if not names or not all(names):
            raise InputError("name the person to offboard (their IdP login)")
        report = OffboardReport(
            subject=", ".join(names), mode="offboard", dry_run=dry_run, started_at=self.clock()
        )
        report.cutoff = cutoff(report.started_at)
        people = [self._identify(report, login) for login in names]
        org = read_organization(self.spec, self.connector)
        report.organization = org.note
        longest = max((r.max_session_duration for r in self.spec.roles), default=3600)
        if org.usable:
            longest = MAX_SESSION_SECONDS  # the SCP stops roles the spec never named too
        report.releasable_at = releasable_after(longest, report.started_at)
        report.role_source = (
            "every federated role of the spec in each account no SCP covers "
            "(not only those the person's groups reach)"
        )
        work = _Work(org=org, people=people)
        self._prepare(report, work)
        if report.refusal:
            report.finished_at = self.clock()
            return report
        for person in people:
            self._okta_step(report, person.login, suspend=suspend, dry_run=dry_run)
        self._write(report, work, dry_run=dry_run)
        if self._evidence(report, work):
            # New keys (a session name in another case, chained sessions): once more.
            self._prepare(report, work)
            if not report.refusal:
                self._write(report, work, dry_run=dry_run)
        report.keys = {p.login: p.as_dict() for p in people}
        report.finished_at = self.clock()
        return report

    def _identify(self, report: OffboardReport, login: str) -> _Person:
        """The person's keys: the name Okta really sends, never only what was typed."""
        person = _Person(login=login, name=login, source="as typed (no Okta org to ask)")
        if self.okta is None:
            return person
        try:
            outcome = self.okta.offboard_user(login, suspend=False, dry_run=True)
        except KeylessError as exc:
            person.source = f"as typed: Okta could not be asked ({exc.message})"
            return person
        if outcome.app_user_name:
            person.name = outcome.app_user_name
            person.source = "the AWS app's username for them in Okta (credentials.userName)"
        elif outcome.login:
            person.name = outcome.login
            person.source = "their Okta login as Okta stores it (the app username was not readable)"
        person.typed_variants.add(login)
        if outcome.login:
            person.typed_variants.add(outcome.login)
        person.source_identity = _source_identity(self.spec, outcome, person.name)
        return person

    def _prepare(self, report: OffboardReport, work: _Work) -> None:
        """Read and size every document; on a quota, refuse with the numbers, change nothing."""
        assert report.releasable_at is not None
        until = report.releasable_at
        keys = [p.keys() for p in work.people]
        problems: list[str] = []
        if work.org.usable:
            try:
                work.slots = pack_scps(
                    work.org.slots,
                    keys,
                    until,
                    free_attachments=SCPS_PER_TARGET - len(work.org.attached_at_root),
                )
            except QuotaError as exc:
                problems.append(str(exc))
        accounts = [
            a
            for a in self.spec.accounts
            if not (work.org.usable and a.id in work.org.members and not a.management)
        ]
        work.covered = [a for a in self.spec.accounts if a not in accounts]

        def read(account: Account) -> _AccountWork:
            return self._prepare_account(account, keys, until)

        work.accounts = across(accounts, read, parallel=self.parallel)
        for item in work.accounts:
            problems.extend(item.problems)
        if problems:
            report.refusal = (
                "refused before any change (Okta and AWS are as they were): "
                + "; ".join(problems)
                + ". Offboard fewer people at once, release revocations whose time has "
                "passed (`keyless offboard --release`), or enable SCPs in the organization"
            )
            report.steps.append(
                Step(self.clock(), "aws", "size revocations", "quotas", "refused", report.refusal)
            )

    def _prepare_account(
        self, account: Account, keys: list[PersonKeys], until: datetime
    ) -> _AccountWork:
        item = _AccountWork(account=account)
        try:
            item.iam = self.connector.client(account, "iam")
            roles = _role_details(item.iam)
        except Exception as exc:  # contained per account: the others go on
            item.error = explain_error(exc)
            item.fix = getattr(exc, "fix", None) or "fix the cause and run the command again"
            return item
        for spec_role in self.spec.roles:
            if not self.spec.role_in_account(spec_role, account):
                continue
            detail = roles.get(spec_role.name)
            if detail is None:
                item.missing.append((spec_role.name, role_arn(account, spec_role)))
                continue
            inline = {
                str(p["PolicyName"]): _as_document(p["PolicyDocument"])
                for p in detail.get("RolePolicyList", [])
            }
            revocations = Revocations.from_document(inline.get(ROLE_POLICY_NAME))
            for person in keys:
                revocations.add(person, until)
            document = revocations.document()
            others = sum(policy_size(d) for n, d in inline.items() if n != ROLE_POLICY_NAME)
            size = policy_size(document)
            if others + size > ROLE_INLINE_CHARACTERS:
                item.problems.append(
                    f"role {spec_role.name} in {account.alias} ({account.id}) would hold "
                    f"{others + size} characters of inline policy ({others} the spec's, "
                    f"{size} the revocations'); IAM allows {ROLE_INLINE_CHARACTERS} per role"
                )
            changed = inline.get(ROLE_POLICY_NAME) != document
            item.roles.append((spec_role.name, str(detail["Arn"]), document, changed))
        return item

    def _write(self, report: OffboardReport, work: _Work, *, dry_run: bool) -> None:
        assert report.releasable_at is not None
        if work.org.usable:
            self._write_scps(report, work, dry_run=dry_run)

        def write(item: _AccountWork) -> AccountOutcome:
            return self._write_account(report, item, dry_run=dry_run)

        outcomes = across(work.accounts, write, parallel=self.parallel)
        covered = [AccountOutcome(account=a) for a in work.covered]
        for outcome in covered:
            outcome.sessions_note = "covered by the organization's keyless SCP"
        order = {a.id: i for i, a in enumerate(self.spec.accounts)}
        report.accounts = sorted(outcomes + covered, key=lambda o: order[o.account.id])
        self._show_sessions(report, work)

    def _write_scps(self, report: OffboardReport, work: _Work, *, dry_run: bool) -> None:
        management = self.spec.management_account
        assert management is not None
        assert report.releasable_at is not None
        report.scps = []
        for slot in work.slots:
            revocation = RoleRevocation(
                role_name=slot.name,
                role_arn=f"root {work.org.root_id}",
                policy_name=slot.name,
                releasable_at=report.releasable_at,
            )
            report.scps.append(revocation)
            where = "organization"
            if not slot.changed:
                revocation.status, revocation.verified = "attached", True
                continue
            if dry_run:
                revocation.status = "would-attach"
                report.steps.append(Step(self.clock(), where, "put scp", slot.name, "would-do"))
                continue
            try:
                client = self.connector.client(management, "organizations")
                held = write_slot(client, work.org, slot)
                revocation.attached_at = self.clock()
                revocation.status = "attached"
                report.steps.append(
                    Step(
                        revocation.attached_at,
                        where,
                        "put scp",
                        f"{slot.name} at {work.org.root_id}",
                        "done",
                        f"denies {len(slot.revocations.people())} revoked person(s) in every "
                        "member account",
                    )
                )
                revocation.verified = held == slot.revocations.document()
                revocation.verified_at = self.clock()
                report.steps.append(
                    Step(
                        revocation.verified_at,
                        where,
                        "verify scp",
                        slot.name,
                        "confirmed" if revocation.verified else "failed",
                        "read back from Organizations"
                        if revocation.verified
                        else "Organizations holds another document",
                    )
                )
                slot.changed = False
            except (ClientError, BotoCoreError, KeylessError) as exc:
                revocation.status, revocation.detail = "failed", explain_error(exc)
                report.steps.append(
                    Step(self.clock(), where, "put scp", slot.name, "failed", revocation.detail)
                )
        work.org.slots = work.slots
        work.org.attached_at_root = sorted(
            set(work.org.attached_at_root) | {s.policy_id for s in work.slots if s.policy_id}
        )

    def _write_account(
        self, report: OffboardReport, item: _AccountWork, *, dry_run: bool
    ) -> AccountOutcome:
        account = item.account
        outcome = AccountOutcome(account=account, error=item.error, fix=item.fix)
        if item.error is not None:
            report.steps.append(
                Step(self.clock(), account.alias, "reach account", account.id, "failed", item.error)
            )
            return outcome
        for name, arn in item.missing:
            outcome.roles.append(
                RoleRevocation(
                    role_name=name,
                    role_arn=arn,
                    policy_name=ROLE_POLICY_NAME,
                    status="missing-role",
                    detail="the role does not exist here: nobody holds its sessions",
                )
            )
        written: dict[str, tuple[RoleRevocation, dict[str, Any]]] = {}
        for name, arn, document, changed in item.roles:
            revocation = RoleRevocation(
                role_name=name,
                role_arn=arn,
                policy_name=ROLE_POLICY_NAME,
                releasable_at=report.releasable_at,
            )
            outcome.roles.append(revocation)
            target = f"{name}/{ROLE_POLICY_NAME}"
            if dry_run:
                revocation.status = "would-attach"
                report.steps.append(
                    Step(self.clock(), account.alias, "attach deny", target, "would-do")
                )
                continue
            try:
                if changed:
                    item.iam.put_role_policy(
                        RoleName=name,
                        PolicyName=ROLE_POLICY_NAME,
                        PolicyDocument=policy_text(document),
                    )
                self._attached(
                    report,
                    revocation,
                    account.alias,
                    target,
                    "every session of the revoked people denied, whenever issued",
                )
                written[name] = (revocation, document)
            except (ClientError, BotoCoreError) as exc:
                revocation.status, revocation.detail = "failed", explain_error(exc)
                report.steps.append(
                    Step(
                        self.clock(),
                        account.alias,
                        "attach deny",
                        target,
                        "failed",
                        revocation.detail,
                    )
                )
        if written:
            # One fresh read confirms every role: the policies as IAM now holds them.
            try:
                held = _role_details(item.iam)
            except (ClientError, BotoCoreError) as exc:
                held = {}
                for revocation, _ in written.values():
                    revocation.detail = f"could not be read back: {explain_error(exc)}"
            for name, (revocation, document) in written.items():
                policies = {
                    str(p["PolicyName"]): _as_document(p["PolicyDocument"])
                    for p in held.get(name, {}).get("RolePolicyList", [])
                }
                revocation.verified = policies.get(ROLE_POLICY_NAME) == document
                revocation.verified_at = self.clock()
                report.steps.append(
                    Step(
                        revocation.verified_at,
                        account.alias,
                        "verify deny",
                        f"{name}/{ROLE_POLICY_NAME}",
                        "confirmed" if revocation.verified else "failed",
                        "read back from IAM"
                        if revocation.verified
                        else "IAM holds another document",
                    )
                )
        # A second pass starts from what is now in place.
        item.roles = [(n, a, d, False) for n, a, d, _ in item.roles]
        return outcome

    def _evidence(self, report: OffboardReport, work: _Work) -> bool:
        """CloudTrail in every account and Region; True when it adds keys to revoke."""
        regions = sorted({a.region for a in self.spec.accounts} | {"us-east-1"})
        end = self.clock()
        start = end - timedelta(seconds=MAX_SESSION_SECONDS) - timedelta(minutes=10)
        found: dict[str, list[TrailSession]] = {}
        notes: dict[str, str] = {}
        source, read_files = self._organization_trail(work.org, regions, start, end)

        def read(account: Account) -> tuple[str, list[TrailSession], str]:
            if read_files is not None:
                try:
                    return account.id, read_files(account), source
                except (ClientError, BotoCoreError, ValueError) as exc:
                    # Another account's bucket, say: the event history still answers.
                    fallback = f"{source} could not be read ({explain_error(exc)}); "
            else:
                fallback = f"{source}; " if source else ""
            sessions: list[TrailSession] = []
            try:
                for region in regions:
                    history = self.connector.client(account, "cloudtrail", region=region)
                    sessions += read_sessions(
                        history,
                        account_id=account.id,
                        region=region,
                        start=start,
                        end=end,
                        sleep=self.sleep,
                    )
            except (ClientError, BotoCoreError, KeylessError, ValueError) as exc:
                return (
                    account.id,
                    sessions,
                    f"{fallback}CloudTrail could not be read: {explain_error(exc)}",
                )
            return account.id, sessions, f"{fallback}event history, Regions {', '.join(regions)}"

        for account_id, sessions, note in across(self.spec.accounts, read, parallel=self.parallel):
            found[account_id] = sessions
            notes[account_id] = note
        every = [s for sessions in found.values() for s in sessions]
        report.evidence_note = DELAY_NOTE
        grew = False
        seen: dict[str, list[SessionSeen]] = {}
        for person in work.people:
            theirs = person_sessions(
                every,
                names={person.name, *person.typed_variants},
                source_identities={person.name},
            )
            before = person.keys()
            person.session_names |= theirs.session_names
            person.session_ids |= theirs.chained_ids
            grew = grew or person.keys() != before
            for session, chained in [(s, False) for s in theirs.direct] + [
                (s, True) for s in theirs.chained
            ]:
                seen.setdefault(session.account_id, []).append(
                    SessionSeen(
                        role_arn=session.role_arn,
                        access_key_id=session.access_key_id,
                        issued_at=session.issued_at,
                        userid=session.userid,
                        chained=chained,
                        region=session.region,
                    )
                )
        work.seen, work.notes = seen, notes
        self._show_sessions(report, work)
        return grew

    def _organization_trail(
        self, org: OrgView, regions: list[str], start: datetime, end: datetime
    ) -> tuple[str, Callable[[Account], list[TrailSession]] | None]:
        """The organization trail's reader for one account (every Region), or None and why
        the event history is read instead ("" when there is simply no trail)."""
        management = self.spec.management_account
        if management is None or not org.organization_id:
            return "", None
        try:
            cloudtrail = self.connector.client(management, "cloudtrail")
            trail = find_organization_trail(cloudtrail, org.organization_id)
            if trail is None:
                return "", None
            s3 = self.connector.client(management, "s3")
        except (ClientError, BotoCoreError, KeylessError) as exc:
            return f"the organization's trails could not be read ({explain_error(exc)})", None

        def read(account: Account, trail: OrganizationTrail = trail) -> list[TrailSession]:
            sessions: list[TrailSession] = []
            for region in regions:
                sessions += read_trail_files(
                    s3, trail, account_id=account.id, region=region, start=start, end=end
                )
            return sessions

        return trail.describe(), read

    @staticmethod
    def _show_sessions(report: OffboardReport, work: _Work) -> None:
        for outcome in report.accounts:
            outcome.sessions = work.seen.get(outcome.account.id, [])
            note = work.notes.get(outcome.account.id, "")
            if note and note not in outcome.sessions_note:
                prefix = outcome.sessions_note + "; " if outcome.sessions_note else ""
                outcome.sessions_note = prefix + note

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

    def _attached(
        self,
        report: OffboardReport,
        revocation: RoleRevocation,
        alias: str,
        target: str,
        detail: str,
    ) -> None:
        """Mark ``revocation`` attached now and say so in the report (both revocation paths)."""
        revocation.attached_at = self.clock()
        revocation.status = "attached"
        report.steps.append(
            Step(revocation.attached_at, alias, "attach deny", target, "done", detail)
        )

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
                self._attached(
                    report,
                    revocation,
                    account.alias,
                    f"{role_name}/{name}",
                    f"sessions issued before {_stamp(report.cutoff)} denied",
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
        """Remove the revocations for ``subject`` (or every-session ones on ``role``).

        A person's are removed only once the release time offboard recorded in each
        statement holding their keys has passed (the longest session a revoked role
        allows, plus the assertion window); refused before that unless ``force``, and
        then nothing is changed anywhere.
        """
        if role is None:
            if not subject or not subject.strip():
                raise InputError("name the person whose revocations to release")
            return self._release_person(subject.strip(), force=force, dry_run=dry_run)
        name = policy_name(None)
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

    def _release_person(self, subject: str, *, force: bool, dry_run: bool) -> OffboardReport:
        report = OffboardReport(
            subject=subject, mode="release", dry_run=dry_run, started_at=self.clock()
        )
        report.okta_skipped = "release changes AWS only (Okta is read for their app username)"
        person = self._identify(report, subject)
        report.keys = {subject: person.as_dict()}
        name = person.name
        now = self.clock()
        org = read_organization(self.spec, self.connector)
        report.organization = org.note
        slots = [
            (slot, max(slot.revocations.until_of(name)))
            for slot in org.slots
            if slot.revocations.until_of(name)
        ]

        # The previous format: one `keyless-revoke-user-<name as typed>` policy per person and
        # role, with a `keyless:revoked:<name>` tag; the typed name may differ in case.
        names = {name, subject, *person.typed_variants}
        legacy_names = {policy_name(n).casefold() for n in names}
        legacy_tags = {(REVOCATION_TAG_PREFIX + n)[:128].casefold() for n in names}

        def read(
            account: Account,
        ) -> tuple[_AccountWork, list[tuple[str, str, Revocations, datetime]], list[_Legacy]]:
            item = _AccountWork(account=account)
            found: list[tuple[str, str, Revocations, datetime]] = []
            legacy: list[_Legacy] = []
            try:
                item.iam = self.connector.client(account, "iam")
                roles = _role_details(item.iam)
            except Exception as exc:  # contained per account
                item.error = explain_error(exc)
                item.fix = getattr(exc, "fix", None) or "fix the cause and run the command again"
                return item, found, legacy
            for role_name, detail in sorted(roles.items()):
                for policy in detail.get("RolePolicyList", []):
                    document = _as_document(policy["PolicyDocument"])
                    if str(policy["PolicyName"]).casefold() in legacy_names:
                        tags = [
                            str(t["Key"])
                            for t in detail.get("Tags", [])
                            if str(t["Key"]).casefold() in legacy_tags
                        ]
                        legacy.append(
                            _Legacy(
                                role_name,
                                str(detail["Arn"]),
                                str(policy["PolicyName"]),
                                releasable_at(document, _max_session(item.iam, role_name)),
                                tags,
                            )
                        )
                    if policy["PolicyName"] != ROLE_POLICY_NAME:
                        continue
                    revocations = Revocations.from_document(document)
                    times = revocations.until_of(name)
                    if times:
                        found.append((role_name, str(detail["Arn"]), revocations, max(times)))
            return item, found, legacy

        reads = across(self.spec.accounts, read, parallel=self.parallel)
        early = [until for _, until in slots if until > now]
        early += [r[3] for _, found, _ in reads for r in found if r[3] > now]
        # A legacy policy whose cut-off cannot be read is held too (released with --force).
        unknown = any(old.until is None for _, _, olds in reads for old in olds)
        early += [
            old.until for _, _, olds in reads for old in olds if old.until and old.until > now
        ]
        hold = (bool(early) or unknown) and not force
        for slot, until in slots:
            revocation = RoleRevocation(
                slot.name, f"root {org.root_id}", slot.name, releasable_at=until
            )
            report.scps.append(revocation)
            self._release_one(
                report,
                revocation,
                "organization",
                until,
                hold=hold,
                dry_run=dry_run,
                act=lambda slot=slot: self._release_slot(org, slot, name),  # type: ignore[misc]
            )
        for item, found, olds in reads:
            outcome = AccountOutcome(account=item.account, error=item.error, fix=item.fix)
            report.accounts.append(outcome)
            for old in olds:
                revocation = RoleRevocation(
                    old.role_name, old.role_arn, old.policy_name, releasable_at=old.until
                )
                outcome.roles.append(revocation)
                self._release_one(
                    report,
                    revocation,
                    item.account.alias,
                    old.until,
                    hold=hold,
                    dry_run=dry_run,
                    act=lambda i=item, o=old: _release_legacy(i.iam, o),  # type: ignore[misc]
                )
            for role_name, arn, revocations, until in found:
                revocation = RoleRevocation(role_name, arn, ROLE_POLICY_NAME, releasable_at=until)
                outcome.roles.append(revocation)
                self._release_one(
                    report,
                    revocation,
                    item.account.alias,
                    until,
                    hold=hold,
                    dry_run=dry_run,
                    act=lambda i=item, r=role_name, v=revocations: _release_role(i.iam, r, v, name),  # type: ignore[misc]
                )
        if not report.scps and not any(a.roles for a in report.accounts):
            report.steps.append(
                Step(
                    self.clock(),
                    "aws",
                    "release",
                    name,
                    "skipped",
                    f"no revocation of {name} found ({person.source})",
                )
            )
        report.finished_at = self.clock()
        return report

    def _release_one(
        self,
        report: OffboardReport,
        revocation: RoleRevocation,
        where: str,
        until: datetime | None,
        *,
        hold: bool,
        dry_run: bool,
        act: Callable[[], None],
    ) -> None:
        if hold:
            revocation.status = "kept"
            revocation.detail = (
                f"a session it stops could live until {_stamp(until)}; release then, or pass "
                "--force (nothing was released)"
                if until is not None
                else "when its sessions end is not recorded; pass --force to release "
                "(nothing was released)"
            )
            report.steps.append(
                Step(
                    self.clock(),
                    where,
                    "release",
                    revocation.role_name,
                    "refused",
                    revocation.detail,
                )
            )
            return
        if dry_run:
            revocation.status = "would-release"
            report.steps.append(
                Step(self.clock(), where, "release", revocation.role_name, "would-do")
            )
            return
        try:
            act()
        except (ClientError, BotoCoreError, KeylessError) as exc:
            revocation.status, revocation.detail = "failed", explain_error(exc)
            report.steps.append(
                Step(
                    self.clock(),
                    where,
                    "release",
                    revocation.role_name,
                    "failed",
                    revocation.detail,
                )
            )
            return
        revocation.status, revocation.verified, revocation.verified_at = (
            "released",
            True,
            self.clock(),
        )
        report.steps.append(
            Step(revocation.verified_at, where, "release", revocation.role_name, "done")
        )

    def _release_slot(self, org: OrgView, slot: ScpSlot, name: str) -> None:
        management = self.spec.management_account
        assert management is not None
        slot.revocations.remove(name)
        write_slot(self.connector.client(management, "organizations"), org, slot)

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
                ready = releasable_at(document, _max_session(iam, detail["RoleName"]))
                revocation = RoleRevocation(
                    role_name=detail["RoleName"],
                    role_arn=detail["Arn"],
                    policy_name=name,
                    releasable_at=ready,
                )
                outcome.roles.append(revocation)
                if (ready is None or ready > now) and not force:
                    revocation.status = "kept"
                    revocation.detail = (
                        f"a session it stops could live until {_stamp(ready)}; "
                        "release then, or pass --force"
                        if ready is not None
                        else "when its sessions end is not recorded; pass --force to release"
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


@dataclass(frozen=True)
class _Legacy:
    """A revocation in the previous format: its own inline policy, and its tags."""

    role_name: str
    role_arn: str
    policy_name: str
    until: datetime | None
    tags: list[str]


def _max_session(iam: Any, role_name: str) -> int:
    """The role's MaxSessionDuration (the longest AWS issues when it cannot be read).

    Regression (issue 23): GetAccountAuthorizationDetails' role shape has no
    MaxSessionDuration, so a default of one hour released 12-hour roles early.
    """
    try:
        return int(iam.get_role(RoleName=role_name)["Role"]["MaxSessionDuration"])
    except (ClientError, BotoCoreError, KeyError):
        return MAX_SESSION_SECONDS


def _release_legacy(iam: Any, old: _Legacy) -> None:
    iam.delete_role_policy(RoleName=old.role_name, PolicyName=old.policy_name)
    if old.tags:
        iam.untag_role(RoleName=old.role_name, TagKeys=old.tags)


def _release_role(iam: Any, role_name: str, revocations: Revocations, name: str) -> None:
    revocations.remove(name)
    if revocations.empty:
        iam.delete_role_policy(RoleName=role_name, PolicyName=ROLE_POLICY_NAME)
    else:
        iam.put_role_policy(
            RoleName=role_name,
            PolicyName=ROLE_POLICY_NAME,
            PolicyDocument=policy_text(revocations.document()),
        )


def _as_document(value: Any) -> dict[str, Any]:
    """A policy document from boto3 (already decoded) or as URL-encoded JSON text."""
    if isinstance(value, dict):
        return value
    from urllib.parse import unquote

    decoded: dict[str, Any] = json.loads(unquote(str(value)))
    return decoded
