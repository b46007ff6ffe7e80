"""`keyless lab user|group|mfa|push|sync-roles`: the lab IdP's directory, from the terminal.

Every command edits the lab's SQLite directory directly, so it acts on a
running IdP at once (a locked user is refused at the next request, an
approved push is seen at the next poll). ``register(lab_app)`` adds them to
the ``keyless lab`` group.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from keyless.cli.lab_dir import LabDirOption, resolve_lab_dir
from keyless.cli.output import err, out, print_json
from keyless.errors import EXIT_FINDING, ConfigError, InputError

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]


@contextmanager
def _directory(state_dir: Path | None) -> Iterator[Any]:
    """The lab's directory, opened for one command and closed after it."""
    from keyless_lab.idp.directory import Directory

    path = resolve_lab_dir(state_dir) / "idp.sqlite"
    if not path.exists():
        raise ConfigError(
            f"no lab directory at {path}",
            fix="run `keyless lab up` first (or pass the lab's --lab-dir)",
        )
    directory = Directory(path)
    try:
        yield directory
    finally:
        directory.close()


user_app = typer.Typer(help="Users of the lab IdP.", no_args_is_help=True)
group_app = typer.Typer(help="Groups of the lab IdP (they map to AWS roles).", no_args_is_help=True)
mfa_app = typer.Typer(help="MFA enrolments of lab users.", no_args_is_help=True)
push_app = typer.Typer(
    help="Answer an Okta Verify push, as the user's phone would.", no_args_is_help=True
)


@user_app.command("add")
def user_add(
    login: Annotated[str, typer.Argument(help="The user's login (an email address).")],
    first_name: Annotated[str, typer.Option("--first-name")] = "",
    last_name: Annotated[str, typer.Option("--last-name")] = "",
    group: Annotated[
        list[str] | None, typer.Option("--group", "-g", help="A group (repeat).")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
    phone: Annotated[str | None, typer.Option("--phone", help="For the SMS factor.")] = None,
    state_dir: LabDirOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a user; prints the generated password unless --password-stdin gives one."""
    import sys

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    if password_stdin and not password:
        raise InputError("no password on stdin", fix="echo the password into the command")
    with _directory(state_dir) as directory:
        user, password = directory.add_user(
            login,
            password=password,
            first_name=first_name,
            last_name=last_name,
            groups=group or [],
            phone=phone,
        )
    if as_json:
        print_json(
            {"login": user.login, "id": user.id, "password": None if password_stdin else password}
        )
        return
    out.print(f"added {user.login} ({user.id})", markup=False)
    if not password_stdin:
        out.print(f"password: {password}", markup=False)


@user_app.command("list")
def user_list(state_dir: LabDirOption = None, as_json: JsonFlag = False) -> None:
    """List the users, their status, groups and factors."""
    from rich.markup import escape
    from rich.table import Table

    with _directory(state_dir) as directory:
        rows = [
            {
                "login": u.login,
                "id": u.id,
                "name": f"{u.first_name} {u.last_name}".strip(),
                "status": u.status,
                "groups": directory.user_groups(u.id),
                "factors": [f.factor_type for f in directory.factors(u.id)],
            }
            for u in directory.list_users()
        ]
    if as_json:
        print_json(rows)
        return
    table = Table("login", "status", "groups", "factors")
    for row in rows:
        cells = (row["login"], row["status"], ", ".join(row["groups"]), ", ".join(row["factors"]))
        # Logins and group names are user data: never markup.
        table.add_row(*(escape(cell) for cell in cells))
    out.print(table)


def _set_status(login: str, status: str, state_dir: Path | None, verb: str) -> None:
    with _directory(state_dir) as directory:
        user = directory.set_status(login, status)
    out.print(f"{verb} {user.login}: status {user.status}", markup=False)


@user_app.command("remove")
def user_remove(login: str, state_dir: LabDirOption = None) -> None:
    """Remove a user (its sessions end at its next request)."""
    with _directory(state_dir) as directory:
        directory.remove_user(login)
    out.print(f"removed {login}", markup=False)


@user_app.command("lock")
def user_lock(login: str, state_dir: LabDirOption = None) -> None:
    """Lock a user out (LOCKED_OUT), as repeated wrong passwords do."""
    _set_status(login, "LOCKED_OUT", state_dir, "locked")


@user_app.command("unlock")
def user_unlock(login: str, state_dir: LabDirOption = None) -> None:
    """Unlock a user (ACTIVE again, failed-password count cleared)."""
    _set_status(login, "ACTIVE", state_dir, "unlocked")


@user_app.command("deactivate")
def user_deactivate(login: str, state_dir: LabDirOption = None) -> None:
    """Deactivate a user (DEPROVISIONED): sign-ins fail and sessions end."""
    _set_status(login, "DEPROVISIONED", state_dir, "deactivated")


@group_app.command("add")
def group_add(name: str, state_dir: LabDirOption = None) -> None:
    """Create a group (e.g. aws#acme-dev#ReadOnly#333333333333, Okta's convention)."""
    with _directory(state_dir) as directory:
        created = directory.add_group(name)
    out.print(f"{'created' if created else 'already there:'} {name}", markup=False)


@group_app.command("members")
def group_members(
    name: str,
    add: Annotated[list[str] | None, typer.Option("--add", help="Add this user (repeat).")] = None,
    remove: Annotated[
        list[str] | None, typer.Option("--remove", help="Remove this user (repeat).")
    ] = None,
    state_dir: LabDirOption = None,
    as_json: JsonFlag = False,
) -> None:
    """List a group's members, after adding or removing the ones given."""
    with _directory(state_dir) as directory:
        for login in add or []:
            directory.add_member(login, name)
        for login in remove or []:
            directory.remove_member(login, name)
        members = directory.group_members(name)
    if as_json:
        print_json({"group": name, "members": members})
        return
    out.print(f"{name}: " + (", ".join(members) if members else "(no members)"), markup=False)


@mfa_app.command("enroll")
def mfa_enroll(
    user: Annotated[str, typer.Argument(help="The user's login.")],
    factor: Annotated[str, typer.Option("--factor", help="totp, push or sms.")] = "totp",
    provider: Annotated[
        str | None, typer.Option("--provider", help="TOTP provider: GOOGLE or OKTA.")
    ] = None,
    state_dir: LabDirOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Enrol a factor; for TOTP print the otpauth URI and a QR code to scan."""
    with _directory(state_dir) as directory:
        enrolled = directory.enroll(user, factor, provider=provider)
    uri = enrolled.otpauth_uri(user) if enrolled.secret else None
    if as_json:
        print_json(
            {
                "login": user,
                "factor_id": enrolled.id,
                "factor_type": enrolled.factor_type,
                "provider": enrolled.provider,
                "otpauth_uri": uri,
            }
        )
        return
    out.print(
        f"enrolled {enrolled.factor_type} ({enrolled.provider}) for {user}: {enrolled.id}",
        markup=False,
    )
    if uri:
        import io

        import segno

        out.print(uri, markup=False)
        buffer = io.StringIO()
        segno.make(uri, error="m").terminal(out=buffer, compact=True)
        out.print(buffer.getvalue(), markup=False, highlight=False)


@mfa_app.command("code")
def mfa_code(
    user: Annotated[str, typer.Argument(help="The user's login.")],
    state_dir: LabDirOption = None,
) -> None:
    """Print the user's current TOTP code, as their authenticator app would show it.

    Lab only: scripts and the rollout guide's tests sign in without a phone. Like
    Okta, the lab accepts each code once; this never prints a code it printed before
    or one already used to sign in: then it waits for the next 30 s step and says so.
    """
    from keyless_lab.idp.authenticator import fresh_code

    with _directory(state_dir) as directory:
        found = directory.get_user(user)
        factor = directory.user_factor(found.id, "token:software:totp") if found else None
        if found is None:
            raise InputError(f"no lab user {user!r}", fix="see `keyless lab status` for the users")
        if factor is None or factor.secret is None:
            raise InputError(
                f"{user} has no TOTP factor enrolled",
                fix=f"enrol one: keyless lab mfa enroll {user} --factor totp",
            )
        code = fresh_code(directory, factor, say=lambda message: err.print(message, markup=False))
    out.print(code, markup=False)


def _answer(user: str, state_dir: Path | None, *, approve: bool) -> None:
    with _directory(state_dir) as directory:
        answered = directory.answer_push(user, approve=approve)
    if answered is None:
        raise InputError(
            f"{user} has no push waiting",
            fix="start a sign-in with the push factor first (keyless login, a client, the page)",
        )
    _, number = answered
    out.print(
        f"{'approved' if approve else 'rejected'} the push for {user} (number {number})",
        markup=False,
    )


@push_app.command("approve")
def push_approve(user: str, state_dir: LabDirOption = None) -> None:
    """Approve the user's waiting push."""
    _answer(user, state_dir, approve=True)


@push_app.command("reject")
def push_reject(user: str, state_dir: LabDirOption = None) -> None:
    """Reject the user's waiting push."""
    _answer(user, state_dir, approve=False)


def sync_roles_command(
    spec_file: Annotated[
        Path | None, typer.Option("--spec", help="The federation spec (default: the lab's).")
    ] = None,
    access_key_id: Annotated[
        str | None,
        typer.Option(
            "--access-key-id",
            envvar="KEYLESS_PROVISIONING_ACCESS_KEY_ID",
            help="The provisioning user's access key id.",
        ),
    ] = None,
    secret_access_key: Annotated[
        str | None,
        typer.Option(
            "--secret-access-key",
            envvar="KEYLESS_PROVISIONING_SECRET_ACCESS_KEY",
            help="Its secret (better from the environment).",
        ),
    ] = None,
    state_dir: LabDirOption = None,
    as_json: JsonFlag = False,
) -> None:
    """List each account's roles as Okta's API integration does and compare with the spec.

    Uses the provisioning principal's access key only (iam:ListRoles,
    iam:ListAccountAliases); member accounts are reached through the
    cross-account role when the spec's provisioning principal is a role.
    Exits 1 when AWS and the spec disagree.
    """
    import boto3

    from keyless.adapters.aws import assume_role_keys, role_in
    from keyless.spec import load_spec
    from keyless_lab.idp.sync import AccountUnreachable, sync_roles
    from keyless_lab.info import LabInfo

    info = LabInfo.load(resolve_lab_dir(state_dir))
    path = spec_file or (Path(info.spec_path) if info.spec_path else None)
    if path is None:
        raise InputError("the lab does not know its spec file", fix="pass --spec FILE")
    spec = load_spec(path)
    if not access_key_id or not secret_access_key:
        raise InputError(
            "sync-roles needs the provisioning user's access key",
            fix="create it with `keyless apply --lab --create-provisioning-key`, then pass "
            "--access-key-id and KEYLESS_PROVISIONING_SECRET_ACCESS_KEY",
        )
    base = boto3.Session(
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        region_name="us-east-1",
    )
    endpoint, ca_bundle = info.aws_endpoint_url, info.ca_bundle
    management = spec.management_account
    principal = spec.provisioning_principal
    if principal is None:
        raise InputError(
            "the spec has no provisioning_principal: with group mapping Okta imports no roles",
            fix="sync-roles is for mapping_mode: role_import specs",
        )

    def iam_for(account: Any) -> Any:
        if management is not None and account.id == management.id:
            return base.client("iam", endpoint_url=endpoint, verify=ca_bundle)
        if principal.kind != "role":
            raise AccountUnreachable(
                "a provisioning user reaches only the management account; use "
                "`provisioning_principal: {kind: role}` to list member accounts"
            )
        keys = assume_role_keys(
            base.client("sts", endpoint_url=endpoint, verify=ca_bundle),
            role_in(account, principal.name),
            "keyless-role-sync",
        )
        return boto3.Session(**keys, region_name="us-east-1").client(
            "iam", endpoint_url=endpoint, verify=ca_bundle
        )

    reports = sync_roles(spec, iam_for)
    differs = any(r.missing_in_aws or r.not_in_spec or r.error for r in reports)
    if as_json:
        print_json({"in_sync": not differs, "accounts": [r.as_dict() for r in reports]})
    else:
        for report in reports:
            name = f"{report.alias} ({report.account_id})"
            if report.error:
                err.print(f"{name}: cannot list roles: {report.error}", markup=False)
                continue
            out.print(f"{name}: {len(report.roles_in_aws)} roles in AWS", markup=False)
            for role in report.missing_in_aws:
                out.print(f"  missing in AWS: {role} (the spec maps it)", markup=False)
            for role in report.not_in_spec:
                out.print(
                    f"  not in the spec: {role} (trusts the IdP, no group maps it)", markup=False
                )
        out.print("in sync" if not differs else "AWS and the spec differ", markup=False)
    if differs:
        raise typer.Exit(EXIT_FINDING)


def register(lab_app: typer.Typer) -> None:
    """Add the lab IdP's commands to the ``keyless lab`` group."""
    lab_app.add_typer(user_app, name="user")
    lab_app.add_typer(group_app, name="group")
    lab_app.add_typer(mfa_app, name="mfa")
    lab_app.add_typer(push_app, name="push")
    lab_app.command("sync-roles")(sync_roles_command)
    from keyless_lab.cli import lab_okta

    lab_okta.register(lab_app)
