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

And it converts the values people type without pydantic where that gives the
same value (:class:`PlainConversion`): typer 0.2x builds a pydantic adapter
for every parameter of the command that runs, which was a fifth of a sign-in.
"""

from __future__ import annotations

import copy
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


class PlainConversion:
    """typer's conversion of a parameter's value, for the values that need no pydantic.

    typer 0.2x converts every value (an absent option's ``None`` too) through a
    pydantic ``TypeAdapter`` it builds per parameter on first use: importing
    pydantic and building ``keyless login``'s adapters took 55 ms of a 265 ms
    sign-in, to hand back the very strings click had parsed. Here ``None``, a
    ``str`` parameter's string and a plain ``int`` parameter's int or ASCII
    decimal digits convert directly, to what typer's adapter returns for them
    (``tests/cli/test_startup.py`` compares the two); any other value — a
    range, a path, a choice, a malformed number, and so every error message —
    goes to typer's own conversion, built only then.
    """

    def __init__(self, param: Any) -> None:
        descriptor = param.type_descriptor
        info = descriptor.parameter_info
        plain = info.parser is None and not (descriptor.is_path or descriptor.is_file)
        self._str = plain and descriptor.annotation is str
        self._int = plain and descriptor.annotation is int and info.min is None and info.max is None
        self._typer_conversion = param.get_runtime_param  # typer's own, built on first call

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        """``value`` converted as typer converts it."""
        if value is None:
            return None  # typer's answer for a single-valued parameter, before any adapter
        if self._str and type(value) is str:
            return value
        if self._int:
            if type(value) is int:
                return value
            if type(value) is str and _decimal(value):
                return int(value)
        return self._typer_conversion().coerce(value, param=param, ctx=ctx)


def _decimal(text: str) -> bool:
    """An optional minus and at most 18 ASCII digits: what ``int()`` and pydantic read alike."""
    digits = text[1:] if text.startswith("-") else text
    return 0 < len(digits) <= 18 and digits.isascii() and digits.isdigit()


def plain_conversions(command: Any) -> None:
    """Give ``command``'s single-valued typer parameters (and its subcommands')
    :class:`PlainConversion`."""
    for param in getattr(command, "params", ()):
        if getattr(param, "type_descriptor", None) is None or not hasattr(
            param, "get_runtime_param"
        ):
            continue  # click's own parameter, or a typer without runtime conversion
        if param.multiple or param.nargs != 1:
            continue  # lists and tuples: typer's conversion
        conversion = PlainConversion(param)
        vars(param)["get_runtime_param"] = lambda conversion=conversion: conversion
    for sub in getattr(command, "commands", {}).values():
        plain_conversions(sub)


# What the root options (keyless.cli.app's callback) set; read when an error is reported.
STATE = {"verbose": False}
# Root options that also work after the command (`keyless plan ... -v`): flags only.
GLOBAL_OPTIONS = ("verbose", "wide")


def _set_global(ctx: Any, param: Any, value: Any) -> Any:
    if value:
        STATE[param.name] = value
        if param.name == "wide":
            # Output's setting, as the root callback sets it; imported only when asked.
            from keyless.cli.output import set_wide

            set_wide(True)
    return value


def global_options(command: Any, root_params: list[Any]) -> None:
    """Give ``command`` (and its subcommands) the root's :data:`GLOBAL_OPTIONS`, so
    ``keyless plan --spec F -v`` means ``keyless -v plan --spec F``.

    Each is a copy of the root's option that only sets :data:`STATE` (the command's
    function never sees it); a command with an option of the same spelling keeps its own.
    click's parser places them, so a ``-v`` after ``--`` is an argument, as before.
    """
    settings = getattr(command, "context_settings", None) or {}
    if settings.get("ignore_unknown_options") or getattr(command, "ignore_unknown_options", False):
        # `keyless exec -p NAME cmd -v`: options keyless does not know are CMD's, and
        # were before -v was global; there -v works before the command only.
        return
    taken = {opt for param in getattr(command, "params", ()) for opt in param.opts}
    for param in root_params:
        if param.name not in GLOBAL_OPTIONS or taken & set(param.opts):
            continue
        option = copy.copy(param)
        option.expose_value = False
        option.callback = _set_global
        command.params.append(option)
    for sub in getattr(command, "commands", {}).values():
        global_options(sub, root_params)


class DeferredCommand(typer.core.TyperCommand):
    """A command known by name and help until it runs; then the real one takes over."""

    def __init__(self, entry: Entry, root_params: list[Any] | None = None) -> None:
        super().__init__(name=entry.name, help=entry.help, short_help=entry.help)
        self.entry = entry
        self.root_params = root_params if root_params is not None else []
        self._real: Any = None

    def real(self) -> Any:
        """The real click command (or group), built once."""
        if self._real is None:
            self._real = self.entry.load()
            conventional_metavars(self._real)
            plain_conversions(self._real)
            global_options(self._real, self.root_params)
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
            # self.params, not a copy: conventional_metavars below finishes the root's
            # options before any command is built from them.
            self.commands.setdefault(entry.name, DeferredCommand(entry, self.params))
        conventional_metavars(self)
        plain_conversions(self)


# Old option names (without their leading dashes) -> the name they now mean. Here,
# not in keyless.cli.lab_dir, because the root context needs it before any command
# module is imported (see tests/cli/test_startup.py).
OLD_SPELLINGS = {"state-dir": "lab-dir", "lab-state-dir": "lab-dir"}


def normalize_token(name: str) -> str:
    """An option name as click should match it: an old spelling of ``--lab-dir`` becomes it."""
    return OLD_SPELLINGS.get(name, name)
