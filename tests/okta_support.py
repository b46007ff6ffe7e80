"""Helpers the Okta-side tests share: a lab per module, `keyless` as a subprocess, logins."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from keyless.adapters.secrets import FileSecretStore
from keyless.adapters.terminal import NonInteractivePrompter
from keyless.services.login.okta_signin import LoginInputs
from keyless.services.login.profiles import Settings
from keyless.services.login.wiring import login_and_cache
from keyless_lab.idp.directory import Directory
from keyless_lab.info import LabInfo
from keyless_lab.runtime import Lab
from lab_fixtures import fresh_totp

REPO = Path(__file__).resolve().parents[1]
ACME = REPO / "examples" / "acme.yaml"
KEYLESS = str(Path(sys.executable).parent / "keyless")


def acme_with_okta(**okta: Any) -> dict[str, Any]:
    """examples/acme.yaml with an `okta:` section: keyless manages the Okta side too."""
    data: dict[str, Any] = yaml.safe_load(ACME.read_text())
    data["okta"] = {"auth": "api_token", **okta}
    return data


def acme_role_import(**okta: Any) -> dict[str, Any]:
    """acme with `okta:` in the other mapping mode: the API integration imports roles with
    the provisioning principal's key, explicit mappings name them in samlRoles, and no
    convention groups (Okta's group mapping, the mode never mixed with this one)."""
    data = acme_with_okta(**okta)
    data["mapping_mode"] = "role_import"
    data["group_convention"] = {**data.get("group_convention", {}), "enabled": False}
    data["provisioning_principal"] = {"kind": "user", "name": "OktaProvisioningUser"}
    return data


@dataclass
class OktaLab:
    """A running lab, the spec file it was started with, and the Lab object (in-process)."""

    lab: Lab
    info: LabInfo
    spec_path: Path

    def write_spec(self, data: dict[str, Any], name: str = "federation.yaml") -> Path:
        path = self.spec_path.parent / name
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    def keyless(
        self, *args: str, env: dict[str, str] | None = None, spec: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``keyless ARGS --spec SPEC --lab-state-dir DIR`` as a user runs it."""
        command = [KEYLESS, *args, "--spec", str(spec or self.spec_path)]
        command += ["--lab-state-dir", str(self.info.state_dir)]
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            timeout=300,
        )

    def lab_cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``keyless lab ARGS --lab-dir DIR``."""
        return subprocess.run(
            [KEYLESS, "lab", *args, "--lab-dir", str(self.info.state_dir)],
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
            timeout=120,
        )

    def user(self, login_name: str) -> dict[str, Any]:
        return dataclasses.asdict(self.info.user(login_name))


def roles_of(okta_lab: OktaLab, login_name: str, tmp_path: Path) -> set[str]:
    """Log ``login_name`` in (password and TOTP, or push approved from the 'phone') and
    take every role the assertion offers; the role ARNs STS accepted."""
    info = okta_lab.info
    user = okta_lab.user(login_name)
    factors = user.get("factors") or []
    push = "totp" not in factors
    settings = Settings(
        profile=f"p-{login_name.split('@')[0]}",
        org_url=info.idp_url,
        app_url=info.app_url,
        username=login_name,
        ca_bundle=info.ca_bundle,
        aws_endpoint_url=info.aws_endpoint_url,
        mfa_factor="push" if push else "totp",
    )
    secret = user.get("totp_secret")
    code = None if push else fresh_totp(str(secret))
    stop = threading.Event()
    approver = None
    if push:
        approver = threading.Thread(
            target=_approve_pushes, args=(Path(info.state_dir), login_name, stop), daemon=True
        )
        approver.start()
    try:
        result = login_and_cache(
            settings,
            prompter=NonInteractivePrompter(mode="login", profile=settings.profile),
            secrets=FileSecretStore(tmp_path / f"secrets-{settings.profile}"),
            inputs=LoginInputs(password=str(user["password"]), mfa_code=code),
            all_roles=True,
            write_files=False,
            poll_interval=0.1,
        )
    finally:
        stop.set()
        if approver is not None:
            approver.join(timeout=10)
    return {entry.role.role_arn for entry in result.logins}


def _approve_pushes(state_dir: Path, login_name: str, stop: threading.Event) -> None:
    directory = Directory(state_dir / "idp.sqlite")
    try:
        while not stop.wait(0.1):
            if directory.answer_push(login_name, approve=True) is not None:
                return
    finally:
        directory.close()
