"""The root click group that imports a command's module only when that command runs.

typer builds the root group with :class:`LazyGroup` (``typer.Typer(cls=...)``).
It fills the group with a :class:`DeferredCommand` per line of
:data:`keyless.cli.registry.COMMANDS`: a stand-in that knows the name and the
one-line help, so ``keyless --help`` lists everything, and that builds the
real command on the first call that needs more (parsing its arguments, its
own ``--help``). ``make_context`` hands over to the real command, so click
runs the real one from then on.

It also makes help read as click writes it: a conventional metavar on every
option and argument (``TEXT``, ``INTEGER``, ``PATH``; none on a flag) where
typer 0.2x writes Python types (``<str>``, ``<bool>`` even on a flag, which
reads as if it took a value), and plain text rather than rich panels, which
spares every ``--help`` and usage error the import of rich (a third of
``keyless login --help``'s time).
"""

from __future__ import annotations

import enum
import pathlib
import typing
from typing import Any

import typer.core

from keyless.cli.registry import COMMANDS, Entry

# Python annotation -> click's name for it (click.types: TEXT, INTEGER, FLOAT, PATH).
_METAVARS: dict[object, str] = {
    str: "TEXT",
    int: "INTEGER",
    float: "FLOAT",
    pathlib.Path: "PATH",
}


def _metavar(annotation: object) -> str:
    origin = typing.get_origin(annotation)
    if origin in (list, tuple):
        args = [arg for arg in typing.get_args(annotation) if arg is not Ellipsis]
        return _metavar(args[0]) if args else "TEXT"
    if origin is typing.Literal:
        return "[" + "|".join(str(value) for value in typing.get_args(annotation)) + "]"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "[" + "|".join(str(member.value) for member in annotation) + "]"
    return _METAVARS.get(annotation, "TEXT")


def conventional_metavars(command: Any) -> None:
    """Give ``command``'s options and arguments (and its subcommands') click's metavars,
    and plain help."""
    if hasattr(command, "rich_markup_mode"):
        command.rich_markup_mode = None
    for param in getattr(command, "params", ()):
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is None:
            continue  # not a typer parameter (click's own --help): already conventional
        if isinstance(param, typer.core.TyperOption):
            if param.metavar is None:
                # An empty metavar shows nothing: a flag takes no value.
                param.metavar = "" if param.is_flag else _metavar(descriptor.annotation)
        elif isinstance(param, typer.core.TyperArgument):
            if param.metavar is None and param.name:
                param.metavar = param.name.upper()  # click's way: SPEC_FILE, not spec_file
            label = _metavar(descriptor.annotation)
            # typer writes an argument's type from its annotation alone; this
            # instance's own display replaces that one method, nothing else.
            vars(param)["display_type_rich"] = lambda ctx, label=label: label
    # The help option is made per context, on first use: mark it a flag then.
    make_help_option = command.get_help_option

    def get_help_option(ctx: Any) -> Any:
        option = make_help_option(ctx)
        if option is not None and option.metavar is None:
            option.metavar = ""
            # typer coerces a parameter's value through pydantic unless it is
            # already a bool; an absent --help is None, which made every
            # command, even `--help`, import pydantic (0.1 s) to read it.
            if option.default is None:
                option.default = False
        return option

    vars(command)["get_help_option"] = get_help_option
    for sub in getattr(command, "commands", {}).values():
        conventional_metavars(sub)


class DeferredCommand(typer.core.TyperCommand):
    """A command known by name and help until it runs; then the real one takes over."""

    def __init__(self, entry: Entry) -> None:
        super().__init__(name=entry.name, help=entry.help, short_help=entry.help)
        self.entry = entry
        self._real: Any = None

    def real(self) -> Any:
        """The real click command (or group), built once."""
        if self._real is None:
            self._real = self.entry.load()
            conventional_metavars(self._real)
        return self._real

    def make_context(
        self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any
    ) -> Any:
        """The real command's context: click then invokes the real command."""
        return self.real().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: Any) -> Any:
        """Run the real command (click normally calls it through its own context)."""
        return self.real().invoke(ctx)


class LazyGroup(typer.core.TyperGroup):
    """The ``keyless`` group: every command of the registry, each imported when run."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for entry in COMMANDS:
            self.commands.setdefault(entry.name, DeferredCommand(entry))
        conventional_metavars(self)


# Old option names (without their leading dashes) -> the name they now mean. Here,
# not in keyless.cli.lab_dir, because the root context needs it before any command
# module is imported (see tests/cli/test_startup.py).
OLD_SPELLINGS = {"state-dir": "lab-dir", "lab-state-dir": "lab-dir"}


def normalize_token(name: str) -> str:
    """An option name as click should match it: an old spelling of ``--lab-dir`` becomes it."""
    return OLD_SPELLINGS.get(name, name)
