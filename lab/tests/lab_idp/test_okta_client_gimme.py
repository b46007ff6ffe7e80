"""gimme-aws-creds (Nike-Inc), unmodified, signs in to the lab twice, keeping its DT.

Configured as its README says: ``~/.okta_aws_login_config`` (org URL, app URL,
role ARN, MFA type, ``gimme_creds_server = appurl``) and its ``OKTA_PASSWORD``
and ``OKTA_MFA_CODE`` variables; the lab CA and AWS endpoint as for every client.

Its first run saves the DT device token Okta gave it in the config file; every
later run sets that DT in its cookie jar itself, for the org URL's host
*including any port* (``okta_classic.py``: ``cookies.set('DT', ...,
domain=<what follows https://>)``), then reads ``cookies['DT']``, which fails
with a cookie conflict if the jar holds two. Against a real org on 443 the
domain is the bare host, the one Okta's own ``Set-Cookie: DT`` is stored under,
so Okta's replaces it. Cookies do not separate ports (RFC 6265, 8.5) and a
cookie jar refuses a ``Domain`` naming one, so no answer from a lab IdP at
``https://127.0.0.1:<port>`` can avoid the second cookie: the lab serves on 443,
as an org does, and its URL then has no port (``keyless lab up --idp-port 443``).
"""

from __future__ import annotations

import configparser
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pyotp
import pytest

from keyless.services.provision.federation import apply_federation, open_federation
from keyless.spec import load_spec
from keyless_lab.runtime import Lab
from lab_fixtures import ACME
from peers import peer_script

ROLE = "arn:aws:iam::222222222222:role/OktaAdminRole"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def lab_on_443(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A lab whose IdP listens on 127.0.0.1:443, provisioned as `keyless apply` would."""
    # The one skip of the interop tests, and only for want of the privilege: binding a port
    # below 1024 needs root or CAP_NET_BIND_SERVICE, which `make test` cannot grant (it runs
    # as whoever calls it). Any other failure to start the lab fails the test.
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", 443))
        except PermissionError as exc:
            pytest.skip(f"port 443 needs root or CAP_NET_BIND_SERVICE here: {exc}")
    spec = load_spec(ACME)
    lab = Lab(spec, state_dir=tmp_path_factory.mktemp("lab-443"), spec_path=ACME, idp_port=443)
    info = lab.start()
    try:
        # As `keyless apply --lab` provisions it.
        result = apply_federation(open_federation(spec, info.composition()))
        assert result.ok, result.as_dict()
        yield info
    finally:
        lab.stop()


@pytest.mark.slow
def test_gimme_aws_creds_signs_in_twice_with_its_saved_device_token(
    lab_on_443: Any, tmp_path: Path
) -> None:
    lab = lab_on_443
    assert lab.idp_url == "https://127.0.0.1"
    alice = lab.user("alice@acme.example")
    totp = pyotp.TOTP(str(alice.totp_secret))
    home = tmp_path / "home"
    home.mkdir()
    config = home / ".okta_aws_login_config"
    config.write_text(
        "[DEFAULT]\n"
        f"okta_org_url = {lab.idp_url}\n"
        "okta_auth_server =\n"
        "client_id =\n"
        "gimme_creds_server = appurl\n"
        f"app_url = {lab.app_url}\n"
        "aws_appname =\n"
        f"aws_rolename = {ROLE}\n"
        "write_aws_creds = True\n"
        "cred_profile = lab-admin\n"
        f"okta_username = {alice.login}\n"
        "resolve_aws_alias = False\n"
        "preferred_mfa_type = token:software:totp\n"
        "remember_device = False\n"
        "aws_default_duration = 3600\n"
        "output_format = export\n"
    )
    env = {
        "PATH": f"{BIN}:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "REQUESTS_CA_BUNDLE": lab.ca_bundle,
        "AWS_CA_BUNDLE": lab.ca_bundle,
        "AWS_ENDPOINT_URL": lab.aws_endpoint_url,
        "AWS_DEFAULT_REGION": "us-east-1",
        "OKTA_PASSWORD": alice.password,
    }
    tokens: list[str] = []
    for run_number in range(2):
        # A fresh TOTP step each run: the lab, as Okta, refuses a code used before.
        env["OKTA_MFA_CODE"] = totp.at(time.time() + 30 * run_number)
        run = subprocess.run(
            [peer_script("gimme-aws-creds")],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
            start_new_session=True,
        )
        assert run.returncode == 0, f"run {run_number + 1} failed:\n{run.stdout}\n{run.stderr}"
        saved = configparser.ConfigParser()
        saved.read(config)
        tokens.append(saved["DEFAULT"]["device_token"])

        credentials = configparser.ConfigParser()
        credentials.read(home / ".aws" / "credentials")
        profile = credentials["lab-admin"]
        identity = (
            boto3.Session(
                aws_access_key_id=profile["aws_access_key_id"],
                aws_secret_access_key=profile["aws_secret_access_key"],
                aws_session_token=profile["aws_session_token"],
                region_name="us-east-1",
            )
            .client("sts", endpoint_url=lab.aws_endpoint_url, verify=lab.ca_bundle)
            .get_caller_identity()
        )
        assert identity["Arn"] == (
            f"arn:aws:sts::222222222222:assumed-role/OktaAdminRole/{alice.login}"
        )
    # The device kept its token: the second sign-in sent the first run's DT back.
    assert tokens[0]
    assert tokens[0] == tokens[1]
    audit = [
        json.loads(line) for line in (Path(lab.state_dir) / "audit.jsonl").read_text().splitlines()
    ]
    assertions = [r for r in audit if r["event"] == "assertion" and r["login"] == alice.login]
    assert len(assertions) >= 2
