"""``keyless doctor``: check what a profile meets, each finding with its fix.

Thin: resolves the profile, runs :func:`keyless.services.doctor.service.diagnose`,
prints one line per check (``ok``, ``warning``, ``problem``, ``not evaluated``)
and exits 1 when any check is a problem.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from keyless.cli.output import print_json
from keyless.errors import EXIT_FINDING


def doctor(
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile", "-p", help="keyless profile (default: $KEYLESS_PROFILE or default)."
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Check a profile: clocks, CAs, Okta's engine and flow, the AWS app, session lengths."""
    from keyless.services.doctor.service import default_ports, diagnose
    from keyless.services.login.profiles import resolve_settings

    report = diagnose(resolve_settings(profile), default_ports())
    if json_output:
        print_json(report.as_dict())
    else:
        lines = [f"keyless doctor: profile {report.profile}"]
        for check in report.checks:
            lines.append(f"  {check.status:<13} {check.id}: {check.summary}")
            if check.fix:
                lines.append(f"  {'':<13} fix: {check.fix}")
        counts = [
            (sum(1 for check in report.checks if check.status == status), status, plural)
            for status, plural in (
                ("problem", "problems"),
                ("warning", "warnings"),
                ("not evaluated", "not evaluated"),
            )
        ]
        lines.append(", ".join(f"{n} {one if n == 1 else many}" for n, one, many in counts))
        sys.stdout.write("\n".join(lines) + "\n")
    if not report.ok:
        raise typer.Exit(EXIT_FINDING)


def register(app: typer.Typer) -> None:
    """Add ``doctor`` to the top-level ``keyless`` app."""
    app.command("doctor")(doctor)
