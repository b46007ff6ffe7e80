"""keyless without the lab: the wheel holds no emulator, and the CLI works without keyless-lab.

The wheel is built from the repository root as a user would (`pip wheel .`)
and installed into a directory of its own; the process that runs it cannot
import keyless-lab or any emulator (a meta-path finder in a sitecustomize
module refuses them, as if they had never been installed), and keyless's own
editable install is shadowed by the wheel.
"""

from __future__ import annotations

import email
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from wheel_support import build_wheel

REPO = Path(__file__).resolve().parents[2]
# What only the lab needs: none of it may be imported by, or required by, keyless.
LAB_ONLY = ("keyless_lab", "moto", "starlette", "uvicorn", "argon2", "pyotp", "multipart", "segno")

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


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of the repository root, as a user builds it."""
    return build_wheel(".", tmp_path_factory)


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "-t", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (target / "sitecustomize.py").write_text(HIDE.format(hidden=list(LAB_ONLY)))
    return target


def run(site: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from keyless.cli.main import run; run()", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(site), **env},
        cwd=REPO,
        timeout=60,
        check=False,
    )


def test_the_wheel_holds_no_lab_and_requires_no_emulator(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        requires = email.message_from_string(archive.read(metadata).decode()).get_all(
            "Requires-Dist"
        )
    assert [n for n in names if n.startswith("keyless/")], names  # the product is there
    assert [n for n in names if "lab" in n.split("/")[1:2] or "keyless_lab" in n] == []
    wanted = {r.split(";")[0].split(">")[0].split("[")[0].strip().lower() for r in requires or ()}
    assert wanted.isdisjoint({"moto", "starlette", "uvicorn", "keyless-lab", "pyotp", "segno"})


def test_the_installed_wheel_runs_the_product_commands(installed: Path) -> None:
    version = run(installed, "--version")
    assert version.returncode == 0, version.stderr
    probe = run(installed, "spec", "validate", "examples/acme.yaml")
    assert probe.returncode == 0, probe.stderr
    # The real-org example as shipped still holds the app id to fill in: refused by name.
    shipped = run(installed, "spec", "validate", "examples/okta.yaml")
    assert shipped.returncode == 2, shipped.stderr
    assert "identity_provider.app_id: placeholder" in shipped.stderr
    for command in ("login", "plan", "apply", "configure", "saml", "audit", "offboard"):
        result = run(installed, command, "--help")
        assert result.returncode == 0, (command, result.stderr)
    # It really ran the wheel, not the repository's editable install.
    where = subprocess.run(
        [sys.executable, "-c", "import keyless; print(keyless.__file__)"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(installed)},
        check=True,
    )
    assert where.stdout.startswith(str(installed))


@pytest.mark.parametrize("command", [["demo"], ["lab", "up", "--spec", "examples/acme.yaml"]])
def test_lab_commands_say_how_to_get_the_lab(
    installed: Path, command: list[str], tmp_path: Path
) -> None:
    result = run(installed, *command, XDG_DATA_HOME=str(tmp_path / "data"))
    assert result.returncode == 2, result.stderr
    assert "keyless-lab" in result.stderr
    assert "pip install ./lab" in result.stderr
    assert "Traceback" not in result.stderr


def test_lab_flags_read_a_connection_file_without_the_lab(installed: Path, tmp_path: Path) -> None:
    """--lab is a connection file, not the lab: with none, a clear refusal, nothing written."""
    result = run(installed, "plan", "--spec", "examples/acme.yaml", "--lab-dir", str(tmp_path))
    assert result.returncode == 2, result.stderr
    assert f"no lab has been started in {tmp_path}" in result.stderr
    assert "Traceback" not in result.stderr
