"""Writing files atomically with their final mode from the first byte.

Every file keyless writes that a reader may see half-written (credentials,
lab state, keys, exports) goes through :func:`write_atomic`: a temporary file
is created beside the target with ``O_EXCL`` and its final mode — never
written and then chmod-ed, so a secret is never briefly readable by others —
flushed to disk, then renamed over the target with ``os.replace``. A reader
sees the old file or the new one, never a mix. Standard library (and
:mod:`keyless.errors`) only: the ``credential-process`` refresh uses it.

:func:`private_dir` and :func:`read_private` are the other half: the
directories and files secrets live in must be ours, and a symlink or a file
planted by someone else is never read as a secret.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

from keyless.errors import ConfigError

PRIVATE = 0o600
PUBLIC = 0o644


def write_atomic(
    path: Path, data: bytes, *, mode: int = PRIVATE, make_parents: bool = False
) -> None:
    """Replace ``path`` with ``data`` atomically, the file in ``mode`` (0600) throughout."""
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    # pid + random: two threads or processes writing the same file never collide.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def private_dir(path: Path) -> Path:
    """Create ``path`` 0700, or check that it is a directory of ours; returns it.

    A directory another user owns (a shared or pre-created ``$XDG_CACHE_HOME``)
    is refused: its owner could plant or swap the files keyless trusts. One of
    ours that others may enter is tightened to 0700.
    """
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = os.stat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise ConfigError(
            f"{path} is owned by uid {info.st_uid}, not by you; keyless keeps no secrets there",
            fix=f"remove {path}, or point XDG_CACHE_HOME / XDG_STATE_HOME at a directory of yours",
        )
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, 0o700)
    return path


def read_private(path: Path) -> bytes | None:
    """The bytes of ``path`` if it is a regular file of ours that only we can use, else None.

    A symlink is not followed, and a file someone else owns or may write is
    ignored as if absent: keyless never trusts a secret it did not write.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None
        raise
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if (
            not stat.S_ISREG(info.st_mode)
            or info.st_uid != os.geteuid()
            or stat.S_IMODE(info.st_mode) & 0o077
        ):
            return None
        return handle.read()
