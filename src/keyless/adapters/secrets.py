"""Where keyless keeps secrets: the OS keyring, or 0600 files when there is none.

The Okta session id and (only when the user opts in) the Okta password are
kept here. A desktop has a keyring (Secret Service, macOS Keychain, Windows
Credential Locker); a server, a container or CI usually has none, and
``keyring`` then offers only its ``fail``/``null`` backends. In that case the
secrets go to files under ``$XDG_STATE_HOME/keyless/secrets`` (directory
0700, files 0600, written atomically) — the same protection the AWS CLI gives
its own SSO and credential caches.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Protocol

from keyless import paths
from keyless.adapters.credentials_file import write_private
from keyless.files import private_dir, read_private

SERVICE = "keyless"


class SecretStore(Protocol):
    """A place to keep small secrets by key."""

    @property
    def description(self) -> str:
        """Where the secrets go, for messages."""
        ...

    def get(self, key: str) -> str | None:
        """The secret stored under ``key``, or None."""
        ...

    def set(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``."""
        ...

    def delete(self, key: str) -> None:
        """Forget ``key`` (no error when absent)."""
        ...


def state_dir() -> Path:
    """``$XDG_STATE_HOME/keyless`` (or ``~/.local/state/keyless``)."""
    return Path(paths.state_dir())


class FileSecretStore:
    """Secrets as 0600 files in a 0700 directory, one file per key."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or state_dir() / "secrets"

    @property
    def description(self) -> str:
        """Where the secrets go."""
        return f"0600 files in {self.directory}"

    def _path(self, key: str) -> Path:
        # Keys carry profile names and URLs; keep file names boring and reversible enough.
        # One %xx per UTF-8 byte: fixed width, so two keys never share a file.
        safe = re.sub(
            r"[^A-Za-z0-9._-]",
            lambda m: "".join(f"%{b:02x}" for b in m.group().encode("utf-8", "surrogatepass")),
            key,
        )
        return self.directory / safe

    def get(self, key: str) -> str | None:
        """The secret under ``key``, or None."""
        data = read_private(self._path(key))
        return None if data is None else data.decode("utf-8")

    def set(self, key: str, value: str) -> None:
        """Store ``value`` under ``key`` (atomic, 0600)."""
        private_dir(self.directory)
        write_private(self._path(key), value.encode("utf-8"))

    def delete(self, key: str) -> None:
        """Forget ``key``."""
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()


class KeyringSecretStore:
    """Secrets in the OS keyring, under the service name ``keyless``."""

    def __init__(self, backend: object) -> None:
        self._backend = backend

    @property
    def description(self) -> str:
        """Where the secrets go."""
        return f"the OS keyring ({type(self._backend).__name__})"

    def get(self, key: str) -> str | None:
        """The secret under ``key``, or None."""
        value = self._backend.get_password(SERVICE, key)  # type: ignore[attr-defined]
        return value if isinstance(value, str) else None

    def set(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``."""
        self._backend.set_password(SERVICE, key, value)  # type: ignore[attr-defined]

    def delete(self, key: str) -> None:
        """Forget ``key``."""
        import keyring.errors

        with contextlib.suppress(keyring.errors.PasswordDeleteError):
            self._backend.delete_password(SERVICE, key)  # type: ignore[attr-defined]


def usable_keyring() -> object | None:
    """The configured keyring backend if it can really store secrets, else None."""
    try:
        import keyring
        from keyring.backends import chainer, fail
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:  # a broken keyring config must not stop a login
        return None
    if isinstance(backend, fail.Keyring):
        return None
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return None
    if type(backend).__module__.startswith("keyring.backends.null"):
        return None
    priority = getattr(backend, "priority", 1)
    if isinstance(priority, int | float) and priority <= 0:
        return None
    return backend


def open_secret_store(*, use_keyring: bool = True) -> SecretStore:
    """The OS keyring when a usable backend exists (and ``use_keyring``), else 0600 files."""
    if use_keyring:
        backend = usable_keyring()
        if backend is not None:
            return KeyringSecretStore(backend)
    return FileSecretStore()
