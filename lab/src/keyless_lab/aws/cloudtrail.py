"""The lab's CloudTrail: management events per account, and ``cloudtrail:LookupEvents``.

What is recorded, as CloudTrail records it (CloudTrail User Guide, "CloudTrail
record contents" and "CloudTrail userIdentity element"; IAM User Guide,
"Logging IAM and AWS STS API calls with AWS CloudTrail"):

- every ``AssumeRoleWithSAML``, accepted or refused, in the role's account:
  ``userIdentity.type`` ``SAMLUser`` with ``principalId`` =
  ``<SAML:namequalifier>:<SAML:sub>``, ``userName`` = the subject,
  ``identityProvider`` = the name qualifier; ``requestParameters.roleArn``,
  ``principalArn``, ``durationSeconds``; ``responseElements`` with the
  credentials' key id (never the secret or the token), the assumed-role user,
  subject, issuer and audience;
- every ``AssumeRole``, in the role's account and, when it differs, the caller's
  (cross-account calls are logged on both sides);
- every call refused with ``AccessDenied``, in the caller's account, with
  ``errorCode`` and ``errorMessage``;
- every other successful call that changes something (a management event: not
  ``Get*``/``List*``/``Describe*``, not S3's object-level data events, which
  trails log only when asked), in the caller's account, with the caller's
  ``userIdentity`` (a session's ``sessionContext.sourceIdentity`` included: what
  a revoked person did) and the request's parameters, secrets shown as
  ``HIDDEN_DUE_TO_SECURITY_REASONS`` as CloudTrail shows them.

``LookupEvents`` (CloudTrail API Reference, "LookupEvents"): JSON 1.1 protocol
(``X-Amz-Target: com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents``),
at most one ``LookupAttributes`` entry, ``StartTime``/``EndTime`` inclusive,
``MaxResults`` 1-50 (default 50), most recent event first, an opaque
``NextToken`` valid only with the same parameters, and ``Events[].CloudTrailEvent``
the whole record as a JSON string. Each caller sees only its own account's events.

An **organization trail** (``CreateTrail`` with ``IsOrganizationTrail`` in the
management account, then ``StartLogging``: moto keeps the trail) gets every
account's events delivered to its S3 bucket as CloudTrail delivers them
(CloudTrail User Guide, "CloudTrail log file examples" and "Finding your
CloudTrail log files"): gzipped JSON ``{"Records": [...]}`` at
``[<prefix>/]AWSLogs/<organization id>/<account id>/CloudTrail/<region>/YYYY/MM/DD/``
``<account id>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<16 characters>.json.gz``.
AWS delivers a file about every 5 minutes; the lab delivers each record at once
in a file of its own (as its event history answers at once), so a reader that
copes with AWS's delay copes with the lab's.

The recorder is WSGI middleware around the lab's front (:class:`CloudTrailRecorder`)
and a small WSGI app in front of moto that answers ``LookupEvents``
(:class:`LookupEventsApp`); the front only leaves the facts of each request in
the WSGI environ (:data:`ENVIRON_KEY`). Events live in memory, bounded per account.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import secrets
import string
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from keyless_lab.aws.errors import AwsError, render_error

ENVIRON_KEY = "keyless.cloudtrail"
EVENT_VERSION = "1.08"
MAX_EVENTS_PER_ACCOUNT = 10_000
DEFAULT_MAX_RESULTS = 50
LOOKUP_TARGET = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"
LOOKUP_KEYS = (
    "EventId",
    "EventName",
    "ReadOnly",
    "Username",
    "ResourceType",
    "ResourceName",
    "EventSource",
    "AccessKeyId",
)
_READ_ONLY = re.compile(r"^(Get|List|Describe|Lookup|Head)")
# Request parameters CloudTrail does not show (passwords, keys), and what it shows instead.
_SECRET = re.compile(r"Password|Secret|PrivateKey|Token", re.IGNORECASE)
_HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
_ACCOUNT_IN_ARN = re.compile(r"^arn:[\w-]+:(iam|sts)::(\d{12}):")

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass
class RequestFacts:
    """What the front knows about one request; it fills this in as it learns it."""

    action: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    caller: Any = None  # keyless_lab.aws.enforce.Caller once authenticated
    error: AwsError | None = None


def _now_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _xml_fields(body: bytes) -> dict[str, str]:
    """Leaf elements of an STS answer by local name (the lab's own or moto's XML)."""
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError:
        return {}
    found: dict[str, str] = {}
    for element in root.iter():
        if not isinstance(element.tag, str) or len(element):
            continue
        found.setdefault(etree.QName(element).localname, (element.text or "").strip())
    return found


def _user_identity(caller: Any) -> dict[str, Any]:
    """CloudTrail's userIdentity for a signed request's caller (IAMUser or AssumedRole)."""
    userid = (caller.context.get("aws:userid") or [""])[0]
    if caller.kind == "user":
        return {
            "type": "IAMUser",
            "principalId": userid,
            "arn": caller.arn,
            "accountId": caller.account_id,
            "accessKeyId": caller.access_key_id,
            "userName": caller.name,
        }
    role_id = userid.split(":", 1)[0]
    issued = (caller.context.get("aws:TokenIssueTime") or [""])[0]
    session_context: dict[str, Any] = {
        "sessionIssuer": {
            "type": "Role",
            "principalId": role_id,
            "arn": caller.role_arn,
            "accountId": caller.account_id,
            "userName": caller.name,
        },
        "attributes": {"creationDate": issued, "mfaAuthenticated": "false"},
    }
    if getattr(caller, "source_identity", None):
        # CloudTrail userIdentity element: sessionContext.sourceIdentity, "the source
        # identity ... set when the role was assumed", carried by every chained session.
        session_context["sourceIdentity"] = caller.source_identity
    return {
        "type": "AssumedRole",
        "principalId": userid,
        "arn": caller.arn,
        "accountId": caller.account_id,
        "accessKeyId": caller.access_key_id,
        "sessionContext": session_context,
    }


def is_management_write(facts: RequestFacts) -> bool:
    """True for a signed call that changes something and that a trail logs by default: not
    a read, not STS (recorded on its own), not an S3 object-level (data) event."""
    action, caller = facts.action or "", facts.caller
    if caller is None or not action or _READ_ONLY.match(action) or caller.service == "sts":
        return False
    return not (caller.service == "s3" and "Object" in action)


def _username(record: Mapping[str, Any]) -> str:
    """LookupEvents' Username: the IAM user, SAML subject, or role session name."""
    identity = record.get("userIdentity", {})
    if identity.get("userName"):
        return str(identity["userName"])
    arn = str(identity.get("arn", ""))
    return arn.rsplit("/", 1)[-1] if identity.get("type") == "AssumedRole" else ""


class CloudTrailLog:
    """Events per account, newest last; thread-safe."""

    def __init__(
        self,
        *,
        accounts: Iterable[str],
        region: str = "us-east-1",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        management: str | None = None,
        state_lock: threading.Lock | None = None,
    ) -> None:
        self._accounts = set(accounts)
        self._region = region
        self._clock = clock
        self._lock = threading.Lock()
        self._events: dict[str, deque[dict[str, Any]]] = {}
        # Organization trails live in the management account; delivering to one changes
        # moto's S3, so it happens under the lab's state lock like any write.
        self._management = management
        self._state_lock = state_lock or threading.Lock()

    # -- recording ------------------------------------------------------------------

    def _base(
        self, environ: Mapping[str, Any], *, source: str, name: str, account: str
    ) -> dict[str, Any]:
        request_id = str(uuid.uuid4())
        return {
            "eventVersion": EVENT_VERSION,
            "eventTime": _now_text(self._clock()),
            "eventSource": f"{source}.amazonaws.com",
            "eventName": name,
            "awsRegion": self._region,
            "sourceIPAddress": str(environ.get("REMOTE_ADDR", "")),
            "userAgent": str(environ.get("HTTP_USER_AGENT", "")),
            "requestID": request_id,
            "eventID": str(uuid.uuid4()),
            "readOnly": bool(_READ_ONLY.match(name)),
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": account,
            "eventCategory": "Management",
        }

    def _add(self, account: str, record: dict[str, Any]) -> None:
        if account not in self._accounts:
            return  # not one of the lab's accounts: nobody could look it up
        with self._lock:
            events = self._events.setdefault(account, deque(maxlen=MAX_EVENTS_PER_ACCOUNT))
            events.append(record)
        if self._management is not None:
            with self._state_lock:
                for trail in organization_trails(self._management):
                    trail.deliver(account, record)

    def observe(
        self, environ: Mapping[str, Any], facts: RequestFacts, body: bytes, *, ok: bool = False
    ) -> None:
        """Record the request described by ``facts`` if CloudTrail would log it (``ok``:
        it was answered with success)."""
        if facts.action == "AssumeRoleWithSAML":
            self._saml(environ, facts, body)
        elif facts.action == "AssumeRole" and facts.caller is not None:
            self._assume_role(environ, facts, body)
        elif (
            facts.caller is not None
            and facts.error is not None
            and facts.error.code == "AccessDenied"
        ):
            self._denied(environ, facts)
        elif ok and facts.error is None and is_management_write(facts):
            self._write(environ, facts)

    def _saml(self, environ: Mapping[str, Any], facts: RequestFacts, body: bytes) -> None:
        role_arn = facts.params.get("RoleArn", "")
        match = _ACCOUNT_IN_ARN.match(role_arn)
        if match is None:
            return
        account = match[2]
        record = self._base(environ, source="sts", name="AssumeRoleWithSAML", account=account)
        parameters: dict[str, Any] = {
            "roleArn": role_arn,
            "principalArn": facts.params.get("PrincipalArn", ""),
        }
        if facts.params.get("DurationSeconds", "").isdigit():
            parameters["durationSeconds"] = int(facts.params["DurationSeconds"])
        record["requestParameters"] = parameters
        record["resources"] = [
            {"accountId": account, "type": "AWS::IAM::Role", "ARN": role_arn},
            {
                "accountId": account,
                "type": "AWS::IAM::SAMLProvider",
                "ARN": parameters["principalArn"],
            },
        ]
        if facts.error is not None:
            # A refused assertion was never verified: nothing in it is trusted enough to
            # name a person.
            record["userIdentity"] = {"type": "SAMLUser"}
            record["errorCode"] = facts.error.code
            record["errorMessage"] = facts.error.message
            record["responseElements"] = None
        else:
            answer = _xml_fields(body)
            qualifier, subject = answer.get("NameQualifier", ""), answer.get("Subject", "")
            record["userIdentity"] = {
                "type": "SAMLUser",
                "principalId": f"{qualifier}:{subject}",
                "userName": subject,
                "identityProvider": qualifier,
            }
            record["responseElements"] = {
                # The key id, never the secret or the session token.
                "credentials": {
                    "accessKeyId": answer.get("AccessKeyId", ""),
                    "expiration": answer.get("Expiration", ""),
                },
                "assumedRoleUser": {
                    "assumedRoleId": answer.get("AssumedRoleId", ""),
                    "arn": answer.get("Arn", ""),
                },
                "subject": subject,
                "subjectType": answer.get("SubjectType", ""),
                "issuer": answer.get("Issuer", ""),
                "audience": answer.get("Audience", ""),
                "nameQualifier": qualifier,
            }
            if answer.get("SourceIdentity"):
                record["responseElements"]["sourceIdentity"] = answer["SourceIdentity"]
        self._add(account, record)

    def _assume_role(self, environ: Mapping[str, Any], facts: RequestFacts, body: bytes) -> None:
        caller = facts.caller
        role_arn = facts.params.get("RoleArn", "")
        match = _ACCOUNT_IN_ARN.match(role_arn)
        accounts = [caller.account_id]
        if match is not None and match[2] != caller.account_id:
            accounts.insert(0, match[2])
        for account in accounts:
            record = self._base(environ, source="sts", name="AssumeRole", account=account)
            record["userIdentity"] = _user_identity(caller)
            record["requestParameters"] = {
                "roleArn": role_arn,
                "roleSessionName": facts.params.get("RoleSessionName", ""),
            }
            if facts.params.get("SourceIdentity"):
                record["requestParameters"]["sourceIdentity"] = facts.params["SourceIdentity"]
            if facts.error is not None:
                record["errorCode"] = facts.error.code
                record["errorMessage"] = facts.error.message
                record["responseElements"] = None
            else:
                answer = _xml_fields(body)
                record["responseElements"] = {
                    "credentials": {
                        "accessKeyId": answer.get("AccessKeyId", ""),
                        "expiration": answer.get("Expiration", ""),
                    },
                    "assumedRoleUser": {
                        "assumedRoleId": answer.get("AssumedRoleId", ""),
                        "arn": answer.get("Arn", ""),
                    },
                }
                if answer.get("SourceIdentity"):
                    record["responseElements"]["sourceIdentity"] = answer["SourceIdentity"]
            record["resources"] = [
                {"accountId": match[2] if match else "", "type": "AWS::IAM::Role", "ARN": role_arn}
            ]
            self._add(account, record)

    def _denied(self, environ: Mapping[str, Any], facts: RequestFacts) -> None:
        caller = facts.caller
        assert facts.error is not None
        record = self._base(
            environ, source=caller.service, name=facts.action or "", account=caller.account_id
        )
        record["userIdentity"] = _user_identity(caller)
        record["requestParameters"] = None
        record["responseElements"] = None
        record["errorCode"] = facts.error.code
        record["errorMessage"] = facts.error.message
        self._add(caller.account_id, record)

    def _write(self, environ: Mapping[str, Any], facts: RequestFacts) -> None:
        caller = facts.caller
        record = self._base(
            environ, source=caller.service, name=facts.action or "", account=caller.account_id
        )
        record["userIdentity"] = _user_identity(caller)
        record["requestParameters"] = {
            key[:1].lower() + key[1:]: (_HIDDEN if _SECRET.search(key) else value)
            for key, value in facts.params.items()
            if key not in ("Action", "Version")
        }
        record["responseElements"] = None
        self._add(caller.account_id, record)

    # -- LookupEvents -----------------------------------------------------------------

    def lookup(self, account: str, request: Mapping[str, Any]) -> dict[str, Any]:
        """The LookupEvents answer for ``account``; :class:`AwsError` for a bad request."""
        attributes = request.get("LookupAttributes") or []
        if not isinstance(attributes, list) or len(attributes) > 1:
            raise AwsError(
                "InvalidLookupAttributesException",
                "You cannot specify more than one lookup attribute.",
            )
        wanted: tuple[str, str] | None = None
        if attributes:
            entry = attributes[0] if isinstance(attributes[0], Mapping) else {}
            key, value = entry.get("AttributeKey"), entry.get("AttributeValue")
            if key not in LOOKUP_KEYS or not isinstance(value, str):
                raise AwsError(
                    "InvalidLookupAttributesException",
                    f"AttributeKey must be one of {', '.join(LOOKUP_KEYS)} with an AttributeValue.",
                )
            wanted = (str(key), value)
        start, end = _moment(request.get("StartTime")), _moment(request.get("EndTime"))
        if start is not None and end is not None and start > end:
            raise AwsError(
                "InvalidTimeRangeException", "Start time must be before or equal to end time."
            )
        limit = request.get("MaxResults", DEFAULT_MAX_RESULTS)
        if not isinstance(limit, int) or not 1 <= limit <= 50:
            raise AwsError("InvalidMaxResultsException", "MaxResults must be between 1 and 50.")
        fingerprint = hashlib.sha256(
            json.dumps(
                [wanted, request.get("StartTime"), request.get("EndTime"), limit], default=str
            ).encode()
        ).hexdigest()[:16]
        offset = _read_token(request.get("NextToken"), fingerprint)
        with self._lock:
            events = list(self._events.get(account, ()))
        events.reverse()  # most recent first
        selected = [
            e for e in events if _in_window(e, start, end) and (wanted is None or _has(e, *wanted))
        ]
        page = selected[offset : offset + limit]
        answer: dict[str, Any] = {"Events": [_lookup_entry(e) for e in page]}
        if offset + limit < len(selected):
            answer["NextToken"] = _make_token(offset + limit, fingerprint)
        return answer


@dataclass(frozen=True)
class OrganizationTrail:
    """A logging organization trail: where it delivers, and for which organization."""

    bucket: str
    prefix: str
    organization_id: str

    def key(self, account: str, region: str, moment: datetime) -> str:
        """The S3 key of a log file delivered at ``moment`` (CloudTrail's layout)."""
        unique = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(16))
        folder = f"AWSLogs/{self.organization_id}/{account}/CloudTrail/{region}/"
        folder += moment.strftime("%Y/%m/%d/")
        name = f"{account}_CloudTrail_{region}_{moment.strftime('%Y%m%dT%H%MZ')}_{unique}.json.gz"
        return (f"{self.prefix}/" if self.prefix else "") + folder + name

    def deliver(self, account: str, record: Mapping[str, Any]) -> None:
        """Write one log file holding ``record`` into the trail's bucket (hold the state
        lock). A bucket that does not exist (any more) gets nothing, as AWS's delivery
        fails then."""
        from moto.s3.models import s3_backends

        owner = s3_backends.bucket_accounts.get(self.bucket)
        if owner is None:
            return
        partition, bucket_account = owner
        moment = datetime.now(UTC)
        body = gzip.compress(json.dumps({"Records": [record]}).encode())
        s3 = s3_backends[bucket_account][partition]
        s3.put_object(self.bucket, self.key(account, str(record["awsRegion"]), moment), body)


def organization_trails(management: str) -> list[OrganizationTrail]:
    """The organization trails that are logging in ``management`` (moto's CloudTrail), for
    the organization it manages."""
    from moto.cloudtrail.models import cloudtrail_backends
    from moto.organizations.models import organizations_backends

    organization = getattr(
        dict.get(dict.get(organizations_backends, management, {}), "aws"), "org", None
    )
    if organization is None:
        return []
    found = []
    regions: dict[str, Any] = dict.get(cloudtrail_backends, management) or {}  # type: ignore[arg-type]
    for backend in dict.values(regions):
        for trail in backend.trails.values():
            if trail.is_org_trail and trail.status.is_logging and trail.bucket_name:
                found.append(
                    OrganizationTrail(
                        bucket=str(trail.bucket_name),
                        prefix=str(trail.s3_key_prefix or ""),
                        organization_id=str(organization.id),
                    )
                )
    return found


def _moment(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise AwsError("ValidationException", f"Invalid timestamp {value!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _event_time(record: Mapping[str, Any]) -> datetime:
    return datetime.strptime(str(record["eventTime"]), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _in_window(record: Mapping[str, Any], start: datetime | None, end: datetime | None) -> bool:
    moment = _event_time(record)
    return (start is None or moment >= start.replace(microsecond=0)) and (
        end is None or moment <= end
    )


def _resources(record: Mapping[str, Any]) -> list[dict[str, str]]:
    return [
        {"ResourceType": str(r.get("type", "")), "ResourceName": str(r.get("ARN", ""))}
        for r in record.get("resources") or []
    ]


def _access_key(record: Mapping[str, Any]) -> str:
    return str(record.get("userIdentity", {}).get("accessKeyId", ""))


def _has(record: Mapping[str, Any], key: str, value: str) -> bool:
    if key == "EventId":
        return bool(record["eventID"] == value)
    if key == "EventName":
        return bool(record["eventName"] == value)
    if key == "ReadOnly":
        return str(record["readOnly"]).lower() == value.lower()
    if key == "Username":
        return _username(record) == value
    if key == "EventSource":
        return bool(record["eventSource"] == value)
    if key == "AccessKeyId":
        return _access_key(record) == value
    if key == "ResourceType":
        return any(r["ResourceType"] == value for r in _resources(record))
    return any(r["ResourceName"] == value for r in _resources(record))


def _lookup_entry(record: Mapping[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "EventId": record["eventID"],
        "EventName": record["eventName"],
        "ReadOnly": "true" if record["readOnly"] else "false",
        "EventTime": _event_time(record).timestamp(),
        "EventSource": record["eventSource"],
        "Username": _username(record),
        "Resources": _resources(record),
        "CloudTrailEvent": json.dumps(record),
    }
    if _access_key(record):
        entry["AccessKeyId"] = _access_key(record)
    return entry


def _make_token(offset: int, fingerprint: str) -> str:
    return base64.urlsafe_b64encode(f"{offset}:{fingerprint}".encode()).decode()


def _read_token(token: object, fingerprint: str) -> int:
    if token is None:
        return 0
    try:
        offset, mark = base64.urlsafe_b64decode(str(token).encode()).decode().split(":", 1)
        if mark != fingerprint:
            raise ValueError("another query's token")
        return int(offset)
    except ValueError as exc:
        raise AwsError(
            "InvalidNextTokenException", "Invalid NextToken: pass it with the same parameters."
        ) from exc


def facts_of(environ: dict[str, Any]) -> RequestFacts:
    """The request's :class:`RequestFacts` (a throwaway one when no recorder is in front)."""
    facts = environ.get(ENVIRON_KEY)
    return facts if isinstance(facts, RequestFacts) else RequestFacts()


class CloudTrailRecorder:
    """WSGI middleware: gives the front a :class:`RequestFacts` and records the outcome."""

    def __init__(self, app: WsgiApp, log: CloudTrailLog) -> None:
        self._app = app
        self._log = log

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        facts = RequestFacts()
        environ[ENVIRON_KEY] = facts
        status: list[str] = []

        def answered(code: str, headers: Any, *rest: Any) -> Any:
            status[:] = [code]
            return start_response(code, headers, *rest)

        chunks = list(self._app(environ, answered))
        ok = bool(status) and status[0].startswith("2")
        if (
            facts.action in ("AssumeRoleWithSAML", "AssumeRole")
            or facts.error is not None
            or (ok and is_management_write(facts))
        ):
            self._log.observe(environ, facts, b"".join(chunks), ok=ok)
        return chunks


class LookupEventsApp:
    """WSGI app in front of moto: answers an authorized ``cloudtrail:LookupEvents`` itself."""

    def __init__(self, backend: WsgiApp, log: CloudTrailLog) -> None:
        self._backend = backend
        self._log = log

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        facts = environ.get(ENVIRON_KEY)
        caller = getattr(facts, "caller", None)
        if (
            not isinstance(facts, RequestFacts)
            or caller is None
            or caller.service != "cloudtrail"
            or facts.action != "LookupEvents"
        ):
            return self._backend(environ, start_response)
        stream = environ["wsgi.input"]
        body = stream.read()
        try:
            request = json.loads(body or b"{}")
            if not isinstance(request, dict):
                raise AwsError("SerializationException", "The request body is not a JSON object.")
            answer = self._log.lookup(caller.account_id, request)
        except json.JSONDecodeError:
            error = AwsError("SerializationException", "The request body is not valid JSON.")
            status, headers, payload = render_error(error, protocol="json", service="cloudtrail")
            start_response(f"{status} Error", headers)
            return [payload]
        except AwsError as error:
            status, headers, payload = render_error(error, protocol="json", service="cloudtrail")
            start_response(f"{status} Error", headers)
            return [payload]
        start_response(
            "200 OK",
            [
                ("Content-Type", "application/x-amz-json-1.1"),
                ("x-amzn-RequestId", str(uuid.uuid4())),
            ],
        )
        return [json.dumps(answer).encode()]
