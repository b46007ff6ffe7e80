"""The cost of the lab's authorization front per request, beside moto unchecked, in one run.

Both endpoints serve HTTPS on 127.0.0.1 with the same certificate and are called
with boto3. The lab's endpoint is the real one (child process: SigV4 checked
with the lab's payload hash, the request derived into action, resource ARN and
owner, the caller's identity, boundary and session policies and the bucket's
policy evaluated); moto's runs in this process, as ``moto_server`` would, and
checks nothing. The lab caller is a role session narrowed by a session policy,
so every evaluation step runs.

    .venv/bin/python benchmarks/bench_lab_authz.py [--calls 300] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from bench_sts import moto_server
from keyless_lab.aws import LabAccount, LabAwsProcess
from keyless_lab.tls import ensure_lab_tls

ACCOUNT = "222222222222"
BUCKET = "bench-authz-bucket"
SESSION_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["iam:Get*", "s3:Get*", "s3:Put*"], "Resource": "*"}
    ],
}
CONFIG = Config(retries={"max_attempts": 1}, request_checksum_calculation="when_required")


def _clients(url: str, ca: str, credentials: Mapping[str, Any]) -> tuple[Any, Any]:
    session = boto3.Session(
        region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials.get("SessionToken"),
    )
    iam = session.client("iam", endpoint_url=url, verify=ca, config=CONFIG)
    s3 = session.client("s3", endpoint_url=url, verify=ca, config=CONFIG)
    return iam, s3


def _prepare(iam: Any, s3: Any) -> None:
    """The same state on both endpoints: a bucket with a policy and an object."""
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_policy(
        Bucket=BUCKET,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:DeleteBucket",
                        "Resource": f"arn:aws:s3:::{BUCKET}",
                    }
                ],
            }
        ),
    )
    s3.put_object(Bucket=BUCKET, Key="object.txt", Body=b"x" * 1024)


def _workload(iam: Any, s3: Any, role: str) -> dict[str, Callable[[], Any]]:
    return {
        "iam:GetRole": lambda: iam.get_role(RoleName=role),
        "s3:GetObject": lambda: s3.get_object(Bucket=BUCKET, Key="object.txt")["Body"].read(),
        "s3:PutObject": lambda: s3.put_object(Bucket=BUCKET, Key="object.txt", Body=b"y" * 1024),
    }


def _time(call: Callable[[], Any], count: int) -> list[float]:
    call()  # warm up: connection, caches
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        timings.append(time.perf_counter() - started)
    return timings


def _row(endpoint: str, operation: str, timings: list[float]) -> dict[str, Any]:
    ordered = sorted(timings)
    return {
        "endpoint": endpoint,
        "operation": operation,
        "calls": len(timings),
        "median_ms": round(statistics.median(timings) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] * 1000, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=300, help="sequential calls per operation")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    os.environ.pop("AWS_ENDPOINT_URL", None)

    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="keyless-bench-") as tmp:
        state_dir = Path(tmp)
        tls = ensure_lab_tls(state_dir)
        ca = str(tls.ca_cert)
        accounts = [
            LabAccount("111111111111", "bench-management", management=True),
            LabAccount(ACCOUNT, "bench-prod"),
        ]
        role = "OrganizationAccountAccessRole"
        with LabAwsProcess(
            accounts=accounts, state_dir=state_dir, certfile=tls.server_cert, keyfile=tls.server_key
        ) as lab:
            root = boto3.Session(
                region_name="us-east-1",
                aws_access_key_id=lab.bootstrap_credentials["aws_access_key_id"],
                aws_secret_access_key=lab.bootstrap_credentials["aws_secret_access_key"],
            ).client("sts", endpoint_url=lab.url, verify=ca)
            admin = root.assume_role(
                RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}", RoleSessionName="bench-admin"
            )["Credentials"]
            _prepare(*_clients(lab.url, ca, admin))
            narrowed = root.assume_role(
                RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}",
                RoleSessionName="bench-narrowed",
                Policy=json.dumps(SESSION_POLICY),
            )["Credentials"]
            for operation, call in _workload(*_clients(lab.url, ca, narrowed), role).items():
                print(f"lab: {operation}...", file=sys.stderr)
                results.append(_row("lab (authorized)", operation, _time(call, args.calls)))

        os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "false"
        url, stop = moto_server(tls.server_cert, tls.server_key)
        try:
            anyone = {"AccessKeyId": "AKIAIOSFODNN7EXAMPLE", "SecretAccessKey": "unchecked"}
            iam, s3 = _clients(url, ca, anyone)
            iam.create_role(RoleName=role, AssumeRolePolicyDocument="{}")
            _prepare(iam, s3)
            for operation, call in _workload(iam, s3, role).items():
                print(f"moto: {operation}...", file=sys.stderr)
                results.append(_row("moto (unchecked)", operation, _time(call, args.calls)))
        finally:
            stop()

    medians = {(r["endpoint"], r["operation"]): r["median_ms"] for r in results}
    for row in results:
        if row["endpoint"].startswith("lab"):
            moto = medians[("moto (unchecked)", row["operation"])]
            row["ratio_to_moto"] = round(row["median_ms"] / moto, 2) if moto else None
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"Lab authorization front vs moto unchecked, HTTPS on 127.0.0.1, {os.cpu_count()} CPUs")
    print(
        f"{'endpoint':<18} {'operation':<14} {'calls':>6} {'median ms':>10} {'p99 ms':>8} "
        f"{'x moto':>7}"
    )
    for row in results:
        ratio = row.get("ratio_to_moto")
        print(
            f"{row['endpoint']:<18} {row['operation']:<14} {row['calls']:>6} "
            f"{row['median_ms']:>10} {row['p99_ms']:>8} {ratio if ratio else '':>7}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
