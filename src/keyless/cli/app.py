"""The `keyless` typer app: the root options, the commands (lazily), errors into exit codes.

The commands are the lines of :data:`keyless.cli.registry.COMMANDS`; the
root group (:class:`keyless.cli.lazy.LazyGroup`) imports a command's module
only when that command runs, so ``keyless --version`` and ``keyless login``
pay for nothing else.

Errors are caught here, once: a :class:`keyless.errors.KeylessError` becomes
its message, its fix and its exit code; anything else is a bug and shows a
traceback only with ``--verbose``.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from keyless import __version__
from keyless.cli.lazy import STATE as _state
from keyless.cli.lazy import LazyGroup, normalize_token
from keyless.errors import EXIT_INTERRUPTED, EXIT_USAGE, KeylessError

app = typer.Typer(
    name="keyless",
    help=(
        "End long-lived AWS access keys: SAML federation from your identity provider "
        "to every AWS account, as code, with an offline lab."
    ),
    no_args_is_help=True,
    cls=LazyGroup,
    pretty_exceptions_enable=False,
    add_completion=False,
    # normalize_token: old spellings of --lab-dir still work, unlisted.
    context_settings={
        "help_option_names": ["-h", "--help"],
        "token_normalize_func": normalize_token,
    },
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"keyless {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show the cause chain of errors.")
    ] = False,
    wide: Annotated[
        bool,
        typer.Option(
            "--wide",
            envvar="KEYLESS_WIDE",
            help="Print tables at their full width, without wrapping cells (env KEYLESS_WIDE=1).",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """keyless command line."""
    # -v after the command (keyless.cli.lazy.global_options) sets it as well.
    _state["verbose"] = verbose
    if wide:
        from keyless.cli.output import set_wide

        set_wide(True)


def _report(error: KeylessError) -> None:
    from rich.markup import escape

    from keyless.cli.output import err

    # Messages quote user input and package names ("keyless[test]"): never markup.
    err.print(f"[bold red]error:[/] {escape(error.message)}", markup=True, highlight=False)
    if error.fix:
        err.print(f"  [bold]fix:[/] {escape(error.fix)}", markup=True, highlight=False)
    if _state["verbose"]:
        cause = error.__cause__
        while cause is not None:
            err.print(f"  caused by: {type(cause).__name__}: {cause}", markup=False)
            cause = cause.__cause__


def run() -> None:
    """Console-script entry point."""
    try:
        # Without standalone mode click returns a command's typer.Exit code
        # instead of exiting; pass it on.
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except KeylessError as error:
        _report(error)
        sys.exit(error.exit_code)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        sys.stderr.write("aborted\n")
        sys.exit(EXIT_INTERRUPTED)
    except SystemExit:
        raise
    except Exception as error:
        # Usage errors (unknown option, missing argument) come from click, which
        # typer may vendor; recognise them by shape rather than by import path.
        show = getattr(error, "show", None)
        if callable(show) and isinstance(getattr(error, "exit_code", None), int):
            show()
            sys.exit(EXIT_USAGE)
        raise
