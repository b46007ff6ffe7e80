"""Helpers for the lab IdP's tests: start an IdP, trust its CA, fresh users, normalised documents.

An ordinary module (not the conftest) so test modules can import it under any
pytest import mode; ``conftest.py`` beside it holds the fixtures.
"""

from __future__ import annotations

import re
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyotp

from keyless.spec import FederationSpec
from keyless_lab.idp.core import IdpSettings
from keyless_lab.idp.server import IdpServer
from keyless_lab.info import LabUser


def start_idp(
    spec: FederationSpec, state_dir: Path, settings: IdpSettings | None = None
) -> tuple[IdpServer, dict[str, LabUser]]:
    server = IdpServer(spec=spec, state_dir=state_dir, settings=settings)
    users = {u.login: u for u in server.directory.ensure_spec_users(spec)}
    server.start()
    return server, users


@contextmanager
def clock_ahead(server: IdpServer, by: timedelta) -> Iterator[None]:
    """Run the in-process IdP's clock ``by`` ahead of real time within the block, as if
    that much time had passed (lifetimes and expiries read the IdP's injected clock)."""
    real = server.idp.clock
    server.idp.clock = lambda: real() + by
    try:
        yield
    finally:
        server.idp.clock = real


def lab_tls_context(server: IdpServer) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(server.tls.ca_cert))


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
