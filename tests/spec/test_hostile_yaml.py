"""Hostile YAML in a spec file: refused with exit 2 and a located message, fast, in bounded memory.

Regression tests for issue 10 item 4: a 600-byte alias bomb (nine levels of ten
aliases) ran ``keyless spec validate`` past 60 s and 1.8 GB, and a self-referencing
alias ended in a RecursionError traceback with exit 1. CI validates specs from pull
requests, so every command that reads a spec was exposed.

Each file is validated by the real CLI in a child process with a timeout and an
address-space limit, so a regression fails the test rather than the machine.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from keyless.errors import EXIT_USAGE
from keyless.spec import load_spec_text

REPO = Path(__file__).resolve().parents[2]
# The console script beside the interpreter running the tests (any venv, any checkout).
KEYLESS = str(Path(sys.executable).parent / "keyless")
MEMORY_LIMIT = 1024 * 1024 * 1024  # the old loader needed 1.8 GB for the bomb


def _alias_bomb(levels: int = 9, width: int = 10) -> str:
    lines = ["version: 1", 'l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        refs = ", ".join([f"*l{level - 1}"] * width)
        lines.append(f"l{level}: &l{level} [{refs}]")
    return "\n".join(lines) + "\n"


HOSTILE: dict[str, tuple[str, str, int]] = {
    # name: (file text, expected words in the message, expected line)
    # The line is where the expanded values are written (the anchor), the path where
    # they were expanded into.
    "alias-bomb": (_alias_bomb(), "aliases are expanded", 2),
    "alias-bomb-in-keys-used-once": (
        _alias_bomb(levels=6, width=10) + "accounts: *l5\n",
        "aliases are expanded",
        2,
    ),
    "self-referencing-sequence": ("version: 1\nroles: &r [*r]\n", "contains it", 2),
    "self-referencing-mapping": (
        "version: 1\nname: x\nidentity_provider: &i\n  kind: lab\n  loop: *i\n",
        "contains it",
        3,
    ),
    "deep-flow-nesting": ("version: 1\nx: " + "[" * 100 + "]" * 100 + "\n", "depth", 2),
    "very-deep-flow-nesting": (
        "version: 1\nx: " + "[" * 100_000 + "]" * 100_000 + "\n",
        "depth",
        2,
    ),
    "deep-block-nesting": (
        "version: 1\nx:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(100)),
        "depth",
        66,
    ),
    "many-values": (
        "version: 1\nx: [" + ",".join(["1"] * 200_000) + "]\n",
        "more than",
        2,
    ),
    "python-tag": ("version: 1\nname: !!python/object/apply:os.system ['true']\n", "tag", 2),
    "custom-tag": ("version: 1\nname: !vault {path: secret}\n", "tag", 2),
    "binary-tag": ("version: 1\nname: !!binary aGVsbG8=\n", "tag", 2),
    "set-tag": ("version: 1\nname: !!set {a, b}\n", "tag", 2),
    "merge-key": ("version: 1\nbase: &b {kind: lab}\nidentity_provider:\n  <<: *b\n", "plain", 4),
    "complex-key": ("version: 1\n? [a, b]\n: c\n", "plain", 2),
    "impossible-date": ("version: 1\nname: 2024-13-45\n", "cannot read", 2),
}


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KEYLESS, "spec", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=_limit_memory,
    )


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_yaml_exits_2_with_a_located_message(tmp_path: Path, name: str) -> None:
    text, words, line = HOSTILE[name]
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    done = _validate(path)
    assert done.returncode == EXIT_USAGE, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert words in done.stderr, done.stderr
    located = f"{path}:{line}:" if line else f"{path}:"
    assert located in done.stderr, done.stderr


def test_huge_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text("version: 1\n# " + "x" * (3 * 1024 * 1024) + "\n")
    done = _validate(path)
    assert done.returncode == EXIT_USAGE
    assert f"{path}:" in done.stderr
    assert "too large" in done.stderr


def test_a_huge_stream_is_read_only_up_to_the_limit(tmp_path: Path) -> None:
    """stat() says 0 bytes for a pipe: the size limit holds on what is read."""
    done = subprocess.run(
        [KEYLESS, "spec", "validate", "/dev/stdin"],
        input="version: 1\n# " + "x" * (3 * 1024 * 1024) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == EXIT_USAGE, done.stderr
    assert "too large" in done.stderr


def test_ordinary_aliases_still_work() -> None:
    """Anchors for shared values are plain YAML and stay allowed."""
    spec = load_spec_text(
        textwrap.dedent(
            """\
            version: 1
            name: anchors
            identity_provider: {kind: lab}
            accounts:
              - {id: "111111111111", alias: m, management: true}
              - {id: "222222222222", alias: p, environment: prod}
            roles:
              - name: Admin
                accounts: &members [p]
                managed_policies: &admin [arn:aws:iam::aws:policy/AdministratorAccess]
              - name: Ops
                accounts: *members
                managed_policies: *admin
            group_mappings:
              - {group: admins, role: Admin}
            """
        )
    )
    assert [role.accounts for role in spec.roles] == [["p"], ["p"]]
