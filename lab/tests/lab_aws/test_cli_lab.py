"""`keyless lab up/status/down` driven as a user drives them, in real processes."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

from lab_fixtures import ACME

# The console script installed beside the interpreter running the tests.
KEYLESS = str(Path(sys.executable).parent / "keyless")


def _wait_for(process: subprocess.Popen[str], text: str, timeout: float = 60.0) -> str:
    assert process.stdout is not None
    seen = ""
    deadline = time.monotonic() + timeout
    while text not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {text!r} in output:\n{seen}"
        ready, _, _ = select.select([process.stdout], [], [], remaining)
        if ready:
            chunk = os.read(process.stdout.fileno(), 65536).decode()
            assert chunk, f"lab up exited:\n{seen}"
            seen += chunk
    return seen


def _keyless(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KEYLESS, *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_lab_up_status_busy_and_down(tmp_path: Path) -> None:
    state = tmp_path / "lab"
    up = subprocess.Popen(
        [KEYLESS, "lab", "up", "--spec", str(ACME), "--lab-dir", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        printed = _wait_for(up, "Press Ctrl-C")
        info = json.loads((state / "lab.json").read_text())
        assert f"export AWS_ENDPOINT_URL={info['aws_endpoint_url']}" in printed
        assert f"export AWS_CA_BUNDLE={info['ca_bundle']}" in printed
        assert "alice@acme.example" in printed
        # Secrets are not printed unless asked for.
        assert info["bootstrap_credentials"]["aws_secret_access_key"] not in printed
        assert all(u["password"] not in printed for u in info["users"])
        # One spelling of the lab directory in what it tells the user to run.
        assert f"keyless apply --spec {ACME} --lab --lab-dir {state.resolve()} --yes" in printed
        assert f"keyless configure --lab --lab-dir {state.resolve()} --profile lab" in printed
        assert "state-dir" not in printed

        status = _keyless("lab", "status", "--lab-dir", str(state), "--json")
        assert status.returncode == 0, status.stderr
        document = json.loads(status.stdout)
        assert document["running"] is True
        assert "password" not in document["users"][0]

        # The old spellings still work (hidden): --state-dir, --lab-state-dir=.
        again = _keyless("lab", "up", "--spec", str(ACME), "--state-dir", str(state))
        assert again.returncode == 2
        assert "already running" in again.stderr

        down = _keyless("lab", "down", f"--lab-state-dir={state}")
        assert down.returncode == 0, down.stderr
        assert up.wait(timeout=30) == 0
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
        assert up.stdout is not None
        up.stdout.close()
    stopped = _keyless("lab", "status", "--lab-dir", str(state), "--json")
    assert json.loads(stopped.stdout)["running"] is False
    assert not (Path(os.environ["HOME"]) / ".aws").exists()


def test_every_command_names_the_lab_dir_one_way() -> None:
    """`--help` lists --lab-dir only; the old spellings are accepted but not shown."""
    for command in (
        ["lab", "up"],
        ["lab", "down"],
        ["lab", "status"],
        ["lab", "user", "list"],
        ["plan"],
        ["apply"],
        ["configure"],
    ):
        shown = _keyless(*command, "--help")
        assert shown.returncode == 0, shown.stderr
        assert "--lab-dir" in shown.stdout, command
        assert "state-dir" not in shown.stdout, command
