"""Adds the command groups and commands beyond `spec` to the app.

Each group lives in its own module so commands stay thin and separately
owned; this is the one place that wires them in. A module exposes either
``app`` (a typer group, added under ``name``) or ``register(app)`` (top-level
commands such as ``login``).
"""

from __future__ import annotations

import importlib

import typer

# (module, group name or None for top-level commands via register())
_MODULES: list[tuple[str, str | None]] = [
    ("keyless.cli.saml", "saml"),
    ("keyless.cli.lab", "lab"),
    ("keyless.cli.provision", None),  # plan, apply, export
    ("keyless.cli.login", None),  # configure, login, credential-process, exec, env, ...
    ("keyless.cli.demo", None),  # demo
]


def register(app: typer.Typer) -> None:
    """Attach every command group to ``app``."""
    for module_name, group in _MODULES:
        # Every module listed exists: one that fails to import is a bug and must
        # say so. None of them imports the lab's extras at import time, so an
        # install without `keyless[lab]` still loads them all; the lab commands
        # then name the missing extra when run (keyless.lab.extras).
        module = importlib.import_module(module_name)
        if group is not None:
            app.add_typer(module.app, name=group)
        else:
            module.register(app)
