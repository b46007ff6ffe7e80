"""The import layers of DESIGN.md hold: cli -> services -> adapters -> core, never upwards.

The contract lives in ``pyproject.toml`` (``[tool.importlinter]``) and is
checked by import-linter, which also follows imports made inside functions:
the cycle this replaced (credential_process -> services.credentials ->
services.login -> adapters.terminal -> services.login) was held together by
such imports.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from importlinter.cli import lint_imports

REPO = Path(__file__).resolve().parent.parent


def test_import_layers_are_kept(capsys: pytest.CaptureFixture[str]) -> None:
    code = lint_imports(
        config_filenames=(str(REPO / "pyproject.toml"),), no_cache=True, no_logo=True
    )
    report = capsys.readouterr().out
    assert code == 0, report
    assert "KEPT" in report
