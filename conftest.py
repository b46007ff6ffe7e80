"""Fixtures every test gets, keyless's (tests/) and the lab's (lab/tests/): an environment
that cannot reach a real AWS account or proxy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent

# Fixtures that start the embedded lab, shared by every test area.
pytest_plugins = ["lab_fixtures"]


@pytest.fixture(autouse=True)
def clean_environ(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Strip AWS_*, KEYLESS_* and proxy variables and point HOME-based config at a temp dir,
    so no test reads or writes a real ~/.aws or touches a real account by accident."""
    for name in list(os.environ):
        upper = name.upper()
        if (
            upper.startswith(("AWS_", "KEYLESS_", "OKTA_"))
            or upper.endswith("_PROXY")
            or upper in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")
        ):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / ".aws" / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / ".aws" / "credentials"))
    # keyring must never reach a real desktop keychain from tests.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
