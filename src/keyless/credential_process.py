"""``keyless credential-process --profile NAME``: the hot path the AWS CLI and SDKs run.

An AWS profile with ``credential_process = keyless credential-process
--profile NAME`` makes every ``aws`` command and every SDK client start this
process. While the cached credentials of ``NAME`` have more than
:data:`MIN_REMAINING_SECONDS` left, it answers from the cache importing only
``os``, ``sys`` and ``time`` — not even ``json`` or ``datetime``: no boto3,
typer, rich, pydantic or httpx — which keeps it near the cost of starting
Python at all.

Otherwise it imports the login service, takes the profile's cross-process
lock, looks at the cache again (another process may have just refreshed it),
and signs in once — reusing the kept Okta session, so usually no question is
asked. When a question is needed and there is no terminal, it exits with
:data:`EXIT_LOGIN_REQUIRED` and names the ``keyless login`` command to run.

The cache file (0600, one per profile) is defined here, once, and written by
:class:`keyless.services.credentials.CredentialCache`. Three lines, so the hot
path needs no parser::

    1735732800                      <- expiry, Unix seconds
    {"Version": 1, "AccessKeyId": ...}   <- the credential_process answer, verbatim
    {"RoleArn": ..., "AccountId": ...}   <- what whoami shows
"""

from __future__ import annotations

import os
import sys
import time

from keyless import paths

# Refresh when fewer than five minutes remain: AWS SDKs themselves start
# refreshing process credentials 15 down to 5 minutes before expiry.
MIN_REMAINING_SECONDS = 300
EXIT_LOGIN_REQUIRED = 4

_USAGE = "usage: keyless credential-process --profile NAME\n"


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


def main(argv: list[str] | None = None) -> int:
    """Answer AWS's credential_process protocol for one profile; returns the exit code."""
    args = sys.argv[1:] if argv is None else argv
    profile = os.environ.get("KEYLESS_PROFILE") or "default"
    if args and args[0] in ("-h", "--help"):
        sys.stdout.write(_USAGE)
        return 0
    if len(args) == 2 and args[0] in ("--profile", "-p"):
        profile = args[1]
    elif len(args) == 1 and args[0].startswith("--profile="):
        profile = args[0].split("=", 1)[1]
    elif args:
        sys.stderr.write(_USAGE)
        return 2
    cached = read_cached(profile)
    if cached is not None and cached[0] - time.time() > MIN_REMAINING_SECONDS and cached[1]:
        sys.stdout.write(cached[1] + "\n")
        return 0
    # Slow path: only now pay for the login machinery.
    from keyless.services.credentials import refresh_for_process

    return refresh_for_process(profile)


if __name__ == "__main__":
    sys.exit(main())
