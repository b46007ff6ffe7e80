"""`keyless audit` into a pipe, as a CI job logs it: every ARN whole (issue 24 item 7).

An 80-column table cut the finding's resource to ``arn:aws:iam::1111…``: the
one thing a reader of the log needed to act on.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

from offboard_support import ACME, KEYLESS, REPO

BOOTSTRAP = "arn:aws:iam::111111111111:user/lab-admin"


def test_the_audit_table_in_a_pipe_keeps_the_arn_whole(own_lab: Any) -> None:
    environment = {k: v for k, v in os.environ.items() if k != "KEYLESS_WIDE"}
    result = subprocess.run(
        [KEYLESS, "audit", "--spec", str(ACME), "--lab-dir", str(own_lab.state_dir)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=REPO,
        env={**environment, "COLUMNS": "80"},
    )
    assert result.returncode == 0, result.stderr
    assert BOOTSTRAP in result.stdout, result.stdout
    assert "…" not in result.stdout
