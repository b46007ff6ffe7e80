"""More Okta CLI clients from PyPI, unmodified, sign in to the lab with password + TOTP.

Besides tokendito (``test_okta_client_tokendito.py``):

- **okta-awscli** (okta-awscli/okta-awscli), configured as its README says: a
  ``~/.okta-aws`` profile with ``base-url``, ``username``, ``password``,
  ``factor`` and ``role``, the TOTP code with ``--token``. It finds the AWS app
  through ``/api/v1/users/me/appLinks`` (no ``app-link`` given), sends the TOTP
  code as ``answer`` (which the lab refused before issue 11), writes
  ``~/.aws/credentials`` and runs the AWS CLI itself.
- **aws-okta-processor** (godaddy/aws-okta-processor), configured as its
  README says: a ``credential_process`` line in ``~/.aws/credentials`` and its
  ``AWS_OKTA_*`` variables (its ``--sign-in-url`` names the lab's copy of
  AWS's role-picker page, which it reads account names from). The AWS CLI
  runs it; it talks to the person on the terminal (``/dev/tty``: "Token: "
  for the TOTP code, progress lines), so the test runs the AWS CLI on a
  pseudo-terminal and types the code there, as a person would.

Both reach the lab CA through ``REQUESTS_CA_BUNDLE`` (requests) and
``AWS_CA_BUNDLE`` (botocore), and the lab AWS through ``AWS_ENDPOINT_URL``,
the AWS SDKs' own setting, as the README's "Point clients at the lab" says.
Each test makes a user of its own with the lab CLI, so no other test's TOTP
code can collide with its.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

import pyotp
import pytest
import typer
from typer.testing import CliRunner

from keyless_lab.cli.lab_idp import register
from peers import peer_script

PASSWORD = "Lab-only-password-1!"
ROLE = "arn:aws:iam::222222222222:role/OktaAdminRole"
BIN = Path(sys.executable).parent


def _lab_cli(state_dir: Path, *args: str, stdin: str | None = None) -> Any:
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, [*args, "--lab-dir", str(state_dir)], input=stdin)
    assert result.exit_code == 0, result.output
    return result


def _user(lab: Any, login: str) -> pyotp.TOTP:
    """A lab user in aws-admins with TOTP; its authenticator."""
    _lab_cli(
        lab.state_dir,
        "user",
        "add",
        login,
        "--group",
        "aws-admins",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    enrolled = json.loads(
        _lab_cli(lab.state_dir, "mfa", "enroll", login, "--factor", "totp", "--json").stdout
    )
    return pyotp.TOTP(pyotp.parse_uri(enrolled["otpauth_uri"]).secret)


def _environment(lab: Any, home: Path) -> dict[str, str]:
    """A user's shell pointed at the lab: its own HOME, the lab CA, the lab AWS endpoint."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": f"{BIN}:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "REQUESTS_CA_BUNDLE": lab.ca_bundle,
        "AWS_CA_BUNDLE": lab.ca_bundle,
        "AWS_ENDPOINT_URL": lab.aws_endpoint_url,
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def _caller(output: str) -> dict[str, Any]:
    """The ``aws sts get-caller-identity`` JSON in a run's output."""
    start = output.find("{")
    assert start >= 0, f"no JSON in:\n{output}"
    identity: dict[str, Any] = json.loads(output[start : output.rfind("}") + 1])
    return identity


def _in_terminal(
    args: list[str], env: dict[str, str], prompt: str, answer: str, timeout: float = 180
) -> tuple[int, str]:
    """Run ``args`` with a pseudo-terminal as its controlling terminal, as a person in a
    shell would; type ``answer`` once ``prompt`` shows. Return (exit code, all output)."""
    master, slave = os.openpty()

    def take_terminal() -> None:  # in the child, after setsid
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    child = subprocess.Popen(
        args,
        env=env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        preexec_fn=take_terminal,  # the child only takes its terminal, then execs
    )
    os.close(slave)
    output = b""
    answered = False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
                if not answered and prompt.encode() in output:
                    os.write(master, answer.encode() + b"\n")
                    answered = True
            elif child.poll() is not None:
                break
        code = child.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        os.close(master)
    return code, output.decode(errors="replace")


@pytest.mark.slow
def test_okta_awscli_signs_in_with_totp_as_answer_and_the_aws_cli_works(
    provisioned_lab: Any, tmp_path: Path
) -> None:
    lab = provisioned_lab
    login = "okta-awscli-user@acme.example"
    totp = _user(lab, login)
    env = _environment(lab, tmp_path / "home")
    host = lab.idp_url.removeprefix("https://")
    (tmp_path / "home" / ".okta-aws").write_text(
        "[default]\n"
        f"base-url = {host}\n"
        f"username = {login}\n"
        f"password = {PASSWORD}\n"
        "factor = GOOGLE\n"
        f"role = {ROLE}\n"
        "profile = lab-admin\n"
    )
    run = subprocess.run(
        [
            peer_script("okta-awscli"),
            "--profile",
            "lab-admin",
            "--token",
            totp.now(),
            "sts",
            "get-caller-identity",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        start_new_session=True,  # no controlling terminal: nothing can prompt
    )
    assert run.returncode == 0, f"okta-awscli failed:\n{run.stdout}\n{run.stderr}"
    identity = _caller(run.stdout)
    assert identity["Arn"] == f"arn:aws:sts::222222222222:assumed-role/OktaAdminRole/{login}"
    # It found the app through appLinks and saved the link, as its README says it does.
    assert "app-link" in (tmp_path / "home" / ".okta-aws").read_text()

    # What it wrote works for the AWS CLI on its own.
    again = subprocess.run(
        ["aws", "--profile", "lab-admin", "sts", "get-caller-identity", "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert _caller(again.stdout)["Account"] == "222222222222"


@pytest.mark.slow
def test_aws_okta_processor_as_credential_process_and_the_aws_cli_works(
    provisioned_lab: Any, tmp_path: Path
) -> None:
    lab = provisioned_lab
    login = "aws-okta-processor-user@acme.example"
    totp = _user(lab, login)
    env = _environment(lab, tmp_path / "home")
    env.update(
        {
            "AWS_OKTA_PASS": PASSWORD,
            "AWS_OKTA_APPLICATION": lab.app_url,
            "AWS_OKTA_ROLE": ROLE,
            "AWS_OKTA_FACTOR": "token:software:totp:google",
        }
    )
    host = lab.idp_url.removeprefix("https://")
    aws_dir = tmp_path / "home" / ".aws"
    aws_dir.mkdir()
    (aws_dir / "credentials").write_text(
        "[lab-admin]\n"
        f"credential_process = {peer_script('aws-okta-processor')} authenticate "
        f"--user {login} --organization {host}"
        # With more than one role it reads account names from AWS's role-picker page;
        # --sign-in-url (whose default beats AWS_OKTA_SIGN_IN_URL) names the lab's copy.
        f" --sign-in-url {lab.idp_url}/aws/saml\n"
    )
    # It talks to the person on the terminal (/dev/tty), keeping stdout for the AWS CLI.
    code, output = _in_terminal(
        ["aws", "--profile", "lab-admin", "sts", "get-caller-identity", "--output", "json"],
        env,
        prompt="Token:",
        answer=totp.now(),
    )
    assert code == 0, f"aws-okta-processor failed:\n{output}"
    identity = _caller(output)
    assert identity["Arn"] == f"arn:aws:sts::222222222222:assumed-role/OktaAdminRole/{login}"
