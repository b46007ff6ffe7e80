"""`keyless credential-process` answering from its cache, beside its baselines, in one run.

    .venv/bin/python benchmarks/bench_credential_process.py [--runs 40]

Rows (each a fresh process, as the AWS CLI starts one per command):

- ``python -c pass``: the floor, Python starting and doing nothing;
- ``keyless credential-process`` through the lightweight module (what the
  ``keyless`` entry point runs once it dispatches before importing typer);
- the installed ``keyless`` console script, whatever ``cli/main.py`` does today;
- ``aws-okta-processor authenticate`` answering from its own cache (an
  existing Python Okta credential_process tool from PyPI), when installed.

Everything runs in a temporary HOME with fake cached credentials: nothing
touches the network, a real ~/.aws or a real cache. Targets: median < 40 ms
and at least 5x faster than aws-okta-processor's cached path.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

BIN = Path(sys.executable).parent


def _measure(command: list[str], env: dict[str, str], runs: int) -> list[float]:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run(command, env=env, capture_output=True, check=False)
        timings.append((time.perf_counter() - start) * 1000)
        if result.returncode != 0:
            raise SystemExit(f"{command[0]} failed: {result.stderr.decode()[-400:]}")
    return timings


def _populate(home: Path, expiration: str) -> None:
    from keyless.adapters.credential_cache import CredentialCache
    from keyless.core.credentials import AwsCredentials, parse_expiration

    os.environ["XDG_CACHE_HOME"] = str(home / ".cache")
    entry = {
        "AccessKeyId": "ASIABENCHMARK0000001",
        "SecretAccessKey": "s" * 40,
        "SessionToken": "t" * 600,
        "Expiration": expiration,
    }
    CredentialCache().store(
        "bench",
        AwsCredentials(
            access_key_id=entry["AccessKeyId"],
            secret_access_key=entry["SecretAccessKey"],
            session_token=entry["SessionToken"],
            expiration=parse_expiration(expiration),
            role_arn="arn:aws:iam::333333333333:role/Developer",
            account_id="333333333333",
        ),
    )
    # aws-okta-processor keeps botocore's JSONFileCache: ~/.aws/boto/cache/<sha1>.json
    key = json.dumps(
        {"Organization": "acme.okta.com", "User": "bob", "Key": "bench"}, sort_keys=True
    )
    boto_cache = home / ".aws" / "boto" / "cache"
    boto_cache.mkdir(parents=True)
    (boto_cache / f"{hashlib.sha1(key.encode()).hexdigest()}.json").write_text(  # noqa: S324
        json.dumps(
            {
                "Credentials": {
                    k: entry[k]
                    for k in ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")
                }
            }
        )
    )


def main() -> None:
    """Run every row ``--runs`` times, interleaved, and print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        expiration = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        _populate(home, expiration)
        env = {
            "HOME": str(home),
            "PATH": os.environ.get("PATH", ""),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "AWS_CONFIG_FILE": str(home / ".aws" / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials"),
        }
        rows: dict[str, list[str]] = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "keyless credential-process (fast entry)": [
                sys.executable,
                "-m",
                "keyless.credential_process",
                "--profile",
                "bench",
            ],
            "keyless credential-process (console script)": [
                str(BIN / "keyless"),
                "credential-process",
                "--profile",
                "bench",
            ],
        }
        processor = shutil.which("aws-okta-processor", path=str(BIN)) or shutil.which(
            "aws-okta-processor"
        )
        if processor:
            rows["aws-okta-processor authenticate (cached)"] = [
                processor,
                "authenticate",
                "--organization",
                "acme.okta.com",
                "--user",
                "bob",
                "--key",
                "bench",
                "--application",
                "https://acme.okta.com/home/amazon_aws/x/272",
            ]
        for command in rows.values():  # warm the page cache and .pyc files
            _measure(command, env, 2)
        timings: dict[str, list[float]] = {name: [] for name in rows}
        for _ in range(args.runs):
            for name, command in rows.items():
                timings[name] += _measure(command, env, 1)
    fast = statistics.median(timings["keyless credential-process (fast entry)"])
    print(f"{'command':<46} {'median ms':>10} {'p90 ms':>8} {'vs keyless':>11}")
    for name, values in timings.items():
        median = statistics.median(values)
        p90 = statistics.quantiles(values, n=10)[-1]
        print(f"{name:<46} {median:>10.1f} {p90:>8.1f} {median / fast:>10.1f}x")
    verdict = "met" if fast < 40 else "NOT met"
    print(f"\ntarget median < 40 ms: {verdict} ({fast:.1f} ms)")
    baseline = "aws-okta-processor authenticate (cached)"
    if baseline in timings:
        ratio = statistics.median(timings[baseline]) / fast
        print(
            f"target >= 5x faster than aws-okta-processor: "
            f"{'met' if ratio >= 5 else 'NOT met'} ({ratio:.1f}x)"
        )
    else:
        print(
            "aws-okta-processor is not installed: `pip install aws-okta-processor` for the baseline"
        )


if __name__ == "__main__":
    main()
