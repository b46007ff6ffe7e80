"""Benchmark `keyless plan` / `apply` on federations of 10, 50 and 100 accounts in moto.

Prints, per size: apply wall time, no-change plan wall time, and the AWS API
calls the no-change plan made (counted with a botocore ``before-send`` hook, so
retries and pagination count too), against the issue's budget of 2 calls per
account plus 2 per role.

Each size runs with a fresh moto server in its own process, so the figures
separate keyless's own cost (the benchmark process's CPU time: keyless and
boto3) from the emulator's (moto's per-request work grows with the accounts it
holds: it finds a request's account by scanning all of them). The last lines
say whether each grows linearly.

    .venv/bin/python benchmarks/bench_plan.py [--sizes 10 50 100] [--parallel 8]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from typing import Any

import boto3

from keyless.adapters.aws import AwsConnector, AwsEndpoint
from keyless.saml.keys import SigningKey
from keyless.saml.metadata import build_idp_metadata
from keyless.services.provision import Provisioner
from keyless.spec import load_spec_text
from keyless.spec.model import FederationSpec


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


class CallCounter:
    """Counts every HTTP request botocore sends, by operation."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, event_name: str, **_: Any) -> None:
        with self._lock:
            self.calls[event_name.split(".", 1)[1]] += 1

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()


HEADER = (
    f"{'accounts':>8} {'roles':>6} {'apply s':>8} {'plan s':>7} {'calls':>6} "
    f"{'calls/acct':>10} {'budget':>7}  by operation (no-change plan)"
)
RESULT = "RESULT "


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


def run(sizes: list[int], parallel: int, *, header: bool = True) -> int:
    server, endpoint = _start_moto()
    key = SigningKey.generate("keyless bench idp")
    metadata = build_idp_metadata(
        entity_id="http://www.okta.com/exkbench",
        certificates=[key.certificate],
        sso_url="https://127.0.0.1/sso",
    )
    if header:
        print(HEADER)
    over_budget = False
    try:
        for index, size in enumerate(sizes):
            spec = _spec(size, 700000000000 + index * 10000)
            session = boto3.Session(
                aws_access_key_id="bench",  # not a secret: moto checks no signature here
                aws_secret_access_key="bench",
                region_name="us-east-1",
            )
            counter = CallCounter()
            session.events.register("before-send", counter)
            connector = AwsConnector(session, endpoint=AwsEndpoint(endpoint_url=endpoint))
            provisioner = Provisioner(spec, connector, metadata, parallel=parallel)
            started = time.perf_counter()
            plan = provisioner.plan()
            report = provisioner.apply(plan)
            apply_seconds = time.perf_counter() - started
            if not report.ok:
                print(
                    f"apply failed: {[r.error for r in report.failed_accounts()]}", file=sys.stderr
                )
                return 1
            # A fresh connector: the no-change plan pays for its own AssumeRole calls too.
            counter.reset()
            connector = AwsConnector(session, endpoint=AwsEndpoint(endpoint_url=endpoint))
            started = time.perf_counter()
            cpu_started = time.process_time()
            again = Provisioner(spec, connector, metadata, parallel=parallel).plan()
            plan_seconds = time.perf_counter() - started
            client_cpu = time.process_time() - cpu_started
            if again.has_changes:
                print("a plan right after apply still has changes", file=sys.stderr)
                return 1
            roles = sum(
                1
                for account in spec.accounts
                for role in spec.roles
                if account in spec.role_accounts(role)
            )
            calls = sum(counter.calls.values())
            budget = 2 * size + 2 * roles
            over_budget |= calls > budget
            detail = ", ".join(f"{op} {n}" for op, n in sorted(counter.calls.items()))
            print(
                f"{size:>8} {roles:>6} {apply_seconds:>8.2f} {plan_seconds:>7.2f} {calls:>6} "
                f"{calls / size:>10.2f} {budget:>7}  {detail}",
                flush=True,
            )
            print(
                RESULT
                + json.dumps(
                    {"size": size, "plan": plan_seconds, "cpu": client_cpu, "apply": apply_seconds}
                )
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    if over_budget:
        print("over the budget of 2 calls per account + 2 per role", file=sys.stderr)
        return 1
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 100])
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child: one size
    args = parser.parse_args()
    if args.one is not None:
        sys.exit(run([args.one], args.parallel, header=False))
    sys.exit(isolated(args.sizes, args.parallel))


def isolated(sizes: list[int], parallel: int) -> int:
    """Run each size in its own process (fresh moto state) and check growth per account."""
    print(HEADER, flush=True)
    results: list[dict[str, float]] = []
    for size in sizes:
        child = subprocess.run(
            [sys.executable, __file__, "--one", str(size), "--parallel", str(parallel)],
            capture_output=True,
            text=True,
            check=False,
        )
        sys.stderr.write(child.stderr)
        for line in child.stdout.splitlines():
            if line.startswith(RESULT):
                results.append(json.loads(line[len(RESULT) :]))
            else:
                print(line, flush=True)
        if child.returncode != 0:
            return child.returncode
    if len(results) > 1:
        first, last = results[0], results[-1]
        scale = last["size"] / first["size"]
        for label, key in (("keyless CPU (client)", "cpu"), ("wall time (with moto)", "plan")):
            per_account = ", ".join(
                f"{r['size']:.0f}: {r[key] / r['size'] * 1000:.1f} ms" for r in results
            )
            growth = last[key] / first[key]
            verdict = "linear or better" if growth <= scale * 1.25 else "faster than linear"
            print(
                f"no-change plan, {label} per account: {per_account}; "
                f"{growth:.1f}x for {scale:.0f}x accounts ({verdict})"
            )
    return 0


if __name__ == "__main__":
    main()
