"""keyless beside aws-okta-processor (a Python Okta CLI peer), one run, one lab, one machine.

    .venv/bin/python benchmarks/bench_peers.py [--runs 7] [--bytecode]

Every row is the wall time of whole new processes, end to end, as a stopwatch
around the command in a shell sees it (spawn, interpreter start, imports, the
network round trips to the lab, writing files, exit); the figure reported is
the **median of ``--runs`` processes** (7 by default; five times as many
for the few-millisecond ``credential-process`` row and its floor), with the
fastest and slowest beside it, and the output says so. Both tools run under the same
conditions: the same interpreter and environment (yours, less ``AWS_*``,
``KEYLESS_*``, ``OKTA_*``, ``XDG_*`` and proxy variables, with a throwaway
home), the same lab, fresh lab users made before either is timed, no
terminal, and in each run they take turns at going first, so neither always
follows the other or the user creation. One untimed sign-in of each warms
the page cache first.

Bytecode is left as it is unless ``--bytecode``: with
``PYTHONDONTWRITEBYTECODE`` set (as on the shared development machines) an
editable keyless compiles its modules at every start while the peer, installed
from a wheel, runs from ``.pyc`` files; the output states which. With
``--bytecode`` both run from compiled modules kept in a throwaway
``PYTHONPYCACHEPREFIX``, as after ``pip install``.

Rows:

- start-up: ``python -c pass`` (the floor), ``keyless --version``,
  ``keyless login --help``, ``aws-okta-processor --help``;
- a full sign-in (password + TOTP, role, credentials) by ``keyless login``
  (a profile made by ``keyless configure`` beforehand, untimed) and by
  ``aws-okta-processor authenticate`` (everything on its command line, no caches);
- a second ``keyless login`` within the kept Okta session (nothing asked),
  as a new process and in-process (``login_and_cache``);
- ``keyless credential-process`` answering from its cache, taking turns with
  ``python -c pass``.

Targets (issue 16, then issue 20): start-up at most 0.5x the peer's ``--help``; a
full sign-in at most 0.7x the peer's; a second login under 300 ms;
credential-process from cache within 1.4x ``python -c pass``. The peer is
installed by the ``bench`` extra (``make bench``). Shared, noisy machines move
every figure: compare rows of one run, not runs.
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
from collections.abc import Callable
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
    parser.add_argument(
        "--bytecode",
        action="store_true",
        help="run both tools from compiled modules (a throwaway PYTHONPYCACHEPREFIX)",
    )
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
        if args.bytecode:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        os.environ.clear()
        os.environ.update(env)
        samples = run_rows(Path(tmp), env, args.runs)
    report(samples, args.runs, bytecode_note(env))


def bytecode_note(env: dict[str, str]) -> str:
    """Whether keyless's modules run compiled in the timed processes, and the peer's."""
    if env.get("PYTHONPYCACHEPREFIX"):
        return "bytecode: both tools run from compiled modules (PYTHONPYCACHEPREFIX, --bytecode)"
    import keyless

    package = Path(keyless.__file__).parent
    compiled = (package / "__pycache__").is_dir()
    if env.get("PYTHONDONTWRITEBYTECODE") and not compiled:
        return (
            "bytecode: as installed: keyless compiles its modules at every start "
            "(PYTHONDONTWRITEBYTECODE, no __pycache__), the peer runs from .pyc; see --bytecode"
        )
    return "bytecode: as installed: both tools run from .pyc files"


def run_rows(tmp: Path, env: dict[str, str], runs: int) -> dict[str, list[float]]:
    """Every row's samples, in milliseconds."""
    assert PEER is not None
    import pyotp

    from keyless.adapters.terminal import NonInteractivePrompter
    from keyless.services.login.profiles import resolve_settings
    from keyless.services.login.wiring import login_and_cache
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
    for command in startup.values():
        timed(command, env)  # untimed: the page cache (and --bytecode's .pyc files)
    samples: dict[str, list[float]] = {name: [] for name in startup}
    for _ in range(runs):
        for name, command in startup.items():
            samples[name].append(timed(command, env)[0])

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

        def keyless_sign_in(profile: str) -> Callable[[], float]:
            user, password, totp = new_user()
            timed(configure_command(profile, lab.state_dir, user), env)
            login = [KEYLESS, "login", "--profile", profile, "--password-stdin"]
            return lambda: timed([*login, "--mfa-code", totp.now()], env, stdin=password + "\n")[0]

        def peer_sign_in(key: str) -> Callable[[], float]:
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
                key,
                "--silent",
            ]

            def run() -> float:
                elapsed, answer = timed(peer, peer_env, stdin=totp.now() + "\n")
                assert '"AccessKeyId"' in answer.stdout, answer.stdout
                return elapsed

            return run

        keyless_sign_in("warm")()
        peer_sign_in("bench-warm")()
        full: dict[str, list[float]] = {KEYLESS_FULL: [], PEER_FULL: []}
        again: list[float] = []
        in_process_again: list[float] = []
        for run in range(runs):
            profile = f"c{run}"
            # Both users exist before either tool is timed; the tools take turns going first.
            pair = [(KEYLESS_FULL, keyless_sign_in(profile)), (PEER_FULL, peer_sign_in(f"b{run}"))]
            for name, sign_in in pair if run % 2 == 0 else pair[::-1]:
                full[name].append(sign_in())
            again.append(timed([KEYLESS, "login", "--profile", profile], env)[0])
            settings = resolve_settings(profile)
            start = time.perf_counter()
            result = login_and_cache(
                settings, prompter=NonInteractivePrompter(mode="login", profile=profile)
            )
            in_process_again.append((time.perf_counter() - start) * 1000)
            assert result.session_reused
        directory.close()
        samples.update(full)
        samples["keyless login: within the kept Okta session"] = again
        samples["  the same, in-process (login_and_cache)"] = in_process_again
        floor: list[float] = []
        process: list[float] = []
        # A few milliseconds each, where one scheduling hiccup is a tenth: five times
        # the samples for the same steadiness of the median.
        for _ in range(CREDENTIAL_PROCESS_SAMPLES * runs):
            floor.append(timed([sys.executable, "-c", "pass"], env)[0])
            process.append(timed([KEYLESS, "credential-process", "--profile", "c0"], env)[0])
        samples[FLOOR_AGAIN] = floor
        samples[CREDENTIAL_PROCESS] = process
    return samples


CREDENTIAL_PROCESS_SAMPLES = 5  # x --runs, for credential-process and its python -c pass
KEYLESS_FULL = "keyless login: full sign-in (password + TOTP)"
PEER_FULL = "aws-okta-processor authenticate: full sign-in"
FLOOR_AGAIN = "python -c pass (again, beside credential-process)"
CREDENTIAL_PROCESS = "keyless credential-process (from cache)"


def report(samples: dict[str, list[float]], runs: int, bytecode: str) -> None:
    """Each row's median (and range), then the ratios of medians beside the targets."""
    rows = {name: statistics.median(values) for name, values in samples.items()}
    print(
        f"new processes, end to end: the median of n processes per row (n = --runs = {runs}, "
        f"{CREDENTIAL_PROCESS_SAMPLES}x for the last two rows), one lab, one machine"
    )
    print(bytecode)
    print(f"{'':<52} {'median ms':>9} {'min-max':>11} {'n':>4}")
    for name, values in samples.items():
        spread = f"{min(values):.0f}-{max(values):.0f}"
        print(f"{name:<52} {rows[name]:>9.1f} {spread:>11} {len(values):>4}")
    peer_help = rows["aws-okta-processor --help"]
    peer_full = rows[PEER_FULL]
    floor = rows[FLOOR_AGAIN]
    checks = [
        ("keyless --version vs peer --help", rows["keyless --version"] / peer_help, 0.5),
        ("keyless login --help vs peer --help", rows["keyless login --help"] / peer_help, 0.5),
        ("full sign-in vs peer's", rows[KEYLESS_FULL] / peer_full, 0.7),
        ("credential-process vs python -c pass", rows[CREDENTIAL_PROCESS] / floor, 1.4),
    ]
    print()
    print("ratios of the medians above")
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
