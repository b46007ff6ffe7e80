"""One set of conventions (issue 24, item 8), driven through the console script.

`--spec FILE` (or `KEYLESS_SPEC`) on every command that reads a spec, the
`spec` commands' positional FILE kept as the same thing; `-v` before or after
the command; `offboard` refuses to act without a terminal to ask on or `--yes`.
(`plan`/`apply` with `KEYLESS_SPEC` and `--aws-profile`: tests/provision/test_cli_conventions.py.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ACME = str(REPO / "examples" / "acme.yaml")
KEYLESS = str(Path(sys.executable).parent / "keyless")


def keyless(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KEYLESS, *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("command", ["validate", "show", "groups"])
def test_spec_commands_take_file_spec_or_keyless_spec(command: str) -> None:
    positional = keyless("spec", command, ACME, "--json")
    assert positional.returncode == 0, positional.stderr
    option = keyless("spec", command, "--spec", ACME, "--json")
    assert option.returncode == 0, option.stderr
    short = keyless("spec", command, "-s", ACME, "--json")
    from_env = keyless("spec", command, "--json", env={"KEYLESS_SPEC": ACME})
    assert from_env.returncode == 0, from_env.stderr
    assert json.loads(positional.stdout) == json.loads(option.stdout)
    assert json.loads(short.stdout) == json.loads(from_env.stdout) == json.loads(option.stdout)


def test_a_typed_file_wins_over_keyless_spec(tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(Path(ACME).read_text().replace("name: acme", "name: other", 1))
    result = keyless("spec", "validate", ACME, "--json", env={"KEYLESS_SPEC": str(other)})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["name"] == "acme"


def test_two_different_specs_and_none_are_usage_errors(tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(Path(ACME).read_text())
    both = keyless("spec", "validate", ACME, "--spec", str(other))
    assert both.returncode == 2
    assert "two specs named" in both.stderr
    env = {k: "" for k in ("KEYLESS_SPEC",)}
    none = keyless("spec", "validate", env=env)
    assert none.returncode == 2
    assert "--spec FILE" in none.stderr
    assert "KEYLESS_SPEC" in none.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["-v", "spec", "validate", "missing.yaml"],
        ["spec", "validate", "missing.yaml", "-v"],
        ["spec", "-v", "validate", "missing.yaml"],
        ["spec", "validate", "--verbose", "missing.yaml"],
    ],
    ids=["before", "after", "between", "long-after"],
)
def test_verbose_works_anywhere_on_the_line(args: list[str], tmp_path: Path) -> None:
    quiet = subprocess.run(
        [KEYLESS, "spec", "validate", "missing.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert quiet.returncode == 2
    assert "caused by" not in quiet.stderr
    result = subprocess.run(
        [KEYLESS, *args], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 2, result.stderr
    assert "caused by: FileNotFoundError" in result.stderr


def test_exec_passes_unknown_options_to_its_command_as_before() -> None:
    """`exec` hands what it does not know to CMD, so -v there stays CMD's, not keyless's."""
    assert "--verbose" not in keyless("exec", "--help").stdout
    assert "--verbose" in keyless("plan", "--help").stdout


def test_offboard_refuses_without_a_terminal_or_yes() -> None:
    result = keyless("offboard", "alice@acme.example", "--spec", ACME)
    assert result.returncode == 2
    assert "nothing was changed" in result.stderr
    assert "--yes" in result.stderr


@pytest.mark.parametrize("command", ["plan", "apply", "audit", "offboard"])
def test_commands_that_act_on_accounts_name_aws_profile(command: str) -> None:
    shown = keyless(command, "--help").stdout
    assert "--aws-profile" in shown
    assert "KEYLESS_SPEC" in shown
    # The deprecated spelling works (tests/provision) but is not offered.
    assert "--profile" not in shown.replace("--aws-profile", "")


def test_export_reads_the_spec_from_keyless_spec(tmp_path: Path) -> None:
    out = tmp_path / "cfn"
    result = keyless("export", "cloudformation", "--out", str(out), env={"KEYLESS_SPEC": ACME})
    assert result.returncode == 0, result.stderr
    assert (out / "README.md").exists()
