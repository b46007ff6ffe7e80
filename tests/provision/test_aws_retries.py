"""How often keyless's AWS clients retry is the user's choice, and keyless's only by default.

Regression: ``AwsConnector`` passed ``retries={"mode": "standard", "max_attempts": 10}``
to every client, which overrides whatever the user set (botocore reads
``AWS_MAX_ATTEMPTS``, ``AWS_RETRY_MODE`` and the profile's ``max_attempts`` /
``retry_mode`` only when the client config leaves them out), so
``AWS_MAX_ATTEMPTS=1`` still made eleven attempts, with backoff between them.

Each test counts the requests that reach a loopback STS answering every one with an
error, so what is checked is what the client did. Retry sleeps are recorded instead
of slept: the number of attempts, not the backoff, is what is tested.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import botocore.endpoint
import pytest

from keyless.adapters.aws import AwsConnector, AwsEndpoint
from keyless.errors import KeylessError

# Throttling is retried in both of botocore's main modes; RequestLimitExceeded (EC2's
# and others' throttling code) only in ``standard``, so it tells the modes apart.
BOTH_MODES_RETRY, ONLY_STANDARD_RETRIES = "Throttling", "RequestLimitExceeded"


class RefusingSts:
    """A loopback STS that answers every request with ``code`` (HTTP 400) and counts them."""

    def __init__(self) -> None:
        self.code = BOTH_MODES_RETRY
        self.requests = 0
        sts = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                sts.requests += 1
                body = (
                    '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                    f"<Error><Type>Sender</Type><Code>{sts.code}</Code>"
                    "<Message>Rate exceeded</Message></Error>"
                    f"<RequestId>request-{sts.requests}</RequestId></ErrorResponse>"
                ).encode()
                self.send_response(400)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def sts(monkeypatch: pytest.MonkeyPatch) -> Iterator[RefusingSts]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-secret-" + "x" * 27)
    slept: list[float] = []
    # botocore's endpoint sleeps between attempts; only that module's clock is replaced.
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=slept.append))
    server = RefusingSts()
    thread = threading.Thread(target=server.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()
        thread.join()


def _attempts(sts: RefusingSts, code: str = BOTH_MODES_RETRY) -> int:
    """How many requests one keyless STS call sends before it gives up."""
    sts.code, sts.requests = code, 0
    connector = AwsConnector(
        boto3.Session(region_name="us-east-1"), endpoint=AwsEndpoint(endpoint_url=sts.url)
    )
    with pytest.raises(KeylessError):
        connector.caller_account()
    return sts.requests


def _profile(**settings: str) -> None:
    config = Path.home() / ".aws" / "config"  # AWS_CONFIG_FILE, set by clean_environ
    config.parent.mkdir(parents=True, exist_ok=True)
    lines = "".join(f"{key} = {value}\n" for key, value in settings.items())
    config.write_text(f"[default]\n{lines}")


@pytest.mark.parametrize("attempts", [1, 3])
def test_aws_max_attempts_is_honoured(
    sts: RefusingSts, monkeypatch: pytest.MonkeyPatch, attempts: int
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", str(attempts))
    assert _attempts(sts) == attempts


def test_the_profiles_max_attempts_is_honoured(sts: RefusingSts) -> None:
    _profile(max_attempts="2")
    assert _attempts(sts) == 2


def test_without_a_setting_keyless_retries_ten_times(sts: RefusingSts) -> None:
    assert _attempts(sts) == 11


def test_without_a_setting_keyless_retries_in_standard_mode(sts: RefusingSts) -> None:
    # Older botocore defaults to ``legacy``, which gives up on this code at once.
    assert _attempts(sts, ONLY_STANDARD_RETRIES) == 11


def test_aws_retry_mode_is_honoured(sts: RefusingSts, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_RETRY_MODE", "legacy")
    assert _attempts(sts, ONLY_STANDARD_RETRIES) == 1
    # The mode is the user's; the number of retries still keyless's default.
    assert _attempts(sts, BOTH_MODES_RETRY) == 11


def test_the_profiles_retry_mode_is_honoured(sts: RefusingSts) -> None:
    _profile(retry_mode="legacy", max_attempts="4")
    assert _attempts(sts, ONLY_STANDARD_RETRIES) == 1
    assert _attempts(sts, BOTH_MODES_RETRY) == 4
