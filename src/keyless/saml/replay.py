"""The replay cache: each assertion ID is accepted once while it can still be accepted.

AWS STS refuses an assertion it has already redeemed; the lab STS and any
long-running verifier keep the IDs here until the assertion could no longer be
accepted anyway (its NotOnOrAfter plus the allowed clock skew).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol


class ReplayCache(Protocol):
    """Remembers assertion IDs until they expire, so one assertion is used once."""

    def seen(self, assertion_id: str, expires: datetime) -> bool:
        """True if ``assertion_id`` was already seen; otherwise record it until ``expires``."""
        ...


class MemoryReplayCache:
    """A thread-safe in-process :class:`ReplayCache` that forgets IDs once they expire.

    ``clock`` tells when an entry has expired; pass the same clock the verifier
    uses (the lab passes its own), or leave the wall clock.
    """

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self._expires: dict[str, datetime] = {}
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()

    def seen(self, assertion_id: str, expires: datetime) -> bool:
        """True if ``assertion_id`` was already seen; otherwise record it until ``expires``."""
        with self._lock:
            if len(self._expires) >= 1024:
                # An expired assertion is refused anyway, so its ID need not be kept.
                now = self._clock()
                self._expires = {k: v for k, v in self._expires.items() if v > now}
            if assertion_id in self._expires:
                return True
            self._expires[assertion_id] = expires
            return False

    def __len__(self) -> int:
        return len(self._expires)


__all__ = ["MemoryReplayCache", "ReplayCache"]
