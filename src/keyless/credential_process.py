"""``keyless credential-process --profile NAME``: the hot path the AWS CLI and SDKs run.

An AWS profile with ``credential_process = keyless credential-process
--profile NAME`` makes every ``aws`` command and every SDK client start this
process. While the cached credentials of ``NAME`` have more than
:data:`MIN_REMAINING_SECONDS` left, it answers from the cache importing only
``os``, ``sys`` and ``time`` — not even ``json`` or ``datetime``: no boto3,
typer, rich, pydantic or httpx, and not :mod:`keyless.errors` either (its
exception classes were a third of what this answer added to starting Python;
success is ``os.EX_OK``, which ``EXIT_OK`` equals) — which keeps it near the
cost of starting Python at all.

Otherwise it imports the login service, takes the profile's cross-process
lock, looks at the cache again (another process may have just refreshed it),
and signs in once — reusing the kept Okta session, so usually no question is
asked. When a question is needed and there is no terminal, it exits with
:data:`keyless.errors.EXIT_LOGIN_REQUIRED` (4) and names the ``keyless login`` command to run.

``--role``/``--account`` fix the role over the profile's: the profiles ``keyless
login --all-roles`` writes, one per role, each with a cache entry of its own
(:func:`keyless.adapters.cache_file.role_key`).

The cache file (0600, one per profile, three lines) is defined in
:mod:`keyless.adapters.cache_file` and written only by
:mod:`keyless.services.login.wiring`.
"""

# No `from __future__ import annotations` on credential-process's cached path: importing
# __future__ cost more than this module (annotations here are valid at run time anyway).

import os
import sys
import time

from keyless.adapters.cache_file import MIN_REMAINING_SECONDS, read_cached, role_key

_USAGE = "usage: keyless credential-process --profile NAME [--role ROLE] [--account ACCOUNT]\n"
_OPTIONS = {"--profile": "profile", "-p": "profile", "--role": "role", "--account": "account"}


def _parse(args: list[str]) -> dict[str, str] | None:
    """``--profile``/``-p``, ``--role``, ``--account`` (each once, ``--x V`` or ``--x=V``)."""
    found: dict[str, str] = {}
    index = 0
    while index < len(args):
        option, equals, value = args[index].partition("=")
        name = _OPTIONS.get(option)
        if name is None or name in found:
            return None
        if not equals:
            index += 1
            if index == len(args):
                return None
            value = args[index]
        found[name] = value
        index += 1
    return found


def main(argv: list[str] | None = None) -> int:
    """Answer AWS's credential_process protocol for one profile; returns the exit code."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-h", "--help"):
        sys.stdout.write(_USAGE)
        return os.EX_OK
    found = _parse(args)
    if found is None:
        from keyless.errors import EXIT_USAGE

        sys.stderr.write(_USAGE)
        return EXIT_USAGE
    profile = found.get("profile") or os.environ.get("KEYLESS_PROFILE") or "default"
    # A role profile `keyless login --all-roles` wrote fixes its role: a cache entry of its own.
    role, account = found.get("role"), found.get("account")
    cached = read_cached(role_key(profile, role, account))
    if cached is not None and cached[0] - time.time() > MIN_REMAINING_SECONDS and cached[1]:
        sys.stdout.write(cached[1] + "\n")
        return os.EX_OK
    # Slow path: only now pay for the login machinery.
    from keyless.errors import KeylessError
    from keyless.services.login.wiring import refresh_for_process

    try:
        credentials = refresh_for_process(profile, role=role, account=account)
    except KeylessError as error:
        sys.stderr.write(f"keyless: error: {error.message}\n")
        if error.fix:
            sys.stderr.write(f"  fix: {error.fix}\n")
        return error.exit_code
    sys.stdout.write(credentials.process_json() + "\n")
    return os.EX_OK


if __name__ == "__main__":
    sys.exit(main())
