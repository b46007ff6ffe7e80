"""``keyless configure|login|credential-process|exec|env|console|whoami|logout``.

Thin commands: each parses options, calls one service in
:mod:`keyless.services.login.wiring` or :mod:`keyless.services.login.access`
(``exec --ecs-server``: :mod:`keyless.services.login.container`), renders.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from keyless.cli.lab_dir import LabDirOption
from keyless.cli.output import print_json, say
from keyless.core.aws import MAX_SESSION_SECONDS, MIN_SESSION_SECONDS
from keyless.errors import InputError

if TYPE_CHECKING:
    from keyless.core.ports import Prompter

ProfileOpt = Annotated[
    str | None,
    typer.Option("--profile", "-p", help="keyless profile (default: $KEYLESS_PROFILE or default)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]
ProfileNameTemplateOpt = Annotated[
    str | None,
    typer.Option(
        help="--all-roles: the AWS profile name of each role, from {alias}, {account}, "
        "{role}, {profile} (default: {alias}-{role})."
    ),
]
_DURATION_HELP = f"Session seconds ({MIN_SESSION_SECONDS}-{MAX_SESSION_SECONDS})."


def _settings(profile: str | None, flags: dict[str, Any]) -> Any:
    from keyless.services.login.profiles import resolve_settings

    return resolve_settings(profile, {k: v for k, v in flags.items() if v is not None})


def _prompter(mode: Literal["login", "credential-process"], profile: str) -> Prompter:
    from keyless.services.login.wiring import open_prompter

    return open_prompter(mode=mode, profile=profile)


def _left(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds <= 0:
        return "expired"
    minutes = int(seconds // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def configure(
    profile: ProfileOpt = None,
    org_url: Annotated[
        str | None, typer.Option(help="Okta org URL: acme.okta.com (https:// is added).")
    ] = None,
    app_url: Annotated[str | None, typer.Option(help="The AWS app's embed link.")] = None,
    username: Annotated[str | None, typer.Option(help="Okta username.")] = None,
    role: Annotated[str | None, typer.Option(help="Preferred role name or ARN.")] = None,
    account: Annotated[str | None, typer.Option(help="Preferred account alias or id.")] = None,
    duration: Annotated[int | None, typer.Option(help=_DURATION_HELP)] = None,
    mfa_factor: Annotated[str | None, typer.Option(help="push, totp or sms.")] = None,
    spec: Annotated[str | None, typer.Option(help="Federation spec (account aliases).")] = None,
    ca_bundle: Annotated[str | None, typer.Option(help="CA bundle for a private CA.")] = None,
    aws_endpoint_url: Annotated[
        str | None, typer.Option(help="AWS endpoint (the lab's); default: real AWS.")
    ] = None,
    region: Annotated[str | None, typer.Option(help="AWS region for the profile.")] = None,
    write_profile: Annotated[
        str | None, typer.Option(help="Credentials-file profile login writes (NAME-creds).")
    ] = None,
    auth_flow: Annotated[
        str | None, typer.Option(help="auto, classic or device (Okta Identity Engine).")
    ] = None,
    oidc_client_id: Annotated[
        str | None, typer.Option(help="The native OIDC app's client id (device flow).")
    ] = None,
    aws_app_id: Annotated[
        str | None, typer.Option(help="The AWS app's id in Okta (default: from the app URL).")
    ] = None,
    exchange: Annotated[
        str | None,
        typer.Option(
            help="Device flow: auto, web_sso_token or interclient_token (Native to Web SSO)."
        ),
    ] = None,
    remember_device: Annotated[
        bool | None,
        typer.Option(
            "--remember-device/--no-remember-device",
            help="Ask Okta to remember this device after MFA (its policy decides).",
        ),
    ] = None,
    profile_name_template: ProfileNameTemplateOpt = None,
    lab: Annotated[
        bool,
        typer.Option(
            "--lab", help="Follow the running lab: its URLs and CA, read again at every use."
        ),
    ] = False,
    lab_dir: LabDirOption = None,
    json_output: JsonOpt = False,
) -> None:
    """Write a keyless profile and its ~/.aws/config credential_process profile."""
    from keyless.cli.output import err
    from keyless.services.login.access import configure as configure_service
    from keyless.services.login.profiles import default_profile_name, resolve_settings

    flags: dict[str, Any] = {
        "org_url": org_url,
        "app_url": app_url,
        "username": username,
        "role": role,
        "account": account,
        "duration": duration,
        "mfa_factor": mfa_factor,
        "spec": str(Path(spec).resolve()) if spec else None,
        "ca_bundle": str(Path(ca_bundle).resolve()) if ca_bundle else None,
        "aws_endpoint_url": aws_endpoint_url,
        "region": region,
        "write_profile": write_profile,
        "auth_flow": auth_flow,
        "oidc_client_id": oidc_client_id,
        "aws_app_id": aws_app_id,
        "exchange": exchange,
        "remember_device": remember_device,
        "profile_name_template": profile_name_template,
    }
    if lab:
        from keyless.adapters.connection_file import load_connection
        from keyless.cli.lab_dir import resolve_lab_dir
        from keyless.services.login.profiles import FOLLOWED

        # A --lab profile reads these from the connection file at every run, so a value
        # given here would be silently replaced: refuse it rather than ignore it.
        pinned = [key for key in FOLLOWED if flags.get(key) is not None]
        if pinned:
            option = "--" + pinned[0].replace("_", "-")
            raise InputError(
                f"{option} with --lab: a lab profile takes its endpoints and CA from the "
                "lab's connection file each time it runs",
                fix=f"drop {option}, or configure the profile without --lab to set it yourself",
            )
        directory = resolve_lab_dir(lab_dir)
        for key, value in load_connection(directory).profile_defaults().items():
            flags[key] = flags[key] if flags[key] is not None else value
        # The profile follows the lab's connection file: a restart on other ports or a
        # reset does not break it (keyless.services.login.profiles).
        flags["lab_dir"] = str(directory)
    name = profile or default_profile_name()
    prompter = _prompter("login", name)
    if prompter.interactive:
        from keyless.services.login.guided import guide

        # Each answer is checked as it is typed (the org answers as Okta, the app is
        # found among the person's apps), and asked again when wrong.
        guide(prompter, name, flags)
    settings = resolve_settings(name, {k: v for k, v in flags.items() if v is not None})
    result = configure_service(settings)
    if json_output:
        print_json(result.as_dict())
        return
    err.print(f"profile [bold]{result.profile}[/] saved in {result.config_file}")
    err.print(f"AWS profile [bold]{result.profile}[/] in {result.aws_config_file} runs:")
    err.print(f"  credential_process = {result.credential_process}", markup=False)
    err.print(f"next: keyless login --profile {result.profile}", markup=False)


def login(
    profile: ProfileOpt = None,
    role: Annotated[str | None, typer.Option(help="Role name or ARN.")] = None,
    account: Annotated[str | None, typer.Option(help="Account alias or id.")] = None,
    all_roles: Annotated[
        bool,
        typer.Option("--all-roles", help="A credential_process profile per role in ~/.aws/config."),
    ] = False,
    profile_name_template: ProfileNameTemplateOpt = None,
    duration: Annotated[int | None, typer.Option(help=_DURATION_HELP)] = None,
    username: Annotated[str | None, typer.Option(help="Okta username.")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
    mfa_code: Annotated[str | None, typer.Option(help="TOTP or SMS code.")] = None,
    mfa_factor: Annotated[str | None, typer.Option(help="push, totp or sms.")] = None,
    remember_password: Annotated[
        bool, typer.Option("--remember-password", help="Keep the password in the keyring.")
    ] = False,
    write_profile: Annotated[
        str | None, typer.Option(help="Credentials-file profile to write (NAME-creds).")
    ] = None,
    no_write: Annotated[
        bool, typer.Option("--no-write", help="Only fill the credential_process cache.")
    ] = False,
    org_url: Annotated[str | None, typer.Option(help="Okta org URL.")] = None,
    app_url: Annotated[str | None, typer.Option(help="The AWS app's embed link.")] = None,
    ca_bundle: Annotated[str | None, typer.Option(help="CA bundle for a private CA.")] = None,
    auth_flow: Annotated[
        str | None, typer.Option(help="auto, classic or device (Okta Identity Engine).")
    ] = None,
    open_browser: Annotated[
        bool, typer.Option("--open", help="Device flow: open the sign-in page in a browser.")
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Sign in to Okta (or reuse the session) and get AWS credentials for a role."""
    from keyless.services.login.okta_signin import LoginInputs
    from keyless.services.login.wiring import login_and_cache

    settings = _settings(
        profile,
        {
            "role": role,
            "account": account,
            "duration": duration,
            "username": username,
            "mfa_factor": mfa_factor,
            "write_profile": write_profile,
            "org_url": org_url,
            "app_url": app_url,
            "ca_bundle": ca_bundle,
            "auth_flow": auth_flow,
            "profile_name_template": profile_name_template,
        },
    )
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise InputError("--password-stdin read an empty line", fix="pipe the password in")
    prompter = _prompter("login", settings.profile)
    result = login_and_cache(
        settings,
        prompter=prompter,
        inputs=LoginInputs(
            password=password,
            mfa_code=mfa_code,
            remember_password=remember_password,
            open_browser=open_browser,
        ),
        all_roles=all_roles,
        write_files=not no_write,
        # The role named here sticks: later logins and credential-process take it.
        record_role=role is not None or account is not None,
    )
    if json_output:
        print_json(result.as_dict())
        return
    for note in result.notes:
        say(f"note: {note}")
    reused = " (Okta session reused)" if result.session_reused else ""
    for item in result.logins:
        account_name = item.account_alias or item.role.account_id
        where = f" -> profile {item.written_profile}" if item.written_profile else ""
        identity = item.credentials.source_identity
        source = f", source identity {identity}" if identity else ", no source identity"
        say(
            f"{item.role.role_name} in {account_name}, {_left(item.duration)}"
            f"{source}{where}{reused}"
        )
    if all_roles and not no_write:
        say("use: aws --profile PROFILE ... with any profile above (each refreshes itself)")
    else:
        say(f"use: aws --profile {settings.profile} ...")


def credential_process(
    profile: ProfileOpt = None,
    role: Annotated[str | None, typer.Option(help="This role, over the profile's.")] = None,
    account: Annotated[str | None, typer.Option(help="In this account (alias or id).")] = None,
) -> None:
    """AWS credential_process JSON for a profile (cached; refreshed when < 5 min remain)."""
    from keyless.credential_process import main as process_main

    args = ["--profile", profile] if profile else []
    for option, value in (("--role", role), ("--account", account)):
        if value is not None:
            args += [option, value]
    code = process_main(args)
    raise typer.Exit(code)


def exec_command(
    ctx: typer.Context,
    profile: ProfileOpt = None,
    ecs_server: Annotated[
        bool,
        typer.Option(
            "--ecs-server",
            help="Serve the credentials to CMD on a loopback container credentials "
            "endpoint (no keys in its environment; SDKs refresh on their own).",
        ),
    ] = False,
) -> None:
    """Run a command with a profile's credentials: keyless exec -p NAME [--ecs-server] -- CMD..."""
    from keyless.services.login.access import child_environment
    from keyless.services.login.wiring import credentials_for

    command = list(ctx.args)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise InputError("no command to run", fix="keyless exec --profile NAME -- aws s3 ls")
    settings = _settings(profile, {})
    if ecs_server:
        from keyless.services.login.container import run_with_container_endpoint

        code = run_with_container_endpoint(
            settings, command, os.environ, prompter=_prompter("login", settings.profile)
        )
        raise typer.Exit(code)
    env = child_environment(
        settings,
        credentials_for(settings, prompter=_prompter("login", settings.profile)),
        dict(os.environ),
    )
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(command[0], command, env)  # noqa: S606 - running the user's command is the point
    except FileNotFoundError as exc:
        raise InputError(f"command not found: {command[0]}", fix="check the command") from exc


def env(
    profile: ProfileOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="sh, fish, powershell or dotenv.")] = "sh",
) -> None:
    """Print the AWS_* variables of a profile for a shell (this prints secrets)."""
    from keyless.services.login.access import ENV_FORMATS, aws_variables, render_env
    from keyless.services.login.wiring import credentials_for

    if fmt not in ENV_FORMATS:
        raise InputError(f"unknown format {fmt!r}", fix=f"use one of: {', '.join(ENV_FORMATS)}")
    settings = _settings(profile, {})
    credentials = credentials_for(settings, prompter=_prompter("login", settings.profile))
    sys.stdout.write(render_env(aws_variables(settings, credentials), fmt))


def console(
    profile: ProfileOpt = None,
    open_browser: Annotated[bool, typer.Option("--open", help="Open it in a browser.")] = False,
    destination: Annotated[str | None, typer.Option(help="Console page to land on.")] = None,
) -> None:
    """A console sign-in URL for a profile's role (the lab's sign-in page in the lab)."""
    from keyless.cli.output import err
    from keyless.services.login.access import console_url
    from keyless.services.login.wiring import credentials_for

    settings = _settings(profile, {})
    credentials = credentials_for(settings, prompter=_prompter("login", settings.profile))
    url = console_url(settings, credentials, destination=destination)
    if open_browser:
        import webbrowser

        webbrowser.open(url)
        err.print("opened the console sign-in page in your browser")
    else:
        sys.stdout.write(url + "\n")


def whoami(json_output: JsonOpt = False) -> None:
    """Each keyless profile: its role, account and the time left."""
    from keyless.cli.output import err, print_table
    from keyless.services.login.access import whoami as whoami_service

    statuses = whoami_service()
    if json_output:
        print_json([status.as_dict() for status in statuses])
        return
    if not statuses:
        err.print("no keyless profiles yet: run `keyless configure`", markup=False)
        return
    from rich.table import Table

    table = Table("profile", "role", "account", "credentials", "Okta session")
    for status in statuses:
        account = status.account_alias or status.account_id or "-"
        role = status.role_arn.rsplit("/", 1)[-1] if status.role_arn else "-"
        table.add_row(
            status.profile,
            role,
            account,
            _left(status.seconds_left),
            _left(status.okta_session_seconds_left),
        )
    print_table(table)


def logout(
    profile: ProfileOpt = None,
    all_profiles: Annotated[bool, typer.Option("--all", help="Every keyless profile.")] = False,
    forget_password: Annotated[
        bool, typer.Option("--forget-password", help="Also forget a remembered password.")
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Forget the Okta session and the cached and written credentials."""
    from keyless.cli.output import err
    from keyless.services.login.access import logout as logout_service
    from keyless.services.login.profiles import (
        default_profile_name,
        load_profiles,
        resolve_settings,
    )

    if all_profiles and profile:
        raise InputError("--all and --profile exclude each other", fix="give one of them")
    names = sorted(load_profiles()) if all_profiles else [profile or default_profile_name()]
    result = logout_service(
        [resolve_settings(name) for name in names], forget_password=forget_password
    )
    if json_output:
        print_json(result.as_dict())
        return
    err.print(
        f"logged out of {', '.join(result.profiles) or 'nothing'}: "
        f"{result.okta_sessions} Okta session(s) forgotten, "
        f"{len(result.credentials_profiles)} credentials profile(s) and "
        f"{len(result.role_profiles)} role profile(s) removed",
        markup=False,
    )


def register(app: typer.Typer) -> None:
    """Add the login commands to the top-level ``keyless`` app."""
    app.command("configure")(configure)
    app.command("login")(login)
    app.command("credential-process")(credential_process)
    app.command(
        "exec",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )(exec_command)
    app.command("env")(env)
    app.command("console")(console)
    app.command("whoami")(whoami)
    app.command("logout")(logout)
