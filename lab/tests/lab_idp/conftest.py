"""Fixtures for the lab IdP's tests: one HTTPS IdP for the module, real HTTP clients.

The IdP runs as it does in the lab (uvicorn in a thread, TLS from the lab CA,
the acme spec's users), without the lab AWS: tests that need AWS use the
session's ``provisioned_lab`` from ``tests/lab_fixtures.py``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from keyless.spec import FederationSpec, load_spec
from keyless_lab.idp.server import IdpServer
from keyless_lab.info import LabUser
from lab_idp.idp_support import NewUser, lab_tls_context, start_idp

REPO = Path(__file__).resolve().parents[3]
ACME = REPO / "examples" / "acme.yaml"


@pytest.fixture(scope="session")
def acme() -> FederationSpec:
    return load_spec(ACME)


@pytest.fixture(scope="module")
def idp(
    acme: FederationSpec, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[IdpServer, dict[str, LabUser]]]:
    server, users = start_idp(acme, tmp_path_factory.mktemp("idp-state"))
    try:
        yield server, users
    finally:
        server.stop()


@pytest.fixture
def server(idp: tuple[IdpServer, dict[str, LabUser]]) -> IdpServer:
    return idp[0]


@pytest.fixture
def users(idp: tuple[IdpServer, dict[str, LabUser]]) -> dict[str, LabUser]:
    return idp[1]


@pytest.fixture
def client(server: IdpServer) -> Iterator[httpx.Client]:
    """A client that trusts the lab CA (and only it) and keeps cookies, as a browser does."""
    with httpx.Client(base_url=server.url, verify=lab_tls_context(server)) as http:
        yield http


@pytest.fixture
def make_user(server: IdpServer) -> Callable[..., NewUser]:
    """Create a fresh user (own TOTP secret, so no test replays another's code)."""

    def make(
        groups: tuple[str, ...] = ("aws-admins",),
        factors: tuple[str, ...] = ("totp",),
        **fields: Any,
    ) -> NewUser:
        login = f"user-{secrets.token_hex(4)}@acme.example"
        _, password = server.directory.add_user(
            login, first_name="Test", last_name="User", groups=groups, **fields
        )
        secret = None
        for factor in factors:
            enrolled = server.directory.enroll(login, factor)
            secret = enrolled.secret or secret
        return NewUser(login=login, password=password, totp_secret=secret)

    return make
