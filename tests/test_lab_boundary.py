"""The lab is optional and above the core: only ``keyless.cli`` and ``keyless.lab`` import it.

Services, adapters and the core run unchanged against real Okta and AWS; a
``from keyless.lab...`` anywhere else (even inside a function) would make them
depend on the lab's extras or let lab-only shortcuts into production paths.
"""

from __future__ import annotations

import ast
from pathlib import Path

import keyless

PACKAGE = Path(keyless.__file__).resolve().parent
ALLOWED = ("cli", "lab")


def _lab_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        if any(name == "keyless.lab" or name.startswith("keyless.lab.") for name in names):
            found.append(f"{path}:{node.lineno}")
    return found


def test_only_cli_and_lab_import_the_lab() -> None:
    offenders = [
        hit
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).parts[0] not in ALLOWED
        for hit in _lab_imports(path)
    ]
    assert offenders == []


def test_the_check_sees_a_lab_import(tmp_path: Path) -> None:
    module = tmp_path / "sample.py"
    module.write_text("def f():\n    from keyless.lab.runtime import Lab\n    return Lab\n")
    assert len(_lab_imports(module)) == 1
