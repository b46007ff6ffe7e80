"""Benchmark `keyless offboard`: one person, organizations of 10, 100 and 200 accounts.

Two ways member accounts are covered, each against the lab's AWS (strict front
over moto, in a child process, enforcing IAM's and Organizations' quotas):

- ``scp``: SCPs enabled in the organization's root. Member accounts are covered
  by the keyless SCP at the root (one write, read back); the management account
  by the per-role Deny. The revocation's writes and time must not grow with the
  number of member accounts (target: in place and confirmed within 3 s at 200,
  with the same number of writes at every size).
- ``trail``: as ``scp``, and the organization has an organization trail logging
  to S3: the evidence reads its log files with the management account's
  credentials (a ListObjectsV2 per account and Region, a GetObject per file)
  instead of assuming a role in each account and calling LookupEvents there.
- ``per-role``: SCPs not enabled. Every account gets the packed Deny on every
  federated role; the API calls per account stay where they were (6: AssumeRole,
  one GetAccountAuthorizationDetails to read and size, a PutRolePolicy per role
  (2 here), one GetAccountAuthorizationDetails to confirm, a LookupEvents).

Columns: "revoked (s)" from the start to the last revocation confirmed (the
person's sessions are refused from then on); "run (s)" the whole run, with the
CloudTrail evidence, which reads every account (LookupEvents is per account and
Region; an organization trail's files are filed per account and Region too, so
those reads, unlike the writes, grow with the accounts, but cost no AssumeRole
and no LookupEvents quota); "writes" the calls that change AWS; "calls/acct"
every call divided by the accounts.

    .venv/bin/python benchmarks/bench_offboard.py [--sizes 10 100 200] [--modes scp trail per-role]
"""

from __future__ import annotations

import argparse
import sys
import time

from keyless.services.offboard import Offboarder
from lab_federation import BenchLab, provisioned_lab

TARGET_SECONDS = 3.0  # SCP path: revoked and confirmed within 3 s at every size
WRITES = {
    "PutRolePolicy",
    "DeleteRolePolicy",
    "CreatePolicy",
    "UpdatePolicy",
    "AttachPolicy",
    "DetachPolicy",
    "DeletePolicy",
}


def _enable_scps(lab: BenchLab) -> None:
    management = lab.spec.management_account
    assert management is not None
    organizations = lab.connector().client(management, "organizations")
    root = organizations.list_roots()["Roots"][0]["Id"]
    organizations.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")


def _organization_trail(lab: BenchLab) -> None:
    management = lab.spec.management_account
    assert management is not None
    connector = lab.connector()
    connector.client(management, "s3").create_bucket(Bucket="bench-org-trail")
    cloudtrail = connector.client(management, "cloudtrail")
    cloudtrail.create_trail(
        Name="org",
        S3BucketName="bench-org-trail",
        IsOrganizationTrail=True,
        IsMultiRegionTrail=True,
    )
    cloudtrail.start_logging(Name="org")


def run(size: int, mode: str, parallel: int) -> tuple[bool, int]:
    with provisioned_lab(size) as lab:
        if mode in ("scp", "trail"):
            _enable_scps(lab)
        if mode == "trail":
            _organization_trail(lab)
        lab.counter.reset()
        offboarder = Offboarder(lab.spec, lab.connector(), parallel=parallel)
        cpu_started = time.process_time()
        report = offboarder.offboard("alice@bench.example")
        client_cpu = time.process_time() - cpu_started
        if not report.ok:
            print(f"offboard failed: {report.as_dict()}", file=sys.stderr)
            return False, 0
        confirmed = [s.at for s in report.steps if s.action in ("verify deny", "verify scp")]
        revoked = (max(confirmed) - report.started_at).total_seconds()
        assert report.finished_at is not None
        whole = (report.finished_at - report.started_at).total_seconds()
        calls = lab.counter.total
        writes = sum(n for op, n in lab.counter.calls.items() if op.split(".")[-1] in WRITES)
        detail = ", ".join(f"{op} {n}" for op, n in sorted(lab.counter.calls.items()))
        print(
            f"{mode:>8} {size:>8} {revoked:>11.2f} {whole:>8.2f} {client_cpu:>7.2f} "
            f"{writes:>6} {calls / size:>10.2f}  {detail}",
            flush=True,
        )
        return (mode == "per-role" or revoked <= TARGET_SECONDS), writes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 200])
    parser.add_argument("--modes", nargs="+", default=["scp", "trail", "per-role"])
    parser.add_argument("--parallel", type=int, default=8)
    args = parser.parse_args()
    print(
        f"{'mode':>8} {'accounts':>8} {'revoked (s)':>11} {'run (s)':>8} {'cpu (s)':>7} "
        f"{'writes':>6} {'calls/acct':>10}  by operation"
    )
    ok = True
    for mode in args.modes:
        results = [run(size, mode, args.parallel) for size in args.sizes]
        ok = ok and all(fast for fast, _ in results)
        if mode != "per-role" and len({writes for _, writes in results}) > 1:
            print("the SCP path's writes grew with the accounts", file=sys.stderr)
            ok = False
    if not ok:
        print(f"the SCP path missed its target of {TARGET_SECONDS} s", file=sys.stderr)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
