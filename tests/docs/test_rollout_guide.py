"""docs/rollout.md cannot drift from the code: its lab-runnable commands run here.

A fenced block whose info string is ``sh lab`` is a step the guide says can be
tried against the lab. This test starts the lab as the guide says (`keyless lab
up --spec examples/acme.yaml`, in the background, with a fresh HOME and XDG
dirs), exports what `lab up` prints, and runs every such block in order with
``bash -euo pipefail`` in a scratch copy of ``examples/``. A block that fails
fails the test with its text and output. Blocks marked plain ``sh`` are for a
real org and AWS (placeholders, real endpoints) and are only checked to name
commands that exist.

The lab blocks must also be safe to paste into an interactive shell (issue 24,
item 5): run in the same shell after the block, a check compares the shell with
what it was before (variables, functions, exported names and values, options
such as ``errexit``, umask, working directory; and that the block did not end
the shell with ``exit``), and the working directory's files are compared too, so
a block that leaves an exported key, a ``umask`` or a file in the checkout fails.
A lint reads the blocks as well: no ``set -e``, ``exit``, ``umask``, ``cd`` or
``export`` outside a subshell, and every exported name unset again.
"""

from __future__ import annotations

import hashlib
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
    (tmp_path / "tmp").mkdir()
    env.update(
        TMPDIR=str(tmp_path / "tmp"),  # the blocks' scratch directories (mktemp -d)
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


# After the block, in the same shell: what pasting it would have changed in yours. Bash's
# own bookkeeping variables change on their own and are left out; exported values are
# compared by digest so a failure never prints a key.
_STATE = r"""__guide_state() {
  compgen -v |
    grep -Ev '^(BASH_.*|_|PIPESTATUS|LINENO|RANDOM|SRANDOM|SECONDS|EPOCH.*|OLDPWD)$' |
    grep -Ev '^(COLUMNS|LINES|FUNCNAME|__guide_.*)$' | sort
  echo "-- functions"; compgen -A function | sort
  echo "-- exported"; compgen -e | sort; declare -px | sha256sum
  echo "-- options"; set +o; shopt -p
  echo "-- umask $(umask) -- cwd $PWD"
}
# $- read here, not in the function's $(...): command substitution drops errexit.
__guide_before="$(__guide_state) -- flags $-"
"""
_CHECK = r"""
__guide_after="$(__guide_state) -- flags $-"
if [ "$__guide_before" != "$__guide_after" ]; then
  diff <(printf '%s\n' "$__guide_before") <(printf '%s\n' "$__guide_after") >&2 || true
  echo "__GUIDE_SHELL_CHANGED__" >&2
  exit 97
fi
echo "__GUIDE_BLOCK_DONE__"
"""


def _files(root: Path) -> dict[str, str]:
    """Every file under ``root`` and a digest of its content."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() or path.is_symlink()
    }


def _top_level_lines(body: str) -> list[tuple[int, str, int]]:
    """(line number, text, subshell depth) for each shell line, heredoc bodies left out.
    A subshell is a line that is only ``(`` opening it and only ``)`` closing it."""
    lines = []
    depth = 0
    heredoc: str | None = None
    for number, line in enumerate(body.splitlines(), 1):
        text = line.strip()
        if heredoc is not None:
            if text == heredoc:
                heredoc = None
            continue
        if text == "(":
            depth += 1
            continue
        if text == ")":
            depth -= 1
            continue
        lines.append((number, text, depth))
        opened = re.search(r"<<-?\s*'?\"?(\w+)", text)
        if opened:
            heredoc = opened.group(1)
    assert depth == 0, "unbalanced ( ... ) in a lab block"
    return lines


# What a pasted line must not do in the user's own shell (outside a subshell).
_UNSAFE_AT_TOP = re.compile(
    r"(?:^|[;&|({]\s*|\b(?:then|else|do)\s+)"
    r"(set\s+[-+][a-z]*e|set\s+[-+]o\s+errexit|exit\b|umask\b|cd\b|export\b)"
)


def lint(body: str) -> list[str]:
    """What makes a lab block unsafe to paste (an empty list: nothing)."""
    problems = []
    lines = _top_level_lines(body)
    for number, text, depth in lines:
        if depth == 0 and _UNSAFE_AT_TOP.search(text):
            problems.append(f"line {number}: `{text}` outside a subshell would stay in your shell")
    for index, (number, text, _) in enumerate(lines):
        exported = re.match(r"^export\s+(.*)$", text)
        if not exported:
            continue
        for name in re.findall(r"(?:^|\s)([A-Za-z_]\w*)=", exported.group(1)):
            later = [t for _, t, _ in lines[index + 1 :] if t.startswith("unset ")]
            if not any(name in t.split()[1:] for t in later):
                problems.append(f"line {number}: {name} is exported and never unset")
    return problems


def test_the_lint_finds_what_is_unsafe_to_paste() -> None:
    """The lint itself can fail: the guide's old blocks' hazards, one each."""
    assert lint("set +e\nkeyless plan\nset -e\n") != []
    assert lint("keyless plan || exit 1\n") != []
    assert lint("if true; then\n  echo no >&2; exit 1\nfi\n") != []
    assert lint("echo exit; keyless exec -- true\n") == []
    assert lint("umask 077\n") != []
    assert lint("export AWS_ACCESS_KEY_ID=AKIA\n") != []
    assert lint("(\nexport AWS_ACCESS_KEY_ID=AKIA X=1\nunset AWS_ACCESS_KEY_ID\n)\n") == [
        "line 2: X is exported and never unset"
    ]
    assert lint("(\nset -e\numask 077\nexit 3\n)\n") == []
    assert lint("cat <<'PY'\nexit 1\nPY\n") == []


def _pasted(body: str) -> subprocess.CompletedProcess[str]:
    """``body`` run as the lab test runs a block: followed by the shell check."""
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", _STATE + body + _CHECK],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "body",
    [
        "password=secret",
        "export AWS_ACCESS_KEY_ID=AKIAEXAMPLE",
        "umask 077",
        "set +e",
        "cd /",
        "lab_admin() { :; }",
    ],
)
def test_the_shell_check_finds_what_a_block_leaves_behind(body: str) -> None:
    result = _pasted(body)
    assert result.returncode == 97, result.stderr
    assert "__GUIDE_BLOCK_DONE__" not in result.stdout


def test_the_shell_check_finds_a_block_that_ends_the_shell_and_passes_a_subshell() -> None:
    assert "__GUIDE_BLOCK_DONE__" not in _pasted("exit 0").stdout
    contained = _pasted("(\n  export AWS_ACCESS_KEY_ID=AKIAEXAMPLE\n  umask 077\n  exit 0\n)")
    assert contained.returncode == 0, contained.stderr
    assert "__GUIDE_BLOCK_DONE__" in contained.stdout


def test_every_lab_block_is_safe_to_paste() -> None:
    problems = {line: lint(body) for line, body in blocks("sh lab")}
    assert {line: found for line, found in problems.items() if found} == {}


def test_the_guides_lab_steps_run_against_the_lab(lab_shell: tuple[Path, dict[str, str]]) -> None:
    work, env = lab_shell
    for line, body in blocks("sh lab"):
        before = _files(work)
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", _STATE + body + _CHECK],  # as _pasted, here
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
        assert "__GUIDE_BLOCK_DONE__" in result.stdout, (
            f"docs/rollout.md:{line}: the step ends the shell it is pasted into\n{body}"
        )
        left = {path for path, digest in _files(work).items() if before.get(path) != digest} | (
            before.keys() - _files(work).keys()
        )
        assert left == set(), f"docs/rollout.md:{line}: the step changed files here: {left}"
