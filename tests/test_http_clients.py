"""Every HTTP client in keyless comes from one factory (``keyless.adapters.http.make_client``).

Regression: four modules built their own ``httpx.Client``, with proxies from the
environment on in one (the IdP metadata download) and off in the others, and
each mapped connection failures its own way.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from keyless.adapters.http import httpx, make_client, tls_context, unreachable, unreachable_errors
from keyless.errors import EXIT_REMOTE, UnreachableError

SRC = Path(__file__).resolve().parents[1] / "src" / "keyless"
FACTORY = SRC / "adapters" / "http.py"
CLIENTS = {"Client", "AsyncClient"}


def _client_calls(path: Path) -> list[int]:
    """Lines of ``httpx.Client(...)`` (or a ``Client`` imported from httpx) in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    imported = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "httpx"
        for alias in node.names
        if alias.name in CLIENTS
    }
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr in CLIENTS
            and isinstance(func.value, ast.Name)
            and func.value.id == "httpx"
        ) or (isinstance(func, ast.Name) and func.id in imported):
            lines.append(node.lineno)
    return lines


def test_no_httpx_client_is_built_outside_the_factory() -> None:
    found = [
        f"{path.relative_to(SRC.parent)}:{line}"
        for path in sorted(SRC.rglob("*.py"))
        if path != FACTORY
        for line in _client_calls(path)
    ]
    assert found == [], "build HTTP clients with keyless.adapters.http.make_client: " + str(found)
    assert _client_calls(FACTORY), "the factory itself builds the client (the check still sees it)"


def test_the_factory_trusts_nothing_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    with make_client(timeout=7.0) as http:
        assert http.trust_env is False
        assert http.timeout.read == 7.0
        assert http.follow_redirects is False
        assert http.headers["User-Agent"].startswith("keyless")
    assert tls_context() is tls_context()  # cached: building one costs tens of milliseconds


def test_transport_failures_map_to_one_error() -> None:
    request = httpx.Request("GET", "https://idp.example/x?secret=s3cr3t")
    refused = unreachable("the IdP", httpx.ConnectError("refused", request=request))
    assert isinstance(refused, UnreachableError)
    assert refused.exit_code == EXIT_REMOTE
    assert refused.message == "cannot reach the IdP: refused"
    slow = unreachable("the IdP", httpx.ReadTimeout("slow", request=request))
    assert "no answer in time" in slow.message
    tls = unreachable("the IdP", httpx.ConnectError("CERTIFICATE_VERIFY_FAILED", request=request))
    assert "not trusted" in tls.message
    assert tls.fix is not None
    assert "--ca-bundle" in tls.fix

    with pytest.raises(UnreachableError) as caught, unreachable_errors("the IdP", detail=False):
        raise httpx.ConnectError("https://idp.example/x?secret=s3cr3t", request=request)
    assert "s3cr3t" not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__
