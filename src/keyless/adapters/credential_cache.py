"""The credential cache: one 0600 file per profile (format in :mod:`keyless.adapters.cache_file`).

These are short-lived STS credentials, the same kind the AWS CLI keeps in
``~/.aws/cli/cache``. Only :mod:`keyless.services.login.wiring` stores into it.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

from keyless.adapters import cache_file
from keyless.core.credentials import AwsCredentials
from keyless.files import private_dir, write_atomic


class CredentialCache:
    """The per-profile credential cache files (0600, atomic)."""

    def load(self, profile: str) -> AwsCredentials | None:
        """The cached credentials of ``profile``, or None."""
        cached = cache_file.read_cached(profile)
        if cached is None:
            return None
        try:
            return AwsCredentials.from_cache(cached[1], cached[2])
        except (KeyError, ValueError, TypeError):
            return None

    def store(self, profile: str, credentials: AwsCredentials) -> None:
        """Cache ``credentials`` for ``profile``."""
        private_dir(Path(cache_file.cache_dir()))
        write_atomic(Path(cache_file.cache_file(profile)), credentials.to_cache().encode("utf-8"))

    def path(self, profile: str) -> Path:
        """The cache file of ``profile``."""
        return Path(cache_file.cache_file(profile))

    def lock_path(self, profile: str) -> Path:
        """The lock taken while ``profile``'s credentials are refreshed (directory made 0700)."""
        private_dir(Path(cache_file.cache_dir()))
        return Path(cache_file.lock_file(profile))

    def forget(self, profile: str) -> bool:
        """Drop the cached credentials of ``profile``; True when there were some."""
        try:
            self.path(profile).unlink()
        except FileNotFoundError:
            return False
        return True

    def profiles(self) -> list[str]:
        """Profiles with a cache entry."""
        directory = Path(cache_file.cache_dir())
        if not directory.is_dir():
            return []
        return [unquote(path.stem) for path in sorted(directory.glob("*.cache"))]
