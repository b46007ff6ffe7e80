"""`keyless plan`, `keyless apply`, `keyless export terraform|cloudformation`.

Exit codes of `plan --detailed-exitcode`: 0 no changes, 1 error (an account
could not be read), 3 changes pending. Without it, 0 unless an error. `apply`
exits 1 when any account failed (the others are still applied).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from keyless.cli.lab_dir import LabDirOption
from keyless.cli.output import err, out, print_json
from keyless.errors import EXIT_FINDING, InputError, LabError
from keyless.plan.diff import AccountPlan, Change, Plan
from keyless.services import provision
from keyless.spec import load_spec
from keyless.spec.model import Account, FederationSpec

if TYPE_CHECKING:
    from keyless.lab.info import LabInfo

EXIT_CHANGES = 3  # `plan --detailed-exitcode`: changes pending (documented in the README)

SpecOption = Annotated[
    Path, typer.Option("--spec", "-s", help="The federation spec (YAML).", show_default=False)
]
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
ProfileOption = Annotated[
    str | None, typer.Option("--profile", help="AWS profile of the management account.")
]
PruneFlag = Annotated[
    bool, typer.Option("--prune", help="Delete managed roles and users that left the spec.")
]
AdoptFlag = Annotated[
    bool,
    typer.Option("--adopt", help="Take over same-named resources keyless does not manage."),
]
ParallelOption = Annotated[
    int, typer.Option("--parallel", min=1, max=64, help="Accounts worked on at once.")
]

ACTION_STYLE = {
    "create": ("+", "green"),
    "update": ("~", "yellow"),
    "replace": ("-/+", "magenta"),
    "delete": ("-", "red"),
    "conflict": ("!", "bold red"),
    "orphan": ("?", "dim"),
}


def _load_lab(lab_dir: Path | None) -> LabInfo:
    try:
        from keyless.lab.runtime import load_running
    except ImportError as exc:
        raise LabError(
            "the embedded lab is not available in this installation",
            fix="reinstall keyless with its lab extras",
        ) from exc
    return load_running(lab_dir)


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


def _prepare(
    spec_file: Path,
    *,
    lab: bool,
    lab_dir: Path | None,
    profile: str | None,
    parallel: int,
) -> tuple[FederationSpec, provision.Provisioner]:
    if profile and (lab or lab_dir):
        raise InputError("--profile and --lab are exclusive", fix="pass one of them")
    spec = load_spec(spec_file)
    if lab or lab_dir:
        info = _load_lab(lab_dir)
        connector = info.connector()
        metadata = info.idp_metadata(spec)
    else:
        connector = provision.connect(profile=profile)
        metadata = provision.load_metadata(spec, spec_dir=spec_file.parent)
    return spec, provision.Provisioner(spec, connector, metadata, parallel=parallel)


def _render_change(change: Change) -> None:
    symbol, style = ACTION_STYLE[change.action]
    line = f"  [{style}]{symbol} {change.action}[/] {change.resource} [bold]{change.name}[/]"
    if change.reason:
        line += f" [dim]— {change.reason}[/]"
    out.print(line)
    if change.action not in ("create", "update", "replace"):
        return
    for field_change in change.fields:
        if change.action == "create" and field_change.kind == "value":
            out.print(f"      {field_change.field}: {field_change.after}", markup=False)
            continue
        for diff_line in field_change.diff_lines():
            style_for = (
                "green" if diff_line.startswith("+") else "red" if diff_line.startswith("-") else ""
            )
            text = f"      {diff_line}"
            out.print(text, style=style_for or None, markup=False)


def _render_account(account_plan: AccountPlan) -> None:
    account = account_plan.account
    header = f"[bold]{account.alias}[/] ({account.id})"
    if account_plan.error:
        out.print(f"{header}: [bold red]error[/] {account_plan.error}")
        if account_plan.fix:
            out.print(f"  fix: {account_plan.fix}", markup=False)
        return
    if not account_plan.changes:
        out.print(f"{header}: [green]no changes[/]")
    else:
        out.print(header)
        for change in account_plan.changes:
            _render_change(change)
    for note in account_plan.notes:
        out.print(f"  [dim]note: {note}[/]")


def _render_plan(plan: Plan) -> None:
    for account_plan in plan.accounts:
        _render_account(account_plan)
    totals = plan.totals()
    out.print(
        f"\n[bold]Plan:[/] {totals['create']} to create, "
        f"{totals['update'] + totals['replace']} to change, "
        f"{totals['delete']} to delete; {totals['conflict']} conflict(s) left alone, "
        f"{totals['orphan']} not in the spec (kept; --prune deletes); "
        f"{totals['errors']} account(s) unreadable, across {len(plan.accounts)} account(s)."
    )


def plan_command(
    spec_file: SpecOption,
    account: AccountOption = None,
    json_output: JsonFlag = False,
    detailed_exitcode: Annotated[
        bool,
        typer.Option(
            "--detailed-exitcode",
            help="Exit 3 when changes are pending, 0 when none (1: an account could not be read).",
        ),
    ] = False,
    lab: LabFlag = False,
    lab_dir: LabDirOption = None,
    profile: ProfileOption = None,
    prune: PruneFlag = False,
    adopt: AdoptFlag = False,
    parallel: ParallelOption = provision.DEFAULT_PARALLEL,
) -> None:
    """Show what `apply` would change in every account (reads only)."""
    _spec, provisioner = _prepare(
        spec_file, lab=lab, lab_dir=lab_dir, profile=profile, parallel=parallel
    )
    selected = provisioner.select(account or [])
    with _progress("reading accounts", len(selected)) as advance:
        plan = provisioner.plan(accounts=account or [], prune=prune, adopt=adopt, progress=advance)
    if json_output:
        print_json(plan.as_dict())
    else:
        _render_plan(plan)
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
    profile: ProfileOption = None,
    create_provisioning_key: Annotated[
        bool,
        typer.Option(
            "--create-provisioning-key",
            help="Create the IdP provisioning user's access key once and PRINT ITS SECRET "
            "(for Okta's API integration; the only secret keyless ever prints).",
        ),
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Apply the spec to every account: provider, roles, policies, the IdP's principal, aliases."""
    _spec, provisioner = _prepare(
        spec_file, lab=lab, lab_dir=lab_dir, profile=profile, parallel=parallel
    )
    selected = provisioner.select(account or [])
    with _progress("reading accounts", len(selected)) as advance:
        plan = provisioner.plan(accounts=account or [], prune=prune, adopt=adopt, progress=advance)
    if not json_output:
        _render_plan(plan)
    if (
        plan.has_changes
        and not yes
        and not typer.confirm("\nApply these changes?", default=False, err=True)
    ):
        err.print("nothing applied")
        raise typer.Exit(EXIT_FINDING)
    with _progress("applying", len(plan.accounts), quiet=not plan.has_changes) as advance:
        report = provisioner.apply(plan, progress=advance)
    key = None
    if create_provisioning_key and report.ok:
        key = provisioner.create_provisioning_key()
    if json_output:
        document = report.as_dict()
        if key is not None:
            document["provisioning_key"]["secret_access_key"] = key.secret_access_key
        print_json(document)
    else:
        out.print()
        for result in report.results:
            header = f"[bold]{result.account.alias}[/] ({result.account.id})"
            if result.status == "failed":
                out.print(f"{header}: [bold red]FAILED[/] {result.error}")
                if result.fix:
                    out.print(f"  fix: {result.fix}", markup=False)
            elif result.status == "applied":
                out.print(f"{header}: [green]applied[/] {len(result.applied)} change(s)")
            else:
                out.print(f"{header}: [green]up to date[/]")
            for change in result.skipped:
                out.print(f"  [dim]left alone: {change.action} {change.resource} {change.name}[/]")
        if key is not None:
            err.print(
                "[bold yellow]The provisioning user's secret access key follows. It is shown "
                "once: paste it into Okta's AWS app (Provisioning > API integration) and "
                "do not store it anywhere else.[/]"
            )
            out.print(f"user:              {key.user_name}", markup=False)
            out.print(f"access key id:     {key.access_key_id}", markup=False)
            out.print(f"secret access key: {key.secret_access_key}", markup=False)
    if not report.ok:
        failed = ", ".join(f"{r.account.alias} ({r.account.id})" for r in report.failed_accounts())
        err.print(f"[bold red]apply failed in:[/] {failed}; the other accounts were applied")
        raise typer.Exit(EXIT_FINDING)


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
