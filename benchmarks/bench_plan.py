"""Benchmark `keyless plan` with nothing to change: wall time and API calls per account.

For federations of 10 and 100 accounts in the lab's AWS (strict front over moto,
in a child process), applied first, runs a no-change plan of every account a few
times, each with a fresh connector (so it pays for its own AssumeRole calls, as a
new `keyless plan` would), and prints per size:

- wall time per account, the figure a person running `keyless plan` waits for
  (the median of the rounds, the least and the most beside it); most of it is
  waiting on the network and the lab, which the parallel fan-out is for;
- AWS API calls per account, counted by a botocore ``before-send`` hook (so
  retries and pagination count too), by operation, against the budget: AssumeRole
  into the account and the four reads of its IAM (ListRoles,
  GetAccountAuthorizationDetails, GetSAMLProvider, ListAccountAliases; the
  management account is read with the management credentials, no AssumeRole), and
  the plan's one GetCallerIdentity.

Exits 1 if a plan right after apply still has changes or is over the budget.
No timing is asserted: the machines that run it are shared.

    .venv/bin/python benchmarks/bench_plan.py [--sizes 10 100] [--parallel 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass

from keyless.services.provision.accounts import DEFAULT_PARALLEL, Provisioner
from lab_federation import BenchLab, provisioned_lab

CALLS_PER_ACCOUNT = 5  # AssumeRole, then ListRoles, GetAccountAuthorizationDetails,
# GetSAMLProvider and ListAccountAliases: one page each while an account has few roles
CALLS_PER_PLAN = 1  # GetCallerIdentity: the management credentials work at all


@dataclass
class Figures:
    """One size's no-change plans."""

    size: int
    walls: list[float]  # seconds, one per round
    calls: dict[str, int]  # by operation, in the last round
    budget: int

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def per_account_ms(self, seconds: float) -> float:
        return seconds / self.size * 1000


def measure(lab: BenchLab, parallel: int, rounds: int) -> Figures | None:
    """``rounds`` no-change plans of every account in ``lab``; None if one had changes."""
    spec = lab.spec
    walls: list[float] = []
    for _ in range(rounds):
        lab.counter.reset()
        provisioner = Provisioner(spec, lab.connector(), lab.metadata, parallel=parallel)
        started = time.perf_counter()
        plan = provisioner.plan()
        walls.append(time.perf_counter() - started)
        if plan.has_changes:
            print("a plan right after apply still has changes", file=sys.stderr)
            return None
    return Figures(
        size=len(spec.accounts),
        walls=walls,
        calls=dict(lab.counter.calls),
        budget=CALLS_PER_ACCOUNT * len(spec.accounts) + CALLS_PER_PLAN,
    )


HEADER = (
    f"{'accounts':>8} {'plan s':>7} {'wall/acct ms':>12} {'(least-most)':>14} "
    f"{'calls':>6} {'calls/acct':>10} {'budget/acct':>11}  by operation"
)


def row(figures: Figures) -> str:
    median = statistics.median(figures.walls)
    spread = (
        f"({figures.per_account_ms(min(figures.walls)):.1f}-"
        f"{figures.per_account_ms(max(figures.walls)):.1f})"
    )
    detail = ", ".join(f"{op} {n}" for op, n in sorted(figures.calls.items()))
    return (
        f"{figures.size:>8} {median:>7.2f} {figures.per_account_ms(median):>12.1f} {spread:>14} "
        f"{figures.total_calls:>6} {figures.total_calls / figures.size:>10.2f} "
        f"{figures.budget / figures.size:>11.2f}  {detail}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL)
    parser.add_argument("--rounds", type=int, default=3, help="no-change plans per size")
    args = parser.parse_args()
    print(
        f"no-change `keyless plan` against the lab, {args.parallel} accounts at a time, "
        f"median of {args.rounds} rounds",
        flush=True,
    )
    print(HEADER, flush=True)
    ok = True
    for size in args.sizes:
        with provisioned_lab(size) as lab:
            figures = measure(lab, args.parallel, args.rounds)
        if figures is None:
            sys.exit(1)
        print(row(figures), flush=True)
        if figures.total_calls > figures.budget:
            print(
                f"{size} accounts: {figures.total_calls} calls, over the budget of "
                f"{figures.budget} ({CALLS_PER_ACCOUNT} per account + {CALLS_PER_PLAN} per plan)",
                file=sys.stderr,
            )
            ok = False
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
