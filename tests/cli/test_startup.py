"""Start-up: each command's module is imported only when it runs; help reads as click's does.

What a process imported is what ``sys.modules`` holds when it exits: the
probe below is the console script's entry point with one exit hook added.
"""

from __future__ import annotations

import os
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


def imports_of(
    *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``keyless ARGS`` (with ``env`` added to the environment); its result and
    every module it imported."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        env={**os.environ, **env} if env else None,
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


def test_login_reads_its_options_without_pydantic(tmp_path: Any) -> None:
    """Bug: typer built a pydantic adapter per option to read ``keyless login``'s values,
    55 ms of a 265 ms sign-in. Every kind of login option is given; the profile does not
    exist, so the command stops right after reading them."""
    home = {
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    options = ["--profile", "nobody", "--role", "Developer", "--duration", "900", "--no-write"]
    result, modules = imports_of("login", *options, env=home)
    assert result.returncode != 0
    assert "nobody" in result.stderr  # it got as far as looking the profile up
    assert "keyless.cli.login" in modules
    assert _tops(modules) & {"pydantic", "pydantic_core"} == set()


def _a_str(value: str | None = None) -> None:
    del value


def _an_int(value: int | None = None) -> None:
    del value


@pytest.mark.parametrize(
    ("function", "values"),
    [
        (_a_str, ["", "Developer", " spaced ", "héllo", "-1", "12"]),
        (_an_int, [0, 7, 3600, "0", "900", "007", "-5", "-0", "+5", " 5", "1_0", "9" * 30]),
    ],
)
def test_plain_conversion_gives_what_typer_gives(function: Any, values: list[Any]) -> None:
    """keyless.cli.lazy.PlainConversion gives what typer's own conversion gives, and
    leaves what it does not read to typer (so the same error messages)."""
    from keyless.cli.lazy import PlainConversion

    holder = typer.Typer()
    holder.command()(function)
    command = typer.main.get_command(holder)
    param: Any = command.params[0]
    ctx = command.make_context("f", [])
    plain = PlainConversion(param)
    typer_own = param.get_runtime_param()
    for value in [None, *values]:
        got = plain.coerce(value, param=param, ctx=ctx)
        expected = typer_own.coerce(value, param=param, ctx=ctx)
        assert (got, type(got)) == (expected, type(expected)), value
    if function is _an_int:
        for bad in ["twelve", "1.5", "\u0663", ""]:
            messages = []
            for conversion in (plain, typer_own):
                with pytest.raises(typer.BadParameter) as caught:
                    conversion.coerce(bad, param=param, ctx=ctx)
                messages.append(str(caught.value))
            assert messages[0] == messages[1], bad
