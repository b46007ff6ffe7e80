"""`keyless audit`: what is still long-lived, whether federation is healthy, who signed in.

Exit codes: 0 the audit ran (and, with ``--fail-on``, nothing at or above that
severity was found); 1 (``EXIT_FINDING``) a finding at or above ``--fail-on``;
2 bad input.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

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
    LabFlag,
    ParallelOption,
    composition_for,
)
from keyless.errors import EXIT_FINDING, InputError
from keyless.files import PUBLIC, write_atomic
from keyless.services.audit import (
    DEFAULT_PARALLEL,
    SEVERITIES,
    Auditor,
    AuditReport,
    OktaAuditSource,
    Severity,
    severity_rank,
)
from keyless.spec import load_spec
from keyless.spec.model import FederationSpec

if TYPE_CHECKING:
    from keyless.services.compose import Composition

STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "blue", "info": "dim"}


def okta_audit_seam(
    spec: FederationSpec, composition: Composition
) -> tuple[OktaAuditSource | None, str]:
    """The Okta side of the audit for ``spec``, or None and why it is skipped.

    An org keyless cannot read (no API token, say) becomes a finding that says so.
    """
    from keyless.errors import KeylessError
    from keyless.services.okta.people import OktaOrgAudit, OktaUnavailable

    if spec.identity_provider.kind != "okta" and composition.connection is None:
        return None, f"the spec configures no Okta org (kind {spec.identity_provider.kind!r})"
    try:
        return OktaOrgAudit(composition.okta_admin(composition.okta_org(spec)), spec), ""
    except KeylessError as error:
        return OktaUnavailable(error), ""


def _render(report: AuditReport) -> None:
    counts = report.counts()
    out.print(
        f"[bold]keyless audit[/] of {report.spec_name}: "
        + ", ".join(f"{counts[s]} {s}" for s in SEVERITIES)
        + f" across {len(report.accounts)} account(s)",
        highlight=False,
    )
    from keyless.services.audit import CHECKS

    # A check that did not run found nothing because it looked at nothing: say so.
    for check_id, status in report.check_statuses().items():
        title = CHECKS[check_id].title
        if status["status"] == "not evaluated":
            out.print(
                f"[yellow]not evaluated:[/] {escape(title)} — {escape(status['reason'])}",
                highlight=False,
            )
        elif status["not_evaluated_in"]:
            where = ", ".join(
                f"{alias} ({why})" for alias, why in sorted(status["not_evaluated_in"].items())
            )
            out.print(
                f"[yellow]not evaluated in[/] {escape(where)}: {escape(title)}", highlight=False
            )
    federation_keys = sum(a.federation_keys for a in report.accounts)
    out.print(f"long-lived keys held by the federation: {federation_keys}", highlight=False)
    for account in report.accounts:
        generated, audited = account.credential_report_time, account.audited_at
        if generated is not None and audited is not None:
            age = int((audited - generated).total_seconds()) // 60
            out.print(
                f"[dim]{account.account.alias}: IAM credential report generated "
                f"{generated.isoformat(timespec='seconds')} ({age} min old; IAM caches it up "
                "to 4 hours, so a key deleted since may still be listed)[/]",
                highlight=False,
            )
    table = Table("severity", "account", "resource", "finding", "fix", show_lines=True)
    for finding in report.findings:
        table.add_row(
            f"[{STYLE[finding.severity]}]{finding.severity}[/]",
            finding.account_alias,
            finding.resource,
            f"{finding.title}\n[dim]{finding.why}[/]",
            finding.fix,
        )
    print_table(table)
    people: dict[tuple[str, str, str], int] = {}
    for sign_in in report.sign_ins:
        key = (sign_in.person, sign_in.account_alias, sign_in.role_arn.rsplit("/", 1)[-1])
        people[key] = people.get(key, 0) + 1
    if people:
        who = Table("person", "account", "role", "sign-ins", title="Who assumed what")
        for (person, alias, role), count in sorted(people.items()):
            who.add_row(person or "(unverified)", alias, role, str(count))
        print_table(who)


def audit_command(
    spec_file: SpecOption,
    output_format: Annotated[
        Literal["table", "json", "html"],
        typer.Option("--format", help="table for people, json for machines, html for auditors."),
    ] = "table",
    json_output: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the report to this file instead of stdout."),
    ] = None,
    fail_on: Annotated[
        Severity | None,
        typer.Option("--fail-on", help="Exit 1 when a finding at this severity or worse exists."),
    ] = None,
    days: Annotated[
        int, typer.Option("--days", min=1, max=90, help="Sign-ins of the last N days.")
    ] = 7,
    role: Annotated[
        str | None,
        typer.Option(
            "--role",
            help="Role to read member accounts with (a ReadOnly-class role); "
            "default: each account's access_role.",
        ),
    ] = None,
    lab: LabFlag = False,
    lab_dir: LabDirOption = None,
    aws_profile_name: AwsProfileOption = None,
    profile: DeprecatedProfileOption = None,
    parallel: ParallelOption = DEFAULT_PARALLEL,
) -> None:
    """Find what is still long-lived, check federation health, and show who assumed what."""
    if json_output:
        if output_format not in ("table", "json"):
            raise InputError("--json and --format html are exclusive", fix="pass one of them")
        output_format = "json"
    profile = aws_profile("audit", aws_profile_name, profile, lab=lab, lab_dir=lab_dir)
    if output is not None and output_format == "table":
        raise InputError("--output writes --format json or html", fix="add --format html")
    if output is not None and output.is_dir():
        raise InputError(f"--output {output} is a directory", fix="name a file")
    spec = load_spec(spec_file)
    composition = composition_for(lab=lab, lab_dir=lab_dir, profile=profile)
    connector = composition.aws_connector()
    metadata = composition.idp_metadata(spec, spec_dir=spec_file.parent)
    okta, skipped = okta_audit_seam(spec, composition)
    auditor = Auditor(
        spec,
        connector,
        metadata,
        role=role,
        okta=okta,
        okta_skipped_reason=skipped,
        parallel=parallel,
    )
    report = auditor.run(period=timedelta(days=days))
    if output_format == "html":
        from keyless.services.audit.html import render_html

        text = render_html(report)
    elif output_format == "json":
        import json

        text = json.dumps(report.as_dict(), indent=2, sort_keys=True) + "\n"
    else:
        text = ""
    if output is not None and text:
        write_atomic(output, text.encode(), mode=PUBLIC)
        err.print(f"wrote {output}", highlight=False)
    elif output_format == "json":
        print_json(report.as_dict())
    elif text:
        out.file.write(text)
    if output_format == "table":
        _render(report)
    if fail_on is not None and report.fails(fail_on):
        worst = [f for f in report.findings if severity_rank(f.severity) <= severity_rank(fail_on)]
        err.print(f"[bold red]{len(worst)} finding(s) at {fail_on} or worse:[/]", highlight=False)
        for finding in worst:
            err.print(
                f"  {finding.severity}: {finding.account_alias}: {finding.resource}: "
                f"{finding.title}\n    fix: {finding.fix}",
                markup=False,
                highlight=False,
            )
        raise typer.Exit(EXIT_FINDING)


def register(app: typer.Typer) -> None:
    """Add `audit` to the top-level app."""
    app.command("audit")(audit_command)
