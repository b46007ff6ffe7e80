"""`configure --lab` and `plan --lab` refuse a lab.json left behind by a lab that stopped."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from login_support import keyless


def test_configure_against_a_stopped_lab_says_none_is_running(lab: Any, tmp_path: Path) -> None:
    """Regression: configure --lab wrote a profile with the stopped lab's dead URLs, and the
    next login failed with 'connection refused' instead of saying the lab was down."""
    leftover = dataclasses.replace(lab, state_dir=tmp_path)
    leftover.save()  # a lab.json with nobody holding the lab's lock: a stopped lab
    result = keyless("configure", "--profile", "stale", "--lab", "--lab-state-dir", str(tmp_path))
    assert result.returncode == 2, result.stderr
    assert f"no lab is running in {tmp_path}" in result.stderr
    assert f"keyless lab up --spec {lab.spec_path} --lab-dir {tmp_path}" in result.stderr
    config = Path.home() / ".config" / "keyless" / "config.toml"
    assert not config.exists() or "stale" not in config.read_text()
