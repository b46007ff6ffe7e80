"""`keyless saml`: read a SAML response, and say whether and why AWS would refuse it.

Exit codes: 0 accepted (or inspected), 1 AWS would refuse it, 2 the input,
metadata or trust policy cannot be read.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from keyless.cli.output import out, print_json, print_table
from keyless.errors import EXIT_FINDING, InputError
from keyless.saml.inspect import Inspection, inspect_response
from keyless.saml.metadata import parse_metadata
from keyless.saml.model import ARN_RE, Reason, RolePair, VerificationResult
from keyless.saml.verify import DEFAULT_AUDIENCES, DEFAULT_RECIPIENTS, verify_response
from keyless.saml.xmlsafe import parse_instant

app = typer.Typer(
    help="Inspect SAML responses and explain why AWS would refuse one.",
    no_args_is_help=True,
)

FileArg = Annotated[
    str,
    typer.Argument(
        help="The SAML response: raw XML, the base64 SAMLResponse value, or a saved HTML page "
        "holding the form. '-' reads stdin.",
        show_default=False,
    ),
]
NowOption = Annotated[
    str | None,
    typer.Option("--now", help="Evaluate times as of this ISO-8601 instant instead of now."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def _read(path: str, what: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InputError(
            f"cannot read the {what} {path}: {exc.strerror or exc}",
            fix=f"check the path of the {what}",
        ) from exc


def _now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        return parse_instant(value)
    except ValueError as exc:
        raise InputError(
            f"--now {value!r} is not an ISO-8601 instant",
            fix="write it like 2024-05-01T12:00:00Z",
        ) from exc


def _trust_policy(path: str) -> dict[str, Any]:
    raw = _read(path, "trust policy")
    try:
        document = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(
            f"the trust policy {path} is not JSON: {exc}",
            fix="pass the role's AssumeRolePolicyDocument as JSON "
            "(aws iam get-role --query Role.AssumeRolePolicyDocument)",
        ) from exc
    # Accept `aws iam get-role` output as well as the bare document.
    if isinstance(document, dict) and isinstance(document.get("Role"), dict):
        document = document["Role"].get("AssumeRolePolicyDocument", document)
    if not isinstance(document, dict):
        raise InputError(
            f"the trust policy {path} is not a JSON object", fix="pass a policy document"
        )
    return document


def _role_table(roles: tuple[RolePair, ...]) -> Table:
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("account", "role", "provider"):
        table.add_column(column)
    for pair in roles:
        match = ARN_RE.match(pair.role_arn)
        cells = (match["account"] if match else "?", pair.role_name, pair.provider_name)
        table.add_row(*(escape(cell) for cell in cells))
    return table


def _relative(moment: datetime, now: datetime) -> str:
    seconds = int((moment - now).total_seconds())
    span = abs(seconds)
    text = f"{span}s" if span < 120 else f"{span // 60}m" if span < 7200 else f"{span // 3600}h"
    return f"in {text}" if seconds >= 0 else f"{text} ago"


def _print_reasons(reasons: tuple[Reason, ...]) -> None:
    for reason in reasons:
        # Messages quote the assertion and the options (ARNs, URLs): never markup.
        out.print(
            f"  [bold red]{reason.code}[/]: {escape(reason.message)}", markup=True, highlight=False
        )
        if reason.fix:
            out.print(f"    [bold]fix:[/] {escape(reason.fix)}", markup=True, highlight=False)
        out.print(
            f"    AWS says: {reason.aws_error_code}: {reason.aws_message}",
            markup=False,
            highlight=False,
        )


@app.command()
def inspect(file: FileArg, now: NowOption = None, as_json: JsonOption = False) -> None:
    """Show what a SAML response says (not verified: use `keyless saml verify` for that)."""
    moment = _now(now)
    inspection = inspect_response(_read(file, "SAML response"), now=moment)
    if as_json:
        print_json(_inspection_dict(inspection))
        return
    assertion = inspection.assertion
    out.print("[bold]SAML response[/] (unverified)", markup=True)
    if assertion is not None:
        rows = [
            ("issuer", assertion.issuer),
            ("subject", f"{assertion.subject} ({assertion.subject_format or 'no format'})"),
            ("session name", assertion.session_name or "-"),
            (
                "session duration",
                f"{assertion.session_duration}s" if assertion.session_duration else "-",
            ),
            (
                "issued",
                f"{assertion.issue_instant.isoformat()} "
                f"({_relative(assertion.issue_instant, moment)})",
            ),
            (
                "expires",
                f"{assertion.not_on_or_after.isoformat()} "
                f"({_relative(assertion.not_on_or_after, moment)})",
            ),
            ("recipient", assertion.recipient or "-"),
            ("audience", ", ".join(assertion.audiences) or "-"),
        ]
        for name, value in rows:
            out.print(f"  {name:<17}{value}", markup=False)
        for tag, value in assertion.principal_tags.items():
            out.print(f"  {'tag ' + tag:<17}{value}", markup=False)
        out.print(f"  roles ({len(assertion.roles)}):", markup=False)
        print_table(_role_table(assertion.roles), indent=4)
    if inspection.signatures:
        for info in inspection.signatures:
            cert = info.certificate_subject or "no certificate in KeyInfo"
            out.print(
                f"  signed: {info.element} with {info.signature_algorithm} / "
                f"{info.digest_algorithm}, reference {info.reference} ({cert})",
                markup=False,
            )
    else:
        out.print("  signed: nothing", markup=False)
    if inspection.problems:
        out.print("[bold yellow]visible problems[/] (without metadata):", markup=True)
        _print_reasons(inspection.problems)


def _inspection_dict(inspection: Inspection) -> dict[str, object]:
    assertion = inspection.assertion
    return {
        "verified": False,
        "issuer": assertion.issuer if assertion else None,
        "subject": assertion.subject if assertion else None,
        "recipient": assertion.recipient if assertion else None,
        "audiences": list(assertion.audiences) if assertion else [],
        "roles": [
            {"role_arn": p.role_arn, "principal_arn": p.principal_arn}
            for p in (assertion.roles if assertion else ())
        ],
        "session_name": assertion.session_name if assertion else None,
        "session_duration": assertion.session_duration if assertion else None,
        "issue_instant": assertion.issue_instant.isoformat() if assertion else None,
        "not_on_or_after": assertion.not_on_or_after.isoformat() if assertion else None,
        "signatures": [
            {
                "element": s.element,
                "signature_algorithm": s.signature_algorithm,
                "digest_algorithm": s.digest_algorithm,
                "reference": s.reference,
                "certificate_subject": s.certificate_subject,
                "certificate_sha256": s.certificate_sha256,
            }
            for s in inspection.signatures
        ],
        "problems": [reason.as_dict() for reason in inspection.problems],
    }


@app.command()
def verify(
    file: FileArg,
    metadata: Annotated[
        str, typer.Option("--metadata", help="The IdP metadata XML the SAML provider holds.")
    ],
    recipient: Annotated[
        list[str] | None,
        typer.Option(
            "--recipient",
            help="Accepted Recipient URL (repeatable). Default: the AWS sign-in URLs.",
        ),
    ] = None,
    audience: Annotated[
        list[str] | None,
        typer.Option(
            "--audience",
            help="Accepted Audience (repeatable). Default: urn:amazon:webservices, sign-in URLs.",
        ),
    ] = None,
    role_arn: Annotated[
        str | None, typer.Option("--role-arn", help="The RoleArn passed to STS.")
    ] = None,
    principal_arn: Annotated[
        str | None,
        typer.Option("--principal-arn", help="The PrincipalArn (SAML provider) passed to STS."),
    ] = None,
    trust_policy: Annotated[
        str | None,
        typer.Option("--trust-policy", help="The role's trust policy JSON (or get-role output)."),
    ] = None,
    duration_seconds: Annotated[
        int | None, typer.Option("--duration-seconds", help="The DurationSeconds asked of STS.")
    ] = None,
    max_session_duration: Annotated[
        int | None,
        typer.Option("--max-session-duration", help="The role's MaxSessionDuration, seconds."),
    ] = None,
    now: NowOption = None,
    as_json: JsonOption = False,
    unsafe_allow_sha1: Annotated[
        bool,
        typer.Option(
            "--unsafe-allow-sha1",
            help="UNSAFE: accept SHA-1 signatures and digests (forgeable). Diagnosis only.",
        ),
    ] = False,
) -> None:
    """Verify a SAML response as AWS STS would; exit 1 with every reason if it would refuse."""
    if principal_arn is not None and role_arn is None:
        raise InputError("--principal-arn needs --role-arn", fix="pass both, as STS takes both")
    moment = _now(now)
    idp = parse_metadata(_read(metadata, "IdP metadata"))
    policy = _trust_policy(trust_policy) if trust_policy is not None else None
    result = verify_response(
        _read(file, "SAML response"),
        metadata=idp,
        now=moment,
        recipients=tuple(recipient) if recipient else DEFAULT_RECIPIENTS,
        audiences=tuple(audience) if audience else DEFAULT_AUDIENCES,
        role_arn=role_arn,
        principal_arn=principal_arn,
        trust_policy=policy,
        role_max_session_duration=max_session_duration,
        duration_seconds=duration_seconds,
        unsafe_allow_sha1=unsafe_allow_sha1,
    )
    if as_json:
        print_json(result.as_dict())
    else:
        _print_result(result, moment)
    if not result.accepted:
        raise typer.Exit(EXIT_FINDING)


def _print_result(result: VerificationResult, now: datetime) -> None:
    assertion = result.assertion
    if result.accepted:
        out.print("[bold green]accepted[/]: AWS would accept this response", markup=True)
    else:
        count = len(result.reasons)
        out.print(
            f"[bold red]refused[/]: AWS would refuse this response ({count} reason"
            f"{'s' if count != 1 else ''})",
            markup=True,
        )
        _print_reasons(result.reasons)
    if assertion is None:
        return
    out.print(f"  subject          {assertion.subject}", markup=False)
    out.print(f"  issuer           {assertion.issuer}", markup=False)
    out.print(
        f"  expires          {assertion.not_on_or_after.isoformat()} "
        f"({_relative(assertion.not_on_or_after, now)})",
        markup=False,
    )
    out.print(
        f"  signed           {assertion.signed_element} ({assertion.signature_algorithm})",
        markup=False,
    )
    out.print(f"  roles ({len(assertion.roles)}):", markup=False)
    print_table(_role_table(assertion.roles), indent=4)
