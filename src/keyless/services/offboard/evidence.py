"""The sessions a person holds, as CloudTrail shows them: read as it really is.

Two sources, the first that can be read:

- **An organization trail** (``DescribeTrails`` in the management account:
  ``IsOrganizationTrail``, logging, with an S3 bucket): every account's events as
  log files in one bucket, read with the management account's credentials only
  (no role assumed in each account, no ``LookupEvents`` quota). The layout is
  CloudTrail's (User Guide, "Finding your CloudTrail log files" and "CloudTrail
  log file examples"): ``[<prefix>/]AWSLogs/<organization id>/<account id>/
  CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_
  <unique>.json.gz``, each gzipped JSON ``{"Records": [...]}``. One
  ``ListObjectsV2`` per account and Region, starting at the window's first day
  (``StartAfter``: keys sort by date), then a ``GetObject`` per file delivered
  inside the window. Where the bucket cannot be read with those credentials (a
  log-archive account's), the event history below is used and the report says
  why.
- **Event history** (``LookupEvents``) in each account and Region.

Either way:

- Events are filed per account **and per Region** (a regional STS endpoint logs
  in its own Region; the global one in us-east-1), so every Region the spec's
  accounts use is read, us-east-1 always (CloudTrail User Guide, "Working with
  CloudTrail event history").
- ``LookupEvents`` allows 2 requests per second per account per Region
  (CloudTrail API Reference, "LookupEvents"): each account-Region is read by one
  worker that waits :data:`LOOKUP_INTERVAL` between pages.
- Events arrive about 5 minutes after the call (CloudTrail FAQ): a session
  started in the last few minutes may not be listed yet. The report says so;
  the revocation does not depend on it (it keys on who the person is, not on
  the sessions found), and it is in place before any of this is read.

From the ``AssumeRoleWithSAML`` events whose session name matches the person's
(in any case: AWS compares case-sensitively, so a variant they used is one more
key) or whose SourceIdentity is theirs, it follows the ``AssumeRole`` calls made
with those sessions' keys, or carrying their SourceIdentity, to the chained
sessions, and on from those.
"""

from __future__ import annotations

import gzip
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

LOOKUP_INTERVAL = 0.5  # seconds between LookupEvents calls in one account-Region (2/s)
DELAY_NOTE = (
    "CloudTrail delivers events about 5 minutes after the call: sessions started in the "
    "last few minutes may not be listed yet (the revocation does not depend on this list)"
)


@dataclass(frozen=True)
class TrailSession:
    """One session CloudTrail shows: who started it, where, and from what."""

    account_id: str
    region: str
    event: str  # AssumeRoleWithSAML, AssumeRole
    role_arn: str
    userid: str  # aws:userid of the session: <role id>:<session name>
    access_key_id: str
    issued_at: str
    source_identity: str = ""
    chained_from: str = ""  # the key id of the session that assumed it (AssumeRole)
    caller_key: str = ""

    @property
    def session_name(self) -> str:
        return self.userid.split(":", 1)[1] if ":" in self.userid else ""


def read_sessions(
    client: Any,
    *,
    account_id: str,
    region: str,
    start: datetime,
    end: datetime,
    sleep: Callable[[float], None] = time.sleep,
) -> list[TrailSession]:
    """Every successful STS session start in one account-Region between ``start`` and ``end``,
    paced at 2 requests per second."""
    found: list[TrailSession] = []
    token: str | None = None
    first = True
    while True:
        if not first:
            sleep(LOOKUP_INTERVAL)
        first = False
        kwargs: dict[str, Any] = {
            "LookupAttributes": [
                {"AttributeKey": "EventSource", "AttributeValue": "sts.amazonaws.com"}
            ],
            "StartTime": start,
            "EndTime": end,
        }
        if token:
            kwargs["NextToken"] = token
        page = client.lookup_events(**kwargs)
        for event in page.get("Events", []):
            session = _session(event, account_id=account_id, region=region)
            if session is not None:
                found.append(session)
        token = page.get("NextToken")
        if not token:
            return found


def _session(event: Mapping[str, Any], *, account_id: str, region: str) -> TrailSession | None:
    if event.get("EventName") not in _SESSION_EVENTS:
        return None
    try:
        record = json.loads(event.get("CloudTrailEvent") or "{}")
    except ValueError:
        return None
    return _session_of(record, account_id=account_id, region=region)


_SESSION_EVENTS = ("AssumeRoleWithSAML", "AssumeRole")


def _session_of(record: Mapping[str, Any], *, account_id: str, region: str) -> TrailSession | None:
    """The session a CloudTrail record shows started (None: not a successful STS start)."""
    name = record.get("eventName")
    if name not in _SESSION_EVENTS or record.get("eventSource") != "sts.amazonaws.com":
        return None
    if record.get("errorCode"):
        return None
    response = record.get("responseElements") or {}
    user = response.get("assumedRoleUser") or {}
    identity = record.get("userIdentity") or {}
    context = identity.get("sessionContext") or {}
    return TrailSession(
        account_id=account_id,
        region=region,
        event=str(name),
        role_arn=str((record.get("requestParameters") or {}).get("roleArn", "")),
        userid=str(user.get("assumedRoleId", "")),
        access_key_id=str((response.get("credentials") or {}).get("accessKeyId", "")),
        issued_at=str(record.get("eventTime", "")),
        source_identity=str(response.get("sourceIdentity", "")),
        caller_key=str(identity.get("accessKeyId", "")) if name == "AssumeRole" else "",
        chained_from=str(context.get("sourceIdentity", "")),
    )


# -- an organization trail's log files --------------------------------------------------------

# The delivery time in a log file's name: <account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_...
_DELIVERED = re.compile(r"_CloudTrail_[\w-]+_(\d{8}T\d{4}Z)_\w+\.json\.gz$")


@dataclass(frozen=True)
class OrganizationTrail:
    """An organization trail that is logging, and where its files are."""

    name: str
    bucket: str
    prefix: str
    organization_id: str

    def folder(self, account_id: str, region: str) -> str:
        """The key prefix of one account-Region's log files."""
        lead = f"{self.prefix.strip('/')}/" if self.prefix.strip("/") else ""
        return f"{lead}AWSLogs/{self.organization_id}/{account_id}/CloudTrail/{region}/"

    def describe(self) -> str:
        lead = f"{self.prefix.strip('/')}/" if self.prefix.strip("/") else ""
        return f"organization trail {self.name} (s3://{self.bucket}/{lead}AWSLogs/)"


def find_organization_trail(client: Any, organization_id: str) -> OrganizationTrail | None:
    """The organization's trail that is logging to S3, seen from the management account's
    CloudTrail (``client``); None when there is none."""
    for trail in client.describe_trails(includeShadowTrails=True).get("trailList", []):
        if not trail.get("IsOrganizationTrail") or not trail.get("S3BucketName"):
            continue
        status = client.get_trail_status(Name=trail.get("TrailARN") or trail["Name"])
        if not status.get("IsLogging"):
            continue
        return OrganizationTrail(
            name=str(trail["Name"]),
            bucket=str(trail["S3BucketName"]),
            prefix=str(trail.get("S3KeyPrefix") or ""),
            organization_id=organization_id,
        )
    return None


def read_trail_files(
    s3: Any,
    trail: OrganizationTrail,
    *,
    account_id: str,
    region: str,
    start: datetime,
    end: datetime,
) -> list[TrailSession]:
    """Every successful STS session start in one account-Region's log files delivered
    from ``start`` on (a file holds records written before its delivery time; records
    from before ``end`` may still arrive later, which is what the report's note says)."""
    folder = trail.folder(account_id, region)
    found: list[TrailSession] = []
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=trail.bucket,
        Prefix=folder,
        # Keys sort by day: start at the window's first day (the previous day's last key).
        StartAfter=folder + (start - timedelta(days=1)).strftime("%Y/%m/%d/~"),
    )
    first = start.astimezone(UTC).strftime("%Y%m%dT%H%MZ")
    for page in pages:
        for entry in page.get("Contents", []):
            key = str(entry["Key"])
            delivered = _DELIVERED.search(key)
            if delivered is None or delivered[1] < first:
                continue
            body = s3.get_object(Bucket=trail.bucket, Key=key)["Body"].read()
            try:
                records = json.loads(gzip.decompress(body)).get("Records", [])
            except (OSError, ValueError, AttributeError):
                continue  # not a CloudTrail log file: nothing to read in it
            for record in records:
                if not isinstance(record, Mapping) or not _in_window(record, start, end):
                    continue
                session = _session_of(record, account_id=account_id, region=region)
                if session is not None:
                    found.append(session)
    return found


def _in_window(record: Mapping[str, Any], start: datetime, end: datetime) -> bool:
    try:
        moment = datetime.fromisoformat(str(record.get("eventTime", "")).replace("Z", "+00:00"))
    except ValueError:
        return False
    return start.replace(microsecond=0) <= moment <= end


@dataclass
class PersonSessions:
    """The person's sessions found, and the keys they add to the revocation."""

    direct: list[TrailSession] = field(default_factory=list)
    chained: list[TrailSession] = field(default_factory=list)

    @property
    def session_names(self) -> set[str]:
        return {s.session_name for s in self.direct if s.session_name}

    @property
    def chained_ids(self) -> set[str]:
        return {s.userid for s in self.chained if s.userid}


def person_sessions(
    sessions: Iterable[TrailSession], *, names: Iterable[str], source_identities: Iterable[str]
) -> PersonSessions:
    """The person's federated sessions (session name equal to one of ``names`` ignoring
    case, or their SourceIdentity) and every session chained from them, transitively."""
    every = list(sessions)
    wanted = {n.casefold() for n in names if n}
    identities = {s for s in source_identities if s}
    found = PersonSessions()
    keys: set[str] = set()
    seen: set[tuple[str, str]] = set()
    for session in every:
        if session.event != "AssumeRoleWithSAML":
            continue
        if session.session_name.casefold() in wanted or session.source_identity in identities:
            found.direct.append(session)
            keys.add(session.access_key_id)
    grew = True
    while grew:  # chains of chains: follow until nothing new
        grew = False
        for session in every:
            if session.event != "AssumeRole" or (session.userid, session.access_key_id) in seen:
                continue
            if (
                session.caller_key in keys
                or (session.source_identity or session.chained_from) in identities
            ):
                seen.add((session.userid, session.access_key_id))
                found.chained.append(session)
                keys.add(session.access_key_id)
                grew = True
    # A cross-account AssumeRole is logged on both sides: name each chained session once.
    unique: dict[tuple[str, str], TrailSession] = {}
    for session in found.chained:
        unique.setdefault((session.userid, session.access_key_id), session)
    found.chained = list(unique.values())
    return found
