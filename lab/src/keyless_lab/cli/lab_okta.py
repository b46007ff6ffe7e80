"""`keyless lab token|service-app`: credentials for the lab Okta org's management API.

``token create`` makes an admin API token (``Authorization: SSWS ...``) with the
scopes given (all of them by default; ``--scopes okta.apps.read,...`` for a
read-only admin); ``service-app create`` registers an OAuth service app with a
public key, for client credentials with ``private_key_jwt``. Both edit the
lab's SQLite directly, so a running lab accepts them at once. The token is
printed once (you asked for it); only its SHA-256 is stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from keyless.cli.lab_dir import LabDirOption
from keyless.cli.output import err, out, print_json
from keyless.errors import InputError
from keyless.spec.model import OKTA_SCOPES
from keyless_lab.cli.lab_idp import JsonFlag, _directory

if TYPE_CHECKING:
    from keyless_lab.idp.appstate import AppState
    from keyless_lab.idp.directory import Directory

token_app = typer.Typer(help="Admin API tokens of the lab Okta org.", no_args_is_help=True)
service_app = typer.Typer(
    help="OAuth service apps of the lab Okta org (client credentials).", no_args_is_help=True
)

ScopesOption = Annotated[
    str,
    typer.Option(
        "--scopes",
        help="Comma-separated scopes (default: all: " + ",".join(OKTA_SCOPES) + ").",
    ),
]


def _scopes(value: str) -> tuple[str, ...]:
    scopes = tuple(s.strip() for s in value.split(",") if s.strip()) if value else OKTA_SCOPES
    unknown = [s for s in scopes if s not in OKTA_SCOPES]
    if unknown:
        raise InputError(
            f"unknown scope(s): {', '.join(unknown)}", fix="use some of: " + ", ".join(OKTA_SCOPES)
        )
    return scopes


def _appstate(directory: Directory) -> AppState:
    from keyless_lab.idp.appstate import AppState

    app_id = directory.meta("app_id")
    if app_id is None:
        raise InputError("the lab directory has no AWS app yet", fix="run `keyless lab up` once")
    return AppState(directory, app_id)


@token_app.command("create")
def token_create(
    scopes: ScopesOption = "",
    name: Annotated[str, typer.Option("--name", help="Who the token is for.")] = "lab admin",
    state_dir: LabDirOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Create an admin API token and print it (once)."""
    chosen = _scopes(scopes)
    with _directory(state_dir) as directory:
        state = _appstate(directory)
        token = state.create_token(name, chosen)
    if as_json:
        print_json({"token": token, "scopes": list(chosen), "name": name})
        return
    err.print(f"API token for {name!r} with {', '.join(chosen)} (shown once):")
    out.print(token, markup=False)


@service_app.command("create")
def service_app_create(
    public_key: Annotated[
        Path,
        typer.Option("--public-key", help="The app's RSA public key (PEM).", exists=True),
    ],
    scopes: ScopesOption = "",
    name: Annotated[str, typer.Option("--name", help="The service app's name.")] = "keyless",
    admin_role: Annotated[
        str,
        typer.Option(
            "--admin-role",
            help="The admin role assigned to the app (Okta assigns none by itself, and an app "
            "without one is refused by every endpoint); 'none' for none.",
        ),
    ] = "SUPER_ADMIN",
    state_dir: LabDirOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Register a service app with a public key and an admin role; print its client id."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = public_key.read_bytes()
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as exc:
        raise InputError(f"{public_key} is not a PEM public key") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise InputError(f"{public_key} is not an RSA key", fix="service apps sign with RS256")
    chosen = _scopes(scopes)
    with _directory(state_dir) as directory:
        state = _appstate(directory)
        roles = () if admin_role.lower() == "none" else (admin_role,)
        client_id = state.create_service_app(name, pem.decode(), chosen, roles)
    if as_json:
        print_json(
            {"client_id": client_id, "scopes": list(chosen), "name": name, "admin_roles": roles}
        )
        return
    out.print(client_id, markup=False)


def register(lab_app: typer.Typer) -> None:
    """Add `token` and `service-app` to the ``keyless lab`` group."""
    lab_app.add_typer(token_app, name="token")
    lab_app.add_typer(service_app, name="service-app")
