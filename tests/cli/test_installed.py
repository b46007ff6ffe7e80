"""An installed keyless works: the wheel, installed with `uv tool install` as the README says.

The wheel of the repository is built as a user builds it and installed with
uv into a throwaway home (its own tool directory and bin directory, the
dependencies resolved from the package index, not taken from the dev venv).
That `keyless` — the one first on the person's PATH, running from the tool's
own virtualenv, with no PYTHONPATH and no dev venv behind it — configures a
profile for a lab org, logs in, and the AWS CLI gets its credentials through
the `credential_process` line configure wrote. The lab itself runs in the
test process (it is the harness, not what is under test).

uv's cache is the one of the user running the tests (read before the
autouse fixture points HOME at a temp dir), so only the first run downloads
the dependencies; later installs take a second or two.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lab_fixtures import fresh_totp
from login_support import AWS, add_lab_user, run
from peers import peer_script
from wheel_support import REPO, build_wheel, tracked_source

pytestmark = pytest.mark.slow

DEV_BIN = Path(sys.executable).parent
# The environment the tests were started with, before conftest's clean_environ
# replaces HOME per test: where the user's uv keeps its cache.
_STARTED_WITH = dict(os.environ)


@pytest.fixture(scope="module")
def uv_cache() -> str:
    """The uv cache of the user running the tests (uv's own rule: UV_CACHE_DIR, XDG, HOME)."""
    found = subprocess.run(
        [peer_script("uv"), "cache", "dir"],
        env=_STARTED_WITH,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return found.stdout.strip()


def without_dev_venv(environ: dict[str, str]) -> dict[str, str]:
    """``environ`` as a person's shell has it: no PYTHONPATH to the checkout, no dev venv."""
    env = {k: v for k, v in environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    path = [p for p in env.get("PATH", os.defpath).split(os.pathsep) if p and Path(p) != DEV_BIN]
    env["PATH"] = os.pathsep.join(path)
    return env


class Tool:
    """keyless installed with ``uv tool install`` into a home of its own."""

    def __init__(self, home: Path, uv_cache: str) -> None:
        self.home = home
        self.tool_dir = home / ".local" / "share" / "uv" / "tools"
        self.bin_dir = home / ".local" / "bin"
        self.uv_cache = uv_cache

    def install_env(self) -> dict[str, str]:
        # The user's network and index settings (a proxy, UV_INDEX_URL for a mirror) stay.
        env = without_dev_venv(_STARTED_WITH)
        env.update(
            HOME=str(self.home),
            XDG_DATA_HOME=str(self.home / ".local" / "share"),
            XDG_CONFIG_HOME=str(self.home / ".config"),
            XDG_CACHE_HOME=str(self.home / ".cache"),
            UV_TOOL_DIR=str(self.tool_dir),
            UV_TOOL_BIN_DIR=str(self.bin_dir),
            UV_CACHE_DIR=self.uv_cache,
            # The tool's virtualenv is made from this interpreter: uv must not fetch one.
            UV_PYTHON_DOWNLOADS="never",
        )
        return env

    def install(self, *args: str) -> None:
        done = subprocess.run(
            [peer_script("uv"), "tool", "install", "--python", sys.executable, *args],
            env=self.install_env(),
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr

    def user_env(self) -> dict[str, str]:
        """The test's environment (conftest's temp HOME and AWS config) as a person's shell
        has it after the install: the tool's bin directory first on PATH, nothing of the
        checkout or the dev venv."""
        env = without_dev_venv(dict(os.environ))
        env["PATH"] = os.pathsep.join([str(self.bin_dir), env["PATH"]])
        return env

    def python(self, name: str) -> Path:
        """The interpreter of tool ``name``'s own virtualenv."""
        return self.tool_dir / name / "bin" / "python"

    def module_file(self, module: str) -> Path:
        """Where the installed tool imports ``module`` from."""
        where = run(
            [str(self.python("keyless")), "-c", f"import {module}; print({module}.__file__)"],
            env=self.user_env(),
        )
        assert where.returncode == 0, where.stderr
        return Path(where.stdout.strip())

    def keyless(self) -> str:
        """``keyless`` as the person's shell finds it: the installed one."""
        found = shutil.which("keyless", path=self.user_env()["PATH"])
        assert found == str(self.bin_dir / "keyless"), found
        return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(".", tmp_path_factory)


@pytest.fixture(scope="module")
def tool(wheel: Path, uv_cache: str, tmp_path_factory: pytest.TempPathFactory) -> Tool:
    """`uv tool install dist/keyless-*.whl` (README, Install)."""
    installed = Tool(tmp_path_factory.mktemp("home"), uv_cache)
    installed.install(str(wheel))
    return installed


def test_the_installed_keyless_is_the_tools_not_the_checkouts(tool: Tool) -> None:
    keyless = tool.keyless()
    assert Path(keyless).resolve() == tool.tool_dir / "keyless" / "bin" / "keyless"
    assert tool.module_file("keyless").is_relative_to(tool.tool_dir / "keyless")
    version = run([keyless, "--version"], env=tool.user_env())
    assert version.returncode == 0, version.stderr
    assert "0.1.0" in version.stdout
    # The product alone: the lab is not part of the keyless wheel.
    lab = run([keyless, "lab", "status"], env=tool.user_env())
    assert lab.returncode == 2, lab.stderr
    assert "keyless-lab" in lab.stderr
    assert "pipx inject keyless ./lab" in lab.stderr  # how to add it to a tool, not a venv


def test_configure_login_and_the_aws_cli_through_the_installed_keyless(
    tool: Tool, provisioned_lab: Any
) -> None:
    keyless = tool.keyless()
    env = tool.user_env()
    user = add_lab_user(provisioned_lab, ("developers",), ("totp",))
    configured = run(
        [
            keyless,
            "configure",
            "--profile",
            "dev",
            "--lab",
            "--lab-dir",
            str(provisioned_lab.state_dir),
            "--username",
            user.login,
            "--role",
            "Developer",
            "--account",
            "acme-dev",
            "--mfa-factor",
            "totp",
        ],
        env=env,
    )
    assert configured.returncode == 0, configured.stderr
    # The AWS CLI will start the installed keyless, by its path in the tool's virtualenv.
    aws_config = Path(env["AWS_CONFIG_FILE"]).read_text()
    process = tool.tool_dir / "keyless" / "bin" / "keyless"
    assert f"credential_process = {process} credential-process --profile dev" in aws_config

    assert user.totp_secret is not None
    login = run(
        [
            keyless,
            "login",
            "--profile",
            "dev",
            "--password-stdin",
            "--mfa-code",
            fresh_totp(user.totp_secret),
        ],
        input=user.password + "\n",
        env=env,
    )
    assert login.returncode == 0, login.stderr

    caller = run(
        [AWS, "sts", "get-caller-identity", "--profile", "dev", "--output", "json"], env=env
    )
    assert caller.returncode == 0, caller.stderr
    arn = json.loads(caller.stdout)["Arn"]
    assert ":assumed-role/Developer/" in arn
    assert user.login in arn


def test_the_lab_added_to_the_installed_tool(
    wheel: Path, uv_cache: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """`uv tool install dist/keyless-*.whl --with ./lab` (README, Install): the lab's
    commands join the installed keyless, and `keyless demo` runs the whole flow."""
    lab_source = tracked_source("lab", tmp_path_factory.mktemp("lab"))
    with_lab = Tool(tmp_path_factory.mktemp("home"), uv_cache)
    with_lab.install(str(wheel), "--with", str(lab_source))
    assert with_lab.module_file("keyless_lab").is_relative_to(with_lab.tool_dir / "keyless")
    demo = run(
        [with_lab.keyless(), "demo", "--spec", str(REPO / "examples" / "acme.yaml")],
        env=with_lab.user_env(),
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
