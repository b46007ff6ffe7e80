"""A lab that survives restarts (issue 24, item 3), driven as a user drives it: `keyless lab
up` in a process of its own, `keyless configure|login|plan`, `lab reset` and the AWS CLI.

- `lab up` again on the same directory listens on the same ports, so a profile made
  before the restart (and its `~/.aws/config` profile) still works;
- when those ports are taken it says so and listens elsewhere, and the profile follows
  (it reads lab.json when it runs; `login` points the AWS CLI profile at the new endpoint);
- `lab reset` refuses without a terminal or --yes, then stops the lab and clears it: the
  next `lab up` is a fresh lab (new users, nothing provisioned) on the same ports.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from keyless_lab.info import LabInfo
from lab_fixtures import ACME, fresh_totp

BIN = Path(sys.executable).parent
KEYLESS = str(BIN / "keyless")
AWS = str(BIN / "aws")
BOB = "bob@acme.example"

pytestmark = pytest.mark.slow


def _run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """A command as a user runs it without a terminal (a new session, stdin not a tty)."""
    return subprocess.run(
        args,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        start_new_session=True,
    )


@contextmanager
def _lab_up(state: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`keyless lab up` on ``state`` until it says it runs; its output so far. Stopped after."""
    process = subprocess.Popen(
        [KEYLESS, "lab", "up", "--spec", str(ACME), "--lab-dir", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert process.stdout is not None
    seen = ""
    deadline = time.monotonic() + 120
    try:
        while "Press Ctrl-C" not in seen:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"lab up did not start:\n{seen}"
            ready, _, _ = select.select([process.stdout], [], [], remaining)
            if ready:
                chunk = os.read(process.stdout.fileno(), 65536).decode()
                assert chunk, f"lab up exited:\n{seen}"
                seen += chunk
        yield process, seen
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        process.stdout.close()


def _ports(state: Path) -> tuple[int | None, int | None]:
    info = LabInfo.load(state)
    return (
        urllib.parse.urlsplit(info.idp_url).port,
        urllib.parse.urlsplit(info.aws_endpoint_url).port,
    )


def _login_as_bob(state: Path) -> None:
    """`keyless logout` then a full `keyless login --profile dev` (password and TOTP)."""
    assert _run(KEYLESS, "logout", "--profile", "dev").returncode == 0
    bob = LabInfo.load(state).user(BOB)
    assert bob.totp_secret is not None
    login = _run(
        KEYLESS,
        "login",
        "--profile",
        "dev",
        "--password-stdin",
        "--mfa-code",
        fresh_totp(bob.totp_secret),
        input=bob.password + "\n",
    )
    assert login.returncode == 0, login.stdout + login.stderr


def _aws_says_developer() -> None:
    """The AWS CLI, through the `dev` profile's credential_process, reaches the lab's STS."""
    who = _run(AWS, "sts", "get-caller-identity", "--profile", "dev", "--query", "Arn")
    assert who.returncode == 0, who.stderr
    assert ":assumed-role/Developer/bob@acme.example" in who.stdout


def test_a_restart_keeps_ports_and_profiles_and_reset_starts_afresh(tmp_path: Path) -> None:
    state = tmp_path / "lab"
    lab_dir = ("--lab-dir", str(state))

    # A lab, provisioned, and a profile made against it.
    with _lab_up(state) as (up, printed):
        assert f"keyless lab mfa code USER --lab-dir {state}" in printed
        first = _ports(state)
        applied = _run(KEYLESS, "apply", "--spec", str(ACME), "--lab", *lab_dir, "--yes")
        assert applied.returncode == 0, applied.stderr
        made = _run(KEYLESS, "configure", "--profile", "dev", "--lab", *lab_dir, "--username", BOB)
        assert made.returncode == 0, made.stderr
        _login_as_bob(state)
        _aws_says_developer()
        assert _run(KEYLESS, "lab", "down", *lab_dir).returncode == 0
        assert up.wait(timeout=30) == 0

    # Started again: the same ports, so the profile and the AWS CLI profile just work.
    with _lab_up(state) as (up, printed):
        assert "is taken" not in printed
        assert _ports(state) == first
        _login_as_bob(state)
        _aws_says_developer()
        assert _run(KEYLESS, "lab", "down", *lab_dir).returncode == 0
        assert up.wait(timeout=30) == 0

    # Both ports taken by another program: the lab says so and listens elsewhere; the
    # profile follows lab.json, and login points the AWS CLI profile at the new endpoint.
    squatters = []
    for port in first:
        assert port is not None
        squatter = socket.socket()
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", port))
        squatter.listen(1)
        squatters.append(squatter)
    try:
        with _lab_up(state) as (up, printed):
            idp_port, aws_port = first
            assert f"the IdP port this lab used before, {idp_port}, is taken" in printed
            assert f"the AWS port this lab used before, {aws_port}, is taken" in printed
            moved = _ports(state)
            assert moved[0] not in first
            assert moved[1] not in first
            assert f"listens on {moved[0]}" in printed
            _login_as_bob(state)
            _aws_says_developer()

            # lab reset: refused without a terminal and without --yes, nothing touched...
            refused = _run(KEYLESS, "lab", "reset", *lab_dir)
            assert refused.returncode == 2, refused.stdout + refused.stderr
            assert "--yes" in refused.stderr
            assert up.poll() is None
            assert (state / "idp.sqlite").exists()
            old_password = LabInfo.load(state).user(BOB).password

            # ...and with --yes it stops the running lab and clears its state.
            reset = _run(KEYLESS, "lab", "reset", *lab_dir, "--yes")
            assert reset.returncode == 0, reset.stderr
            assert up.wait(timeout=30) == 0
    finally:
        for squatter in squatters:
            squatter.close()
    for gone in ("lab.json", "idp.sqlite", "aws-state.json", "tls"):
        assert not (state / gone).exists(), gone
    assert (state / "ports.json").exists()

    # The next `lab up` is a fresh lab where the last one listened: new users, and
    # nothing provisioned in its accounts.
    with _lab_up(state):
        assert _ports(state) == moved
        assert LabInfo.load(state).user(BOB).password != old_password
        plan = _run(KEYLESS, "plan", "--spec", str(ACME), "--lab", *lab_dir, "--detailed-exitcode")
        assert plan.returncode == 3, plan.stdout + plan.stderr
        assert json.loads((state / "ports.json").read_text()) == {
            "idp": moved[0],
            "aws": moved[1],
        }


def test_reset_leaves_other_files_in_the_directory(tmp_path: Path) -> None:
    """--lab-dir may name a directory holding more than a lab: reset removes the lab's only."""
    state = tmp_path / "lab"
    state.mkdir(mode=0o700)
    (state / "notes.txt").write_text("mine\n")
    (state / "lab.json").write_text("{}\n")
    (state / "idp.sqlite").write_text("")
    reset = _run(KEYLESS, "lab", "reset", "--lab-dir", str(state), "--yes")
    assert reset.returncode == 0, reset.stderr
    assert sorted(p.name for p in state.iterdir()) == ["lab.lock", "notes.txt"]


def test_a_lab_dir_from_before_ports_json_and_ports_asked_for(tmp_path: Path) -> None:
    """A directory an older lab left (lab.json, no ports.json) gives its ports back; a port
    asked for wins, and 0 (any free one) never lands on the port the other server reuses."""
    from keyless_lab.runtime import choose_ports

    probes = [socket.socket(), socket.socket()]
    for probe in probes:
        probe.bind(("127.0.0.1", 0))
    idp, aws = (int(probe.getsockname()[1]) for probe in probes)
    for probe in probes:
        probe.close()
    (tmp_path / "lab.json").write_text(
        json.dumps(
            {"idp_url": f"https://127.0.0.1:{idp}", "aws_endpoint_url": f"https://127.0.0.1:{aws}"}
        )
    )
    again = choose_ports(tmp_path, idp_port=None, aws_port=None)
    assert (again.idp_port, again.aws_port, again.notes) == (idp, aws, ())
    fresh = choose_ports(tmp_path, idp_port=0, aws_port=None)
    assert fresh.aws_port == aws
    assert fresh.idp_port not in (0, aws)
    assert fresh.notes == ()
    assert choose_ports(tmp_path, idp_port=idp, aws_port=idp + 1).aws_port == idp + 1


def test_reset_asks_on_a_terminal(tmp_path: Path) -> None:
    """On a terminal `lab reset` asks, as `apply` does: no keeps everything, yes clears."""
    from login_support import Terminal

    state = tmp_path / "lab"
    state.mkdir(mode=0o700)
    (state / "lab.json").write_text("{}\n")
    args = [KEYLESS, "lab", "reset", "--lab-dir", str(state)]
    declined = Terminal(args)
    try:
        declined.expect("remove its users, AWS state, keys and CA")
        declined.expect("[y/N]:")
        declined.type("n\n")
        assert declined.finish() == 1
        assert "nothing changed" in declined.output
    finally:
        declined.close()
    assert (state / "lab.json").exists()
    accepted = Terminal(args)
    try:
        accepted.expect("[y/N]:")
        accepted.type("y\n")
        assert accepted.finish() == 0
    finally:
        accepted.close()
    assert not (state / "lab.json").exists()
