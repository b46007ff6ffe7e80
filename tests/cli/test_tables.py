"""Tables piped to a file or a CI log keep every cell whole (issue 24 item 7).

Rich cut a cell that did not fit 80 columns to "…" (or, with folding, broke a
group name over three lines), so what a log showed could not be grepped or
pasted. Now no word is broken off a terminal, and ``keyless --wide`` (or
``KEYLESS_WIDE=1``) prints each row on one line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KEYLESS = str(Path(sys.executable).parent / "keyless")
ALIAS = "acme-platform-engineering-production-eu-west"
ROLE = "PlatformEngineeringAdministrator"
GROUP = f"aws#{ALIAS}#{ROLE}#222222222222"  # 92 characters: longer than the 80 of a pipe


def keyless(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "KEYLESS_WIDE"}
    return subprocess.run(
        [KEYLESS, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**environment, "COLUMNS": "80", **env},
    )


def _spec(tmp_path: Path) -> Path:
    text = (REPO / "examples" / "acme.yaml").read_text()
    spec = tmp_path / "long.yaml"
    spec.write_text(
        text.replace("acme-prod", ALIAS)
        .replace("name: OktaAdminRole", f"name: {ROLE}")
        .replace("role: OktaAdminRole", f"role: {ROLE}")
    )
    return spec


def test_a_piped_table_keeps_a_long_name_whole(tmp_path: Path) -> None:
    result = keyless("spec", "groups", str(_spec(tmp_path)))
    assert result.returncode == 0, result.stderr
    assert GROUP in result.stdout, result.stdout
    assert "…" not in result.stdout


def test_wide_prints_every_row_on_one_line(tmp_path: Path) -> None:
    spec = str(_spec(tmp_path))
    wide = keyless("--wide", "spec", "groups", spec)
    assert wide.returncode == 0, wide.stderr
    row = next(line for line in wide.stdout.splitlines() if GROUP in line)
    for word in (ALIAS, ROLE, "convention"):
        assert word in row, wide.stdout
    # The environment variable says the same for every command of a CI job.
    assert keyless("spec", "groups", spec, KEYLESS_WIDE="1").stdout == wide.stdout
    # A global option works after the command too, like -v.
    assert keyless("spec", "groups", spec, "--wide").stdout == wide.stdout
    # Without it, the same row wraps its cells (at spaces) rather than printing as one line.
    narrow = keyless("spec", "groups", spec).stdout
    assert narrow != wide.stdout


def test_column_widths_never_go_below_the_longest_word() -> None:
    from keyless.cli.output import table_widths

    # Room for everything: every column at its longest line.
    assert table_widths([3, 5], [10, 20], 40) == [10, 20]
    # Tight: the room left after the longest words goes to the columns that wrap.
    assert table_widths([3, 5], [10, 20], 18) == [6, 12]
    # Too tight even for the longest words: wider than asked, no word broken.
    assert table_widths([30, 40], [60, 90], 50) == [30, 40]
