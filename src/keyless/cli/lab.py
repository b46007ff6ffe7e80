"""`keyless lab`: run the embedded lab (IdP + AWS) on this machine, stop it, see its state.

The lab IdP's own commands (user, group, mfa, push, sync-roles) are added
from :mod:`keyless.cli.lab_idp` when it is installed.
"""

from __future__ import annotations

import importlib
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from keyless.cli.output import err, out, print_json
from keyless.errors import InputError, LabError

app = typer.Typer(
    help="Run the embedded lab: an Okta-compatible IdP and a strict AWS, on loopback.",
    no_args_is_help=True,
)

StateDir = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        help="Where the lab keeps its state (default: $XDG_DATA_HOME/keyless/lab).",
        file_okay=False,
    ),
]


def _state_dir(value: Path | None) -> Path:
    from keyless.lab.runtime import default_state_dir

    return (value or default_state_dir()).expanduser().resolve()


def _mask(key: str) -> str:
    return f"{key[:4]}****{key[-4:]}" if len(key) > 8 else "****"


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
    state_dir: StateDir = None,
    idp_port: Annotated[int, typer.Option(help="IdP port (0: a free one).")] = 0,
    aws_port: Annotated[int, typer.Option(help="AWS endpoint port (0: a free one).")] = 0,
    engine: Annotated[
        str | None,
        typer.Option(help="Okta engine to play: classic or oie (default: the spec's, classic)."),
    ] = None,
    app_policy: Annotated[
        str | None,
        typer.Option(help="AWS app sign-on policy: none, mfa or mfa_every_time."),
    ] = None,
) -> None:
    """Run the lab in the foreground until Ctrl-C; print what to export and how to log in."""
    from keyless.lab.extras import require_lab_extras

    # Before the lab's modules are imported: without the extras, say which to install.
    require_lab_extras()
    from keyless.lab.idp.core import APP_POLICIES, ENGINES
    from keyless.lab.runtime import Lab, settings_for_spec
    from keyless.spec import load_spec

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
    federation = load_spec(spec)
    directory = _state_dir(state_dir)
    lab = Lab(
        federation,
        state_dir=directory,
        spec_path=spec.resolve(),
        idp_settings=settings_for_spec(federation, engine=engine, app_policy=app_policy),
        idp_port=idp_port,
        aws_port=aws_port,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    with err.status("starting the lab (IdP and AWS)..."):
        info = lab.start()
    try:
        out.print(f"[bold green]lab up[/] for {federation.name!r} — state in {info.state_dir}")
        out.print(f"  IdP        {info.idp_url}   (AWS app: {info.app_url})")
        out.print(
            f"  Okta       engine {info.engine}, AWS app policy {info.app_policy}, "
            f"CLI OIDC client {info.oidc_client_id}",
            markup=False,
        )
        out.print(f"  AWS        {info.aws_endpoint_url}")
        for account in info.accounts:
            marker = " (management)" if account["id"] == info.management_account_id else ""
            out.print(f"  account    {account['id']}  {account['alias']}{marker}")
        key = info.bootstrap_credentials.get("aws_access_key_id", "")
        out.print(
            f"  bootstrap  lab-admin key {_mask(key)} (management account only; in "
            f"{info.state_dir / 'lab.json'})"
        )
        out.print("\n[bold]Point clients at the lab[/] (in another shell):")
        for line in _exports(info):
            out.print(f"  {line}", markup=False)
        out.print("\n[bold]Log in[/] as one of the lab users:")
        for user in info.users:
            listed = user.get("factors") or []
            factors = ", ".join(str(f) for f in listed) if isinstance(listed, list) else "none"
            factors = factors or "none"
            out.print(f"  {user['login']}  (MFA: {factors})", markup=False)
        out.print(
            "  passwords and TOTP secrets: `keyless lab status --show-secrets` "
            f"(or {info.state_dir / 'lab.json'})"
        )
        lab_dir = f" --lab-dir {info.state_dir}" if state_dir else ""
        out.print(
            f"  1. provision the accounts: keyless apply --spec {spec} --lab{lab_dir} --yes",
            markup=False,
        )
        lab_flag = f" --lab-state-dir {info.state_dir}" if state_dir else ""
        out.print(
            f"  2. configure a profile:    keyless configure --lab{lab_flag} --profile lab",
            markup=False,
        )
        out.print("  3. log in:                 keyless login --profile lab", markup=False)
        out.print(f"  or open the AWS app in a browser: {info.app_url}", markup=False)
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
def down(state_dir: StateDir = None) -> None:
    """Stop the lab running in the state dir (from another shell)."""
    from keyless.lab.runtime import stop_running

    directory = _state_dir(state_dir)
    pid = stop_running(directory)
    out.print(f"stopped the lab in {directory} (pid {pid})")


@app.command()
def status(
    state_dir: StateDir = None,
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
    from keyless.lab.runtime import LabInfo, running_pid

    directory = _state_dir(state_dir)
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
            for user in info.users
        ]
        key = info.bootstrap_credentials.get("aws_access_key_id", "")
        document["bootstrap_credentials"] = {"aws_access_key_id": _mask(key)}
    document["running"] = pid is not None
    document["pid"] = pid
    if as_json:
        print_json(document)
        return
    state = f"[green]running[/] (pid {pid})" if pid is not None else "[yellow]stopped[/]"
    out.print(f"lab in {directory}: {state}")
    out.print(f"  IdP  {info.idp_url}\n  AWS  {info.aws_endpoint_url}\n  CA   {info.ca_bundle}")
    for account in info.accounts:
        out.print(f"  account {account['id']}  {account['alias']}")
    for user in document["users"]:
        extra = ""
        if show_secrets:
            extra = f"  password {user.get('password')}  totp {user.get('totp_secret')}"
        out.print(f"  user {user['login']}{extra}", markup=False)
    if pid is None:
        out.print("start it with `keyless lab up --spec FILE`")


def _register_idp_commands() -> None:
    try:
        module = importlib.import_module("keyless.cli.lab_idp")
    except ModuleNotFoundError as exc:
        if exc.name == "keyless.cli.lab_idp":
            return
        raise
    module.register(app)


_register_idp_commands()
