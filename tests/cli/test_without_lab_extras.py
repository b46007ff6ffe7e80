"""An engineer's install without `keyless[lab]`: the CLI works, lab commands say what to install.

The lab's packages are hidden from a real `keyless` process by a meta-path
finder in a sitecustomize module, as if they had never been installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from keyless_lab.extras import LAB_MODULES

REPO = Path(__file__).resolve().parents[2]
KEYLESS = str(Path(sys.executable).parent / "keyless")

HIDE = """
import sys

HIDDEN = {hidden!r}


class _Hide:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, _Hide())
"""


@pytest.fixture
def core_only_env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "sitecustomize.py").write_text(HIDE.format(hidden=sorted(LAB_MODULES)))
    return {**os.environ, "PYTHONPATH": str(tmp_path)}


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KEYLESS, *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=60, check=False
    )


def test_core_commands_work_without_the_lab(core_only_env: dict[str, str]) -> None:
    assert run(core_only_env, "--help").returncode == 0
    assert run(core_only_env, "spec", "validate", "examples/okta.yaml").returncode == 0
    for command in ("login", "plan", "apply", "configure", "saml"):
        result = run(core_only_env, command, "--help")
        assert result.returncode == 0, (command, result.stderr)


@pytest.mark.parametrize("command", [["demo"], ["lab", "up", "--spec", "examples/acme.yaml"]])
def test_lab_commands_name_the_missing_extra(
    core_only_env: dict[str, str], command: list[str], tmp_path: Path
) -> None:
    env = {**core_only_env, "XDG_DATA_HOME": str(tmp_path / "data")}
    result = run(env, *command)
    assert result.returncode == 2
    assert "pip install 'keyless[lab]'" in result.stderr
    assert "Traceback" not in result.stderr
