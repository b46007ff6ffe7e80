"""Exit codes: one meaning each, all in ``keyless.errors``, and the README's table says the same.

Regression for issue 10 item 3: ``plan --detailed-exitcode`` exited 3 both for
"changes pending" and for "AWS unreachable", so a pipeline that applies on 3
applied during an outage.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from keyless import errors
from keyless_lab.saml.keys import SigningKey
from keyless_lab.saml.metadata import build_idp_metadata

REPO = Path(__file__).resolve().parents[2]
# The console script beside the interpreter running the tests (any venv, any checkout).
KEYLESS = str(Path(sys.executable).parent / "keyless")


def _constants() -> dict[str, int]:
    return {
        name: value
        for name, value in vars(errors).items()
        if name.startswith("EXIT_") and isinstance(value, int)
    }


def _readme_table() -> dict[int, str]:
    text = (REPO / "README.md").read_text()
    section = text.split("\n## Exit codes\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\|\s*(\d+)\s*\|\s*(.+?)\s*\|\s*$", section, re.MULTILINE)
    assert rows, "no exit-code table under '## Exit codes' in the README"
    table = {int(code): meaning for code, meaning in rows}
    assert len(table) == len(rows), "a code appears twice in the README's table"
    return table


def test_each_exit_code_has_one_constant() -> None:
    constants = _constants()
    assert len(set(constants.values())) == len(constants), constants


def test_readme_table_matches_errors_module() -> None:
    assert sorted(_readme_table()) == sorted(_constants().values())


def test_changes_pending_and_unreachable_differ() -> None:
    assert errors.EXIT_CHANGES != errors.EXIT_REMOTE
    assert errors.RemoteError("x").exit_code == errors.EXIT_REMOTE
    table = _readme_table()
    assert "changes are pending" in table[errors.EXIT_CHANGES]
    assert "could not be reached" in table[errors.EXIT_REMOTE]


def test_no_exit_code_literal_outside_errors() -> None:
    """Every exit in src/ names an EXIT_* constant (the lab AWS child's own protocol aside)."""
    literal = re.compile(r"(?:typer\.Exit|sys\.exit|SystemExit)\(\s*\d+\s*\)")
    found = [
        f"{path.relative_to(REPO)}: {match.group(0)}"
        for path in (REPO / "src" / "keyless").rglob("*.py")
        for match in literal.finditer(path.read_text())
    ]
    assert found == []


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_plan_detailed_exitcode_with_aws_unreachable_is_not_changes_pending(
    tmp_path: Path,
) -> None:
    metadata = build_idp_metadata(
        entity_id="http://www.okta.com/exk1exitcodes",
        certificates=[SigningKey.generate("exit codes").certificate],
        sso_url="https://acme.okta.com/app/amazon_aws/0oa1/sso/saml",
    )
    (tmp_path / "metadata.xml").write_bytes(metadata)
    spec = yaml.safe_load((REPO / "examples" / "okta.yaml").read_text())
    spec["identity_provider"]["metadata"] = {"file": str(tmp_path / "metadata.xml")}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "not-a-secret-" + "x" * 27,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{_closed_port()}",
            "AWS_MAX_ATTEMPTS": "1",
            "AWS_CONFIG_FILE": str(tmp_path / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        }
    )
    done = subprocess.run(
        [
            KEYLESS,
            "plan",
            "--spec",
            str(tmp_path / "spec.yaml"),
            "--detailed-exitcode",
            "--target",
            "aws",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == errors.EXIT_REMOTE, done.stdout + done.stderr
    assert done.returncode != errors.EXIT_CHANGES
    assert "cannot reach AWS" in done.stderr


@pytest.mark.parametrize("option", ["--bogus-option"])
def test_usage_errors_exit_2(option: str) -> None:
    done = subprocess.run(
        [KEYLESS, "plan", option], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == errors.EXIT_USAGE
