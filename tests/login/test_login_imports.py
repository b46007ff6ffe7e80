"""What a sign-in imports: no boto3, no provisioning code; with the spec hints kept, no pydantic.

``AssumeRoleWithSAML`` is an unsigned call (keyless.adapters.sts does it over
httpx), so ``keyless login`` and a ``credential-process`` refresh need none of
the provisioning side. The probe is the console script's entry point with an
exit hook that reports ``sys.modules``; the lab is real (IdP over HTTPS, strict STS).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from keyless.adapters.credential_cache import CredentialCache

pytestmark = pytest.mark.slow

PROBE = (
    "import atexit, sys; "
    "atexit.register(lambda: sys.stderr.write('\\nMODULES ' + ' '.join(sorted(sys.modules)))); "
    "from keyless.cli.main import run; run()"
)
NOT_ON_THE_SIGN_IN_PATH = (
    "boto3",
    "botocore",
    "moto",
    "keyless.services.provision.accounts",
    "keyless.adapters.aws",
    "keyless.plan",
    "keyless.cli.provision",
    "keyless.export",
)


def run_probed(
    *args: str, input: str | None = None
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        start_new_session=True,  # no terminal, as a script runs it
        timeout=120,
        check=False,
    )
    head, _, report = result.stderr.rpartition("\nMODULES ")
    return result, set(report.split()) if head or report else set()


def _unwanted(modules: set[str]) -> set[str]:
    return {
        name
        for name in modules
        for banned in NOT_ON_THE_SIGN_IN_PATH
        if name == banned or name.startswith(banned + ".")
    }


def test_sign_in_and_refresh_import_no_provisioning_code(
    provisioned_lab: Any, make_user: Any
) -> None:
    user = make_user()
    configured, _ = run_probed(
        "configure",
        "--profile",
        "lean",
        "--lab",
        "--lab-state-dir",
        str(provisioned_lab.state_dir),
        "--username",
        user.login,
        "--role",
        "Developer",
        "--account",
        "acme-dev",
    )
    assert configured.returncode == 0, configured.stderr
    result, modules = run_probed(
        "login",
        "--profile",
        "lean",
        "--password-stdin",
        "--mfa-code",
        user.totp(),
        input=user.password + "\n",
    )
    assert result.returncode == 0, result.stderr
    assert "keyless.adapters.sts" in modules  # the call really went through the lean path
    assert _unwanted(modules) == set()

    # Again, within the kept Okta session: the spec's hints are kept by now, so nothing
    # needs pydantic. typer read every option through a pydantic adapter (issue 20: 55 ms
    # of a 265 ms sign-in).
    again, modules = run_probed("login", "--profile", "lean", "--role", "Developer")
    assert again.returncode == 0, again.stderr
    assert "keyless.adapters.sts" in modules
    assert _unwanted(modules) == set()
    assert {name.split(".")[0] for name in modules} & {"pydantic", "pydantic_core"} == set()

    # credential-process: stale cache, refreshed through the kept Okta session.
    cache = CredentialCache()
    cached = cache.load("lean")
    assert cached is not None
    cache.store("lean", replace(cached, expiration=datetime.now(UTC) - timedelta(minutes=1)))
    refreshed, modules = run_probed("credential-process", "--profile", "lean")
    assert refreshed.returncode == 0, refreshed.stderr
    assert '"AccessKeyId"' in refreshed.stdout
    assert "keyless.services.login.wiring" in modules
    assert _unwanted(modules) == set()
