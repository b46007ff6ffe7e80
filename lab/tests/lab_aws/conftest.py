"""Fixtures for the lab's AWS: one endpoint (child process, HTTPS) for the area, provisioned
for examples/acme.yaml with an IdP key made here, and a builder of signed assertions.

The endpoint is started on its own (without the lab IdP) so these tests pin the
AWS half; ``tests/lab_aws/test_runtime.py`` covers the whole lab.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from keyless.saml.model import RolePair
from keyless.services.provision.accounts import connect
from keyless.services.provision.federation import Federation, apply_federation
from keyless.spec import load_spec
from keyless_lab.aws import LabAwsProcess
from keyless_lab.runtime import lab_accounts
from keyless_lab.saml.build import build_response, encode_response
from keyless_lab.saml.keys import SigningKey
from keyless_lab.saml.metadata import build_idp_metadata
from keyless_lab.tls import ensure_lab_tls
from lab_aws_support import DEV, ENTITY_ID, PROD, Assertion, AwsLab, role_pair
from lab_fixtures import ACME


@pytest.fixture(scope="session")
def idp_key() -> SigningKey:
    """The lab IdP's signing key for these tests (the provider's metadata names it)."""
    return SigningKey.generate("keyless lab IdP (tests)")


@pytest.fixture(scope="session")
def other_key() -> SigningKey:
    """A key no provider trusts."""
    return SigningKey.generate("someone else")


@pytest.fixture(scope="session")
def aws_lab(tmp_path_factory: pytest.TempPathFactory, idp_key: SigningKey) -> Iterator[AwsLab]:
    """The lab's AWS for examples/acme.yaml, provisioned as `keyless apply` would."""
    state_dir = tmp_path_factory.mktemp("lab-aws")
    spec = load_spec(ACME)
    tls = ensure_lab_tls(state_dir)
    process = LabAwsProcess(
        accounts=lab_accounts(spec),
        state_dir=state_dir,
        certfile=tls.server_cert,
        keyfile=tls.server_key,
    ).start()
    try:
        metadata = build_idp_metadata(
            entity_id=ENTITY_ID,
            certificates=[idp_key.certificate],
            sso_url="https://127.0.0.1:1/app/amazon_aws/0oatest/sso/saml",
        )
        # What `keyless apply` writes, by the same code: these tests pin the lab's
        # AWS against exactly the IAM that provisioning leaves behind.
        connector = connect(
            endpoint_url=process.url,
            ca_bundle=str(tls.ca_cert),
            access_key_id=process.bootstrap_credentials["aws_access_key_id"],
            secret_access_key=process.bootstrap_credentials["aws_secret_access_key"],
        )
        result = apply_federation(Federation(spec, connector, metadata))
        assert result.ok, result.as_dict()
        yield AwsLab(
            url=process.url,
            ca_bundle=str(tls.ca_cert),
            bootstrap=process.bootstrap_credentials,
            state_dir=state_dir,
            spec=spec,
            idp_key=idp_key,
        )
    finally:
        process.stop()


@pytest.fixture
def assertion(idp_key: SigningKey) -> Assertion:
    """Build a base64 SAMLResponse as the lab IdP would; keyword arguments change it."""

    def build(
        *,
        roles: list[RolePair] | None = None,
        key: SigningKey | None = None,
        session_name: str = "alice@acme.example",
        now: datetime | None = None,
        **options: Any,
    ) -> str:
        xml = build_response(
            key=key or idp_key,
            issuer=ENTITY_ID,
            subject="alice@acme.example",
            roles=roles or [role_pair(PROD, "OktaAdminRole"), role_pair(DEV, "OktaAdminRole")],
            session_name=session_name,
            now=now or datetime.now(UTC),
            **options,
        )
        return encode_response(xml)

    return build


@pytest.fixture
def past() -> datetime:
    """Ten minutes ago: an assertion issued then has expired."""
    return datetime.now(UTC) - timedelta(minutes=10)
