"""`keyless plan`, `keyless apply`, `keyless export terraform|cloudformation`.

Exit codes of `plan --detailed-exitcode`: 0 no changes, 1 error (an account
could not be read), 3 changes pending and nothing else (an unreachable service is
5, as for every command; the codes live in :mod:`keyless.errors`). Without it, 0
unless an error. `apply` exits 1 when any account failed (the others are still
applied).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from keyless.cli.lab_dir import LabDirOption
from keyless.cli.options import (
    AwsProfileOption,
    DeprecatedProfileOption,
    SpecOption,
    aws_profile,
)
from keyless.cli.output import err, out, print_json, print_table
from keyless.errors import EXIT_CHANGES, EXIT_FINDING
from keyless.plan.review import SUMMARY_HEADERS, Line, review
from keyless.services.compose import Composition
from keyless.services.provision import accounts as provision
from keyless.services.provision.federation import (
    Federation,
    FederationPlan,
    FederationResult,
    check_target,
    open_federation,
)
from keyless.spec import load_spec
from keyless.spec.model import Account

if TYPE_CHECKING:
    from keyless.services.okta.side import OktaApplyResult


AccountOption = Annotated[
    list[str] | None,
    typer.Option("--account", "-a", help="Only this account (alias or id); repeatable."),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]
LabFlag = Annotated[
    bool,
    typer.Option(
        "--lab",
        help="Use the running lab (endpoint, credentials, IdP metadata from its lab.json).",
    ),
]
PruneFlag = Annotated[
    bool, typer.Option("--prune", help="Delete managed roles and users that left the spec.")
]
AdoptFlag = Annotated[
    bool,
    typer.Option("--adopt", help="Take over same-named resources keyless does not manage."),
]
TargetOption = Annotated[
    str,
    typer.Option(
        "--target",
        help="Which side: aws, okta (the spec's `okta:` section), or all (AWS first, then Okta).",
    ),
]
CompactFlag = Annotated[
    bool,
    typer.Option(
        "--compact",
        help="The summary table and one line per change (no values or documents).",
    ),
]
ParallelOption = Annotated[
    int, typer.Option("--parallel", min=1, max=64, help="Accounts worked on at once.")
]


def composition_for(*, lab: bool, lab_dir: Path | None, profile: str | None) -> Composition:
    """Where AWS and Okta are: the connection file ``--lab``/``--lab-dir`` names, or the
    management account's AWS ``profile`` (``--aws-profile``).

    Callers have already refused ``--aws-profile`` with ``--lab``
    (:func:`keyless.cli.options.aws_profile`).
    """
    from keyless.cli.lab_dir import resolve_lab_dir

    connection_dir = resolve_lab_dir(lab_dir) if (lab or lab_dir) else None
    return Composition.from_options(profile=profile, connection_dir=connection_dir)


@contextmanager
def _progress(label: str, total: int, *, quiet: bool = False) -> Iterator[provision.Progress]:
    """A progress bar on stderr; yields the per-account callback the service calls."""
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=quiet,
    )
    task = bar.add_task(label, total=total)

    def advance(account: Account) -> None:
        bar.update(task, advance=1, description=f"{label} ({account.alias})")

    with bar:
        yield advance


def _open(
    spec_file: Path,
    *,
    lab: bool,
    lab_dir: Path | None,
    profile: str | None,
    parallel: int,
    target: str = "all",
) -> Federation:
    """Options checked in one place, then the federation wired to where they point.

    ``profile`` is the AWS profile :func:`keyless.cli.options.aws_profile` resolved.
    """
    checked = check_target(target)
    spec = load_spec(spec_file)
    composition = composition_for(lab=lab, lab_dir=lab_dir, profile=profile)
    return open_federation(
        spec, composition, spec_dir=spec_file.parent, target=checked, parallel=parallel
    )


def _plan(
    federation: Federation, *, accounts: list[str], prune: bool, adopt: bool
) -> FederationPlan:
    """Both sides' plans, with a progress bar while the accounts are read."""
    reading = federation.accounts_to_read(accounts)
    with _progress("reading accounts", reading, quiet=federation.target == "okta") as advance:
        return federation.plan(accounts=accounts, prune=prune, adopt=adopt, progress=advance)


def _text(line: Line) -> Text:
    # Spans, not markup: names from the spec and from AWS print as they are.
    return Text.assemble(*((text, style or "") for text, style in line))


def _render_plan(plan: FederationPlan, *, compact: bool = False) -> None:
    """The summary table, then the details (or one line per change), then the totals."""
    shown = review(plan.aws.accounts, plan.okta)
    # No inner rules: the table fits 80 columns with a long alias, as a CI log shows it.
    table = Table(
        *SUMMARY_HEADERS,
        title="Plan summary",
        title_justify="left",
        box=box.SIMPLE,
        show_edge=False,
        padding=(0, 1, 0, 0),
        pad_edge=False,
    )
    for column in table.columns[2:]:
        column.justify = "right"
    for row in shown.summary:
        style = "bold" if row.where == "total" else "red" if row.error else None
        table.add_row(*row.cells(), style=style, end_section=row is shown.summary[-2])
    print_table(table)
    lines = shown.compact if compact else shown.details
    if lines:
        out.print()
    for line in lines:
        out.print(_text(line))
    totals = plan.totals()
    out.print(
        f"\n[bold]Plan:[/] {totals['create']} to create, "
        f"{totals['update'] + totals['replace']} to change, "
        f"{totals['delete']} to delete; {totals['conflict']} conflict(s) left alone, "
        f"{totals['orphan']} not in the spec (kept; --prune deletes); "
        f"{totals['errors']} account(s) unreadable, across {len(plan.aws.accounts)} account(s)."
    )


def plan_command(
    spec_file: SpecOption,
    account: AccountOption = None,
    json_output: JsonFlag = False,
    detailed_exitcode: Annotated[
        bool,
        typer.Option(
            "--detailed-exitcode",
            help="Exit 3 when changes are pending, 0 when none (1: an account could not be "
            "read; 5: AWS could not be reached).",
        ),
    ] = False,
    lab: LabFlag = False,
    lab_dir: LabDirOption = None,
    aws_profile_name: AwsProfileOption = None,
    profile: DeprecatedProfileOption = None,
    prune: PruneFlag = False,
    adopt: AdoptFlag = False,
    parallel: ParallelOption = provision.DEFAULT_PARALLEL,
    target: TargetOption = "all",
    compact: CompactFlag = False,
) -> None:
    """Show what `apply` would change in every account and the Okta org (reads only).

    A summary table first, then each change; a document already shown is not
    repeated ("same as in acme-dev")."""
    profile = aws_profile("plan", aws_profile_name, profile, lab=lab, lab_dir=lab_dir)
    with _open(
        spec_file, lab=lab, lab_dir=lab_dir, profile=profile, parallel=parallel, target=target
    ) as federation:
        plan = _plan(federation, accounts=account or [], prune=prune, adopt=adopt)
    if json_output:
        print_json(plan.as_dict())
    else:
        _render_plan(plan, compact=compact)
    if plan.has_errors:
        raise typer.Exit(EXIT_FINDING)
    if detailed_exitcode and plan.has_changes:
        raise typer.Exit(EXIT_CHANGES)


def apply_command(
    spec_file: SpecOption,
    account: AccountOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking.")] = False,
    prune: PruneFlag = False,
    adopt: AdoptFlag = False,
    parallel: ParallelOption = provision.DEFAULT_PARALLEL,
    lab: LabFlag = False,
    lab_dir: LabDirOption = None,
    aws_profile_name: AwsProfileOption = None,
    profile: DeprecatedProfileOption = None,
    create_provisioning_key: Annotated[
        bool,
        typer.Option(
            "--create-provisioning-key",
            help="Create the IdP provisioning user's access key once and PRINT ITS SECRET "
            "(for Okta's API integration; the only secret keyless ever prints).",
        ),
    ] = False,
    json_output: JsonFlag = False,
    target: TargetOption = "all",
    compact: CompactFlag = False,
) -> None:
    """Apply the spec to every account (provider, roles, policies, the IdP's principal,
    aliases), then to the Okta org (the AWS app's settings, groups, assignments)."""
    profile = aws_profile("apply", aws_profile_name, profile, lab=lab, lab_dir=lab_dir)
    with _open(
        spec_file, lab=lab, lab_dir=lab_dir, profile=profile, parallel=parallel, target=target
    ) as federation:
        plan = _plan(federation, accounts=account or [], prune=prune, adopt=adopt)
        if not json_output:
            _render_plan(plan, compact=compact)
        if (
            plan.has_changes
            and not yes
            and not typer.confirm("\nApply these changes?", default=False, err=True)
        ):
            err.print("nothing applied")
            raise typer.Exit(EXIT_FINDING)
        quiet = not plan.aws.has_changes
        with _progress("applying", len(plan.aws.accounts), quiet=quiet) as advance:
            result = federation.apply(
                plan, create_provisioning_key=create_provisioning_key, progress=advance
            )
    if result.key_not_sent is not None:
        err.print(
            f"[yellow]could not send the key to Okta ({escape(result.key_not_sent.message)}); "
            "it is printed instead[/]"
        )
    if json_output:
        print_json(result.as_dict())
    else:
        _render_result(result)
    if not result.aws_ok:
        failed = ", ".join(
            f"{r.account.alias} ({r.account.id})" for r in result.aws.failed_accounts()
        )
        err.print(f"[bold red]apply failed in:[/] {failed}; the other accounts were applied")
        raise typer.Exit(EXIT_FINDING)
    if result.okta is not None and result.okta_failed:
        err.print(
            f"[bold red]apply failed in the Okta org:[/] {escape(result.okta.error or '')}"
            + ("" if target == "okta" else "; the AWS side was applied")
        )
        if result.okta.fix:
            err.print(f"  fix: {result.okta.fix}", markup=False)
        raise typer.Exit(EXIT_FINDING)


def _render_result(result: FederationResult) -> None:
    """What apply did, for people: every account, the Okta org, the provisioning key."""
    out.print()
    for account_result in result.aws.results:
        account = account_result.account
        header = f"[bold]{account.alias}[/] ({account.id})"
        if account_result.status == "failed":
            out.print(f"{header}: [bold red]FAILED[/] {account_result.error}")
            if account_result.fix:
                out.print(f"  fix: {account_result.fix}", markup=False)
        elif account_result.status == "applied":
            out.print(f"{header}: [green]applied[/] {len(account_result.applied)} change(s)")
        else:
            out.print(f"{header}: [green]up to date[/]")
        for change in account_result.skipped:
            out.print(f"  [dim]left alone: {change.action} {change.resource} {change.name}[/]")
    if result.okta is not None:
        _render_okta_result(result.okta)
    key = result.provisioning_key
    if key is not None and result.key_sent_to_okta:
        out.print(
            f"provisioning key {key.access_key_id} of {key.user_name}: sent to Okta's API "
            "integration (the secret was not printed)",
            markup=False,
        )
    elif key is not None:
        err.print(
            "[bold yellow]The provisioning user's secret access key follows. It is shown "
            "once: paste it into Okta's AWS app (Provisioning > API integration) and "
            "do not store it anywhere else.[/]"
        )
        out.print(f"user:              {key.user_name}", markup=False)
        out.print(f"access key id:     {key.access_key_id}", markup=False)
        out.print(f"secret access key: {key.secret_access_key}", markup=False)


def _render_okta_result(result: OktaApplyResult) -> None:
    if result.status == "failed":
        out.print(f"[bold]Okta[/]: [bold red]FAILED[/] {escape(result.error or '')}")
    elif result.status == "applied":
        out.print(f"[bold]Okta[/]: [green]applied[/] {len(result.applied)} change(s)")
    else:
        out.print("[bold]Okta[/]: [green]up to date[/]")
    for change in result.skipped:
        out.print(f"  [dim]left alone: {change.action} {change.resource} {escape(change.name)}[/]")


export_app = typer.Typer(
    help="Export the federation's AWS side for Terraform or CloudFormation.", no_args_is_help=True
)

OutOption = Annotated[
    Path, typer.Option("--out", "-o", help="Directory to write into.", show_default=False)
]


@export_app.command("terraform")
def export_terraform(spec_file: SpecOption, out_dir: OutOption) -> None:
    """A Terraform module per account's federation + a root with one AWS provider per account."""
    from keyless.export.terraform import write_terraform

    spec = load_spec(spec_file)
    written = write_terraform(spec, out_dir)
    for path in written:
        out.print(str(path), markup=False)
    err.print(f"wrote {len(written)} files to {out_dir}; see {out_dir / 'README.md'}")


@export_app.command("cloudformation")
def export_cloudformation(spec_file: SpecOption, out_dir: OutOption) -> None:
    """A StackSet template for member accounts + the management account's template."""
    from keyless.export.cloudformation import write_cloudformation

    spec = load_spec(spec_file)
    written = write_cloudformation(spec, out_dir)
    for path in written:
        out.print(str(path), markup=False)
    err.print(f"wrote {len(written)} files to {out_dir}; see {out_dir / 'README.md'}")


def register(app: typer.Typer) -> None:
    """Add `plan`, `apply` and the `export` group to the top-level app."""
    app.command("plan")(plan_command)
    app.command("apply")(apply_command)
    app.add_typer(export_app, name="export")
