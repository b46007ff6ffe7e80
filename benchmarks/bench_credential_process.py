"""`keyless credential-process` answering from its cache, beside its baselines, in one run.

    .venv/bin/python benchmarks/bench_credential_process.py [--runs 40]

Rows (each a fresh process, as the AWS CLI starts one per command):

- ``python -c pass``: the floor, Python starting and doing nothing;
- ``keyless credential-process`` through the lightweight module (what the
  ``keyless`` entry point runs once it dispatches before importing typer);
- the installed ``keyless`` console script, whatever ``cli/main.py`` does today;
- ``aws-okta-processor authenticate`` answering from its own cache (an
  existing Python Okta credential_process tool from PyPI), when installed;

and beside them, in the same rounds, the answer SDKs get from ``keyless exec
--ecs-server`` (one ``keyless exec`` runs for the whole benchmark; its command
hands the endpoint back and waits), per HTTP GET, ``--gets`` per round:

- ``ECS endpoint GET``: a plain ``http.client`` request with the token;
- ``ECS endpoint GET (botocore fetcher)``: botocore's ``ContainerMetadataFetcher``,
  what an SDK's refresh runs (its URL check, urllib3, JSON).

The endpoint answers from the same cache file ``credential-process`` reads.

Everything runs in a temporary HOME with fake cached credentials: nothing
touches the network, a real ~/.aws or a real cache. Targets: median < 40 ms
and at least 5x faster than aws-okta-processor's cached path.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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


# keyless exec's command: hand the endpoint to the benchmark, then wait until told to end.
_HAND_BACK = """
import json, os, sys
print(json.dumps([os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"],
                  os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]]), flush=True)
sys.stdin.read()
"""


@contextmanager
def _ecs_endpoint(env: dict[str, str]) -> Iterator[tuple[str, str]]:
    """``keyless exec --profile bench --ecs-server`` running; its (URL, token)."""
    process = subprocess.Popen(
        [
            *(str(BIN / "keyless"), "exec", "--profile", "bench", "--ecs-server", "--"),
            *(sys.executable, "-c", _HAND_BACK),
        ],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait()
        raise SystemExit(f"keyless exec --ecs-server failed (exit {process.returncode})")
    url, token = json.loads(line)
    try:
        yield url, token
    finally:
        process.communicate("")


def _http_get(url: str, token: str) -> Callable[[], Any]:
    parsed = urllib.parse.urlsplit(url)

    def get() -> Any:
        # A new connection per request, as the endpoint (HTTP/1.0) and SDK refreshes have it.
        connection = http.client.HTTPConnection(parsed.hostname or "", parsed.port, timeout=10)
        try:
            connection.request("GET", parsed.path, headers={"Authorization": token})
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise SystemExit(f"the endpoint answered {response.status}: {body[:200]!r}")
            return json.loads(body)
        finally:
            connection.close()

    return get


def _botocore_get(url: str, token: str) -> Callable[[], Any]:
    from botocore.utils import ContainerMetadataFetcher

    fetcher = ContainerMetadataFetcher()
    return lambda: fetcher.retrieve_full_uri(url, headers={"Authorization": token})


def _measure_calls(call: Callable[[], Any], runs: int) -> list[float]:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        answer = call()
        timings.append((time.perf_counter() - start) * 1000)
        if answer.get("AccessKeyId") != "ASIABENCHMARK0000001":
            raise SystemExit("the endpoint answered other credentials than the cache holds")
    return timings


def main() -> None:
    """Run every row ``--runs`` times, interleaved, and print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--gets", type=int, default=25, help="endpoint GETs per round")
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
        if os.environ.get("PYTHONPATH"):  # a worktree's sources before the installed ones
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
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
        with _ecs_endpoint(env) as (url, token):
            gets = {
                "ECS endpoint GET (http.client)": _http_get(url, token),
                "ECS endpoint GET (botocore fetcher)": _botocore_get(url, token),
            }
            for call in gets.values():
                _measure_calls(call, 5)
            timings.update({name: [] for name in gets})
            for _ in range(args.runs):
                for name, command in rows.items():
                    timings[name] += _measure(command, env, 1)
                for name, call in gets.items():
                    timings[name] += _measure_calls(call, args.gets)
    fast = statistics.median(timings["keyless credential-process (fast entry)"])
    print(f"{'answer from cache':<46} {'n':>5} {'median ms':>10} {'p90 ms':>8} {'vs keyless':>11}")
    for name, values in timings.items():
        median = statistics.median(values)
        p90 = statistics.quantiles(values, n=10)[-1]
        print(f"{name:<46} {len(values):>5} {median:>10.2f} {p90:>8.2f} {median / fast:>10.2f}x")
    print(
        "\n(credential-process rows: a new process per answer; ECS rows: a GET to the running "
        "`keyless exec --ecs-server` endpoint)"
    )
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
