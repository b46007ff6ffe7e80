"""Rendering for people (rich) and machines (--json), shared by every command."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from rich.console import Console


class _LazyConsole:
    """A rich Console made on first use: a command that prints nothing rich never imports rich."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return getattr(self._console, name)


# stderr carries progress and messages, stdout carries results, so that
# `keyless ... --json | jq` always sees only JSON.
out = cast("Console", _LazyConsole(highlight=False, soft_wrap=True))
err = cast("Console", _LazyConsole(stderr=True, highlight=False, soft_wrap=True))


def say(message: str) -> None:
    """One plain line for a person on stderr (no markup, no rich: the login path stays light)."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def print_json(document: Any) -> None:
    """Print one JSON document on stdout, stable key order, for machines."""
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()
