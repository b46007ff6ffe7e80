"""Start-up: each command's module is imported only when it runs; help reads as click's does.

What a process imported is what ``sys.modules`` holds when it exits: the
probe below is the console script's entry point with one exit hook added.
"""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from keyless.cli.app import app
from keyless.cli.registry import COMMANDS

# `keyless ARGS` as the console script runs it, reporting sys.modules on exit.
PROBE = (
    "import atexit, sys; "
    "atexit.register(lambda: sys.stderr.write('\\nMODULES ' + ' '.join(sorted(sys.modules)))); "
    "from keyless.cli.main import run; run()"
)

# Never needed before a command that uses them runs.
HEAVY = {"boto3", "botocore", "httpx", "pydantic", "lxml", "keyring", "moto", "signxml"}
OTHER_COMMANDS = {
    "keyless.cli.provision",
    "keyless.cli.spec",
    "keyless.cli.saml",
    "keyless_lab.cli.lab",
    "keyless_lab.cli.lab_idp",
    "keyless_lab.cli.lab_okta",
    "keyless_lab.cli.demo",
    "keyless.cli.offboard",
    "keyless.cli.audit",
    "keyless.services",
}


def _within(module: str, packages: set[str]) -> bool:
    """``module`` is one of ``packages`` or inside one (``keyless_lab.cli.lab`` is not
    ``keyless.cli.lab_dir``, the option every command shares)."""
    return any(module == p or module.startswith(p + ".") for p in packages)


def imports_of(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``keyless ARGS``; its result and every module it imported."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )
    report = result.stderr.rsplit("\nMODULES ", 1)[1]
    return result, set(report.split())


def _tops(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_version_imports_no_command() -> None:
    result, modules = imports_of("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("keyless ")
    assert _tops(modules) & (HEAVY | {"rich"}) == set()
    assert {m for m in modules if m.startswith("keyless.cli.")} <= {
        "keyless.cli.main",
        "keyless.cli.app",
        "keyless.cli.lazy",
        "keyless.cli.registry",
    }


def test_login_help_imports_only_the_login_commands() -> None:
    result, modules = imports_of("login", "--help")
    assert result.returncode == 0
    assert "--password-stdin" in result.stdout
    # Plain click help: no rich; and no pydantic, which typer uses to read values.
    assert _tops(modules) & (HEAVY | {"rich"}) == set()
    assert "keyless.cli.login" in modules
    loaded = {m for m in modules if _within(m, OTHER_COMMANDS)}
    assert loaded == set()


def test_help_lists_every_command_without_importing_any() -> None:
    result, modules = imports_of("--help")
    assert result.returncode == 0
    for entry in COMMANDS:
        assert re.search(rf"^\W*{re.escape(entry.name)}\s", result.stdout, re.MULTILINE), entry
    assert not {m for m in modules if _within(m, {"keyless.cli.login", *OTHER_COMMANDS})}


@pytest.mark.parametrize("entry", COMMANDS, ids=[entry.name for entry in COMMANDS])
def test_the_registry_help_is_the_command_own(entry: Any) -> None:
    command = entry.load()
    assert command.name == entry.name
    own = (command.help or "").strip().split("\n\n")[0].replace("\n", " ")
    assert entry.help == own


def test_registry_names_are_unique() -> None:
    names = [entry.name for entry in COMMANDS]
    assert len(names) == len(set(names))


def _command_paths() -> list[list[str]]:
    paths: list[list[str]] = [[]]

    def walk(command: Any, path: list[str]) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            paths.append([*path, name])
            walk(sub, [*path, name])

    for entry in COMMANDS:
        paths.append([entry.name])
        walk(entry.load(), [entry.name])
    return paths


def test_help_shows_conventional_metavars_and_none_on_flags() -> None:
    """Bug: --help showed ``<str>``, ``<bool>``, ``<list[str]>``; ``<bool>`` on a flag read as
    if the flag took a value."""
    runner = CliRunner()
    typer_types = re.compile(r"<(str|int|float|bool|Path|list\[[^\]]*\])>")
    checked = 0
    for path in _command_paths():
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
        assert result.exit_code == 0, (path, result.output)
        assert not typer_types.search(result.output), (path, result.output)
        for line in result.output.splitlines():
            # A flag's row: the option, then straight to its help (no metavar column).
            if "--json " in line or "--help " in line:
                assert not re.search(r"--(json|help)\s+(-h\s+)?[A-Z]{3,}\b", line), (path, line)
        checked += 1
    assert checked > len(COMMANDS)
    login = runner.invoke(app, ["login", "--help"], env={"COLUMNS": "200"}).output
    assert re.search(r"--duration\s+INTEGER", login)
    assert re.search(r"--role\s+TEXT", login)


def test_a_group_loads_when_one_of_its_commands_runs() -> None:
    command = typer.main.get_command(app)
    assert "lab" in command.commands  # type: ignore[attr-defined]
    result = CliRunner().invoke(app, ["spec", "schema"])
    assert result.exit_code == 0
    assert '"$schema"' in result.output or '"properties"' in result.output
