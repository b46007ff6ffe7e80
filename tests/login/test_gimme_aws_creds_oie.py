"""An unmodified open-source Okta client logs in to the lab playing Identity Engine.

gimme-aws-creds (Nike-Inc, from PyPI, in the ``[test]`` extra beside keyless:
its urllib3<2 pin resolves with everything else, ``pip check`` is clean)
asks ``/.well-known/okta-organization``, sees ``pipeline: idx``, runs the
device authorization grant with the lab's native OIDC app, prints the
verification URL, polls every 2 s, exchanges the tokens for a web SSO token
for the AWS app named in ``app_url``, reads the SAML form from
``/login/token/sso`` and calls STS itself (boto3, pointed at the lab by
``AWS_ENDPOINT_URL``). A person approves in Chromium.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from browser_support import lab_page
from login_support import LabUser
from peers import peer_script

_URL = re.compile(r"(https://\S+/activate\?user_code=[A-Z]+)")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:`verify=<str>` is deprecated:DeprecationWarning"),
]


@pytest.fixture
def page() -> Iterator[Any]:
    with lab_page() as page:
        yield page


def test_gimme_aws_creds_device_flow_against_the_lab(
    lab_idp_settings: Callable[..., None],
    provisioned_lab: Any,
    make_user: Callable[..., LabUser],
    page: Any,
    tmp_path: Path,
) -> None:
    lab = provisioned_lab
    lab_idp_settings(engine="oie", app_policy="mfa", device_poll_interval=1)
    user = make_user()
    config = tmp_path / "okta_aws_login_config"
    config.write_text(
        "[DEFAULT]\n"
        f"okta_org_url = {lab.idp_url}\n"
        f"client_id = {lab.oidc_client_id}\n"
        "gimme_creds_server = appurl\n"
        f"app_url = {lab.app_url}\n"
        "aws_rolename = arn:aws:iam::333333333333:role/Developer\n"
        "write_aws_creds = False\n"
        "cred_profile = role\n"
        "output_format = json\n"
        "resolve_aws_alias = False\n"
        "open_browser = False\n"
        "force_classic = False\n"
        "aws_default_duration = 3600\n"
    )
    env = dict(
        os.environ,
        OKTA_CONFIG=str(config),
        REQUESTS_CA_BUNDLE=lab.ca_bundle,
        AWS_ENDPOINT_URL=lab.aws_endpoint_url,
        AWS_CA_BUNDLE=lab.ca_bundle,
        AWS_DEFAULT_REGION="us-east-1",
    )
    process = subprocess.Popen(
        [peer_script("gimme-aws-creds")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    said: list[str] = []
    seen = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            said.append(line)
            if _URL.search(line):
                seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert seen.wait(60), "".join(said)
        match = _URL.search("".join(said))
        assert match is not None
        page.goto(match.group(1))
        page.wait_for_selector("#okta-signin-username")
        page.fill("#okta-signin-username", user.login)
        page.fill("#okta-signin-password", user.password)
        page.click("#okta-signin-submit")
        page.wait_for_selector("#input-passcode")
        page.fill("#input-passcode", user.totp())
        page.click("#verify-submit")
        page.wait_for_selector("#activate-allow")
        page.click("#activate-allow")
        page.wait_for_selector("#activate-result")
        code = process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(timeout=10)
        assert process.stdout is not None
        process.stdout.close()
    output = "".join(said)
    assert code == 0, output
    document = json.loads(output[output.index("{") : output.rindex("}") + 1])
    credentials = document["credentials"]
    sts = boto3.client(
        "sts",
        region_name="us-east-1",
        endpoint_url=lab.aws_endpoint_url,
        verify=lab.ca_bundle,
        aws_access_key_id=credentials["aws_access_key_id"],
        aws_secret_access_key=credentials["aws_secret_access_key"],
        aws_session_token=credentials["aws_session_token"],
    )
    assert sts.get_caller_identity()["Arn"] == (
        f"arn:aws:sts::333333333333:assumed-role/Developer/{user.login}"
    )
