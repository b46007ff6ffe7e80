"""`keyless offboard`: take a person's access away at the IdP and in every AWS account.

Exit codes: 0 every step done and confirmed; 1 (``EXIT_FINDING``) an account
could not be reached, a revocation was not confirmed, the Okta step failed, or
``--release`` was refused because a session could still be alive; 2 bad input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from keyless.cli.lab_dir import LabDirOption
from keyless.cli.options import (
    AwsProfileOption,
    DeprecatedProfileOption,
    SpecOption,
    aws_profile,
)
from keyless.cli.output import err, out, print_json, print_table
from keyless.cli.provision import (
    JsonFlag,
    LabFlag,
    ParallelOption,
    composition_for,
)
from keyless.errors import EXIT_FINDING, InputError, KeylessError
from keyless.files import PUBLIC, write_atomic
from keyless.services.offboard import DEFAULT_PARALLEL, Offboarder, OffboardReport, OktaOffboarding
from keyless.spec import load_spec
from keyless.spec.model import FederationSpec

if TYPE_CHECKING:
    from keyless.services.compose import Composition


def okta_seam(spec: FederationSpec, composition: Composition) -> tuple[OktaOffboarding | None, str]:
    """The Okta step for ``spec``, or None and why it is skipped.

    An Okta org (or the lab's) is always acted on; when keyless cannot reach it
    (no API token, say) the step fails by name rather than being skipped, so an
    offboarding that left the person active in Okta never exits 0.
    """
    from keyless.services.okta.people import OktaOrgOffboarding, OktaUnavailable

    if spec.identity_provider.kind != "okta" and composition.connection is None:
        return None, (
            f"the spec configures no Okta org (identity_provider.kind is "
            f"{spec.identity_provider.kind!r}); deactivate the person at the IdP by hand"
        )
    try:
        target = composition.okta_org(spec)
        app_id = target.app_id
        client = composition.okta_admin(target)
    except KeylessError as error:
        return OktaUnavailable(error), ""
    if app_id is None and target.app_label:
        try:
            found = client.find_apps(target.app_label)
        except KeylessError:
            found = []  # the app username then cannot be read: the report says so
        app_id = str(found[0]["id"]) if len(found) == 1 else None
    try:
        return OktaOrgOffboarding(client, app_id), ""
    except KeylessError as error:
        return OktaUnavailable(error), ""


def _render(report: OffboardReport) -> None:
    title = {
        "offboard": f"Offboarding {report.subject}",
        "all-sessions": f"Revoking {report.subject}",
        "release": f"Releasing the revocations of {report.subject}",
    }[report.mode]
    if report.dry_run:
        title += " (dry run: nothing changed)"
    out.print(f"[bold]{title}[/]", highlight=False)
    if report.cutoff is not None:
        out.print(f"sessions issued before {report.as_dict()['cutoff']} are denied", markup=False)
    if report.role_source:
        out.print(f"roles: {report.role_source}", markup=False)
    if report.okta_skipped:
        out.print(f"[yellow]Okta step skipped:[/] {report.okta_skipped}", highlight=False)
    table = Table("time (UTC)", "where", "action", "target", "outcome", "detail")
    for step in report.as_dict()["steps"]:
        style = {"failed": "red", "refused": "red", "skipped": "yellow"}.get(step["outcome"])
        table.add_row(
            step["at"][11:],
            step["where"],
            step["action"],
            step["target"],
            f"[{style}]{step['outcome']}[/]" if style else step["outcome"],
            step["detail"],
        )
    print_table(table)
    for account in report.accounts:
        header = f"[bold]{account.account.alias}[/] ({account.account.id})"
        if not account.reached:
            out.print(f"{header}: [bold red]NOT REACHED[/] {account.error}", highlight=False)
            continue
        done = sum(1 for r in account.roles if r.verified)
        out.print(
            f"{header}: {done}/{len(account.roles)} role(s) confirmed; "
            f"{len(account.sessions)} live session(s) cut off ({account.sessions_note})",
            highlight=False,
        )


def _confirm(people: list[str], *, all_sessions: str | None, release: bool) -> None:
    """Ask as `apply` does; without a terminal to ask on, refuse unless --yes was passed."""
    if release:
        subject = people[0] if people else f"every session of {all_sessions}"
        what = f"release the revocations of {subject}"
    elif all_sessions is not None:
        what = f"deny every session of {all_sessions} issued before now, in every account"
    else:
        what = (
            f"offboard {', '.join(people)}: deactivate at Okta and deny every session they "
            "hold in every account"
        )
    if not sys.stdin.isatty():
        raise InputError(
            f"`keyless offboard` would {what}; nothing was changed",
            fix="pass --yes to confirm from a script (or --dry-run to see what it would do)",
        )
    if not typer.confirm(f"{what[0].upper()}{what[1:]}?", default=False, err=True):
        err.print("nothing changed")
        raise typer.Exit(EXIT_FINDING)


def offboard_command(
    spec_file: SpecOption,
    users: Annotated[
        list[str] | None,
        typer.Argument(
            help="The people's IdP logins (keyless reads the name Okta sends for each).",
            show_default=False,
        ),
    ] = None,
    all_sessions: Annotated[
        str | None,
        typer.Option(
            "--all-sessions",
            metavar="ROLE",
            help="Incident: revoke EVERY session of ROLE issued before now, in every account.",
        ),
    ] = None,
    suspend: Annotated[
        bool, typer.Option("--suspend", help="Suspend at the IdP instead of deactivating.")
    ] = False,
    release: Annotated[
        bool,
        typer.Option(
            "--release",
            help="Remove USER's (or --all-sessions ROLE's) revocations once no session "
            "they stop can be alive.",
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="With --release: remove them even before that.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show it all; change nothing.")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Change Okta and AWS without asking (scripts).")
    ] = False,
    report_file: Annotated[
        Path | None, typer.Option("--report", help="Also write the JSON evidence to this file.")
    ] = None,
    json_output: JsonFlag = False,
    lab: LabFlag = False,
    lab_dir: LabDirOption = None,
    aws_profile_name: AwsProfileOption = None,
    profile: DeprecatedProfileOption = None,
    parallel: ParallelOption = DEFAULT_PARALLEL,
) -> None:
    """Take someone's access away: IdP, then every session they hold in every AWS account."""
    people = [u for u in users or []]
    if bool(people) == (all_sessions is not None):
        raise InputError(
            "name exactly one of USER or --all-sessions ROLE",
            fix="`keyless offboard alice@example.com`, or `keyless offboard --all-sessions ROLE`",
        )
    if release and len(people) > 1:
        raise InputError("--release takes one USER at a time")
    if suspend and (all_sessions is not None or release):
        raise InputError("--suspend goes with offboarding a USER only")
    if force and not release:
        raise InputError("--force goes with --release only")
    profile = aws_profile("offboard", aws_profile_name, profile, lab=lab, lab_dir=lab_dir)
    if report_file is not None and report_file.is_dir():
        raise InputError(f"--report {report_file} is a directory", fix="name a file")
    spec = load_spec(spec_file)
    if not dry_run and not yes:
        _confirm(people, all_sessions=all_sessions, release=release)
    composition = composition_for(lab=lab, lab_dir=lab_dir, profile=profile)
    connector = composition.aws_connector()
    okta, skipped = okta_seam(spec, composition)
    offboarder = Offboarder(
        spec, connector, okta=okta, okta_skipped_reason=skipped, parallel=parallel
    )
    if release:
        subject = people[0] if people else None
        result = offboarder.release(subject, role=all_sessions, force=force, dry_run=dry_run)
    elif all_sessions is not None:
        result = offboarder.revoke_all_sessions(all_sessions, dry_run=dry_run)
    else:
        result = offboarder.offboard_people(people, suspend=suspend, dry_run=dry_run)
    document = result.as_dict()
    if report_file is not None:
        text = json.dumps(document, indent=2, sort_keys=True) + "\n"
        write_atomic(report_file, text.encode(), mode=PUBLIC)
    if json_output:
        print_json(document)
    else:
        _render(result)
    if result.unreached:
        names = ", ".join(document["unreached_accounts"])
        err.print(
            f"[bold red]not reached:[/] {names}; run the same command again once they can be "
            "reached: it finishes the job",
            highlight=False,
        )
    if result.refused:
        err.print(
            "[bold red]kept:[/] some revocations could still stop live sessions; "
            "run --release after their time, or add --force",
            highlight=False,
        )
    if result.refusal:
        err.print(f"[bold red]refused:[/] {escape(result.refusal)}", highlight=False)
    if result.okta_error:
        err.print(f"[bold red]Okta step failed:[/] {result.okta_error}", highlight=False)
    if not result.ok:
        raise typer.Exit(EXIT_FINDING)


def register(app: typer.Typer) -> None:
    """Add `offboard` to the top-level app."""
    app.command("offboard")(offboard_command)
