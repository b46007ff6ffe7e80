"""`keyless spec`: validate, show and describe the federation spec."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from keyless.cli.options import OptionalSpecOption, SpecArgument, spec_file
from keyless.cli.output import err, out, print_json, print_table
from keyless.errors import SpecError
from keyless.spec import expand_accounts, expand_grants, load_spec
from keyless.spec.model import FederationSpec

app = typer.Typer(help="Validate and show the federation spec.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]


@app.command()
def validate(
    file: SpecArgument = None, spec_option: OptionalSpecOption = None, json_output: JsonFlag = False
) -> None:
    """Check a spec: exit 0 when valid, 2 with every problem (file:line: path) when not.

    Placeholders an example leaves for you to fill in (REPLACE..., CHANGEME, TODO,
    <your ...>) are problems here.
    """
    file = spec_file(file, spec_option)
    try:
        # Ready to use means no example placeholder left in (`0oaREPLACEWITHAPPID`).
        spec = load_spec(file, refuse_placeholders=True)
    except SpecError as error:
        if json_output:
            print_json(
                {
                    "valid": False,
                    "file": str(file),
                    "problems": [p.as_dict() for p in error.problems],
                }
            )
            raise typer.Exit(error.exit_code) from error
        raise
    if json_output:
        print_json(
            {
                "valid": True,
                "file": str(file),
                "name": spec.name,
                "accounts": len(spec.accounts),
                "roles": len(spec.roles),
                "grants": len(expand_grants(spec)),
            }
        )
        return
    out.print(
        f"[green]valid[/]: {escape(str(file))} — federation [bold]{escape(spec.name)}[/], "
        f"{len(spec.accounts)} accounts, {len(spec.roles)} roles, "
        f"{len(spec.group_mappings)} group mappings"
    )


@app.command()
def show(
    file: SpecArgument = None, spec_option: OptionalSpecOption = None, json_output: JsonFlag = False
) -> None:
    """Show each account's roles and the groups mapped to each."""
    spec = load_spec(spec_file(file, spec_option))
    expanded = expand_accounts(spec)
    if json_output:
        print_json({"name": spec.name, "accounts": [a.as_dict() for a in expanded]})
        return
    _print_header(spec)
    for entry in expanded:
        account = entry.account
        title = f"{account.alias} ({account.id}, {account.environment})"
        if account.management:
            title += " — management"
        table = Table(title=escape(title), title_justify="left", expand=False)
        table.add_column("role", overflow="fold")
        table.add_column("max session", justify="right")
        table.add_column("policies", overflow="fold")
        # Group names are what people type into Okta: fold them, never cut them short.
        table.add_column("groups", overflow="fold")
        for role, _arn, groups in entry.roles:
            policies = [arn.rsplit("/", 1)[-1] for arn in role.managed_policies]
            policies += [f"{name} (inline)" for name in role.inline_policies]
            table.add_row(
                escape(role.name),
                _hours(role.max_session_duration),
                escape("\n".join(policies)) or "-",
                escape("\n".join(groups)) or "[dim]none[/]",
            )
        if not entry.roles:
            table.add_row("[dim]no federated roles[/]", "", "", "")
        print_table(table)


@app.command()
def groups(
    file: SpecArgument = None, spec_option: OptionalSpecOption = None, json_output: JsonFlag = False
) -> None:
    """List every (group, account, role) grant: explicit mappings and Okta's group convention."""
    spec = load_spec(spec_file(file, spec_option))
    grants = expand_grants(spec)
    if json_output:
        print_json({"name": spec.name, "grants": [g.as_dict() for g in grants]})
        return
    table = Table(title=f"{escape(spec.name)}: who may take which role", title_justify="left")
    for column in ("group", "account", "role", "from"):
        # Group names are what people type into Okta: fold them, never cut them short.
        table.add_column(column, overflow="fold")
    for grant in grants:
        table.add_row(
            escape(grant.group),
            escape(f"{grant.account.alias} ({grant.account.id})"),
            escape(grant.role_name),
            grant.source,
        )
    print_table(table)


@app.command()
def schema() -> None:
    """Print the spec's JSON Schema (for editors: yaml-language-server, VS Code)."""
    document = FederationSpec.model_json_schema()
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "keyless federation spec"
    print(json.dumps(document, indent=2))


def _hours(seconds: int) -> str:
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _print_header(spec: FederationSpec) -> None:
    idp = spec.identity_provider
    err.print(
        f"federation [bold]{escape(spec.name)}[/]: identity provider {idp.kind}"
        + (f" {escape(str(idp.org_url))}" if idp.org_url else "")
        + f", SAML provider {escape(repr(idp.saml_provider_name))}"
        + f", session {spec.session.duration}s"
        + (", MFA required" if spec.session.require_mfa else "")
    )
