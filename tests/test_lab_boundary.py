"""The product knows nothing of the lab: no module of ``keyless`` imports ``keyless_lab``.

import-linter checks the same contract (``pyproject.toml``); this check reads
every file's syntax tree too, so an import hidden in a function or behind
``TYPE_CHECKING`` is caught even if the contract were edited away.
"""

from __future__ import annotations

import ast
from pathlib import Path

import keyless

PACKAGE = Path(keyless.__file__).resolve().parent


def _lab_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        if any(name == "keyless_lab" or name.startswith("keyless_lab.") for name in names):
            found.append(f"{path}:{node.lineno}")
    return found


def test_the_product_never_imports_the_lab() -> None:
    offenders = [hit for path in sorted(PACKAGE.rglob("*.py")) for hit in _lab_imports(path)]
    assert offenders == []


def test_the_product_names_no_lab_module_in_strings_either() -> None:
    """importlib.import_module("keyless_lab...") would dodge both checks above."""
    offenders = [
        str(path)
        for path in sorted(PACKAGE.rglob("*.py"))
        if 'import_module("keyless_lab' in path.read_text()
        or "import_module('keyless_lab" in path.read_text()
    ]
    assert offenders == []


def test_the_check_sees_a_lab_import(tmp_path: Path) -> None:
    module = tmp_path / "sample.py"
    module.write_text("def f():\n    from keyless_lab.runtime import Lab\n    return Lab\n")
    assert len(_lab_imports(module)) == 1
