"""A connection file: where an Okta org and an AWS endpoint are, and how to reach them.

``keyless plan|apply|audit|offboard|configure --lab`` take their endpoints
from such a file rather than from a profile: ``lab.json`` in ``--lab-dir``
(default ``$XDG_DATA_HOME/keyless/lab``). The lab (``keyless-lab``) writes one
when it starts, but nothing here knows the lab: any environment that serves an
Okta-compatible org and an AWS endpoint — a CI fixture, a shared sandbox — can
write the same JSON and keyless runs unchanged against it.

The file (JSON object; unknown keys are ignored, so a writer may add its own):

=======================  ============================================================
``idp_url``              the Okta org URL
``app_id``, ``app_url``  the AWS Account Federation app's id and its embed link
``metadata_url``         where the app's SAML metadata is served
``ca_bundle``            a PEM bundle to trust for every endpoint ("" for the system's)
``aws_endpoint_url``     one endpoint for every AWS service
``bootstrap_credentials``  ``aws_access_key_id``/``aws_secret_access_key`` of the
                         management account's administrator (what ``apply`` signs with)
``okta_api_token``       an Okta admin API token (``SSWS``), optional
``oidc_client_id``       a native OIDC app for the device flow, optional
``spec_path``            the federation spec the environment serves, optional
``lock_file``            optional: a file (relative to the connection file's
                         directory) the serving process holds a lock on while it
                         runs; a missing or unlocked one means the URLs are stale
=======================  ============================================================

Standard library only at import: reading the file must not pull in boto3.
"""

from __future__ import annotations

import fcntl
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keyless.errors import LabError

CONNECTION_FILE = "lab.json"


@dataclass(frozen=True)
class Connection:
    """What a connection file says, as typed values (secrets kept out of ``repr``)."""

    path: Path
    idp_url: str
    app_id: str
    app_url: str
    metadata_url: str
    aws_endpoint_url: str
    ca_bundle: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    okta_api_token: str = field(default="", repr=False)
    oidc_client_id: str | None = None
    spec_path: str | None = None

    def profile_defaults(self) -> dict[str, str]:
        """The keyless profile settings that point at these endpoints (``configure --lab``)."""
        defaults = {
            "org_url": self.idp_url,
            "app_url": self.app_url,
            "ca_bundle": self.ca_bundle,
            "aws_endpoint_url": self.aws_endpoint_url,
        }
        if self.spec_path:
            defaults["spec"] = self.spec_path
        if self.oidc_client_id:
            defaults["oidc_client_id"] = self.oidc_client_id
        return defaults


def _stale(lock_file: Path) -> bool:
    """Whether nobody holds ``lock_file``: the process that wrote the file has stopped."""
    try:
        handle = lock_file.open("r")
    except FileNotFoundError:
        return True
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # held exclusively by the running server
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True


def start_fix(directory: Path, spec_path: str | None = None) -> str:
    """What to run when nothing serves the connection file in ``directory``."""
    return (
        f"start it in another shell: `keyless lab up --spec {spec_path or 'FILE'} "
        f"--lab-dir {directory}`"
    )


def load_connection(directory: Path) -> Connection:
    """Read ``directory/lab.json``; :class:`LabError` when absent, broken or stale."""
    path = directory / CONNECTION_FILE
    start = start_fix(directory)
    try:
        data: Any = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise LabError(
            f"no lab has been started in {directory} ({path} does not exist)", fix=start
        ) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LabError(f"{path} cannot be read: {exc}", fix=start) from exc
    try:
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        lock_file = data.get("lock_file")
        if lock_file and _stale(directory / str(lock_file)):
            spec_path = data.get("spec_path")
            raise LabError(
                f"no lab is running in {directory} "
                f"(its {CONNECTION_FILE} is from one that stopped)",
                fix=start_fix(directory, None if spec_path is None else str(spec_path)),
            )
        keys = data["bootstrap_credentials"]
        client = data.get("oidc_client_id")
        spec_path = data.get("spec_path")
        return Connection(
            path=path,
            idp_url=str(data["idp_url"]),
            app_id=str(data["app_id"]),
            app_url=str(data["app_url"]),
            metadata_url=str(data["metadata_url"]),
            aws_endpoint_url=str(data["aws_endpoint_url"]),
            ca_bundle=str(data.get("ca_bundle") or ""),
            access_key_id=str(keys["aws_access_key_id"]),
            secret_access_key=str(keys["aws_secret_access_key"]),
            okta_api_token=str(data.get("okta_api_token") or ""),
            oidc_client_id=None if client is None else str(client),
            spec_path=None if spec_path is None else str(spec_path),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise LabError(
            f"{path} is not a connection file keyless understands: missing or wrong {exc}",
            fix="rewrite it (`keyless lab up` writes a complete one)",
        ) from exc
