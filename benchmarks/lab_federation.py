"""A lab AWS endpoint with N accounts, provisioned for a generated spec (shared by the
offboard and audit benchmarks).

The lab's own endpoint (strict STS, IAM evaluation, CloudTrail) is used rather
than bare moto: offboard and audit read CloudTrail, which only the lab answers.
"""

from __future__ import annotations

import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keyless.adapters.aws import AwsConnector, AwsEndpoint, management_session
from keyless.services.provision.accounts import Provisioner
from keyless.spec import load_spec_text
from keyless.spec.model import FederationSpec
from keyless_lab.aws import LabAwsProcess
from keyless_lab.aws.bootstrap import LabAccount
from keyless_lab.saml.keys import SigningKey
from keyless_lab.saml.metadata import build_idp_metadata
from keyless_lab.tls import ensure_lab_tls

BASE = 800000000000


def bench_spec(size: int) -> FederationSpec:
    accounts = [f'  - {{id: "{BASE}", alias: bench-m0, management: true}}']
    accounts += [f'  - {{id: "{BASE + i}", alias: bench-a{i}}}' for i in range(1, size)]
    text = f"""
version: 1
name: bench
identity_provider: {{kind: lab}}
accounts:
{chr(10).join(accounts)}
roles:
  - name: ReadOnly
    managed_policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]
  - name: OktaAdminRole
    managed_policies: [arn:aws:iam::aws:policy/AdministratorAccess]
group_mappings:
  - {{group: aws-admins, role: OktaAdminRole}}
lab:
  users:
    - {{login: alice@bench.example, groups: [aws-admins], factors: [totp]}}
"""
    return load_spec_text(text, source=f"bench-{size}")


class CallCounter:
    """Counts every HTTP request botocore sends, by operation (retries and pages too)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, event_name: str, **_: Any) -> None:
        with self._lock:
            self.calls[event_name.split(".", 1)[1]] += 1

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()

    @property
    def total(self) -> int:
        return sum(self.calls.values())


@dataclass
class BenchLab:
    spec: FederationSpec
    metadata: bytes
    counter: CallCounter
    url: str
    ca_bundle: str
    bootstrap: dict[str, str]

    def connector(self) -> AwsConnector:
        """A fresh connector (pays for its own AssumeRole calls) whose calls are counted."""
        session = management_session(
            access_key_id=self.bootstrap["aws_access_key_id"],
            secret_access_key=self.bootstrap["aws_secret_access_key"],
        )
        session.events.register("before-send", self.counter)
        return AwsConnector(
            session, endpoint=AwsEndpoint(endpoint_url=self.url, verify=self.ca_bundle)
        )


@contextmanager
def provisioned_lab(size: int) -> Iterator[BenchLab]:
    """The lab's AWS with ``size`` accounts, applied for :func:`bench_spec`."""
    spec = bench_spec(size)
    state = Path(tempfile.mkdtemp(prefix="keyless-bench-"))
    tls = ensure_lab_tls(state)
    accounts = [LabAccount(id=a.id, alias=a.alias, management=a.management) for a in spec.accounts]
    process = LabAwsProcess(
        accounts=accounts, state_dir=state, certfile=tls.server_cert, keyfile=tls.server_key
    ).start()
    try:
        key = SigningKey.generate("keyless bench idp")
        metadata = build_idp_metadata(
            entity_id="http://www.okta.com/exkbench",
            certificates=[key.certificate],
            sso_url="https://127.0.0.1/sso",
        )
        lab = BenchLab(
            spec=spec,
            metadata=metadata,
            counter=CallCounter(),
            url=process.url,
            ca_bundle=str(tls.ca_cert),
            bootstrap=dict(process.bootstrap_credentials),
        )
        provisioner = Provisioner(spec, lab.connector(), metadata, parallel=8)
        report = provisioner.apply(provisioner.plan())
        if not report.ok:
            raise RuntimeError(f"apply failed: {[r.error for r in report.failed_accounts()]}")
        yield lab
    finally:
        process.stop()
