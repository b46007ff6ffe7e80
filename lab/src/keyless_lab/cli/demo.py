"""`keyless demo`: the whole federation flow in the embedded lab, narrated."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from keyless.cli.output import err, out, print_json
from keyless.errors import EXIT_FINDING

EXAMPLE = Path("examples") / "acme.yaml"


def register(app: typer.Typer) -> None:
    """Add `keyless demo` to the app."""
    app.command()(demo)


def demo(
    spec: Annotated[
        Path,
        typer.Option("--spec", help="The lab federation to run (needs alice@ and bob@ users)."),
    ] = EXAMPLE,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Run the whole federation flow end to end in the embedded lab, on loopback.

    Starts the lab (an Okta-compatible IdP and a strict STS over moto), provisions
    the spec with `apply`, signs in as alice with password + TOTP through `login`,
    takes OktaAdminRole in acme-prod, shows that bob's Developer session cannot
    create IAM users and that a tampered assertion is refused, then audits what is
    still long-lived. Leaves nothing running and nothing in ~/.aws.
    """
    from keyless_lab.demo import DemoStep, run_demo

    def show(step: DemoStep) -> None:
        if json_output:
            return
        mark = "[green]✓[/]" if step.ok else "[bold red]✗[/]"
        out.print(f"\n{mark} [bold]{escape(step.title)}[/]")
        for line in step.lines:
            out.print(f"    {escape(line)}")

    def note(message: str) -> None:
        if not json_output:
            err.print(f"[dim]  {message}[/]")

    if not json_output:
        err.print(f"[bold]keyless demo[/]: the federation in {spec}, end to end, offline")
    report = run_demo(spec, on_step=show, on_note=note)
    if json_output:
        print_json(report.as_dict())
    else:
        verdict = (
            "[green]all steps behaved as federation should[/]"
            if report.ok
            else ("[bold red]some steps did not behave as expected[/]")
        )
        out.print(f"{verdict} ({report.seconds:.1f}s; the lab is stopped, ~/.aws untouched)")
    if not report.ok:
        raise typer.Exit(EXIT_FINDING)
