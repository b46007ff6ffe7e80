"""A container credentials endpoint on loopback: what ECS gives a task, for one command.

AWS SDKs look for ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` in their default
credential chain and fetch temporary credentials from it with ``GET``, sending
``AWS_CONTAINER_AUTHORIZATION_TOKEN`` verbatim as the ``Authorization``
header. They refetch on their own as the expiry nears (botocore 15 minutes
before it), which is what makes a long-running SDK process refresh without
``AWS_*`` keys in its environment. botocore's ``ContainerMetadataFetcher``
accepts plain ``http`` only for a loopback address, so the server binds
``127.0.0.1`` and the URL names that address, never ``localhost``.

The answer is the document ECS serves and botocore's ``ContainerProvider``
reads: ``AccessKeyId``, ``SecretAccessKey``, ``Token``, ``Expiration``
(ISO 8601), with ``RoleArn`` and ``AccountId`` beside them when known.

Every request must carry the token (compared in constant time): a missing
one gets 401, a wrong one 403, and neither learns anything else. Nothing is
logged: not the token, not the request line.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from keyless.core.credentials import AwsCredentials
from keyless.errors import KeylessError

HOST = "127.0.0.1"
PATH = "/credentials"
# secrets.token_urlsafe(n) draws n random bytes: 256 bits, no guessing it over HTTP.
TOKEN_BYTES = 32


def credentials_document(credentials: AwsCredentials) -> dict[str, str]:
    """The JSON document a container credentials endpoint answers."""
    document = {
        "AccessKeyId": credentials.access_key_id,
        "SecretAccessKey": credentials.secret_access_key,
        "Token": credentials.session_token,
        "Expiration": credentials.expiration_text,
    }
    if credentials.role_arn:
        document["RoleArn"] = credentials.role_arn
    if credentials.account_id:
        document["AccountId"] = credentials.account_id
    return document


class ContainerEndpoint:
    """Serves ``credentials()`` at ``url`` to requests carrying ``token``, while in a ``with``.

    ``credentials`` is called on every authorized request (it is expected to
    answer from a cache and refresh near expiry); a :class:`KeylessError` it
    raises becomes a 503 whose body says what to do, and is handed to
    ``on_error`` (the caller tells the person; this class prints nothing).
    """

    def __init__(
        self,
        credentials: Callable[[], AwsCredentials],
        *,
        on_error: Callable[[KeylessError], None] = lambda error: None,
        token: str | None = None,
    ) -> None:
        self.token = token or secrets.token_urlsafe(TOKEN_BYTES)
        self._server = _Server((HOST, 0), _Handler)
        self._server.credentials = credentials
        self._server.on_error = on_error
        self._server.token = self.token.encode("utf-8")
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="keyless-container-endpoint", daemon=True
        )

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/credentials``, for ``AWS_CONTAINER_CREDENTIALS_FULL_URI``."""
        port = self._server.server_address[1]
        return f"http://{HOST}:{port}{PATH}"

    def __enter__(self) -> ContainerEndpoint:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving and free the port."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    credentials: Callable[[], AwsCredentials]
    on_error: Callable[[KeylessError], None]
    token: bytes


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # A client that opens a connection and sends nothing must not hold a thread forever.
    timeout = 10
    server_version = "keyless"
    sys_version = ""

    def do_GET(self) -> None:
        unverified = self.headers.get("Authorization")
        if unverified is None:
            self._answer(401, {"code": "Unauthorized", "message": "no Authorization header"})
            return
        given = unverified.encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, self.server.token):
            self._answer(403, {"code": "Forbidden", "message": "wrong authorization token"})
            return
        if self.path != PATH:
            self._answer(404, {"code": "NotFound", "message": f"credentials are at {PATH}"})
            return
        try:
            credentials = self.server.credentials()
        except KeylessError as error:
            self.server.on_error(error)
            message = f"{error.message} (fix: {error.fix})" if error.fix else error.message
            self._answer(503, {"code": "CredentialsUnavailable", "message": message})
            return
        self._answer(200, credentials_document(credentials))

    def _answer(self, status: int, document: dict[str, Any]) -> None:
        body = json.dumps(document).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # Silent: the command's own output is the person's screen.
        return
