"""Rendering for people (rich) and machines (--json), shared by every command."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

# stderr carries progress and messages, stdout carries results, so that
# `keyless ... --json | jq` always sees only JSON.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(document: Any) -> None:
    """Print one JSON document on stdout, stable key order, for machines."""
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()
