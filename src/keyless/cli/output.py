"""Rendering for people (rich) and machines (--json), shared by every command.

Tables follow one rule, here (:func:`print_table`): a cell is never cut to "…".
On a terminal a table fits the window and long words fold inside their cell;
anywhere else (CI logs, pipes, files) no word is broken either, so an ARN stays
whole and greppable, and the table grows past the width if its longest words
need it; with ``keyless --wide`` (or ``KEYLESS_WIDE=1``) nothing wraps at all.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    # stderr carries progress and messages, stdout carries results, so that
    # `keyless ... --json | jq` always sees only JSON.
    out: Console
    err: Console

_settings = {"wide": False}


def __getattr__(name: str) -> Any:
    # The consoles are made on first import of `out` or `err`, not with this
    # module: `keyless login` prints plain lines and never pays for rich.
    if name not in ("out", "err"):
        raise AttributeError(name)
    from rich.console import Console

    # emoji=False: a certificate fingerprint's ":AB:" is data, not the 🆎 emoji code.
    console = Console(stderr=name == "err", highlight=False, soft_wrap=True, emoji=False)
    globals()[name] = console
    return console


def _console(name: str) -> Console:
    made: Console | None = globals().get(name)
    return made if made is not None else __getattr__(name)


def set_wide(wide: bool) -> None:
    """``keyless --wide``: tables print at their natural width, without wrapping."""
    _settings["wide"] = wide


def say(message: str) -> None:
    """One plain line for a person on stderr (no markup, no rich: the login path stays light)."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def print_json(document: Any) -> None:
    """Print one JSON document on stdout, stable key order, for machines."""
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()


# Wide enough to measure any table unconstrained.
_UNBOUNDED = 1_000_000


def table_widths(minimums: list[int], maximums: list[int], available: int) -> list[int]:
    """Column content widths that fit ``available`` without breaking a word where possible.

    Every column gets at least its longest word (``minimums``) and at most its
    longest line (``maximums``); the room left over goes to the columns that
    would wrap, in proportion to how much they would. When even the longest
    words do not fit, the result is wider than ``available``: a wider line is
    better than a broken ARN.
    """
    if sum(maximums) <= available:
        return list(maximums)
    widths = list(minimums)
    room = available - sum(minimums)
    wants = [high - low for low, high in zip(minimums, maximums, strict=True)]
    wanted = sum(wants)
    if room <= 0 or wanted <= 0:
        return widths
    shares = [room * want // wanted for want in wants]
    # What rounding down left over goes to the column that wraps the most.
    shares[wants.index(max(wants))] += room - sum(shares)
    return [low + min(share, want) for low, share, want in zip(widths, shares, wants, strict=True)]


def print_table(table: Table, *, indent: int = 0, console: Console | None = None) -> None:
    """Print ``table`` (on stdout unless ``console``), every cell whole (see the module doc).

    Not for tables with ``collapse_padding``: rich measures them one column short of
    how it draws them, and a fixed width would then break a word after all.
    """
    from rich.measure import Measurement
    from rich.padding import Padding

    target: Console = console if console is not None else _console("out")
    unbounded = target.options.update_width(_UNBOUNDED)
    for column in table.columns:
        # The last resort on a terminal, and what keeps a fixed width honest: fold, never "…".
        column.overflow = "fold"
    natural = Measurement.get(target, unbounded, table).maximum + indent
    width = target.width
    if _settings["wide"]:
        width = max(width, natural)
    elif not target.is_terminal and natural > width:
        columns = table.columns
        cells = [[column.header, *column.cells] for column in columns]
        measured = [[Measurement.get(target, unbounded, cell) for cell in col] for col in cells]
        minimums = [max((m.minimum for m in col), default=1) for col in measured]
        maximums = [max((m.maximum for m in col), default=1) for col in measured]
        # Borders and padding: what the table measures beyond its cells' content.
        extra = natural - indent - sum(maximums)
        widths = table_widths(minimums, maximums, width - indent - extra)
        for column, column_width in zip(columns, widths, strict=True):
            column.width = column_width
        width = max(width, sum(widths) + extra + indent)
    renderable: Any = Padding(table, (0, 0, 0, indent)) if indent else table
    saved = target.width
    target.width = width
    try:
        target.print(renderable)
    finally:
        target.width = saved
