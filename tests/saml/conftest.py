"""Shared SAML fixtures: keys generated at test time, metadata, and a response factory."""

from __future__ import annotations

from typing import Any

import pytest

from keyless.saml.metadata import IdpMetadata, parse_metadata
from keyless_lab.saml.build import build_response
from keyless_lab.saml.keys import SigningKey
from keyless_lab.saml.metadata import build_idp_metadata
from saml_data import DEV, ISSUER, NOW, PROD, Build


@pytest.fixture(scope="session")
def idp_key() -> SigningKey:
    return SigningKey.generate("keyless-test-idp")


@pytest.fixture(scope="session")
def attacker_key() -> SigningKey:
    return SigningKey.generate("keyless-test-idp")  # same name: only the key differs


@pytest.fixture(scope="session")
def other_idp_key() -> SigningKey:
    return SigningKey.generate("other-idp")


@pytest.fixture(scope="session")
def metadata(idp_key: SigningKey) -> IdpMetadata:
    xml = build_idp_metadata(
        entity_id=ISSUER, certificates=[idp_key.certificate], sso_url="https://idp.test/sso"
    )
    return parse_metadata(xml)


@pytest.fixture(scope="session")
def build(idp_key: SigningKey) -> Build:
    """Build a valid signed response; keyword arguments override build_response's."""

    def make(**overrides: Any) -> bytes:
        arguments: dict[str, Any] = {
            "key": idp_key,
            "issuer": ISSUER,
            "subject": "alice@example.com",
            "roles": [PROD, DEV],
            "session_name": "alice@example.com",
            "now": NOW,
            "session_duration": 3600,
        }
        arguments.update(overrides)
        return build_response(**arguments)

    return make
