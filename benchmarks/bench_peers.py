"""keyless beside aws-okta-processor (a Python Okta CLI peer), one run, one lab, one machine.

    .venv/bin/python benchmarks/bench_peers.py [--runs 7]

Starts a lab for examples/acme.yaml in a temporary state dir, provisions it,
and times each row as a new process (median of ``--runs``; the lab, the
users and the home directory are the same for both tools):

- start-up: ``python -c pass`` (the floor), ``keyless --version``,
  ``keyless login --help``, ``aws-okta-processor --help``;
- a full sign-in (password + TOTP, role, credentials) by ``keyless login``
  and by ``aws-okta-processor authenticate`` (no caches), a fresh lab user each
  run (a TOTP code works once);
- a second ``keyless login`` within the kept Okta session (nothing asked),
  as a new process and in-process (``login_and_cache``);
- ``keyless credential-process`` answering from its cache.

Targets (issue 16): start-up at most 0.5x the peer's ``--help``; a full
sign-in at most 0.8x the peer's; a second login under 300 ms; credential-process
from cache within 1.6x ``python -c pass``. The peer is installed by the
``bench`` extra (``make bench``). Shared, noisy machines move every figure:
compare rows of one run, not runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench_login import configure_command, home_environment, provision

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
KEYLESS = str(BIN / "keyless")
PEER = shutil.which("aws-okta-processor", path=str(BIN)) or shutil.which("aws-okta-processor")


def timed(
    command: list[str], env: dict[str, str], *, stdin: str | None = None
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Milliseconds for one new process running ``command`` (no terminal, like a script)."""
    start = time.perf_counter()
    result = subprocess.run(
        command,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        start_new_session=True,
        timeout=120,
    )
    elapsed = (time.perf_counter() - start) * 1000
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])} failed:\n{result.stderr[-800:]}")
    return elapsed, result


def main() -> None:
    """Run every row against one lab and print them beside the targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if PEER is None:
        raise SystemExit("aws-okta-processor is not installed: pip install -e '.[bench]'")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        base = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("AWS_", "KEYLESS_", "OKTA_", "XDG_"))
            and not name.upper().endswith("_PROXY")
        }
        env = {
            **base,
            **home_environment(home),
            "NO_PROXY": "127.0.0.1,localhost",
        }
        os.environ.clear()
        os.environ.update(env)
        rows = run_rows(Path(tmp), env, args.runs)
    report(rows)


def run_rows(tmp: Path, env: dict[str, str], runs: int) -> dict[str, float]:
    assert PEER is not None
    import pyotp

    from keyless.adapters.terminal import NonInteractivePrompter
    from keyless.services.profiles import resolve_settings
    from keyless.services.wiring import login_and_cache
    from keyless.spec import load_spec
    from keyless_lab.idp.directory import Directory
    from keyless_lab.runtime import Lab

    # Start-up rows taken in turns, so a burst of load on a shared machine
    # hits every row alike rather than one of them.
    startup = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "keyless --version": [KEYLESS, "--version"],
        "keyless login --help": [KEYLESS, "login", "--help"],
        "aws-okta-processor --help": [PEER, "--help"],
    }
    samples: dict[str, list[float]] = {name: [] for name in startup}
    for _ in range(runs):
        for name, command in startup.items():
            samples[name].append(timed(command, env)[0])
    rows: dict[str, float] = {name: statistics.median(values) for name, values in samples.items()}

    spec_path = REPO / "examples" / "acme.yaml"
    with Lab(load_spec(spec_path), state_dir=tmp / "lab", spec_path=spec_path) as lab:
        provision(lab)
        directory = Directory(Path(lab.state_dir) / "idp.sqlite")
        organization = lab.idp_url.removeprefix("https://").rstrip("/")
        peer_env = {
            **env,
            # The peer's clients: requests for Okta, boto3 for STS.
            "REQUESTS_CA_BUNDLE": lab.ca_bundle,
            "AWS_CA_BUNDLE": lab.ca_bundle,
            "AWS_ENDPOINT_URL_STS": lab.aws_endpoint_url,
        }

        def new_user() -> tuple[str, str, Any]:
            login = f"bench{uuid.uuid4().hex[:8]}@acme.example"
            _, password = directory.add_user(login, groups=["developers"])
            secret = directory.enroll(login, "totp").secret
            assert secret is not None
            return login, password, pyotp.TOTP(secret)

        keyless_full: list[float] = []
        keyless_again: list[float] = []
        in_process_again: list[float] = []
        peer_full: list[float] = []
        # Each run: keyless (full, again, in-process again), then the peer (full).
        for run in range(runs):
            user, password, totp = new_user()
            profile = f"c{run}"
            timed(configure_command(profile, lab.state_dir, user), env)
            login = [KEYLESS, "login", "--profile", profile]
            mfa = ["--password-stdin", "--mfa-code", totp.now()]
            keyless_full.append(timed([*login, *mfa], env, stdin=password + "\n")[0])
            keyless_again.append(timed(login, env)[0])
            settings = resolve_settings(profile)
            start = time.perf_counter()
            result = login_and_cache(
                settings, prompter=NonInteractivePrompter(mode="login", profile=profile)
            )
            in_process_again.append((time.perf_counter() - start) * 1000)
            assert result.session_reused

            user, password, totp = new_user()
            peer = [
                PEER,
                "authenticate",
                "--user",
                user,
                "--pass",
                password,
                "--organization",
                organization,
                "--application",
                lab.app_url,
                "--no-okta-cache",
                "--no-aws-cache",
                "--key",
                f"bench-{run}",
                "--silent",
            ]
            elapsed, answer = timed(peer, peer_env, stdin=totp.now() + "\n")
            assert '"AccessKeyId"' in answer.stdout, answer.stdout
            peer_full.append(elapsed)
        directory.close()
        rows["keyless login: full sign-in (password + TOTP)"] = statistics.median(keyless_full)
        rows["aws-okta-processor authenticate: full sign-in"] = statistics.median(peer_full)
        rows["keyless login: within the kept Okta session"] = statistics.median(keyless_again)
        rows["  the same, in-process (login_and_cache)"] = statistics.median(in_process_again)
        floor, process = [], []
        for _ in range(runs):
            floor.append(timed([sys.executable, "-c", "pass"], env)[0])
            process.append(timed([KEYLESS, "credential-process", "--profile", "c0"], env)[0])
        rows["python -c pass (again, beside credential-process)"] = statistics.median(floor)
        rows["keyless credential-process (from cache)"] = statistics.median(process)
    return rows


def report(rows: dict[str, float]) -> None:
    print(f"{'new process, median ms (one run, one lab)':<52} {'ms':>8}")
    for name, value in rows.items():
        print(f"{name:<52} {value:>8.1f}")
    peer_help = rows["aws-okta-processor --help"]
    peer_full = rows["aws-okta-processor authenticate: full sign-in"]
    floor = rows["python -c pass (again, beside credential-process)"]
    checks = [
        ("keyless --version vs peer --help", rows["keyless --version"] / peer_help, 0.5),
        ("keyless login --help vs peer --help", rows["keyless login --help"] / peer_help, 0.5),
        (
            "full sign-in vs peer's",
            rows["keyless login: full sign-in (password + TOTP)"] / peer_full,
            0.8,
        ),
        (
            "credential-process vs python -c pass",
            rows["keyless credential-process (from cache)"] / floor,
            1.6,
        ),
    ]
    print()
    for name, ratio, target in checks:
        verdict = "met" if ratio <= target else "NOT met"
        print(f"{name:<52} {ratio:>7.2f}x  (target <= {target}x: {verdict})")
    again = rows["keyless login: within the kept Okta session"]
    verdict = "met" if again < 300 else "NOT met"
    print(
        f"{'second login within the Okta session':<52} {again:>6.0f} ms (target < 300: {verdict})"
    )


if __name__ == "__main__":
    main()
