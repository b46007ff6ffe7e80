"""httpx, imported without its command-line client.

httpx 0.28 imports ``httpx._main`` (its ``httpx`` command, built on click,
rich and pygments) on every ``import httpx`` when those packages are
installed — they are, beside typer — which costs about 0.15 s, half of
httpx's import and a tenth of a sign-in. keyless never runs that command.
While httpx is first imported here, ``httpx._main`` is a stand-in whose
``main`` loads the real module only if it is ever called; afterwards the
stand-in is dropped from ``sys.modules`` so an explicit ``import httpx._main``
still gets the real one. (The httpx2 fork made the same import lazy
upstream: "Importing the CLI code doubles the import time for httpx".)

Modules that use httpx import it from here: ``from keyless.adapters.http import httpx``.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any


def _stand_in() -> types.ModuleType:
    stand_in = types.ModuleType("httpx._main")

    def main(*args: Any, **kwargs: Any) -> Any:
        sys.modules.pop("httpx._main", None)
        return importlib.import_module("httpx._main").main(*args, **kwargs)

    stand_in.main = main  # type: ignore[attr-defined]
    return stand_in


if "httpx" not in sys.modules and "httpx._main" not in sys.modules:
    _STAND_IN = _stand_in()
    sys.modules["httpx._main"] = _STAND_IN
    try:
        import httpx
    finally:
        if sys.modules.get("httpx._main") is _STAND_IN:
            del sys.modules["httpx._main"]
else:
    import httpx

__all__ = ["httpx"]
