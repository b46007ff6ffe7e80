"""Rendering for people (rich) and machines (--json), shared by every command."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    # stderr carries progress and messages, stdout carries results, so that
    # `keyless ... --json | jq` always sees only JSON.
    out: Console
    err: Console


def __getattr__(name: str) -> Any:
    # The consoles are made on first import of `out` or `err`, not with this
    # module: `keyless login` prints plain lines and never pays for rich.
    if name not in ("out", "err"):
        raise AttributeError(name)
    from rich.console import Console

    console = Console(stderr=name == "err", highlight=False, soft_wrap=True)
    globals()[name] = console
    return console


def say(message: str) -> None:
    """One plain line for a person on stderr (no markup, no rich: the login path stays light)."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def print_json(document: Any) -> None:
    """Print one JSON document on stdout, stable key order, for machines."""
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()
