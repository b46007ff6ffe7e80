"""`keyless lab`: run the embedded lab (IdP + AWS) on this machine, stop it, see its state.

The lab IdP's own commands (user, group, mfa, push, sync-roles) are added
from :mod:`keyless_lab.cli.lab_idp`.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from keyless.cli.lab_dir import LabDirOption, resolve_lab_dir
from keyless.cli.output import err, out, print_json
from keyless.core.credentials import mask
from keyless.errors import EXIT_FINDING, InputError, LabError
from keyless_lab.aws.state import legacy_note
from keyless_lab.cli import lab_idp

app = typer.Typer(
    help="Run the embedded lab: an Okta-compatible IdP and a strict AWS, on loopback.",
    no_args_is_help=True,
)


def _exports(info: Any) -> list[str]:
    return [
        f"export AWS_ENDPOINT_URL={info.aws_endpoint_url}",
        f"export AWS_CA_BUNDLE={info.ca_bundle}",
        f"export REQUESTS_CA_BUNDLE={info.ca_bundle}",
        f"export SSL_CERT_FILE={info.ca_bundle}",
    ]


@app.command()
def up(
    spec: Annotated[
        Path,
        typer.Option("--spec", help="The federation spec (YAML).", exists=True, dir_okay=False),
    ],
    lab_dir: LabDirOption = None,
    idp_port: Annotated[
        int | None,
        typer.Option(
            help="IdP port (0: a free one). Default: the port this lab directory used last "
            "when it is free, so profiles keep working after a restart.",
            show_default=False,
        ),
    ] = None,
    aws_port: Annotated[
        int | None,
        typer.Option(
            help="AWS endpoint port (0: a free one). Default: as for --idp-port.",
            show_default=False,
        ),
    ] = None,
    unconfigured_okta_app: Annotated[
        bool,
        typer.Option(
            "--unconfigured-okta-app",
            help="Start the Okta org as before any `keyless apply`: the AWS app blank, "
            "no spec group (the spec's users join them when they are created).",
        ),
    ] = False,
    okta_429_every: Annotated[
        int,
        typer.Option(
            "--okta-429-every",
            min=0,
            help="A rate-limit storm: every Nth management call gets 429.",
        ),
    ] = 0,
    allow_remember_device: Annotated[
        bool,
        typer.Option(
            "--allow-remember-device",
            help="Let a sign-in that verified MFA with rememberDevice=true skip MFA next time "
            "from the same device (Okta's per-device sign-on policy; off by default).",
        ),
    ] = False,
    engine: Annotated[
        str | None,
        typer.Option(help="Okta engine to play: classic or oie (default: the spec's, classic)."),
    ] = None,
    app_policy: Annotated[
        str | None,
        typer.Option(help="AWS app sign-on policy: none, mfa or mfa_every_time."),
    ] = None,
    app_device: Annotated[
        str | None,
        typer.Option(
            help="The AWS app policy's device condition (Identity Engine): any, registered "
            "or managed. A CLI's token exchange carries no device: only any lets it through."
        ),
    ] = None,
    step_up_style: Annotated[
        str | None,
        typer.Option(
            help="How Classic asks for the app's step-up: page, or redirect (a stateToken "
            "redirect to the page, as some orgs answer)."
        ),
    ] = None,
    native_to_web_sso: Annotated[
        bool | None,
        typer.Option(
            "--native-to-web-sso/--no-native-to-web-sso",
            help="The org offers Native to Web SSO (interclient tokens and trust mappings).",
        ),
    ] = None,
    rate_limit_authn: Annotated[
        int | None,
        typer.Option(min=1, help="/api/v1/authn requests a minute before 429 (Okta: 1200)."),
    ] = None,
    rate_limit_token: Annotated[
        int | None,
        typer.Option(min=1, help="/oauth2/v1/token requests a minute before 429 (Okta: 2000)."),
    ] = None,
) -> None:
    """Run the lab in the foreground until Ctrl-C; print what to export and how to log in."""
    from keyless.adapters.okta import dashboard_link
    from keyless_lab.extras import require_lab_extras

    # Before the lab's modules are imported: without the extras, say which to install.
    require_lab_extras()
    from keyless.spec import load_spec
    from keyless_lab.idp.core import APP_POLICIES, ENGINES
    from keyless_lab.runtime import Lab, choose_ports, settings_for_spec

    if engine is not None and engine not in ENGINES:
        raise InputError(
            f"--engine {engine!r} is not one of {', '.join(ENGINES)}",
            fix="classic plays Okta Classic Engine, oie Identity Engine",
        )
    if app_policy is not None and app_policy not in APP_POLICIES:
        raise InputError(
            f"--app-policy {app_policy!r} is not one of {', '.join(APP_POLICIES)}",
            fix="none, mfa (once per session) or mfa_every_time (at every sign-on)",
        )
    for flag, value, allowed in (
        ("--app-device", app_device, ("any", "registered", "managed")),
        ("--step-up-style", step_up_style, ("page", "redirect")),
    ):
        if value is not None and value not in allowed:
            raise InputError(f"{flag} {value!r} is not one of {', '.join(allowed)}")
    federation = load_spec(spec)
    directory = resolve_lab_dir(lab_dir)
    ports = choose_ports(directory, idp_port=idp_port, aws_port=aws_port)
    lab = Lab(
        federation,
        state_dir=directory,
        spec_path=spec.resolve(),
        idp_port=ports.idp_port,
        aws_port=ports.aws_port,
        okta_app_configured=not unconfigured_okta_app,
        okta_storm_every=okta_429_every,
        idp_settings=settings_for_spec(
            federation,
            engine=engine,
            app_policy=app_policy,
            allow_remember_device=allow_remember_device,
            app_device=app_device,
            step_up_style=step_up_style,
            native_to_web_sso=native_to_web_sso,
            rate_limit_authn=rate_limit_authn,
            rate_limit_token=rate_limit_token,
        ),
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    with err.status("starting the lab (IdP and AWS)..."):
        info = lab.start()
    note = legacy_note(directory)  # an old lab's pickled state, never loaded (issue 21)
    if note is not None:
        err.print(note, markup=False)
    # The default directory needs no option; any other is named with the one spelling.
    lab_flag = f" --lab-dir {info.state_dir}" if lab_dir else ""
    for moved in ports.notes:
        err.print(f"{moved}.", markup=False, highlight=False)
    if ports.notes:
        err.print(
            "Profiles made with `keyless configure --lab` follow the lab (they read its "
            "lab.json); their AWS CLI profiles take the new endpoint at their next "
            "`keyless login`.",
            markup=False,
        )
    try:
        out.print(f"[bold green]lab up[/] for {federation.name!r} — state in {info.state_dir}")
        out.print(f"  IdP        {info.idp_url}   (AWS app: {dashboard_link(info.app_url)})")
        out.print(
            f"  Okta       engine {info.engine}, AWS app policy {info.app_policy}, "
            f"CLI OIDC client {info.oidc_client_id}",
            markup=False,
        )
        out.print(f"  AWS        {info.aws_endpoint_url}")
        for account in info.accounts:
            marker = " (management)" if account.id == info.management_account_id else ""
            out.print(f"  account    {account.id}  {account.alias}{marker}")
        key = info.bootstrap_credentials.get("aws_access_key_id", "")
        out.print(
            f"  bootstrap  lab-admin key {mask(key)} (management account only; in "
            f"{info.state_dir / 'lab.json'})"
        )
        out.print("\n[bold]Point clients at the lab[/] (in another shell):")
        for line in _exports(info):
            out.print(f"  {line}", markup=False)
        out.print("\n[bold]Log in[/] as one of the lab users:")
        for user in info.users:
            factors = ", ".join(user.factors) or "none"
            out.print(f"  {user.login}  (MFA: {factors})", markup=False)
        out.print(
            "  passwords and TOTP secrets: `keyless lab status --show-secrets` "
            f"(or {info.state_dir / 'lab.json'})"
        )
        # The lab's authenticator app: where a person following along gets a TOTP code.
        out.print(
            f"  TOTP codes (the authenticator app): keyless lab mfa code USER{lab_flag}",
            markup=False,
        )
        out.print(
            f"  1. provision the accounts: keyless apply --spec {spec} --lab{lab_flag} --yes",
            markup=False,
        )
        out.print(
            f"  2. configure a profile:    keyless configure --lab{lab_flag} --profile lab",
            markup=False,
        )
        out.print("  3. log in:                 keyless login --profile lab", markup=False)
        out.print(
            f"  or open the AWS app in a browser: {dashboard_link(info.app_url)}", markup=False
        )
        out.print("\nPress Ctrl-C to stop.")
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    finally:
        with err.status("stopping the lab..."):
            lab.stop()
        signal.signal(signal.SIGTERM, previous)
    err.print("lab stopped; its state is kept for the next `keyless lab up`")


@app.command()
def down(lab_dir: LabDirOption = None) -> None:
    """Stop the lab running in the state dir (from another shell)."""
    from keyless_lab.runtime import stop_running

    directory = resolve_lab_dir(lab_dir)
    pid = stop_running(directory)
    out.print(f"stopped the lab in {directory} (pid {pid})")


@app.command()
def reset(
    lab_dir: LabDirOption = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask (scripts); required without a terminal.")
    ] = False,
) -> None:
    """Stop the lab (if it runs) and remove its state, so the next `lab up` starts fresh.

    Users, passwords, TOTP secrets, everything in the lab's AWS accounts, its keys and CA
    go; the ports stay, so `--lab` profiles find the new lab where the old one was.
    """
    import sys

    from keyless_lab.runtime import reset as reset_lab

    directory = resolve_lab_dir(lab_dir)
    if not directory.is_dir():
        out.print(f"no lab directory at {directory}: nothing to reset", markup=False)
        return
    what = (
        f"stop the lab in {directory} and remove its users, AWS state, keys and CA "
        "(apply the spec again afterwards)"
    )
    if not yes:
        if not sys.stdin.isatty():
            raise InputError(
                f"`keyless lab reset` would {what}; nothing was changed",
                fix="pass --yes to confirm from a script",
            )
        if not typer.confirm(f"{what[0].upper()}{what[1:]}?", default=False, err=True):
            err.print("nothing changed")
            raise typer.Exit(EXIT_FINDING)
    removed = reset_lab(directory)
    lab_flag = f" --lab-dir {directory}" if lab_dir else ""
    out.print(
        f"reset the lab in {directory} ({len(removed)} item(s) removed); start it afresh: "
        f"keyless lab up --spec FILE{lab_flag}",
        markup=False,
    )


@app.command()
def status(
    lab_dir: LabDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
    show_secrets: Annotated[
        bool,
        typer.Option(
            "--show-secrets",
            help="Include lab users' passwords, TOTP secrets and the bootstrap key.",
        ),
    ] = False,
) -> None:
    """Show whether the lab runs, where, and its accounts and users."""
    from keyless.adapters.okta import dashboard_link
    from keyless_lab.runtime import LabInfo, running_pid

    directory = resolve_lab_dir(lab_dir)
    pid = running_pid(directory)
    try:
        info = LabInfo.load(directory)
    except LabError:
        if pid is None:
            raise
        raise LabError(
            f"a lab is starting in {directory} (pid {pid}) but has not written lab.json yet",
            fix="wait a moment and run `keyless lab status` again",
        ) from None
    document = info.as_dict()
    if not show_secrets:
        document["users"] = [
            {k: v for k, v in user.items() if k not in ("password", "totp_secret")}
            for user in document["users"]
        ]
        key = info.bootstrap_credentials.get("aws_access_key_id", "")
        document["bootstrap_credentials"] = {"aws_access_key_id": mask(key)}
    document["running"] = pid is not None
    document["pid"] = pid
    if as_json:
        print_json(document)
        return
    state = f"[green]running[/] (pid {pid})" if pid is not None else "[yellow]stopped[/]"
    out.print(f"lab in {directory}: {state}")
    out.print(f"  IdP  {info.idp_url}\n  AWS  {info.aws_endpoint_url}\n  CA   {info.ca_bundle}")
    out.print(f"  browser sign-in  {dashboard_link(info.app_url)}", markup=False)
    for account in info.accounts:
        out.print(f"  account {account.id}  {account.alias}")
    for user in document["users"]:
        extra = ""
        if show_secrets:
            extra = f"  password {user.get('password')}  totp {user.get('totp_secret')}"
        out.print(f"  user {user['login']}{extra}", markup=False)
    if pid is None:
        out.print("start it with `keyless lab up --spec FILE`")


lab_idp.register(app)
