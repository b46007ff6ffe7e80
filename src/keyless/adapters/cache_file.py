"""The credential cache's files: where they are and how the hot path reads one.

``os`` only — not ``json``, ``datetime`` or :mod:`pathlib` — because
``keyless credential-process`` reads a cache file here before anything else
is imported, and its answer must cost about as much as starting Python.
:mod:`keyless.adapters.credential_cache` writes the files.

One 0600 file per profile under ``$XDG_CACHE_HOME/keyless/aws``; three lines,
so the hot path needs no parser::

    1735732800                      <- expiry, Unix seconds
    {"Version": 1, "AccessKeyId": ...}   <- the credential_process answer, verbatim
    {"RoleArn": ..., "AccountId": ...}   <- what whoami shows
"""

# No `from __future__ import annotations` on credential-process's cached path: importing
# __future__ cost more than this module (annotations here are valid at run time anyway).

import os

from keyless.core import paths

# Refresh when fewer than five minutes remain: AWS SDKs themselves start
# refreshing process credentials 15 down to 5 minutes before expiry.
MIN_REMAINING_SECONDS = 300


def cache_dir() -> str:
    """``$XDG_CACHE_HOME/keyless/aws`` (or ``~/.cache/keyless/aws``)."""
    return os.path.join(paths.cache_dir(), "aws")


def safe_name(profile: str) -> str:
    """``profile`` as a file name: unusual characters become ``%xx`` per UTF-8 byte.

    Fixed-width escapes keep the mapping one-to-one (and ``urllib.parse.unquote``
    reverses it): two profiles never share a cache file.
    """
    return "".join(
        ch
        if ch.isalnum() or ch in "._-"
        else "".join(f"%{b:02x}" for b in ch.encode("utf-8", "surrogatepass"))
        for ch in profile
    )


def role_key(profile: str, role: str | None, account: str | None) -> str:
    """The cache entry of ``profile`` with its role fixed (``credential-process --role/--account``).

    Every role profile ``keyless login --all-roles`` writes refreshes on its own
    and so needs an entry of its own. ``profile[account/role]`` cannot be a
    profile's own name (profile names hold no ``[``), and :func:`base_profile`
    reads the profile back.
    """
    if role is None and account is None:
        return profile
    return f"{profile}[{account or ''}/{role or ''}]"


def base_profile(key: str) -> str:
    """The keyless profile a cache entry belongs to (see :func:`role_key`)."""
    return key.split("[", 1)[0]


def cache_file(profile: str) -> str:
    """The cache file of ``profile``."""
    return os.path.join(cache_dir(), safe_name(profile) + ".cache")


def lock_file(profile: str) -> str:
    """The lock file taken while ``profile``'s credentials are refreshed."""
    return os.path.join(cache_dir(), safe_name(profile) + ".lock")


def read_cached(profile: str) -> tuple[float, str, str] | None:
    """(expiry in Unix seconds, credential_process JSON, metadata JSON), or None.

    Only a file keyless wrote for this user counts: in a directory of ours
    that others cannot write, not a symlink, ours, 0600. Anything else (a
    shared or pre-created cache directory, a planted file) reads as a miss,
    and the refresh that follows refuses the directory with a message.
    """
    try:
        directory = os.stat(cache_dir())
        if directory.st_uid != os.geteuid() or directory.st_mode & 0o022:
            return None
        fd = os.open(
            cache_file(profile), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        )
        with open(fd, encoding="utf-8") as handle:
            info = os.fstat(fd)
            # A regular file (0o100000) with no group or other bits.
            if info.st_uid != os.geteuid() or (info.st_mode & 0o170077) != 0o100000:
                return None
            text = handle.read()
        expires, answer, meta = [*text.split("\n"), "", ""][:3]
        return float(expires), answer, meta
    except (OSError, ValueError):
        return None
