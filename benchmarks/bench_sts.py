"""AssumeRoleWithSAML round trips: the lab's strict STS beside moto's own unchecked one.

Both are served over HTTPS on 127.0.0.1 with the same certificate and called
with boto3, as clients call them. The lab's endpoint is the real one (child
process, verification, IAM state lookups, snapshots); moto's runs in this
process on werkzeug, as ``moto_server`` would. Assertions are signed before
timing starts (each has its own ID: the lab refuses replays), so the figures
are what a client waits for, not what the IdP spends signing.

    .venv/bin/python benchmarks/bench_sts.py [--calls 300] [--seconds 5] [--threads 4]
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from keyless.saml.model import RolePair
from keyless_lab.aws import LabAccount, LabAwsProcess
from keyless_lab.saml.build import build_response, encode_response
from keyless_lab.saml.keys import SigningKey
from keyless_lab.saml.metadata import build_idp_metadata
from keyless_lab.tls import ensure_lab_tls

ACCOUNT = "222222222222"
ENTITY_ID = "http://www.okta.com/exkbenchmark000000001"
PAIR = RolePair(
    role_arn=f"arn:aws:iam::{ACCOUNT}:role/OktaAdminRole",
    principal_arn=f"arn:aws:iam::{ACCOUNT}:saml-provider/Okta",
)
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Federated": PAIR.principal_arn},
            "Action": "sts:AssumeRoleWithSAML",
            "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}},
        }
    ],
}


def _session(keys: dict[str, str]) -> boto3.Session:
    return boto3.Session(
        region_name="us-east-1",
        aws_access_key_id=keys["aws_access_key_id"],
        aws_secret_access_key=keys["aws_secret_access_key"],
        aws_session_token=keys.get("aws_session_token"),
    )


def sts_client(url: str, ca: str, credentials: dict[str, str] | None = None) -> Any:
    creds = credentials or {"aws_access_key_id": "unused", "aws_secret_access_key": "unused"}
    session = _session(creds)
    config = Config(max_pool_connections=32, retries={"max_attempts": 1})
    return session.client("sts", endpoint_url=url, verify=ca, config=config)


def assertions(key: SigningKey, count: int) -> list[str]:
    return [
        encode_response(
            build_response(
                key=key,
                issuer=ENTITY_ID,
                subject="alice@acme.example",
                roles=[PAIR],
                session_name="alice@acme.example",
                now=datetime.now(UTC),
            )
        )
        for _ in range(count)
    ]


def round_trips(call: Callable[[str], None], saml: list[str]) -> list[float]:
    timings = []
    for document in saml:
        started = time.perf_counter()
        call(document)
        timings.append(time.perf_counter() - started)
    return timings


def sustained(call: Callable[[str], None], saml: list[str], seconds: float, threads: int) -> float:
    """Calls per second completed by ``threads`` clients calling back to back for ``seconds``."""
    lock = threading.Lock()
    pool = iter(saml)
    done = 0
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            with lock:
                document = next(pool, None)
            if document is None:
                return
            call(document)
            with lock:
                done += 1

    started = time.perf_counter()
    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for worker_thread in workers:
        worker_thread.start()
    for worker_thread in workers:
        worker_thread.join()
    return done / (time.perf_counter() - started)


def moto_server(certfile: Path, keyfile: Path) -> tuple[str, Callable[[], None]]:
    """moto's own server (unchecked AssumeRoleWithSAML) over HTTPS in this process."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class Quiet(MotoRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(certfile), str(keyfile))
    server = make_server(
        "127.0.0.1",
        0,
        DomainDispatcherApplication(create_backend_app),
        threaded=True,
        request_handler=Quiet,
        ssl_context=context,
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return f"https://127.0.0.1:{server.server_address[1]}", stop


def summary(name: str, timings: list[float], per_second: float) -> dict[str, Any]:
    ordered = sorted(timings)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "endpoint": name,
        "calls": len(timings),
        "median_ms": round(statistics.median(timings) * 1000, 2),
        "p99_ms": round(p99 * 1000, 2),
        "sustained_per_s": round(per_second, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--calls", type=int, default=300, help="sequential calls timed per endpoint"
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the sustained run")
    parser.add_argument(
        "--threads", type=int, default=4, help="concurrent clients in the sustained run"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    os.environ.pop("AWS_ENDPOINT_URL", None)

    key = SigningKey.generate("keyless benchmark IdP")
    metadata = build_idp_metadata(
        entity_id=ENTITY_ID, certificates=[key.certificate], sso_url="https://127.0.0.1:1/sso"
    )
    # One distinct assertion per call; the sustained run stays well under 400/s here.
    budget = args.calls + int(args.seconds * 400) + 50
    print(f"signing {2 * budget} assertions...", file=sys.stderr)
    lab_saml = assertions(key, budget)
    moto_saml = assertions(key, budget)

    results = []
    with tempfile.TemporaryDirectory(prefix="keyless-bench-") as tmp:
        state_dir = Path(tmp)
        tls = ensure_lab_tls(state_dir)
        ca = str(tls.ca_cert)
        accounts = [
            LabAccount("111111111111", "bench-management", management=True),
            LabAccount(ACCOUNT, "bench-prod"),
        ]
        with LabAwsProcess(
            accounts=accounts, state_dir=state_dir, certfile=tls.server_cert, keyfile=tls.server_key
        ) as lab:
            root = _session(lab.bootstrap_credentials)
            answer = root.client("sts", endpoint_url=lab.url, verify=ca).assume_role(
                RoleArn=f"arn:aws:iam::{ACCOUNT}:role/OrganizationAccountAccessRole",
                RoleSessionName="bench",
            )["Credentials"]
            iam = boto3.Session(
                region_name="us-east-1",
                aws_access_key_id=answer["AccessKeyId"],
                aws_secret_access_key=answer["SecretAccessKey"],
                aws_session_token=answer["SessionToken"],
            ).client("iam", endpoint_url=lab.url, verify=ca)
            iam.create_saml_provider(Name="Okta", SAMLMetadataDocument=metadata.decode())
            iam.create_role(RoleName="OktaAdminRole", AssumeRolePolicyDocument=json.dumps(TRUST))
            iam.attach_role_policy(
                RoleName="OktaAdminRole", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"
            )
            client = sts_client(lab.url, ca)

            def lab_call(document: str) -> None:
                client.assume_role_with_saml(
                    RoleArn=PAIR.role_arn, PrincipalArn=PAIR.principal_arn, SAMLAssertion=document
                )

            lab_call(lab_saml.pop())  # warm up: connection, metadata parse
            timings = round_trips(lab_call, lab_saml[: args.calls])
            rate = sustained(lab_call, lab_saml[args.calls :], args.seconds, args.threads)
            results.append(summary("lab strict STS (verified)", timings, rate))

        os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "false"
        url, stop = moto_server(tls.server_cert, tls.server_key)
        try:
            moto_client = sts_client(url, ca)

            def moto_call(document: str) -> None:
                moto_client.assume_role_with_saml(
                    RoleArn=PAIR.role_arn, PrincipalArn=PAIR.principal_arn, SAMLAssertion=document
                )

            moto_call(moto_saml.pop())
            timings = round_trips(moto_call, moto_saml[: args.calls])
            rate = sustained(moto_call, moto_saml[args.calls :], args.seconds, args.threads)
            results.append(summary("moto's own (unchecked)", timings, rate))
        finally:
            stop()

    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"AssumeRoleWithSAML over HTTPS on 127.0.0.1, boto3 client, {os.cpu_count()} CPUs")
    rate_title = f"per s ({args.threads} clients)"
    print(f"{'endpoint':<28} {'calls':>6} {'median ms':>10} {'p99 ms':>8} {rate_title:>18}")
    for row in results:
        print(
            f"{row['endpoint']:<28} {row['calls']:>6} {row['median_ms']:>10} {row['p99_ms']:>8} "
            f"{row['sustained_per_s']:>18}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
