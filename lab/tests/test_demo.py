"""`keyless demo` as `make demo` runs it: the whole flow, real servers, nothing left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
KEYLESS = str(Path(sys.executable).parent / "keyless")


def _lab_children(under: Path) -> list[str]:
    """Lab AWS processes whose state dir is under ``under`` (other runs on the machine aside)."""
    result = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=False)
    return [
        line
        for line in result.stdout.splitlines()
        if "keyless_lab.aws" in line and str(under) in line
    ]


@pytest.mark.slow
def test_demo_runs_the_whole_flow_and_leaves_nothing(tmp_path: Path) -> None:
    # The demo's temporary lab dir goes under tmp_path, so only its own processes count.
    result = subprocess.run(
        [KEYLESS, "demo", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    steps = {step["key"]: step for step in report["steps"]}
    assert list(steps) == ["lab", "apply", "login", "roles", "tamper", "enforce", "audit"]
    assert all(step["ok"] for step in steps.values())
    assert steps["login"]["arn"] == (
        "arn:aws:sts::222222222222:assumed-role/OktaAdminRole/alice@acme.example"
    )
    assert 3300 < steps["login"]["expires_in_seconds"] <= 3600
    assert set(steps["roles"]["roles"]) == {
        "arn:aws:iam::222222222222:role/OktaAdminRole",
        "arn:aws:iam::333333333333:role/OktaAdminRole",
    }
    assert steps["tamper"]["refused"] is True
    assert steps["enforce"]["refused"] is True
    assert steps["enforce"]["arn"].endswith(":assumed-role/Developer/bob@acme.example")
    assert {key["user"] for key in steps["audit"]["static_keys"]} <= {
        "lab-admin",
        "OktaProvisioningUser",
    }
    # No secret on stdout: access key ids are masked, no secret keys at all.
    assert "SecretAccessKey" not in result.stdout
    assert "ASIA****" in result.stdout
    home = Path(os.environ["HOME"])
    assert not (home / ".aws").exists()
    assert _lab_children(tmp_path) == []
    assert list(tmp_path.iterdir()) == []


def test_demo_for_people_narrates_each_step() -> None:
    result = subprocess.run(
        [KEYLESS, "demo"], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "assumed-role/OktaAdminRole/alice@acme.example" in result.stdout
    assert "InvalidIdentityToken" in result.stdout
    assert "AccessDenied" in result.stdout
    assert "all steps behaved as federation should" in result.stdout


def test_demo_without_the_example_users_says_what_to_run(tmp_path: Path) -> None:
    spec = (REPO / "examples" / "acme.yaml").read_text().replace("bob@acme.example", "bo@x.example")
    path = tmp_path / "no-bob.yaml"
    path.write_text(spec)
    result = subprocess.run(
        [KEYLESS, "demo", "--spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "no lab user bob@acme.example" in result.stderr
