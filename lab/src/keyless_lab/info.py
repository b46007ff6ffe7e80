"""``lab.json``: what a running lab tells its clients, as typed values.

It is a keyless *connection file* (``keyless.adapters.connection_file``
documents the keys keyless reads) plus the lab's own keys (its accounts,
users and state directory), which keyless ignores.

A started :class:`keyless_lab.runtime.Lab` writes ``<lab dir>/lab.json``
(mode 0600, atomically); ``keyless apply --lab``, ``keyless configure --lab``,
scripts and tests read it back as a :class:`LabInfo`. Its accounts are
:class:`LabAccount` and its users :class:`LabUser`: the rest of keyless never
sees the file's dictionaries.

This is the lab's side of the boundary. The services do not import it (they
are the same code for real AWS and Okta): :meth:`LabInfo.composition` hands
keyless's composition root (:mod:`keyless.services.compose`) the same
connection file ``--lab`` reads, and everything is built there.

Standard library only at import, so a CLI command that merely reads the
lab's state imports neither the lab's servers nor boto3.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keyless.errors import LabError
from keyless.files import write_atomic
from keyless_lab.aws.bootstrap import LabAccount
from keyless_lab.users import LabUser

if TYPE_CHECKING:
    import httpx

    from keyless.adapters.aws import AwsConnector
    from keyless.adapters.connection_file import Connection
    from keyless.services.compose import Composition
    from keyless.services.okta.side import KnownOrg
    from keyless.spec.model import FederationSpec

LAB_FILE = "lab.json"

__all__ = ["LAB_FILE", "LabAccount", "LabInfo", "LabUser"]


@dataclass(frozen=True)
class BootstrapKey:
    """The management account's first access key (``lab-admin``), as an administrator has."""

    access_key_id: str
    secret_access_key: str = field(repr=False)


@dataclass
class LabInfo:
    """Exactly what ``lab.json`` holds: how to reach and drive a lab."""

    state_dir: Path
    idp_url: str
    aws_endpoint_url: str
    ca_bundle: str
    app_id: str
    app_url: str
    metadata_url: str
    entity_id: str
    management_account_id: str
    accounts: list[LabAccount]
    provider_arns: list[str]
    users: list[LabUser]
    bootstrap_credentials: dict[str, str] = field(repr=False)
    spec_path: str | None = None
    # An admin API token of the lab's Okta org with every management scope
    # (`Authorization: SSWS ...`), as the AWS bootstrap key is for the lab AWS.
    okta_api_token: str = field(default="", repr=False)
    # Okta's engine the lab IdP plays ("classic" or "oie"), the AWS app's sign-on
    # policy, and the native OIDC app a CLI uses for the device flow.
    engine: str = "classic"
    app_policy: str = "none"
    oidc_client_id: str | None = None
    # The lock the running lab holds: keyless's connection-file reader
    # (keyless.adapters.connection_file) calls the file stale when it is free.
    lock_file: str | None = None

    @property
    def bootstrap_key(self) -> BootstrapKey:
        """The management account's bootstrap key (what ``apply --lab`` signs with)."""
        return BootstrapKey(
            access_key_id=self.bootstrap_credentials["aws_access_key_id"],
            secret_access_key=self.bootstrap_credentials["aws_secret_access_key"],
        )

    def user(self, login: str) -> LabUser:
        """The spec user ``login``; :class:`LabError` when the lab has none of that name."""
        for user in self.users:
            if user.login == login:
                return user
        known = ", ".join(u.login for u in self.users) or "none"
        raise LabError(f"the lab has no user {login!r}", fix=f"use one of: {known}")

    def profile_defaults(self) -> dict[str, str]:
        """The keyless profile settings that point at this lab, exactly as ``configure --lab``
        takes them from the connection file."""
        return self.connection().profile_defaults()

    def connection(self) -> Connection:
        """This file as keyless reads it: a connection file (what ``--lab`` loads)."""
        from keyless.adapters.connection_file import Connection

        key = self.bootstrap_key
        return Connection(
            path=self.state_dir / LAB_FILE,
            idp_url=self.idp_url,
            app_id=self.app_id,
            app_url=self.app_url,
            metadata_url=self.metadata_url,
            aws_endpoint_url=self.aws_endpoint_url,
            ca_bundle=self.ca_bundle,
            access_key_id=key.access_key_id,
            secret_access_key=key.secret_access_key,
            okta_api_token=self.okta_api_token,
            oidc_client_id=self.oidc_client_id,
            spec_path=self.spec_path,
        )

    def composition(self, *, region: str = "us-east-1") -> Composition:
        """keyless's composition root pointed at this lab, as ``--lab`` points it."""
        from keyless.services.compose import Composition

        return Composition(connection=self.connection(), region=region)

    def connector(self, *, region: str = "us-east-1") -> AwsConnector:
        """A connector for the lab's management account with its bootstrap key (``apply --lab``)."""
        return self.composition(region=region).aws_connector()

    def idp_metadata(self, spec: FederationSpec, *, http: httpx.Client | None = None) -> bytes:
        """The lab IdP's SAML metadata (what ``apply --lab`` puts in every account)."""
        return self.composition().idp_metadata(spec, http=http)

    def okta_org(self) -> KnownOrg:
        """The lab's Okta org, app and admin token, for `plan`/`apply --lab`, offboard, audit."""
        known = self.composition().known_org()
        assert known is not None  # a composition from a connection file always knows its org
        return known

    def as_dict(self) -> dict[str, Any]:
        """The JSON document (paths as strings, users' factors as lists)."""
        data = asdict(self)
        data["state_dir"] = str(self.state_dir)
        data["accounts"] = [account.as_dict() for account in self.accounts]
        for user in data["users"]:
            user["factors"] = list(user["factors"])
        return data

    def save(self) -> Path:
        """Write ``state_dir/lab.json`` (0600, atomically) and return its path."""
        path = self.state_dir / LAB_FILE
        text = json.dumps(self.as_dict(), indent=2, sort_keys=True) + "\n"
        write_atomic(path, text.encode())
        return path

    @classmethod
    def load(cls, state_dir: Path) -> LabInfo:
        """Read ``state_dir/lab.json``; :class:`LabError` when there is none or it is broken."""
        path = state_dir / LAB_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise LabError(
                f"no lab has been started in {state_dir} ({path} does not exist)",
                fix="run `keyless lab up --spec examples/acme.yaml`",
            ) from exc
        except (OSError, json.JSONDecodeError) as exc:
            raise LabError(
                f"{path} cannot be read: {exc}", fix="run `keyless lab up` again to rewrite it"
            ) from exc
        try:
            data["state_dir"] = Path(data["state_dir"])
            data["accounts"] = [LabAccount.from_dict(item) for item in data["accounts"]]
            data["users"] = [LabUser.from_dict(item) for item in data["users"]]
            return cls(**data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise LabError(
                f"{path} is not a lab state file this version understands: {exc!r}",
                fix="run `keyless lab up` again to rewrite it",
            ) from exc
