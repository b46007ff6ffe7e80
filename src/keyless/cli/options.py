"""The options every command spells the same way (the README's "Conventions").

- ``--spec FILE`` (``-s``), else ``KEYLESS_SPEC``: the federation spec, for every
  command that reads one. ``spec validate|show|groups`` also take it as a
  positional, their older spelling.
- ``--aws-profile NAME``: the AWS credentials profile of the management account,
  wherever keyless acts on accounts (``plan``, ``apply``, ``audit``,
  ``offboard``). ``--profile`` is the *keyless* profile (``login``,
  ``configure``...); on those four commands it still means the AWS profile
  for one release, with a warning (:func:`aws_profile`).

Kept apart from the command modules so that ``keyless spec validate`` does not
import the provisioning code to read one option.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from keyless.errors import InputError

SPEC_ENV = "KEYLESS_SPEC"

SpecOption = Annotated[
    Path,
    typer.Option(
        "--spec",
        "-s",
        envvar=SPEC_ENV,
        help="The federation spec (YAML).",
        show_default=False,
    ),
]
# For commands that also take the spec as a positional (`spec validate FILE`).
OptionalSpecOption = Annotated[
    Path | None,
    typer.Option(
        "--spec",
        "-s",
        envvar=SPEC_ENV,
        help="The federation spec (YAML); FILE is the same.",
        show_default=False,
    ),
]
SpecArgument = Annotated[
    Path | None,
    typer.Argument(help="The federation spec (same as --spec).", show_default=False),
]

AwsProfileOption = Annotated[
    str | None,
    typer.Option(
        "--aws-profile",
        help="AWS credentials profile of the management account (default: the AWS chain).",
    ),
]
# The old meaning of --profile on plan/apply/audit/offboard, kept one release.
DeprecatedProfileOption = Annotated[
    str | None,
    typer.Option("--profile", hidden=True, help="Deprecated: use --aws-profile."),
]


def spec_file(positional: Path | None, option: Path | None) -> Path:
    """The spec a command reads: FILE or ``--spec`` (one of them), else ``KEYLESS_SPEC``.

    ``option`` already holds ``KEYLESS_SPEC`` when ``--spec`` was not typed
    (typer reads the variable); a typed FILE wins over the variable.
    """
    if positional is not None:
        # typer vendors click, so the parameter's source is not asked for: a value
        # equal to the variable's is taken as the variable's (either way FILE wins).
        from_env = option is not None and option == Path(os.environ.get(SPEC_ENV) or "\0")
        if option is not None and not from_env and option != positional:
            raise InputError(
                f"two specs named: {positional} and --spec {option}",
                fix="name one (FILE and --spec are the same)",
            )
        return positional
    if option is None:
        raise InputError(
            "no federation spec named",
            fix=f"pass --spec FILE (or set {SPEC_ENV})",
        )
    return option


def aws_profile(
    command: str,
    aws_profile: str | None,
    deprecated_profile: str | None,
    *,
    lab: bool,
    lab_dir: Path | None,
) -> str | None:
    """The management account's AWS profile, from ``--aws-profile`` or (deprecated) ``--profile``.

    Refuses both with different values, and either with ``--lab``/``--lab-dir``
    (the lab's connection file names the credentials then).
    """
    if deprecated_profile is not None:
        if aws_profile is not None and aws_profile != deprecated_profile:
            raise InputError(
                f"--aws-profile {aws_profile} and --profile {deprecated_profile} disagree",
                fix="pass --aws-profile only",
            )
        from keyless.cli.output import say

        say(
            f"warning: `keyless {command} --profile` is deprecated: it names the AWS profile "
            "here, the keyless profile elsewhere; use --aws-profile "
            f"{deprecated_profile} (the next release makes --profile the keyless profile)"
        )
        aws_profile = deprecated_profile
    if aws_profile is not None and (lab or lab_dir):
        raise InputError("--aws-profile and --lab are exclusive", fix="pass one of them")
    return aws_profile
