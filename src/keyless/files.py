"""Writing files atomically with their final mode from the first byte.

Every file keyless writes that a reader may see half-written (credentials,
lab state, keys, exports) goes through :func:`write_atomic`: a temporary file
is created beside the target with ``O_EXCL`` and its final mode — never
written and then chmod-ed, so a secret is never briefly readable by others —
flushed to disk, then renamed over the target with ``os.replace``. A reader
sees the old file or the new one, never a mix. Standard library only: the
``credential-process`` hot path uses it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

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
