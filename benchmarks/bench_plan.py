"""Benchmark `keyless plan` / `apply` on federations of 10, 50 and 100 accounts in moto.

Prints, per size: apply wall time, no-change plan wall time, and the AWS API
calls the no-change plan made (counted with a botocore ``before-send`` hook, so
retries and pagination count too), against the issue's budget of 2 calls per
account plus 2 per role.

    .venv/bin/python benchmarks/bench_plan.py [--sizes 10 50 100] [--parallel 8]
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import threading
import time
from collections import Counter
from typing import Any

import boto3

# AWS managed policies (ReadOnlyAccess...) exist in every real account; moto loads them on request.
os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"

from moto.iam.models import iam_backends
from moto.server import ThreadedMotoServer

from keyless.adapters.aws import AwsConnector, AwsEndpoint
from keyless.saml.keys import SigningKey
from keyless.saml.metadata import build_idp_metadata
from keyless.services.provision import Provisioner
from keyless.spec import load_spec_text
from keyless.spec.model import FederationSpec


def _spec(size: int, base: int) -> FederationSpec:
    accounts = [f'  - {{id: "{base}", alias: m{base}, management: true}}']
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


def run(sizes: list[int], parallel: int) -> int:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    key = SigningKey.generate("keyless bench idp")
    metadata = build_idp_metadata(
        entity_id="http://www.okta.com/exkbench",
        certificates=[key.certificate],
        sso_url="https://127.0.0.1/sso",
    )
    print(
        f"{'accounts':>8} {'roles':>6} {'apply s':>8} {'plan s':>7} {'calls':>6} "
        f"{'calls/acct':>10} {'budget':>7}  by operation (no-change plan)"
    )
    over_budget = False
    try:
        for index, size in enumerate(sizes):
            base = 700000000000 + index * 10000
            spec = _spec(size, base)
            management = iam_backends[str(base)]["global"]
            management.create_user("us-east-1", "bench")
            access = management.create_access_key("bench")
            session = boto3.Session(
                aws_access_key_id=access.access_key_id,
                aws_secret_access_key=access.secret_access_key,
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
            again = Provisioner(spec, connector, metadata, parallel=parallel).plan()
            plan_seconds = time.perf_counter() - started
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
                f"{calls / size:>10.2f} {budget:>7}  {detail}"
            )
    finally:
        server.stop()
    if over_budget:
        print("over the budget of 2 calls per account + 2 per role", file=sys.stderr)
        return 1
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 100])
    parser.add_argument("--parallel", type=int, default=8)
    args = parser.parse_args()
    sys.exit(run(args.sizes, args.parallel))


if __name__ == "__main__":
    main()
