"""Session revocations: the Denies ``keyless offboard`` writes, how they are packed, sized
and read back.

A person is revoked by **who they are to AWS**, with no time condition, so a
session from an assertion fetched before the offboarding (AWS redeems one for
about five minutes, plus clock skew) is refused as well as the live ones:

- ``aws:SourceIdentity`` (``StringEquals``): set from the IdP, immutable, carried
  into every chained session (IAM User Guide, "Monitor and control actions taken
  with assumed roles");
- ``aws:userid`` (``StringLike``), the fallback where the IdP sends no
  SourceIdentity: for a role session it is ``<role id>:<RoleSessionName>``, and
  Okta sends the person's *app username* (the AWS app's username template, in
  the case Okta stores it) as the session name; AWS compares case-sensitively,
  so the key is that name exactly, plus any other session name CloudTrail shows
  them using, plus the exact ids of sessions chained from theirs.

The same statements go into a keyless-owned service control policy (member
accounts: one write per organization) and into one packed inline policy per
federated role (the management account, where SCPs never apply, and accounts
outside an organization). People share statements: each statement's Sid
records when every session it stops has expired (``KeylessRevoke<UTC time>S``
for source identities, ``...U`` for session names, ``...X<tag>`` for one
person's extra keys), so release needs nothing but the policy itself, and
a person costs only their names' characters, not a statement's.

The names ``keyless-revoke-*`` are reserved: ``spec validate`` refuses them and
``plan``/``apply`` never touch a policy so named (deleting one would hand a
departed person their sessions back).

``--all-sessions ROLE`` (an incident) keeps AWS's own form: every session of
the role issued before a moment (IAM User Guide, "Revoking IAM role temporary
security credentials", ``aws:TokenIssueTime``).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from keyless.plan.state import PolicyDocument

REVOCATION_PREFIX = "keyless-revoke-"
ALL_SESSIONS_NAME = f"{REVOCATION_PREFIX}all-sessions"
REVOCATION_TAG_PREFIX = "keyless:revoked:"
_UNSAFE = re.compile(r"[^\w+=,.@-]")


# The packed per-role Deny, and the organization's SCPs (keyless-revoke-scp-1, -2, ...).
ROLE_POLICY_NAME = f"{REVOCATION_PREFIX}people"
SCP_PREFIX = f"{REVOCATION_PREFIX}scp-"

# IAM and Organizations quotas (IAM User Guide, "IAM and AWS STS quotas": inline
# policies 10,240 characters per role in aggregate, white space not counted;
# Organizations User Guide, "Quotas": an SCP 5,120 characters, 5 SCPs per root,
# OU or account, and one of them must allow: FullAWSAccess stays).
ROLE_INLINE_CHARACTERS = 10_240
SCP_CHARACTERS = 5_120
SCPS_PER_TARGET = 5

# AWS accepts a SAML assertion for about five minutes after it was issued
# (NotOnOrAfter), and allows clock skew on top: a session can be started that
# long after the IdP stopped issuing.
ASSERTION_WINDOW = timedelta(minutes=5)
CLOCK_SKEW = timedelta(minutes=5)
# Role chaining caps a chained session at one hour (IAM User Guide, "Role chaining").
CHAINED_SESSION = timedelta(hours=1)
# People share a statement whose release time is at most this far from theirs.
_MERGE = timedelta(minutes=15)

_SID = re.compile(r"^KeylessRevoke(\d{8}T\d{6}Z)(S|U|X[0-9a-f]{8})$")
_STAMP = "%Y%m%dT%H%M%SZ"
_WHITESPACE = re.compile(r"\s")


def is_revocation(policy_name: str) -> bool:
    """True for a policy name keyless reserves for revocations (inline policies and SCPs).

    AWS compares policy names case-insensitively for uniqueness, so the
    reservation does too.
    """
    return policy_name.lower().startswith(REVOCATION_PREFIX)


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
    """When the last session this revocation stops has expired on its own (None: unknown):
    the time a packed revocation records, else the cut-off plus ``max_session_duration``."""
    recorded = recorded_until(document)
    if recorded is not None:
        return recorded
    moment = revocation_cutoff(document)
    return None if moment is None else moment + timedelta(seconds=max_session_duration)


def releasable_after(longest_session_seconds: int, moment: datetime) -> datetime:
    """When every session a revocation at ``moment`` stops has expired on its own: the
    longest session a revoked role allows (a chained one lasts at most an hour), started
    from an assertion redeemed as late as AWS allows."""
    longest = max(timedelta(seconds=longest_session_seconds), CHAINED_SESSION)
    return cutoff(moment) + ASSERTION_WINDOW + CLOCK_SKEW + longest


# -- the people revoked, packed into statements -----------------------------------------------


def tag(name: str) -> str:
    """A short, stable tag for a person's own statement of extra keys."""
    return hashlib.sha256(name.encode()).hexdigest()[:8]


@dataclass(frozen=True)
class PersonKeys:
    """What identifies one person's sessions to AWS.

    ``name`` is the app username Okta sends (RoleSessionName, and SourceIdentity
    by default); ``session_names`` any other session name CloudTrail shows them
    using; ``session_ids`` the exact ``aws:userid`` of sessions chained from theirs.
    """

    name: str
    source_identities: tuple[str, ...] = ()
    session_names: tuple[str, ...] = ()
    session_ids: tuple[str, ...] = ()

    @property
    def extra_userids(self) -> tuple[str, ...]:
        names = sorted({f"*:{n}" for n in self.session_names if n != self.name})
        return tuple(names) + tuple(sorted(set(self.session_ids)))


def _statement(sid: str, operator: str, key: str, values: Sequence[str]) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {operator: {key: sorted(values)}},
    }


@dataclass
class _Group:
    until: datetime
    kind: str  # S, U or X<tag>
    values: set[str] = field(default_factory=set)

    @property
    def sid(self) -> str:
        return f"KeylessRevoke{self.until.strftime(_STAMP)}{self.kind}"

    def statement(self) -> dict[str, Any]:
        if self.kind == "S":
            return _statement(self.sid, "StringEquals", "aws:SourceIdentity", list(self.values))
        return _statement(self.sid, "StringLike", "aws:userid", list(self.values))


@dataclass
class Revocations:
    """The people one document revokes, grouped by release time.

    Read from a document keyless wrote (:meth:`from_document`), changed with
    :meth:`add` and :meth:`remove`, written back with :meth:`document`.
    Statements keyless does not recognise are kept as they are.
    """

    groups: list[_Group] = field(default_factory=list)
    foreign: list[Any] = field(default_factory=list)

    @classmethod
    def from_document(cls, document: PolicyDocument | None) -> Revocations:
        found = cls()
        for statement in (document or {}).get("Statement") or []:
            sid = str(statement.get("Sid", "")) if isinstance(statement, dict) else ""
            match = _SID.match(sid)
            values = _condition_values(statement) if match else None
            if match is None or values is None:
                found.foreign.append(statement)
                continue
            until = datetime.strptime(match.group(1), _STAMP).replace(tzinfo=UTC)
            found.groups.append(_Group(until, match.group(2), set(values)))
        return found

    @property
    def empty(self) -> bool:
        return not self.foreign and not any(g.values for g in self.groups)

    def people(self) -> set[str]:
        """The names revoked by source identity or session name (their primary keys)."""
        names = {v for g in self.groups if g.kind == "S" for v in g.values}
        names |= {v[2:] for g in self.groups if g.kind == "U" for v in g.values}
        return names

    def add(self, person: PersonKeys, until: datetime) -> None:
        """Revoke ``person`` until at least ``until`` (a later shared release time is kept)."""
        if until.microsecond:  # the Sid holds whole seconds: round up, never release early
            until = until.replace(microsecond=0) + timedelta(seconds=1)
        self.remove(person.name)
        for kind, values in (
            ("S", person.source_identities),
            ("U", (f"*:{person.name}",)),
        ):
            if not values:
                continue
            # Join a statement whose release time is within a few minutes of theirs
            # (moving it to the later of the two: nobody is released early), so that
            # people offboarded one run after another still share statements.
            group = next(
                (g for g in self.groups if g.kind == kind and abs(g.until - until) <= _MERGE),
                None,
            )
            if group is None:
                group = _Group(until, kind)
                self.groups.append(group)
            group.until = max(group.until, until)
            group.values.update(values)
        extra = person.extra_userids
        if extra:
            self.groups.append(_Group(until, "X" + tag(person.name), set(extra)))

    def until_of(self, name: str) -> list[datetime]:
        """The release times of the statements that hold ``name``'s keys."""
        return [g.until for g in self.groups if _holds(g, name)]

    def remove(self, name: str) -> list[datetime]:
        """Take ``name``'s keys out; the release times of the statements they were in."""
        times: list[datetime] = []
        for group in self.groups:
            if not _holds(group, name):
                continue
            times.append(group.until)
            if group.kind.startswith("X"):
                group.values.clear()
            else:
                group.values.discard(name)
                group.values.discard(f"*:{name}")
        self.groups = [g for g in self.groups if g.values]
        return times

    def document(self) -> PolicyDocument:
        statements = [g.statement() for g in sorted(self.groups, key=lambda g: (g.until, g.kind))]
        return {"Version": "2012-10-17", "Statement": [*self.foreign, *statements]}

    def size(self) -> int:
        """Characters as IAM and Organizations count them (compact JSON, no white space)."""
        return policy_size(self.document())


def _holds(group: _Group, name: str) -> bool:
    if group.kind.startswith("X"):
        return group.kind == "X" + tag(name)
    return name in group.values or f"*:{name}" in group.values


def _condition_values(statement: dict[str, Any]) -> list[str] | None:
    for operator in (statement.get("Condition") or {}).values():
        for values in (operator or {}).values():
            if isinstance(values, str):
                return [values]
            if isinstance(values, list):
                return [str(v) for v in values]
    return None


def policy_text(document: PolicyDocument) -> str:
    """The compact JSON keyless writes (the fewest characters against the quotas)."""
    return json.dumps(document, separators=(",", ":"))


def policy_size(document: PolicyDocument) -> int:
    """A policy's size as IAM counts it: its characters but white space."""
    return len(_WHITESPACE.sub("", policy_text(document)))


def recorded_until(document: PolicyDocument) -> datetime | None:
    """The latest release time a keyless revocation document records (None: none)."""
    times = [g.until for g in Revocations.from_document(document).groups]
    return max(times) if times else None


def _copy(revocations: Revocations) -> Revocations:
    return Revocations.from_document(revocations.document())


class QuotaError(ValueError):
    """A revocation would pass an AWS quota; nothing has been written."""


@dataclass
class ScpSlot:
    """One keyless SCP: its name, id once created, and the people it revokes."""

    name: str
    policy_id: str | None
    revocations: Revocations
    attached: bool
    changed: bool = False


def pack_scps(
    existing: Sequence[ScpSlot],
    people: Iterable[PersonKeys],
    until: datetime,
    *,
    free_attachments: int,
) -> list[ScpSlot]:
    """Add ``people`` to the organization's keyless SCPs, filling each up to 5,120
    characters and opening a new one (``keyless-revoke-scp-N``) when all are full.

    Raises :class:`QuotaError`, with the numbers, when the root has no room for
    another SCP; the slots passed in are not changed then.
    """
    slots = [ScpSlot(s.name, s.policy_id, _copy(s.revocations), s.attached) for s in existing]
    for person in people:
        for slot in slots:  # a person already in one is updated there
            if person.name in slot.revocations.people():
                slot.revocations.remove(person.name)
                slot.changed = True
        placed = False
        for slot in slots:
            trial = _copy(slot.revocations)
            trial.add(person, until)
            if trial.size() <= SCP_CHARACTERS:
                slot.revocations, slot.changed, placed = trial, True, True
                break
        if placed:
            continue
        fresh = Revocations()
        fresh.add(person, until)
        if fresh.size() > SCP_CHARACTERS:
            raise QuotaError(
                f"{person.name}'s keys alone take {fresh.size()} characters; an SCP holds "
                f"{SCP_CHARACTERS}"
            )
        new = sum(1 for s in slots if not s.attached)
        if new + 1 > free_attachments:
            held = sum(s.revocations.size() for s in slots)
            raise QuotaError(
                f"the organization's keyless SCPs are full ({len(slots)} SCP(s), {held} "
                f"characters, {SCP_CHARACTERS} each) and the root has "
                f"{free_attachments} free attachment(s) of {SCPS_PER_TARGET}"
            )
        number = 1
        taken = {s.name for s in slots}
        while f"{SCP_PREFIX}{number}" in taken:
            number += 1
        slots.append(ScpSlot(f"{SCP_PREFIX}{number}", None, fresh, False, True))
    return slots
