"""A cross-process lock on a file, with ``fcntl.flock``.

Used around every read-modify-write of ``~/.aws/credentials`` and
``~/.aws/config`` and around a credential refresh, so that twenty AWS CLI
processes started at once by a script cause one sign-in, not twenty.

``flock`` locks are released by the kernel when the process dies, so a
crashed ``keyless`` never leaves a stale lock behind. The lock file is a
separate ``<name>.lock`` file: the data file itself is replaced atomically
(``os.replace``), and a lock held on an inode that was just replaced would
lock nothing.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from keyless.errors import ConfigError


class FileLock:
    """An exclusive lock on ``path`` (created 0600 if missing), held while in a ``with`` block.

    ``timeout`` is how long to wait for another process to let go before
    raising :class:`~keyless.errors.ConfigError` naming the lock file.
    """

    def __init__(self, path: Path, *, timeout: float = 120.0) -> None:
        self.path = path
        self.timeout = timeout
        self._fd: int | None = None

    def acquire(self) -> None:
        """Wait for and take the lock."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            # No symlinks: one planted at the lock path would make keyless
            # create or open whatever file it names.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            raise ConfigError(
                f"{self.path} is a symbolic link; keyless locks only files of its own",
                fix=f"remove {self.path}",
            ) from exc
        deadline = time.monotonic() + self.timeout
        delay = 0.005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise ConfigError(
                        f"another keyless process has held {self.path} for "
                        f"more than {self.timeout:.0f} s",
                        fix="wait for it to finish, or end the stuck keyless process",
                    ) from exc
                # Polling instead of a blocking flock keeps the timeout honest
                # without signals; the delay grows so waiters stay cheap.
                time.sleep(delay)
                delay = min(delay * 2, 0.1)
                continue
            self._fd = fd
            return

    def release(self) -> None:
        """Let go of the lock (idempotent)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def lock_path_for(path: Path) -> Path:
    """The lock file that guards ``path``: ``<path>.lock`` beside it."""
    return path.with_name(path.name + ".lock")
