"""`keyless exec --ecs-server -- CMD` against the lab: the AWS CLI and boto3 in CMD get the
profile's credentials from the loopback container credentials endpoint, and refresh from it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

import pytest

from keyless.adapters.credential_cache import CredentialCache
from keyless.core.credentials import utcnow
from login_support import AWS, KEYLESS, LabUser, configure, keyless, run

pytestmark = [
    pytest.mark.slow,
    # tests/lab_fixtures.py's boto3 fallback calls httpx.get(verify=<path>) (see test_login_lab).
    pytest.mark.filterwarnings("ignore:`verify=<str>` is deprecated:DeprecationWarning"),
]

# What the command sees: its AWS_* variables, and which credential provider boto3 chose.
_SHOW_ENV = """
import json, os
print(json.dumps({k: v for k, v in os.environ.items() if k.startswith("AWS_")}), flush=True)
"""

_BOTO3_IDENTITY = """
import json, boto3
session = boto3.Session()
arn = session.client("sts").get_caller_identity()["Arn"]
print(json.dumps({"arn": arn, "method": session.get_credentials().method}))
"""

# Prints its endpoint, then waits until the test closes its stdin.
_WAIT = """
import json, os, sys
print(json.dumps({k: v for k, v in os.environ.items() if k.startswith("AWS_CONTAINER")}),
      flush=True)
sys.stdin.read()
"""

# One SDK session across a cache change: the first key, then (after the test's line) the next.
_REFRESH = """
import boto3, sys
session = boto3.Session()
sts = session.client("sts")
sts.get_caller_identity()
print(session.get_credentials().get_frozen_credentials().access_key, flush=True)
sys.stdin.readline()
arn = sts.get_caller_identity()["Arn"]
print(session.get_credentials().get_frozen_credentials().access_key, flush=True)
print(arn, flush=True)
"""

_TRAP = """
import signal, sys
def stop(signum, frame):
    print("got", signal.Signals(signum).name, flush=True)
    sys.exit(40 + signum)
signal.signal(signal.SIGINT, stop)
signal.signal(signal.SIGTERM, stop)
print("ready", flush=True)
signal.pause()
"""

_STALE_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIAOLDKEYOLDKEYOLD1",
    "AWS_SECRET_ACCESS_KEY": "old-secret",
    "AWS_SESSION_TOKEN": "old-token",
    "AWS_PROFILE": "nope",
    "AWS_DEFAULT_PROFILE": "nope",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/old",
}


def _logged_in(lab: Any, make_user: Any, profile: str) -> None:
    user: LabUser = make_user()
    configure(lab, profile, user, "--mfa-factor", "totp")
    done = keyless(
        "login",
        "--profile",
        profile,
        "--no-write",
        "--password-stdin",
        "--mfa-code",
        user.totp(),
        input=user.password + "\n",
    )
    assert done.returncode == 0, done.stderr


def _exec(profile: str, *command: str) -> list[str]:
    return [KEYLESS, "exec", "--profile", profile, "--ecs-server", "--", *command]


def _start(args: list[str]) -> subprocess.Popen[str]:
    """``args`` with pipes and no terminal (a new session), as a user's script runs it."""
    return subprocess.Popen(
        args,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=dict(os.environ),
    )


def _line(stream: IO[str] | None) -> str:
    assert stream is not None
    return stream.readline()


def _get(url: str, token: str | None) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", token)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


def test_the_aws_cli_and_boto3_get_the_role_from_the_endpoint_and_no_keys(
    provisioned_lab: Any, make_user: Any
) -> None:
    _logged_in(provisioned_lab, make_user, "ecs")
    env = dict(os.environ, **_STALE_ENV)

    cli = run(_exec("ecs", AWS, "sts", "get-caller-identity", "--output", "json"), env=env)
    assert cli.returncode == 0, cli.stderr
    assert ":assumed-role/Developer/" in json.loads(cli.stdout)["Arn"]

    sdk = run(_exec("ecs", sys.executable, "-c", _BOTO3_IDENTITY), env=env)
    assert sdk.returncode == 0, sdk.stderr
    answer = json.loads(sdk.stdout)
    assert ":assumed-role/Developer/" in answer["arn"]
    # botocore's ContainerProvider, not keys from the environment or a profile.
    assert answer["method"] == "container-role"

    shown = run(_exec("ecs", sys.executable, "-c", _SHOW_ENV), env=env)
    assert shown.returncode == 0, shown.stderr
    variables = json.loads(shown.stdout)
    for name in _STALE_ENV:
        assert name not in variables, name
    assert variables["AWS_CONTAINER_CREDENTIALS_FULL_URI"].startswith("http://127.0.0.1:")
    assert len(variables["AWS_CONTAINER_AUTHORIZATION_TOKEN"]) >= 43  # 32 random bytes
    assert variables["AWS_ENDPOINT_URL"] == provisioned_lab.aws_endpoint_url


def test_the_endpoint_wants_the_token_binds_loopback_and_ends_with_the_command(
    provisioned_lab: Any, make_user: Any
) -> None:
    _logged_in(provisioned_lab, make_user, "ecs-token")
    process = _start(_exec("ecs-token", sys.executable, "-c", _WAIT))
    try:
        endpoint = json.loads(_line(process.stdout))
        url = endpoint["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
        token = endpoint["AWS_CONTAINER_AUTHORIZATION_TOKEN"]

        for given, status in ((None, 401), ("", 403), (token[:-1], 403), (token + "x", 403)):
            code, body = _get(url, given)
            assert code == status, (given is None, code)
            assert "AccessKeyId" not in body
            assert token not in body
        # The right token on another path learns only where credentials are.
        code, body = _get(url.rsplit("/", 1)[0] + "/other", token)
        assert code == 404
        assert "AccessKeyId" not in body

        code, body = _get(url, token)
        assert code == 200
        document = json.loads(body)
        assert document["AccessKeyId"].startswith("ASIA")
        assert document["Token"]
        assert document["SecretAccessKey"]
        assert document["Expiration"].endswith("Z")
        assert document["AccountId"] == "333333333333"

        # Bound to 127.0.0.1 only: the same port on another loopback address refuses.
        port = int(url.split(":")[2].split("/")[0])
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.2", port), timeout=10).close()
    finally:
        _, errors = process.communicate("", timeout=60)
    assert process.returncode == 0, errors
    assert token not in errors
    # The endpoint stopped with the command.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=10).close()


def test_the_sdk_refreshes_from_the_endpoint_when_the_credentials_near_expiry(
    provisioned_lab: Any, make_user: Any
) -> None:
    profile = "ecs-refresh"
    _logged_in(provisioned_lab, make_user, profile)
    cache = CredentialCache()
    first = cache.load(profile)
    assert first is not None
    # Eight minutes left: inside botocore's refresh window (15 min), outside keyless's (5 min),
    # so the endpoint keeps serving these keys until they are due.
    cache.store(profile, replace(first, expiration=utcnow() + timedelta(minutes=8)))

    process = _start(_exec(profile, sys.executable, "-c", _REFRESH))
    try:
        served_first = _line(process.stdout).strip()
        assert served_first == first.access_key_id
        # Now due for keyless too (2 minutes left): the SDK's next refresh must bring new keys.
        cache.store(profile, replace(first, expiration=utcnow() + timedelta(minutes=2)))
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
        output, errors = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, errors
    served_second, arn = output.split()
    assert served_second != first.access_key_id
    assert ":assumed-role/Developer/" in arn
    refreshed = cache.load(profile)
    assert refreshed is not None
    assert refreshed.access_key_id == served_second
    assert refreshed.seconds_left(utcnow()) > 30 * 60


def test_the_commands_exit_code_and_signals_pass_through(
    provisioned_lab: Any, make_user: Any
) -> None:
    _logged_in(provisioned_lab, make_user, "ecs-exit")
    failed = run(_exec("ecs-exit", sys.executable, "-c", "raise SystemExit(7)"))
    assert failed.returncode == 7, failed.stderr

    for signum in (signal.SIGTERM, signal.SIGINT):
        process = _start(_exec("ecs-exit", sys.executable, "-c", _TRAP))
        try:
            assert _line(process.stdout) == "ready\n"
            process.send_signal(signum)  # to keyless, not to the command
            output, errors = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        assert f"got {signum.name}" in output, errors
        assert process.returncode == 40 + signum

    missing = run(_exec("ecs-exit", "no-such-command-here"))
    assert missing.returncode == 2
    assert "command not found" in missing.stderr


def test_a_default_profile_with_keys_is_named_before_it_shadows_the_endpoint(
    provisioned_lab: Any, make_user: Any
) -> None:
    _logged_in(provisioned_lab, make_user, "ecs-shadow")
    credentials = Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"])
    credentials.write_text(
        "[default]\naws_access_key_id = AKIAEXAMPLEEXAMPLE12\naws_secret_access_key = x\n"
    )
    credentials.chmod(0o600)
    result = run(_exec("ecs-shadow", "true"))
    assert result.returncode == 0, result.stderr
    assert f"[default] in {credentials} sets aws_access_key_id" in result.stderr


def test_a_login_that_needs_a_person_fails_before_the_command_runs(
    provisioned_lab: Any, make_user: Any
) -> None:
    configure(provisioned_lab, "ecs-nobody", make_user(), "--mfa-factor", "totp")
    result = run(_exec("ecs-nobody", sys.executable, "-c", "print('the command ran')"))
    assert result.returncode == 2
    assert "no terminal" in result.stderr
    assert "the command ran" not in result.stdout


def test_a_refresh_that_needs_a_person_answers_503_and_names_the_login(
    provisioned_lab: Any, make_user: Any
) -> None:
    profile = "ecs-ended"
    _logged_in(provisioned_lab, make_user, profile)
    process = _start(_exec(profile, sys.executable, "-c", _WAIT))
    try:
        endpoint = json.loads(_line(process.stdout))
        url = endpoint["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
        token = endpoint["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
        assert _get(url, token)[0] == 200
        # The Okta session and the cache gone: a refresh would need a password now.
        out = keyless("logout", "--profile", profile)
        assert out.returncode == 0, out.stderr
        code, body = _get(url, token)
        assert code == 503
        assert "AccessKeyId" not in body
        assert f"keyless login --profile {profile}" in json.loads(body)["message"]
    finally:
        _, errors = process.communicate("", timeout=60)
    assert process.returncode == 0, errors
    assert f"keyless login --profile {profile}" in errors
    assert token not in errors
