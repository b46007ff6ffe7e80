"""docs/rollout.md cannot drift from the code: its lab-runnable commands run here.

A fenced block whose info string is ``sh lab`` is a step the guide says can be
tried against the lab. This test starts the lab as the guide says (`keyless lab
up --spec examples/acme.yaml`, in the background, with a fresh HOME and XDG
dirs), exports what `lab up` prints, and runs every such block in order with
``bash -euo pipefail`` in a scratch copy of ``examples/``. A block that fails
fails the test with its text and output. Blocks marked plain ``sh`` are for a
real org and AWS (placeholders, real endpoints) and are only checked to name
commands that exist.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "rollout.md"
FENCE = re.compile(r"^```(?P<info>[^\n]*)\n(?P<body>.*?)^```\s*$", re.MULTILINE | re.DOTALL)
EXPORT = re.compile(r"^\s*export (AWS_[A-Z_]+|REQUESTS_CA_BUNDLE|SSL_CERT_FILE)=(\S+)\s*$")

pytestmark = pytest.mark.slow


def blocks(kind: str) -> list[tuple[int, str]]:
    """The guide's fenced blocks whose info string is ``kind``, with their line numbers."""
    text = GUIDE.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        if match.group("info").strip() == kind:
            found.append((text.count("\n", 0, match.start()) + 1, match.group("body")))
    return found


def _bin_dir() -> Path:
    return Path(sys.executable).parent


@pytest.fixture
def lab_shell(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    work = tmp_path / "work"
    shutil.copytree(ROOT / "examples", work / "examples")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "KEYLESS_"))
        and k not in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")
    }
    env.update(
        HOME=str(tmp_path / "home"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        KEYLESS_NO_PROMPT="1",
        PATH=f"{_bin_dir()}{os.pathsep}{env.get('PATH', '')}",
    )
    (tmp_path / "home").mkdir()
    lab = subprocess.Popen(
        ["keyless", "lab", "up", "--spec", "examples/acme.yaml"],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert lab.stdout is not None
        for line in lab.stdout:
            lines.append(line)
            if "Press Ctrl-C to stop." in line:
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert ready.wait(120), "".join(lines)
        assert lab.poll() is None, "".join(lines)
        for line in lines:
            exported = EXPORT.match(line)
            if exported:
                env[exported.group(1)] = exported.group(2)
        yield work, env
    finally:
        lab.send_signal(signal.SIGINT)
        try:
            lab.wait(timeout=30)
        except subprocess.TimeoutExpired:
            lab.kill()
            lab.wait()
        if lab.stdout is not None:
            lab.stdout.close()


def test_the_guide_has_lab_runnable_steps() -> None:
    assert GUIDE.exists(), "docs/rollout.md is missing"
    assert len(blocks("sh lab")) >= 8, "the guide's lab-runnable steps went missing"


def test_the_readme_links_the_guide() -> None:
    assert "docs/rollout.md" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_keyless_command_the_guide_names_exists() -> None:
    """Commands in the real-org blocks too: each `keyless X Y` must have a --help."""
    commands: set[tuple[str, ...]] = set()
    for kind in ("sh", "sh lab"):
        for _, body in blocks(kind):
            for line in body.splitlines():
                for found in re.finditer(
                    r"(?:^|[;&|(]\s*|\$\()\s*keyless ((?:[a-z][a-z-]+ ?){1,2})", line
                ):
                    commands.add(tuple(found.group(1).split()))
    assert commands
    for words in sorted(commands):
        result = subprocess.run(
            [str(_bin_dir() / "keyless"), *words, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode != 0 and len(words) == 2:
            # The second word was an argument (a file), not a subcommand.
            result = subprocess.run(
                [str(_bin_dir() / "keyless"), words[0], "--help"],
                capture_output=True,
                text=True,
                timeout=60,
            )
        assert result.returncode == 0, f"`keyless {' '.join(words)}` in the guide: {result.stderr}"


def test_the_guides_lab_steps_run_against_the_lab(lab_shell: tuple[Path, dict[str, str]]) -> None:
    work, env = lab_shell
    for line, body in blocks("sh lab"):
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", body],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, (
            f"docs/rollout.md:{line}: the step failed (exit {result.returncode})\n{body}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
