"""The conventions of issue 24 (item 8) on `plan` and `apply`, through the CLI against moto.

`KEYLESS_SPEC` names the spec when `--spec` is absent; `--aws-profile` names the
management account's AWS credentials profile; the old `--profile` still does, for
one release, with a warning naming `--aws-profile`.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from provision_support import KEYLESS, Federation


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KEYLESS, *args],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


def test_plan_and_apply_read_the_spec_from_keyless_spec(
    make_federation: Callable[..., Federation],
) -> None:
    fed = make_federation()
    env = {**fed.env(), "KEYLESS_SPEC": str(fed.spec_path)}

    plan = _run(env, "plan", "--json")
    assert plan.returncode == 0, plan.stderr
    changes = [c for a in json.loads(plan.stdout)["accounts"] for c in a["changes"]]
    assert any(c["action"] == "create" for c in changes)

    applied = _run(env, "apply", "--yes", "--json")
    assert applied.returncode == 0, applied.stderr
    after = _run(env, "plan", "--detailed-exitcode")
    assert after.returncode == 0, after.stdout + after.stderr

    # Without --spec and without the variable, the usage error names both.
    del env["KEYLESS_SPEC"]
    missing = _run(env, "plan")
    assert missing.returncode == 2
    assert "--spec" in missing.stderr
    assert "KEYLESS_SPEC" in missing.stderr


def _profile_only_env(fed: Federation, tmp_path: Path) -> dict[str, str]:
    """The federation's bootstrap key in a credentials-file profile ``mgmt``, and no
    key in the environment: only a command that picks ``mgmt`` can reach AWS."""
    credentials = tmp_path / "aws-credentials"
    credentials.write_text(
        "[mgmt]\n"
        f"aws_access_key_id = {fed.access_key_id}\n"
        f"aws_secret_access_key = {fed.secret_access_key}\n"
    )
    credentials.chmod(0o600)
    env = {
        k: v
        for k, v in fed.env().items()
        if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    }
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=str(credentials),
        AWS_CONFIG_FILE=str(tmp_path / "aws-config"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def test_plan_takes_the_management_profile_from_aws_profile(
    make_federation: Callable[..., Federation], tmp_path: Path
) -> None:
    fed = make_federation()
    env = _profile_only_env(fed, tmp_path)
    spec = str(fed.spec_path)

    without = _run(env, "plan", "--spec", spec)
    assert without.returncode != 0, without.stdout

    plan = _run(env, "plan", "--spec", spec, "--aws-profile", "mgmt", "--json")
    assert plan.returncode == 0, plan.stderr
    assert "deprecated" not in plan.stderr
    assert all(a["error"] is None for a in json.loads(plan.stdout)["accounts"])

    # The old spelling still works this release, and says what replaces it.
    old = _run(env, "plan", "--spec", spec, "--profile", "mgmt", "--json")
    assert old.returncode == 0, old.stderr
    assert "--profile` is deprecated" in old.stderr
    assert "--aws-profile mgmt" in old.stderr
    assert json.loads(old.stdout) == json.loads(plan.stdout)

    both = _run(env, "plan", "--spec", spec, "--profile", "mgmt", "--aws-profile", "other")
    assert both.returncode == 2
    assert "disagree" in both.stderr

    lab = _run(env, "plan", "--spec", spec, "--aws-profile", "mgmt", "--lab")
    assert lab.returncode == 2
    assert "--aws-profile and --lab are exclusive" in lab.stderr
