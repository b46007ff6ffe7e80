"""`keyless plan`, `keyless apply`, `keyless export terraform|cloudformation`.

Exit codes of `plan --detailed-exitcode`: 0 no changes, 1 error (an account
could not be read), 3 changes pending and nothing else (an unreachable service is
5, as for every command; the codes live in :mod:`keyless.errors`). Without it, 0
unless an error. `apply` exits 1 when any account failed (the others are still
applied).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from keyless.cli.lab_dir import LabDirOption
from keyless.cli.output import err, out, print_json
from keyless.errors import EXIT_CHANGES, EXIT_FINDING, InputError, KeylessError
from keyless.plan.diff import AccountPlan, Change, Plan
from keyless.plan.okta import OktaPlan
from keyless.services import provision
from keyless.spec import load_spec
from keyless.spec.model import Account, FederationSpec

if TYPE_CHECKING:
    from keyless.adapters.aws import AwsConnector
    from keyless.adapters.connection_file import Connection
    from keyless.services.okta_side import KnownOrg, OktaApplyResult, OktaSide


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
TargetOption = Annotated[
    str,
    typer.Option(
        "--target",
        help="Which side: aws, okta (the spec's `okta:` section), or all (AWS first, then Okta).",
    ),
]
TARGETS = ("all", "aws", "okta")
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


def _load_lab(lab_dir: Path | None) -> Connection:
    """The connection file ``--lab``/``--lab-dir`` names (see keyless.adapters.connection_file)."""
    from keyless.adapters.connection_file import load_connection
    from keyless.cli.lab_dir import resolve_lab_dir

    return load_connection(resolve_lab_dir(lab_dir))


def connector_for(info: Connection | None, profile: str | None) -> AwsConnector:
    """The management account's connector: the connection file's endpoint and key, or a profile."""
    if info is None:
        return provision.connect(profile=profile)
    return provision.connect(
        endpoint_url=info.aws_endpoint_url,
        ca_bundle=info.ca_bundle or None,
        access_key_id=info.access_key_id,
        secret_access_key=info.secret_access_key,
        region="us-east-1",
    )


def metadata_for(spec: FederationSpec, spec_file: Path, info: Connection | None) -> bytes:
    """The IdP's SAML metadata: served at the connection file's URL, or as the spec says."""
    if info is None:
        return provision.load_metadata(spec, spec_dir=spec_file.parent)
    return provision.load_metadata(spec, url=info.metadata_url, ca_bundle=info.ca_bundle or None)


def known_org(info: Connection | None) -> KnownOrg | None:
    """The Okta org, app and admin token a connection file names (None without one)."""
    if info is None:
        return None
    from keyless.services.okta_side import KnownOrg

    return KnownOrg(
        org_url=info.idp_url,
        app_id=info.app_id,
        ca_bundle=info.ca_bundle or None,
        api_token=info.okta_api_token or None,
    )


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
    target: str = "all",
) -> tuple[FederationSpec, provision.Provisioner, OktaSide | None]:
    if profile and (lab or lab_dir):
        raise InputError("--profile and --lab are exclusive", fix="pass one of them")
    if target not in TARGETS:
        raise InputError(f"--target must be one of {', '.join(TARGETS)}, got {target!r}")
    spec = load_spec(spec_file)
    info = _load_lab(lab_dir) if (lab or lab_dir) else None
    okta = _okta_side(spec, info, target)
    connector = connector_for(info, profile)
    metadata = None if target == "okta" else metadata_for(spec, spec_file, info)
    return spec, provision.Provisioner(spec, connector, metadata, parallel=parallel), okta


def _okta_side(spec: FederationSpec, info: Connection | None, target: str) -> OktaSide | None:
    """The Okta side to plan and apply, or None (``--target aws``, or no `okta:` section)."""
    if target == "aws":
        return None
    from keyless.adapters.secrets import open_secret_store
    from keyless.services import okta_side

    where = okta_side.okta_target(
        spec,
        known=known_org(info),
        keyring_get=lambda key: open_secret_store().get(key),
    )
    if where is None:
        if target == "okta":
            raise InputError(
                f"the spec {spec.name!r} has no `okta:` section: keyless manages no Okta side",
                fix="add `okta: {auth: api_token}` to the spec (see README, The Okta side)",
            )
        return None
    return okta_side.OktaSide(spec, where, okta_side.connect_okta(where))


def _plan_both(
    provisioner: provision.Provisioner,
    okta: OktaSide | None,
    *,
    target: str,
    accounts: list[str],
    prune: bool,
    adopt: bool,
) -> tuple[Plan, OktaPlan | None]:
    """The AWS plan (empty with ``--target okta``) and the Okta plan (None when not managed)."""
    if target == "okta":
        plan = Plan(spec_name=provisioner.spec.name, accounts=(), prune=prune, adopt=adopt)
    else:
        selected = provisioner.select(accounts)
        with _progress("reading accounts", len(selected)) as advance:
            plan = provisioner.plan(accounts=accounts, prune=prune, adopt=adopt, progress=advance)
    okta_plan = okta.plan(adopt=adopt, prune=prune) if okta is not None else None
    return plan, okta_plan


def _plan_document(plan: Plan, okta_plan: OktaPlan | None, target: str) -> dict[str, Any]:
    """One plan document for both sides (``plan --json``)."""
    document = plan.as_dict()
    document["target"] = target
    document["okta"] = okta_plan.as_dict() if okta_plan is not None else None
    if okta_plan is not None:
        for change in okta_plan.changes:
            document["totals"][change.action] += 1
        document["totals"]["errors"] += 1 if okta_plan.error else 0
        document["has_changes"] = plan.has_changes or bool(okta_plan.pending)
    return document


def _render_okta(okta_plan: OktaPlan) -> None:
    header = f"[bold]Okta[/] {okta_plan.org_url} (app {okta_plan.app_id})"
    _render_side(header, okta_plan.error, okta_plan.fix, okta_plan.changes, okta_plan.notes)


def _render_side(
    header: str,
    error: str | None,
    fix: str | None,
    changes: Sequence[Change],
    notes: Sequence[str],
) -> None:
    """One account's or the Okta org's part of a plan: its error, or its changes and notes."""
    if error:
        out.print(f"{header}: [bold red]error[/] {escape(error)}")
        if fix:
            out.print(f"  fix: {fix}", markup=False)
        return
    if not changes:
        out.print(f"{header}: [green]no changes[/]")
    else:
        out.print(header)
        for change in changes:
            _render_change(change)
    for note in notes:
        out.print(f"  [dim]note: {escape(note)}[/]")


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
    header = f"[bold]{escape(account.alias)}[/] ({account.id})"
    _render_side(
        header, account_plan.error, account_plan.fix, account_plan.changes, account_plan.notes
    )


def _render_plan(plan: Plan, okta_plan: OktaPlan | None = None, target: str = "all") -> None:
    for account_plan in plan.accounts:
        _render_account(account_plan)
    if okta_plan is not None:
        _render_okta(okta_plan)
    totals = _plan_document(plan, okta_plan, target)["totals"]
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
            help="Exit 3 when changes are pending, 0 when none (1: an account could not be "
            "read; 5: AWS could not be reached).",
        ),
    ] = False,
    lab: LabFlag = False,
    lab_dir: LabDirOption = None,
    profile: ProfileOption = None,
    prune: PruneFlag = False,
    adopt: AdoptFlag = False,
    parallel: ParallelOption = provision.DEFAULT_PARALLEL,
    target: TargetOption = "all",
) -> None:
    """Show what `apply` would change in every account and the Okta org (reads only)."""
    _spec, provisioner, okta = _prepare(
        spec_file, lab=lab, lab_dir=lab_dir, profile=profile, parallel=parallel, target=target
    )
    plan, okta_plan = _plan_both(
        provisioner, okta, target=target, accounts=account or [], prune=prune, adopt=adopt
    )
    if json_output:
        print_json(_plan_document(plan, okta_plan, target))
    else:
        _render_plan(plan, okta_plan, target)
    if plan.has_errors or (okta_plan is not None and okta_plan.error):
        raise typer.Exit(EXIT_FINDING)
    if detailed_exitcode and (plan.has_changes or (okta_plan is not None and okta_plan.pending)):
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
    target: TargetOption = "all",
) -> None:
    """Apply the spec to every account (provider, roles, policies, the IdP's principal,
    aliases), then to the Okta org (the AWS app's settings, groups, assignments)."""
    _spec, provisioner, okta = _prepare(
        spec_file, lab=lab, lab_dir=lab_dir, profile=profile, parallel=parallel, target=target
    )
    plan, okta_plan = _plan_both(
        provisioner, okta, target=target, accounts=account or [], prune=prune, adopt=adopt
    )
    if not json_output:
        _render_plan(plan, okta_plan, target)
    okta_pending = okta_plan is not None and bool(okta_plan.pending)
    if (
        (plan.has_changes or okta_pending)
        and not yes
        and not typer.confirm("\nApply these changes?", default=False, err=True)
    ):
        err.print("nothing applied")
        raise typer.Exit(EXIT_FINDING)
    with _progress("applying", len(plan.accounts), quiet=not plan.has_changes) as advance:
        report = provisioner.apply(plan, progress=advance)
    # AWS first (the providers exist before the app names them), then Okta, whatever
    # happened in AWS: each side's completed changes are kept and reported.
    okta_result = okta.apply(okta_plan) if okta is not None and okta_plan is not None else None
    key = None
    sent_to_okta = False
    if create_provisioning_key and report.ok:
        key = provisioner.create_provisioning_key()
        if okta is not None and okta_result is not None and okta_result.status != "failed":
            # Straight into the app's API integration: the secret is then never printed.
            try:
                okta.send_provisioning_key(key.access_key_id, key.secret_access_key)
                sent_to_okta = True
            except KeylessError as error:
                err.print(
                    f"[yellow]could not send the key to Okta ({escape(error.message)}); "
                    "it is printed instead[/]"
                )
    if json_output:
        document = report.as_dict()
        document["okta"] = okta_result.as_dict() if okta_result is not None else None
        if okta_result is not None and okta_result.status == "failed":
            document["ok"] = False
        if key is not None:
            # The report was made before the key existed (regression: this indexed None).
            document["provisioning_key"] = {
                "user": key.user_name,
                "access_key_id": key.access_key_id,
                "sent_to_okta": sent_to_okta,
            }
            if not sent_to_okta:
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
        if okta_result is not None:
            _render_okta_result(okta_result)
        if key is not None and sent_to_okta:
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
    if not report.ok:
        failed = ", ".join(f"{r.account.alias} ({r.account.id})" for r in report.failed_accounts())
        err.print(f"[bold red]apply failed in:[/] {failed}; the other accounts were applied")
        raise typer.Exit(EXIT_FINDING)
    if okta_result is not None and okta_result.status == "failed":
        err.print(
            f"[bold red]apply failed in the Okta org:[/] {escape(okta_result.error or '')}"
            + ("" if target == "okta" else "; the AWS side was applied")
        )
        if okta_result.fix:
            err.print(f"  fix: {okta_result.fix}", markup=False)
        raise typer.Exit(EXIT_FINDING)


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
