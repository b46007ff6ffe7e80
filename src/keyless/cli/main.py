"""The `keyless` console script.

`keyless credential-process` runs before every AWS CLI and SDK call of a
credential_process profile, so it is dispatched here to a module that imports
nothing heavy (no typer, rich, boto3, pydantic, httpx) before the typer app
in :mod:`keyless.cli.app` is even imported. Every other command goes to the app.
"""

# No `from __future__ import annotations` on credential-process's cached path: importing
# __future__ cost more than this module (annotations here are valid at run time anyway).

import sys


def run() -> None:
    """Console-script entry point."""
    if sys.argv[1:2] == ["credential-process"]:
        from keyless.credential_process import main as credential_process

        sys.exit(credential_process(sys.argv[2:]))
    from keyless.cli.app import run as run_app

    run_app()


def __getattr__(name: str) -> object:
    # `from keyless.cli.main import app` keeps working without importing typer
    # on the hot path; dunder lookups (`from ... import` asks for __path__)
    # must not import the app.
    if name.startswith("__"):
        raise AttributeError(name)
    from keyless.cli import app as _app

    return getattr(_app, name)
