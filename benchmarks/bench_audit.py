"""Benchmark `keyless audit`: API calls per account against the stated budget, and wall time.

For a federation of 100 accounts (and 10) in the lab's AWS, runs the audit once
and prints the calls it made per account beside the budget
(:data:`keyless.services.audit.CALLS_PER_ACCOUNT`: AssumeRole, the four reads
`plan` makes, ListSAMLProviders, GenerateCredentialReport twice and GetCredentialReport,
GetAccountSummary,
one LookupEvents page; plus one ListUserTags per IAM user holding a key or a
password, here the management account's bootstrap user). Exits 1 over budget.

    .venv/bin/python benchmarks/bench_audit.py [--sizes 10 100] [--parallel 8]
"""

from __future__ import annotations

import argparse
import sys
import time

from keyless.services.audit import CALLS_PER_ACCOUNT, Auditor
from lab_federation import provisioned_lab


def run(size: int, parallel: int) -> bool:
    with provisioned_lab(size) as lab:
        connector = lab.connector()
        connector.caller_account()  # the one GetCallerIdentity of the run, not an account's
        lab.counter.reset()
        started, cpu_started = time.perf_counter(), time.process_time()
        report = Auditor(lab.spec, connector, lab.metadata, parallel=parallel).run()
        seconds, client_cpu = time.perf_counter() - started, time.process_time() - cpu_started
        calls = lab.counter.total
        keyed_users = sum(
            1 for a in report.accounts for u in a.users if u["access_keys"] or u["password"]
        )
        budget = CALLS_PER_ACCOUNT * size + keyed_users
        detail = ", ".join(f"{op} {n}" for op, n in sorted(lab.counter.calls.items()))
        unread = [a.account.alias for a in report.accounts if a.error]
        print(
            f"{size:>8} {seconds:>8.2f} {client_cpu:>7.2f} {calls:>6} {calls / size:>10.2f} "
            f"{budget / size:>11.2f} {len(report.findings):>9}  {detail}",
            flush=True,
        )
        if unread:
            print(f"accounts not read: {unread}", file=sys.stderr)
        return calls <= budget and not unread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--parallel", type=int, default=8)
    args = parser.parse_args()
    print(
        f"{'accounts':>8} {'audit s':>8} {'cpu s':>7} {'calls':>6} {'calls/acct':>10} "
        f"{'budget/acct':>11} "
        f"{'findings':>9}  by operation"
    )
    ok = all([run(size, args.parallel) for size in args.sizes])
    if not ok:
        print("over the API-call budget, or an account was not read", file=sys.stderr)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
