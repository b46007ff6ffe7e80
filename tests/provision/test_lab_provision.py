"""`keyless apply --lab` and `keyless plan --lab` against the session's running lab.

The lab is shared by every test area, so only idempotent steps run here: applying
the spec the lab was started with, then a plan that must show no changes. The
destructive scenarios (conflicts, a missing access role) run on moto accounts of
their own in test_cli_provision.py.
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

from provision_support import ACME, KEYLESS


def _keyless(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        [KEYLESS, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_apply_then_plan_against_the_lab(lab: Any) -> None:
    state = str(lab.state_dir)
    applied = _keyless("apply", "--spec", str(ACME), "--lab-state-dir", state, "--yes")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    plan = _keyless("plan", "--spec", str(ACME), "--lab-state-dir", state, "--detailed-exitcode")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    document = json.loads(
        _keyless("plan", "--spec", str(ACME), "--lab-state-dir", state, "--json").stdout
    )
    assert [a["alias"] for a in document["accounts"]] == [
        "acme-management",
        "acme-prod",
        "acme-dev",
    ]
    assert all(a["error"] is None and a["changes"] == [] for a in document["accounts"]), document


def test_plan_with_a_stopped_lab_says_so(lab: Any, tmp_path: Any) -> None:
    """Regression: lab.json outlives the lab, and a stopped lab surfaced as
    "cannot download the IdP metadata ...: Connection refused" (exit 3)."""
    (tmp_path / "lab.json").write_text((lab.state_dir / "lab.json").read_text())
    plan = _keyless("plan", "--spec", str(ACME), "--lab-state-dir", str(tmp_path))
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert f"error: no lab is running in {tmp_path}" in plan.stderr
    assert f"`keyless lab up --spec {ACME} --lab-dir {tmp_path}`" in plan.stderr
    assert plan.stdout == ""
