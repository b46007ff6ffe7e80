"""Benchmark `keyless plan` / `apply` on federations of 10, 50 and 100 accounts in moto.

Each size runs in a child process of its own against a fresh moto server in
another process, as `keyless apply` on new accounts would run:

- ``read``: the first plan of brand-new accounts. Most of its time is moto's:
  the first request into an account makes moto build that account's IAM,
  loading every AWS managed policy into it (``MOTO_IAM_LOAD_MANAGED_POLICIES``,
  needed because the spec attaches ``ReadOnlyAccess`` & co.).
- ``apply``: the writes of that plan (provider, roles, policies, the IdP user),
  accounts in parallel, each account's changes in order.

Then, in the largest size's child, once its accounts are applied:

- ``plan``: a no-change plan of the first N accounts (``keyless plan
  --account ...``) for every size N, each with a fresh connector (it pays for
  its own AssumeRole calls), the sizes taking turns for five rounds; per size
  the median keyless CPU, with the least and the most beside it; and the AWS
  API calls it made (a botocore ``before-send`` hook, so retries and
  pagination count too) against the budget of 2 calls per account plus 2 per
  role. Taking turns in one process against one moto is what makes the sizes
  comparable on a shared machine: a slow spell slows every size alike, where
  one child per size would put it all on one of them.

For each phase: wall time, keyless's own CPU (this process: keyless, boto3 and
botocore; ``time.process_time``) and the emulator's CPU (the moto server's
utime + stime from ``/proc``), per account. Wall time beyond both is waiting
(sockets, threads, the GIL); the two can overlap on a multi-core machine.

The summary compares keyless's CPU per account at each size with the
baseline measured before it was made flat, and against the target: within
1.2x from the smallest to the largest size.

    .venv/bin/python benchmarks/bench_plan.py [--sizes 10 50 100] [--parallel 8]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import boto3

from keyless.adapters.aws import AwsConnector, AwsEndpoint
from keyless.services.provision import Provisioner
from keyless.spec import load_spec_text
from keyless.spec.model import FederationSpec
from keyless_lab.saml.keys import SigningKey
from keyless_lab.saml.metadata import build_idp_metadata
from lab_federation import CallCounter


def _spec(size: int, base: int) -> FederationSpec:
    accounts = [f'  - {{id: "{MANAGEMENT}", alias: m{base}, management: true}}']
    accounts += [f'  - {{id: "{base + i}", alias: a{base + i}}}' for i in range(1, size)]
    text = f"""
version: 1
name: bench
identity_provider: {{kind: lab}}
accounts:
{chr(10).join(accounts)}
roles:
  - name: ReadOnly
    managed_policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]
    max_session_duration: 14400
  - name: Developer
    managed_policies: [arn:aws:iam::aws:policy/PowerUserAccess]
    inline_policies:
      DenyIam:
        Version: "2012-10-17"
        Statement: [{{Effect: Deny, Action: "iam:*", Resource: "*"}}]
  - name: OktaAdminRole
    managed_policies: [arn:aws:iam::aws:policy/AdministratorAccess]
"""
    return load_spec_text(text, source=f"bench-{size}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# moto answers requests signed with unknown keys as its default account, which
# the benchmark makes the management account (no key needs creating).
MANAGEMENT = 123456789012


def _start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {
        **os.environ,
        # AWS managed policies (ReadOnlyAccess...) exist in every real account.
        "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return server, f"http://127.0.0.1:{port}"
        time.sleep(0.1)
    server.kill()
    raise RuntimeError("moto's server did not start")


def _moto_cpu(server: subprocess.Popen[bytes]) -> float:
    """CPU seconds the moto server process has used (user + system), from /proc."""
    with open(f"/proc/{server.pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    # After the command name: field 14 (utime) and 15 (stime) are at 11 and 12 here.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Phase:
    """Wall time, keyless CPU and moto CPU of one block of work."""

    def __init__(self, server: subprocess.Popen[bytes]) -> None:
        self.server = server
        self.wall = self.cpu = self.moto = 0.0

    def __enter__(self) -> Phase:
        # Each phase pays for its own garbage only, as a fresh `keyless` process would:
        # the clients a previous phase dropped are collected here, outside the timing.
        gc.collect()
        self._wall = time.perf_counter()
        self._cpu = time.process_time()
        self._moto = _moto_cpu(self.server)
        return self

    def __exit__(self, *_: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu
        self.moto = _moto_cpu(self.server) - self._moto

    def figures(self, size: int) -> dict[str, float]:
        return {"wall": self.wall / size, "cpu": self.cpu / size, "moto": self.moto / size}


HEADER = (
    f"{'accounts':>8} {'phase':>6} {'wall s':>7} {'per account: wall':>18} "
    f"{'keyless CPU':>12} {'moto CPU':>9}  notes"
)
RESULT = "RESULT "

# keyless CPU per account of the no-change plan before this benchmark's
# findings were fixed: the figures, on the machine it was measured on.
# This script's earlier form (one child per size) run against that code
# (804bbd9) on another machine printed 11.7, 17.2 and 19.6 ms (1.68x). Two
# causes, both fixed: an STS client per account and every IAM client kept to
# the end (ba44c83: 12.0 and 14.7 ms, 1.22x), and the garbage collector walking
# the whole process ever more often as accounts added up (keyless.services.fanout
# freezes what existed before the work, spaces out young collections during it
# and collects the work's garbage at its end). This form of the script, after
# both: 11.8, 12.0 and 12.5 ms (1.05x), and again 12.5, 13.6 and 13.1 ms (1.05x).
BASELINE_CPU_MS = {10: 21.2, 50: 31.2, 100: 34.6}
PLAN_ROUNDS = 5  # rounds of no-change plans, every size once a round
FLAT = 1.2  # the target: largest size's CPU per account within 1.2x the smallest's


def _row(size: int, label: str, phase: Phase, note: str) -> None:
    per = phase.figures(size)
    print(
        f"{size:>8} {label:>6} {phase.wall:>7.2f} {per['wall'] * 1000:>15.1f} ms "
        f"{per['cpu'] * 1000:>9.1f} ms {per['moto'] * 1000:>6.1f} ms  {note}",
        flush=True,
    )


def run(size: int, parallel: int, plan_sizes: list[int]) -> int:
    """One size against a fresh moto: print its rows and RESULT lines.

    With ``plan_sizes``, also the no-change plans of the first N of its accounts
    for each N, taking turns (see the module's docstring).
    """
    server, endpoint = _start_moto()
    key = SigningKey.generate("keyless bench idp")
    metadata = build_idp_metadata(
        entity_id="http://www.okta.com/exkbench",
        certificates=[key.certificate],
        sso_url="https://127.0.0.1/sso",
    )
    try:
        spec = _spec(size, 700000000000)
        session = boto3.Session(
            aws_access_key_id="bench",  # not a secret: moto checks no signature here
            aws_secret_access_key="bench",
            region_name="us-east-1",
        )
        counter = CallCounter()
        session.events.register("before-send", counter)
        connector = AwsConnector(session, endpoint=AwsEndpoint(endpoint_url=endpoint))
        provisioner = Provisioner(spec, connector, metadata, parallel=parallel)
        with Phase(server) as read:
            plan = provisioner.plan()
        with Phase(server) as write:
            report = provisioner.apply(plan)
        if not report.ok:
            print(f"apply failed: {[r.error for r in report.failed_accounts()]}", file=sys.stderr)
            return 1
        changes = sum(len(a.pending) for a in plan.accounts)
        _row(size, "read", read, "first contact: moto builds each account's IAM")
        _row(size, "apply", write, f"{changes} changes, {parallel} accounts at a time")
        document = {
            "kind": "apply",
            "size": size,
            **{
                f"{name}_{k}": v
                for name, phase in (("read", read), ("apply", write))
                for k, v in phase.figures(size).items()
            },
        }
        print(RESULT + json.dumps(document), flush=True)
        return plan_rounds(spec, session, endpoint, metadata, counter, server, plan_sizes, parallel)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:  # moto holding many accounts can be slow to go
            server.kill()
            server.wait()


def plan_rounds(
    spec: FederationSpec,
    session: boto3.Session,
    endpoint: str,
    metadata: bytes,
    counter: CallCounter,
    server: subprocess.Popen[bytes],
    sizes: list[int],
    parallel: int,
) -> int:
    """No-change plans of the first N accounts for each size N, the sizes taking turns."""
    runs: dict[int, list[Phase]] = {n: [] for n in sizes}
    calls: dict[int, Counter[str]] = {}
    for _ in range(PLAN_ROUNDS):
        for n in sizes:
            aliases = [account.alias for account in spec.accounts[:n]]
            counter.reset()
            connector = AwsConnector(session, endpoint=AwsEndpoint(endpoint_url=endpoint))
            with Phase(server) as phase:
                again = Provisioner(spec, connector, metadata, parallel=parallel).plan(
                    accounts=aliases
                )
            if again.has_changes:
                print("a plan right after apply still has changes", file=sys.stderr)
                return 1
            runs[n].append(phase)
            calls[n] = Counter(counter.calls)
    for n in sizes:
        selected = spec.accounts[:n]
        roles = sum(
            1 for account in selected for role in spec.roles if spec.role_in_account(role, account)
        )
        made = sum(calls[n].values())
        budget = 2 * n + 2 * roles
        cpus = [phase.cpu / n for phase in runs[n]]
        median = statistics.median(cpus)
        typical = min(runs[n], key=lambda phase: abs(phase.cpu / n - median))
        detail = ", ".join(f"{op} {k}" for op, k in sorted(calls[n].items()))
        _row(
            n,
            "plan",
            typical,
            f"no changes, median of {PLAN_ROUNDS} (CPU {min(cpus) * 1000:.1f} to "
            f"{max(cpus) * 1000:.1f} ms); {made} calls (budget {budget}): {detail}",
        )
        document = {
            "kind": "plan",
            "size": n,
            "over_budget": made > budget,
            "plan_cpu": median,
        }
        print(RESULT + json.dumps(document), flush=True)
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 100])
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child: one size
    parser.add_argument("--plan-sizes", type=int, nargs="*", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        sys.exit(run(args.one, args.parallel, args.plan_sizes))
    sys.exit(isolated(sorted(set(args.sizes)), args.parallel))


def isolated(sizes: list[int], parallel: int) -> int:
    """Run each size in its own process (fresh moto state), then summarise per account."""
    print(HEADER, flush=True)
    applied: list[dict[str, Any]] = []
    planned: list[dict[str, Any]] = []
    for size in sizes:
        command = [sys.executable, __file__, "--one", str(size), "--parallel", str(parallel)]
        if size == sizes[-1]:
            command += ["--plan-sizes", *map(str, sizes)]
        child = subprocess.run(command, capture_output=True, text=True, check=False)
        sys.stderr.write(child.stderr)
        for line in child.stdout.splitlines():
            if line.startswith(RESULT):
                result = json.loads(line[len(RESULT) :])
                (applied if result["kind"] == "apply" else planned).append(result)
            else:
                print(line, flush=True)
        if child.returncode != 0:
            return child.returncode
    if not planned:
        return 1
    print()
    print(
        "keyless CPU per account, no-change plan, median of the rounds "
        "(baseline before the fix beside it):"
    )
    for r in planned:
        size = int(r["size"])
        baseline = BASELINE_CPU_MS.get(size)
        was = f"   (baseline {baseline:.1f} ms)" if baseline else ""
        print(f"  {size:>4} accounts: {r['plan_cpu'] * 1000:6.1f} ms{was}")
    first, last = planned[0], planned[-1]
    if len(planned) > 1:
        growth = last["plan_cpu"] / first["plan_cpu"]
        verdict = "flat" if growth <= FLAT else "NOT flat"
        print(
            f"  {last['size']:.0f} vs {first['size']:.0f} accounts: {growth:.2f}x per account "
            f"({verdict}; target within {FLAT}x; baseline "
            f"{BASELINE_CPU_MS[100] / BASELINE_CPU_MS[10]:.2f}x)"
        )
    print(
        "apply, wall time per account and where it goes (keyless CPU | moto CPU | rest: waiting):"
    )
    for r in applied:
        for phase, label in (("read", "first read"), ("apply", "writes")):
            wall, cpu, moto = r[f"{phase}_wall"], r[f"{phase}_cpu"], r[f"{phase}_moto"]
            print(
                f"  {r['size']:>4.0f} accounts, {label:<10}: {wall * 1000:7.1f} ms "
                f"= keyless {cpu * 1000:6.1f} | moto {moto * 1000:7.1f} | "
                f"waiting {max(wall - cpu - moto, 0.0) * 1000:6.1f}"
            )
    if any(r["over_budget"] for r in planned):
        print("over the budget of 2 calls per account + 2 per role", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    main()
