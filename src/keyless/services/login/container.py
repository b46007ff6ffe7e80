"""``keyless exec --ecs-server -- CMD``: CMD's SDKs fetch and refresh the profile's
credentials from a container credentials endpoint on loopback, as an ECS task's do.

Plain ``keyless exec`` hands CMD one set of keys that expire with the session;
a notebook or a long job then fails an hour later. Here CMD gets
``AWS_CONTAINER_CREDENTIALS_FULL_URI`` and a random
``AWS_CONTAINER_AUTHORIZATION_TOKEN`` instead of keys
(:mod:`keyless.adapters.container_endpoint`), and every request is answered
by the same cached provider ``credential-process`` uses
(:class:`~keyless.services.login.wiring.CachedProvider`): from the cache while
more than five minutes remain, else a login through the kept Okta session.

A login that needs a person happens before CMD starts, on the terminal; later
refreshes never prompt (CMD owns the terminal then): when the Okta session
has ended, the endpoint answers 503, keyless says on stderr which ``keyless
login`` to run in another terminal, and the SDK's next refresh succeeds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from types import FrameType

from keyless.adapters.container_endpoint import ContainerEndpoint
from keyless.adapters.credentials_file import (
    aws_config_path,
    aws_credentials_path,
    config_section,
    read_ini,
)
from keyless.adapters.terminal import NonInteractivePrompter
from keyless.core.ports import Prompter
from keyless.errors import ConfigError, InputError, KeylessError
from keyless.services.login.access import container_variables, replace_aws_variables
from keyless.services.login.profiles import Settings
from keyless.services.login.wiring import CachedProvider, LoginProvider, credentials_for

# Signals a person or a supervisor sends to stop what `keyless exec` runs.
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM)

# What makes an SDK's default chain stop before the container provider (botocore's
# order: environment, then the profile's role, web identity, SSO, shared credentials,
# credential_process and config-file keys, all before the container endpoint).
_SHADOWING_KEYS = (
    "aws_access_key_id",
    "credential_process",
    "role_arn",
    "web_identity_token_file",
    "sso_session",
    "sso_start_url",
)


def run_with_container_endpoint(
    settings: Settings, command: list[str], environ: Mapping[str, str], *, prompter: Prompter
) -> int:
    """Run ``command`` with the profile's credentials served on loopback; its exit code.

    The endpoint lives exactly as long as ``command``; SIGINT and SIGTERM sent
    to keyless go on to ``command``. A command killed by signal N gives
    128 + N, as shells report it.
    """
    # Ask now, while the person is at the terminal: the first answer then comes from the cache.
    credentials_for(settings, prompter=prompter)
    provider = CachedProvider(
        LoginProvider(
            settings,
            prompter=NonInteractivePrompter(mode="credential-process", profile=settings.profile),
        ),
        profile=settings.profile,
    )
    for note in shadowing_profiles():
        _say(note)
    with ContainerEndpoint(provider.retrieve, on_error=_Teller()) as endpoint:
        env = replace_aws_variables(
            settings,
            dict(environ),
            container_variables(settings, endpoint.url, endpoint.token),
        )
        return run_forwarding_signals(command, env)


def run_forwarding_signals(command: list[str], env: dict[str, str]) -> int:
    """Run ``command``, passing SIGINT and SIGTERM on; its exit code (128 + N for signal N)."""
    child: list[subprocess.Popen[bytes]] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        if not child:
            return
        # Ctrl-C at the terminal already reached CMD (it shares our foreground process
        # group); a second SIGINT would interrupt its handling of the first.
        if signum == signal.SIGINT and _terminal_sent_it():
            return
        with contextlib.suppress(ProcessLookupError):  # it has just exited
            child[0].send_signal(signum)

    # Installed before the child exists: a signal in between must not kill keyless
    # (and the endpoint) and leave CMD running without it.
    previous = {signum: signal.signal(signum, forward) for signum in FORWARDED_SIGNALS}
    try:
        try:
            child.append(subprocess.Popen(command, env=env))  # noqa: S603 - the user's command
        except FileNotFoundError as exc:
            raise InputError(f"command not found: {command[0]}", fix="check the command") from exc
        except PermissionError as exc:
            raise InputError(
                f"command not executable: {command[0]}", fix="check the command"
            ) from exc
        code = child[0].wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 128 - code if code < 0 else code


def shadowing_profiles() -> list[str]:
    """Notes on ``default`` profiles whose credentials SDKs would take before the endpoint.

    CMD's environment names no profile, so SDKs read ``[default]`` of the AWS
    files first; credentials there win over the container endpoint.
    """
    notes = []
    for path, section in (
        (aws_credentials_path(), "default"),
        (aws_config_path(), config_section("default")),
    ):
        try:
            values = read_ini(path).get(section) or {}
        except ConfigError:
            continue  # a broken file is reported by whatever reads it next
        found = [key for key in _SHADOWING_KEYS if key in values]
        if found:
            notes.append(
                f"[{section}] in {path} sets {', '.join(found)}: SDKs in the command "
                "use that before the endpoint (remove it, or use plain `keyless exec`)"
            )
    return notes


def _terminal_sent_it() -> bool:
    """True when keyless is in its terminal's foreground process group (Ctrl-C hit it all)."""
    for stream in (sys.stdin, sys.stderr):
        try:
            return os.tcgetpgrp(stream.fileno()) == os.getpgrp()
        except (OSError, ValueError, AttributeError):
            continue
    return False


class _Teller:
    """Tells the person why a refresh failed, once per reason (SDKs retry at once)."""

    def __init__(self) -> None:
        self.last: str | None = None

    def __call__(self, error: KeylessError) -> None:
        if str(error) == self.last:
            return
        self.last = str(error)
        _say(f"cannot refresh the credentials: {error.message}")
        if error.fix:
            _say(f"  fix: {error.fix}")


def _say(message: str) -> None:
    sys.stderr.write(f"keyless exec: {message}\n")
    sys.stderr.flush()
