"""Checks that the lab's own dependencies (moto, Starlette, uvicorn ...) are importable.

They come with keyless-lab; a half-removed install then fails with one clear
message instead of an ImportError deep in a server.
"""

from __future__ import annotations

import importlib.util

from keyless.errors import LabError

# import name -> distribution name in the `lab` extra
LAB_MODULES = {
    "moto": "moto[server]",
    "starlette": "starlette",
    "uvicorn": "uvicorn",
    "argon2": "argon2-cffi",
    "pyotp": "pyotp",
    "multipart": "python-multipart",
    "segno": "segno",
}


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:  # a finder that refuses it, or a broken install
        return False


def require_lab_extras() -> None:
    """Raise :class:`LabError` naming what is missing when the lab cannot run here."""
    missing = [dist for name, dist in LAB_MODULES.items() if not _importable(name)]
    if missing:
        raise LabError(
            f"the embedded lab's packages are missing: {', '.join(missing)}",
            fix="reinstall keyless-lab (pip install ./lab; make demo does this)",
        )
