"""AWS credentials, their cache, and the refresh behind ``keyless credential-process``.

Caching is a wrapper (:class:`CachedProvider`) around any
:class:`CredentialProvider`: it knows the expiry window and the
cross-process lock, the provider knows only how to get new credentials. The
cache is one 0600 JSON file per profile under ``$XDG_CACHE_HOME/keyless/aws``
(format in :mod:`keyless.credential_process`), because the hot path must read
it with the standard library alone; these are short-lived STS credentials,
the same kind the AWS CLI keeps in ``~/.aws/cli/cache``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote

from keyless import credential_process as hot
from keyless.adapters.credentials_file import write_private
from keyless.adapters.locks import FileLock
from keyless.errors import KeylessError
from keyless.files import private_dir

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


def mask(key: str) -> str:
    """An access key id safe to print: ``ASIA****WXYZ``."""
    return f"{key[:4]}****{key[-4:]}" if len(key) > 8 else "****"


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
        )


class CredentialProvider(Protocol):
    """Anything that can produce fresh credentials."""

    def retrieve(self) -> AwsCredentials:
        """New credentials (may sign in)."""
        ...


class CredentialCache:
    """The per-profile credential cache files (0600, atomic)."""

    def load(self, profile: str) -> AwsCredentials | None:
        """The cached credentials of ``profile``, or None."""
        cached = hot.read_cached(profile)
        if cached is None:
            return None
        try:
            return AwsCredentials.from_cache(cached[1], cached[2])
        except (KeyError, ValueError, TypeError):
            return None

    def store(self, profile: str, credentials: AwsCredentials) -> None:
        """Cache ``credentials`` for ``profile``."""
        private_dir(Path(hot.cache_dir()))
        write_private(Path(hot.cache_file(profile)), credentials.to_cache().encode("utf-8"))

    def path(self, profile: str) -> Path:
        """The cache file of ``profile``."""
        return Path(hot.cache_file(profile))

    def forget(self, profile: str) -> bool:
        """Drop the cached credentials of ``profile``; True when there were some."""
        try:
            self.path(profile).unlink()
        except FileNotFoundError:
            return False
        return True

    def profiles(self) -> list[str]:
        """Profiles with a cache entry."""
        directory = Path(hot.cache_dir())
        if not directory.is_dir():
            return []
        return [unquote(path.stem) for path in sorted(directory.glob("*.cache"))]


class CachedProvider:
    """Serve ``provider``'s credentials from the cache while more than five minutes remain.

    A refresh happens under the profile's cross-process lock, and the cache is
    read again once the lock is held: of twenty processes that find the cache
    stale at once, the first signs in and the other nineteen read its result.
    """

    def __init__(
        self,
        provider: CredentialProvider,
        *,
        profile: str,
        cache: CredentialCache | None = None,
        clock: Clock = utcnow,
        min_remaining: float = hot.MIN_REMAINING_SECONDS,
        lock_timeout: float = 600.0,
    ) -> None:
        self.provider = provider
        self.profile = profile
        self.cache = cache or CredentialCache()
        self.clock = clock
        self.min_remaining = min_remaining
        self.lock_timeout = lock_timeout

    def _fresh(self) -> AwsCredentials | None:
        cached = self.cache.load(self.profile)
        if cached is not None and cached.seconds_left(self.clock()) > self.min_remaining:
            return cached
        return None

    def retrieve(self) -> AwsCredentials:
        """Cached credentials if fresh, else new ones from the provider (cached)."""
        cached = self._fresh()
        if cached is not None:
            return cached
        private_dir(Path(hot.cache_dir()))
        # A sign-in with push MFA can take minutes: wait long for the lock.
        with FileLock(Path(hot.lock_file(self.profile)), timeout=self.lock_timeout):
            cached = self._fresh()
            if cached is not None:
                return cached
            credentials = self.provider.retrieve()
            self.cache.store(self.profile, credentials)
            return credentials


def refresh_for_process(profile: str) -> int:
    """The slow path of ``keyless credential-process``: refresh, print, return the exit code."""
    from keyless.services.login import LoginProvider, open_prompter
    from keyless.services.profiles import resolve_settings

    try:
        settings = resolve_settings(profile)
        prompter = open_prompter(mode="credential-process", profile=profile)
        provider = CachedProvider(LoginProvider(settings, prompter=prompter), profile=profile)
        credentials = provider.retrieve()
    except KeylessError as error:
        sys.stderr.write(f"keyless: error: {error.message}\n")
        if error.fix:
            sys.stderr.write(f"  fix: {error.fix}\n")
        return error.exit_code
    sys.stdout.write(credentials.process_json() + "\n")
    return 0
