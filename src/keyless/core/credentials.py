"""Temporary AWS credentials: the model, expiry times, and masking a key for output.

Standard library only: the ``credential-process`` refresh, the login service
and the adapters that store credentials all share it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current time, aware, UTC (the default clock)."""
    return datetime.now(UTC)


def parse_expiration(value: str) -> datetime:
    """An ISO 8601 timestamp (``Z`` or offset) as an aware UTC datetime. Raises ValueError."""
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_expiration(moment: datetime) -> str:
    """``2025-01-01T12:00:00Z``: what AWS's credential_process protocol expects."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# An access key id is 20 characters (AKIA/ASIA and 16 more). Its ends are shown only
# when at least half of it stays hidden: the ends of a short id would be most of it.
_SHOWN_ENDS = 4
_MIN_LENGTH_SHOWN = 4 * _SHOWN_ENDS


def mask(key: str) -> str:
    """An access key id safe to print: ``ASIA****WXYZ``; ``****`` for a key too short
    to hide most of, and ``""`` for no key at all.

    The one masking rule: every output that names a key calls this.
    """
    if not key:
        return ""
    if len(key) < _MIN_LENGTH_SHOWN:
        return "****"
    return f"{key[:_SHOWN_ENDS]}****{key[-_SHOWN_ENDS:]}"


@dataclass(frozen=True)
class AwsCredentials:
    """Temporary AWS credentials and where they lead."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime
    role_arn: str | None = None
    account_id: str | None = None
    account_alias: str | None = None
    # The session's SourceIdentity as STS answered it (None: the IdP sent none).
    source_identity: str | None = None

    def __repr__(self) -> str:
        # Tracebacks, logs and test failures show reprs: no secrets in it.
        return (
            f"AwsCredentials(access_key_id={mask(self.access_key_id)!r}, "
            f"expiration={self.expiration_text!r}, role_arn={self.role_arn!r})"
        )

    @property
    def expiration_text(self) -> str:
        """The expiry as AWS writes it."""
        return format_expiration(self.expiration)

    def seconds_left(self, now: datetime) -> float:
        """Seconds until these credentials expire."""
        return (self.expiration - now).total_seconds()

    def process_json(self) -> str:
        """AWS's credential_process JSON document."""
        return json.dumps(
            {
                "Version": 1,
                "AccessKeyId": self.access_key_id,
                "SecretAccessKey": self.secret_access_key,
                "SessionToken": self.session_token,
                "Expiration": self.expiration_text,
            }
        )

    def metadata(self) -> dict[str, str | None]:
        """Where the credentials lead (no secrets)."""
        return {
            "RoleArn": self.role_arn,
            "AccountId": self.account_id,
            "AccountAlias": self.account_alias,
            "SourceIdentity": self.source_identity,
        }

    def to_cache(self) -> str:
        """The cache file's text (format in :mod:`keyless.credential_process`)."""
        expires = int(self.expiration.timestamp())
        return f"{expires}\n{self.process_json()}\n{json.dumps(self.metadata())}\n"

    @classmethod
    def from_cache(cls, answer: str, meta: str) -> AwsCredentials:
        """Credentials from the cache file's second and third lines. Raises ValueError/KeyError."""
        document: dict[str, Any] = json.loads(answer)
        extra: dict[str, Any] = json.loads(meta) if meta.strip() else {}
        return cls(
            access_key_id=document["AccessKeyId"],
            secret_access_key=document["SecretAccessKey"],
            session_token=document["SessionToken"],
            expiration=parse_expiration(document["Expiration"]),
            role_arn=extra.get("RoleArn"),
            account_id=extra.get("AccountId"),
            account_alias=extra.get("AccountAlias"),
            source_identity=extra.get("SourceIdentity"),
        )
