"""Build this repository's distributions as a user would, from what git tracks.

keyless (the repository root) and keyless-lab (``lab/``) are built from a copy
of their tracked ``pyproject.toml``, ``README.md`` and ``src/``: setuptools
builds in the source tree, and a copy keeps the checkout clean and a stale
``build/`` or ``*.egg-info`` from leaking into what is installed. Used by the
tests that install keyless without the lab (``tests/cli/test_without_lab_extras.py``)
and as a tool of its own (``tests/cli/test_installed.py``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def tracked_source(project: str, dest: Path) -> Path:
    """``dest`` filled with what git tracks of the distribution in ``REPO/project``
    (its working-tree contents, uncommitted edits included); returns ``dest``."""
    root = REPO / project
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "--", "pyproject.toml", "README.md", "src"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, tracked.split("\0")):
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, dest / name)
    return dest


def build_wheel(project: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of the distribution in ``REPO/project``: "." is keyless, "lab" keyless-lab."""
    source = tracked_source(project, tmp_path_factory.mktemp("source"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("*.whl")
    return built
