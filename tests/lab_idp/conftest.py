"""Fixtures for the lab IdP's tests: one HTTPS IdP for the module, real HTTP clients.

The IdP runs as it does in the lab (uvicorn in a thread, TLS from the lab CA,
the acme spec's users), without the lab AWS: tests that need AWS use the
session's ``provisioned_lab`` from ``tests/lab_fixtures.py``.
"""

from __future__ import annotations

import re
import secrets
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from keyless.lab.idp.core import IdpSettings
from keyless.lab.idp.server import IdpServer
from keyless.lab.info import LabUser
from keyless.spec import FederationSpec, load_spec

REPO = Path(__file__).resolve().parents[2]
ACME = REPO / "examples" / "acme.yaml"


@pytest.fixture(scope="session")
def acme() -> FederationSpec:
    return load_spec(ACME)


def start_idp(
    spec: FederationSpec, state_dir: Path, settings: IdpSettings | None = None
) -> tuple[IdpServer, dict[str, LabUser]]:
    server = IdpServer(spec=spec, state_dir=state_dir, settings=settings)
    users = {u.login: u for u in server.directory.ensure_spec_users(spec)}
    server.start()
    return server, users


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


def lab_tls_context(server: IdpServer) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(server.tls.ca_cert))


@pytest.fixture
def client(server: IdpServer) -> Iterator[httpx.Client]:
    """A client that trusts the lab CA (and only it) and keeps cookies, as a browser does."""
    with httpx.Client(base_url=server.url, verify=lab_tls_context(server)) as http:
        yield http


@dataclass(frozen=True)
class NewUser:
    login: str
    password: str
    totp_secret: str | None

    def code(self, offset: int = 0) -> str:
        """The TOTP code of the current 30 s step (``offset`` steps later: the IdP accepts
        the next step too, which lets a test sign in twice without waiting)."""
        assert self.totp_secret is not None
        totp = pyotp.TOTP(self.totp_secret)
        return totp.at(time.time() + 30 * offset)


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


_DYNAMIC = re.compile(
    r"^(00[\w-]{40}|20111[\w-]{50}|102[\w-]{22}|oae\w{22}|(00u|00g|00o|0oa|0ua|uft|opf|mbl)\w{17}"
    r"|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)$"
)


def normalise(document: Any, base_url: str) -> Any:
    """Replace what changes per run (ids, tokens, times, the port) with placeholders, so whole
    documents compare against Okta's documented shapes."""
    if isinstance(document, dict):
        return {key: normalise(value, base_url) for key, value in document.items()}
    if isinstance(document, list):
        return [normalise(value, base_url) for value in document]
    if isinstance(document, str):
        value = document.replace(base_url, "https://{yourOktaDomain}")
        match = _DYNAMIC.match(value)
        if match:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}T[\d:.]+Z", value):
                return "<time>"
            if value.startswith("oae"):
                return "<errorId>"
            if value.startswith("00") and len(value) == 42:
                return "<stateToken>"
            if value.startswith("20111"):
                return "<sessionToken>"
            if value.startswith("102"):
                return "<sessionId>"
            return f"<{value[:3]}id>"
        value = re.sub(r"/102[\w-]{22}(?=/|$)", "/<sessionId>", value)
        return re.sub(r"/(00u|00g|0oa|uft|opf|mbl)\w{17}(?=/|$)", r"/<\1id>", value)
    return document
