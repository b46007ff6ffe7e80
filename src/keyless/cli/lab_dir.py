"""``--lab-dir``: the one option that names the lab's state directory, in every command.

Older releases spelled it ``--state-dir`` (``keyless lab ...``) and
``--lab-state-dir`` (``configure``, ``plan``, ``apply``). Those spellings
still work but are hidden: :func:`keyless.cli.lazy.normalize_token` is the
root context's ``token_normalize_func``, which click applies to every option name before
matching it, so ``--state-dir X`` and ``--state-dir=X`` reach ``--lab-dir``
while ``--help`` shows one name only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from keyless.core import paths

LabDirOption = Annotated[
    Path | None,
    typer.Option(
        "--lab-dir",
        help="The lab's state directory (default: $XDG_DATA_HOME/keyless/lab).",
        file_okay=False,
        show_default=False,
    ),
]


def resolve_lab_dir(value: Path | None) -> Path:
    """``value`` (``~`` expanded, absolute), else the default lab directory."""
    return (value or Path(paths.lab_dir())).expanduser().resolve()
