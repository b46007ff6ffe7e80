"""`keyless spec ...` driven as a user runs it: the installed console script, exit codes, output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
KEYLESS = str(Path(sys.executable).parent / "keyless")


def keyless(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KEYLESS, *args], capture_output=True, text=True, input=stdin, timeout=60, check=False
    )


def test_validate_example_exits_zero() -> None:
    result = keyless("spec", "validate", str(REPO / "examples" / "acme.yaml"))
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout
    assert "3 accounts" in result.stdout


@pytest.mark.parametrize(
    ("old", "new", "expected"),  # expected: after FILE:LINE (None: a YAML error there)
    [
        ('id: "222222222222"', 'id: "22222222222"', ": accounts[1].id: must be 12 digits"),
        (
            "accounts: [acme-prod, acme-dev]\n    description: Full",
            "accounts: [acme-prd, acme-dev]\n    description: Full",
            ": roles[0].accounts[0]: unknown account alias 'acme-prd'",
        ),
        (
            "alias: acme-dev",
            "alias: acme-prod",
            ": accounts[2].alias: duplicate account alias 'acme-prod'",
        ),
        (
            "max_session_duration: 3600",
            "max_session_duration: 50000",
            ": roles[0].max_session_duration:",
        ),
        ("session:\n", "session: [\n", None),
    ],
    ids=["eleven-digit-id", "unknown-alias", "duplicate-alias", "duration-50000", "invalid-yaml"],
)
def test_broken_specs_exit_two_naming_line_and_path(
    tmp_path: Path, old: str, new: str, expected: str | None
) -> None:
    text = (REPO / "examples" / "acme.yaml").read_text()
    assert old in text
    # The message names the line the broken value is on (counted here, not pinned).
    line = text[: text.index(old)].count("\n") + 1
    broken = tmp_path / "broken.yaml"
    broken.write_text(text.replace(old, new, 1))
    result = keyless("spec", "validate", str(broken))
    assert result.returncode == 2
    if expected is None:  # the parser names the line where it noticed, after the break
        assert f"{broken}:" in result.stderr
        assert "invalid YAML" in result.stderr
    else:
        assert f"{broken}:{line}{expected}" in result.stderr
    assert result.stdout == ""


def test_validate_json_lists_problems(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    text = (REPO / "examples" / "acme.yaml").read_text()
    broken.write_text(text.replace('"333333333333"', '"3"'))
    result = keyless("spec", "validate", str(broken), "--json")
    assert result.returncode == 2
    document = json.loads(result.stdout)
    assert document["valid"] is False
    (problem,) = document["problems"]
    assert problem["path"] == "accounts[2].id"
    assert problem["line"] == text[: text.index('"333333333333"')].count("\n") + 1
    assert problem["file"] == str(broken)


def test_show_json_lists_roles_and_groups_per_account() -> None:
    result = keyless("spec", "show", str(REPO / "examples" / "acme.yaml"), "--json")
    assert result.returncode == 0, result.stderr
    accounts = {a["alias"]: a for a in json.loads(result.stdout)["accounts"]}
    assert set(accounts) == {"acme-management", "acme-prod", "acme-dev"}
    prod = {r["name"]: r for r in accounts["acme-prod"]["roles"]}
    assert set(prod) == {"OktaAdminRole", "ReadOnly"}
    assert prod["OktaAdminRole"]["arn"] == "arn:aws:iam::222222222222:role/OktaAdminRole"
    assert "aws-admins" in prod["OktaAdminRole"]["groups"]
    dev = {r["name"]: r for r in accounts["acme-dev"]["roles"]}
    assert "developers" in dev["Developer"]["groups"]
    assert "developers" not in prod["OktaAdminRole"]["groups"]


def test_show_renders_tables_for_people() -> None:
    result = keyless("spec", "show", str(REPO / "examples" / "acme.yaml"))
    assert result.returncode == 0, result.stderr
    assert "acme-prod (222222222222, prod)" in result.stdout
    assert "OktaAdminRole" in result.stdout


def test_groups_json_is_the_grant_table() -> None:
    result = keyless("spec", "groups", str(REPO / "examples" / "acme.yaml"), "--json")
    grants = json.loads(result.stdout)["grants"]
    explicit = {
        (g["group"], g["account_alias"], g["role"]) for g in grants if g["source"] == "mapping"
    }
    assert explicit == {
        ("aws-admins", "acme-prod", "OktaAdminRole"),
        ("aws-admins", "acme-dev", "OktaAdminRole"),
        ("developers", "acme-dev", "Developer"),
        ("auditors", "acme-management", "ReadOnly"),
        ("auditors", "acme-prod", "ReadOnly"),
        ("auditors", "acme-dev", "ReadOnly"),
    }


def test_schema_is_json_schema_for_the_spec() -> None:
    result = keyless("spec", "schema")
    schema = json.loads(result.stdout)
    assert schema["type"] == "object"
    assert {"identity_provider", "accounts", "roles"} <= set(schema["properties"])
    assert "identity_provider" in schema["required"]


def test_verbose_shows_cause_and_missing_file_exits_two(tmp_path: Path) -> None:
    result = keyless("--verbose", "spec", "validate", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert "no such spec file" in result.stderr
    assert "caused by: FileNotFoundError" in result.stderr


def test_unknown_option_is_a_usage_error() -> None:
    result = keyless("spec", "validate", "--frobnicate")
    assert result.returncode == 2


def test_groups_and_show_print_bracketed_group_names_whole(tmp_path: Path) -> None:
    """Regression: rich read `[admins]` in a group name as markup and printed `aws-`,
    and an 80-column table cut convention group names to `aws#acme-prod#OktaAdm…`."""
    text = (REPO / "examples" / "acme.yaml").read_text()
    spec = tmp_path / "brackets.yaml"
    spec.write_text(
        text.replace("group: aws-admins", 'group: "aws-[admins]"').replace(
            "groups: [aws-admins]", 'groups: ["aws-[admins]"]'
        )
    )
    groups = keyless("spec", "groups", str(spec))
    assert groups.returncode == 0, groups.stderr
    assert "aws-[admins]" in groups.stdout
    assert "…" not in groups.stdout
    # Folded cells: the whole name is there, read column by column.
    first_column = "".join(
        line.split("│")[1].strip() for line in groups.stdout.splitlines() if "│" in line
    )
    assert "aws#acme-management#ReadOnly#111111111111" in first_column
    show = keyless("spec", "show", str(spec))
    assert show.returncode == 0, show.stderr
    assert "aws-[admins]" in show.stdout
    assert "…" not in show.stdout


def test_missing_or_directory_spec_names_the_path_without_suggesting_spec_flag(
    tmp_path: Path,
) -> None:
    missing = keyless("spec", "validate", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2
    assert "--spec" not in missing.stderr
    assert "check the path" in missing.stderr
    directory = keyless("spec", "validate", str(tmp_path))
    assert directory.returncode == 2
    assert f"{tmp_path}: is a directory, not a spec file" in directory.stderr
