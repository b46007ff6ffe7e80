"""The lab's AWS endpoint: moto's WSGI app behind a front that checks what AWS checks.

One HTTPS endpoint on 127.0.0.1 serves every service, as ``AWS_ENDPOINT_URL``
expects. For each request the front

- answers ``AssumeRoleWithSAML`` itself (:class:`~keyless.lab.aws.sts.StrictSts`);
- refuses moto's unauthenticated control API (``/moto-api``, reset included)
  and the ``x-moto-account-id`` header, which would let a caller pick an account;
- authenticates and authorizes everything else (:class:`~keyless.lab.aws.enforce.Gate`)
  and only then hands it to moto, holding the state lock for calls that change
  state so snapshots see a consistent picture.

This module runs moto in the current process. moto's backends are
process-global, so :class:`LabAwsServer` is meant for a process of its own
(:mod:`keyless.lab.aws.process` starts one); two in one process would share state.
"""

from __future__ import annotations

import functools
import io
import logging
import re
import ssl
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import botocore.exceptions
import botocore.session

from keyless.lab.aws.bootstrap import LabAccount, bootstrap
from keyless.lab.aws.cloudtrail import CloudTrailLog, CloudTrailRecorder, LookupEventsApp, facts_of
from keyless.lab.aws.enforce import Gate, SignedRequest, iam_resource
from keyless.lab.aws.errors import AwsError, Protocol, render_error
from keyless.lab.aws.state import SNAPSHOT_NAME, configure_moto, load_snapshot, save_snapshot
from keyless.lab.aws.sts import StrictSts

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024 * 1024
SNAPSHOT_INTERVAL = 1.0
# Calls that change nothing a snapshot keeps run outside the state lock and mark nothing
# dirty. CloudTrail lookups and the credential-report flag (issue 14) are among them:
# otherwise an audit of 100 accounts waits on a 4-second snapshot after each call.
_READ_ONLY = re.compile(r"^(Get|List|Describe|Lookup|GenerateCredentialReport$)")

StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class _Parsed:
    params: dict[str, str]
    action: str | None
    protocol: Protocol
    service_hint: str | None


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = str(environ["CONTENT_TYPE"])
    if environ.get("CONTENT_LENGTH"):
        headers["content-length"] = str(environ["CONTENT_LENGTH"])
    return headers


def _parse(environ: dict[str, Any], headers: dict[str, str], body: bytes) -> _Parsed:
    """The action and parameters, read so that no reading of them can differ from moto's.

    moto takes the action from the form body (else the query; the first of repeated
    names), then from X-Amz-Target, and IAM's and STS's parameters from the query
    before the body. A request that the front and moto could read differently, one
    action authorized and another run, is refused instead: a parameter named twice
    (in the body, the query or both), or both an Action and an X-Amz-Target.
    """
    pairs: list[tuple[str, str]] = []
    # Media types are case-insensitive, and werkzeug decodes bad UTF-8 with
    # replacement characters rather than skipping the body: so does the front.
    mimetype = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if mimetype == "application/x-www-form-urlencoded" and body:
        pairs += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    pairs += parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True)
    params: dict[str, str] = {}
    for key, value in pairs:
        if key in params:
            raise AwsError(
                "ValidationError", f"The request names the parameter {key} more than once."
            )
        params[key] = value
    target = headers.get("x-amz-target")
    if target and "Action" in params:
        raise AwsError(
            "ValidationError", "The request names an action in both Action and X-Amz-Target."
        )
    if target:
        return _Parsed(params, target.rsplit(".", 1)[-1], "json", None)
    if "Action" in params:
        return _Parsed(params, params["Action"], "query", None)
    return _Parsed(params, None, "rest-xml", None)


@functools.lru_cache(maxsize=64)
def _names_its_action(service: str) -> bool:
    """Whether ``service`` (a SigV4 signing name) takes its action from the request's
    ``Action`` parameter or ``X-Amz-Target`` header (query and JSON protocols)."""
    try:
        model = botocore.session.get_session().get_service_model(service.lower())
    except botocore.exceptions.UnknownServiceError:
        return False
    return model.protocol in ("query", "ec2", "json")


class LabAwsFront:
    """The WSGI front described in the module docstring, around moto's app."""

    def __init__(
        self,
        backend: Callable[[dict[str, Any], StartResponse], Iterable[bytes]],
        *,
        sts: StrictSts,
        gate: Gate,
        state_lock: threading.Lock,
        on_change: Callable[[], None],
    ) -> None:
        self._backend = backend
        self._sts = sts
        self._gate = gate
        self._lock = state_lock
        self._on_change = on_change

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        protocol: Protocol = "query"
        service: str | None = None
        facts = facts_of(environ)  # CloudTrail (issue 14): what the recorder logs
        try:
            path = str(environ.get("PATH_INFO", ""))
            if path.startswith("/moto-api") or path == "/favicon.ico":
                start_response("404 Not Found", [("Content-Type", "text/plain")])
                return [b"not found\n"]
            headers = _headers(environ)
            # moto lets this header pick the account; in the lab the key decides.
            environ.pop("HTTP_X_MOTO_ACCOUNT_ID", None)
            length = int(environ.get("CONTENT_LENGTH") or 0)
            if length > MAX_BODY:
                start_response("413 Request Entity Too Large", [("Content-Type", "text/plain")])
                return [b"request too large\n"]
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            parsed = _parse(environ, headers, body)
            protocol = parsed.protocol
            facts.action, facts.params = parsed.action, parsed.params  # CloudTrail (issue 14)
            if parsed.action == "AssumeRoleWithSAML":
                service = "sts"
                answer = self._sts.assume_role_with_saml(parsed.params)
                self._on_change()
                start_response("200 OK", [("Content-Type", "text/xml")])
                return [answer]
            if parsed.action == "AssumeRoleWithWebIdentity":
                service = "sts"
                raise AwsError(
                    "InvalidIdentityToken",
                    "No OpenIDConnect provider found in your account (the lab federates SAML only)",
                )
            request = SignedRequest(
                method=str(environ.get("REQUEST_METHOD", "GET")),
                path=str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or path).split("?")[
                    0
                ],
                query=str(environ.get("QUERY_STRING", "")),
                headers=headers,
                body=body,
            )
            caller = self._gate.authenticate(request)
            facts.caller = caller  # CloudTrail (issue 14)
            service = caller.service
            # REST services (S3) name their action by method and path, and moto ignores
            # an Action parameter there: such a call must be allowed the whole service.
            action_name = parsed.action if _names_its_action(caller.service) else None
            action = f"{caller.service}:{action_name or '*'}"
            if caller.service == "iam":
                resource = iam_resource(caller.account_id, action, parsed.params)
            elif action == "sts:AssumeRole":
                resource = parsed.params.get("RoleArn", "*")
            else:
                resource = "*"
            if action == "sts:AssumeRole":
                self._gate.authorize_assume_role(caller, parsed.params)
            else:
                self._gate.authorize(caller, action=action, resource=resource)
        except AwsError as error:
            facts.error = error  # CloudTrail (issue 14)
            status, response_headers, payload = render_error(
                error, protocol=protocol, service=service
            )
            start_response(f"{status} Error", response_headers)
            return [payload]
        if action_name is not None and _READ_ONLY.match(action_name):
            return self._backend(environ, start_response)
        with self._lock:
            # Materialise the body inside the lock: moto does its work while
            # the response is produced.
            chunks = list(self._backend(environ, start_response))
        self._on_change()
        return chunks


class LabAwsServer:
    """moto + the strict front, served over HTTPS on 127.0.0.1 in a thread of this process."""

    def __init__(
        self,
        *,
        accounts: Sequence[LabAccount],
        state_dir: Path,
        certfile: Path | None = None,
        keyfile: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.accounts = list(accounts)
        self.state_dir = state_dir
        self._certfile = certfile
        self._keyfile = keyfile
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._dirty = threading.Event()
        self._stopping = threading.Event()
        self._server: Any = None
        self._threads: list[threading.Thread] = []
        self.bootstrap_credentials: dict[str, str] = {}
        self.sts: StrictSts | None = None
        self.cloudtrail: CloudTrailLog | None = None
        self.url = ""

    @property
    def snapshot_path(self) -> Path:
        return self.state_dir / SNAPSHOT_NAME

    def start(self) -> None:
        """Restore or create the state, then serve; returns once the socket listens."""
        configure_moto()
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        restored = load_snapshot(self.snapshot_path) or {}
        with self._lock:
            self.bootstrap_credentials = bootstrap(self.accounts)
        self.sts = StrictSts(state_lock=self._lock)
        self.sts.sessions.update(restored.get("saml_sessions", {}))
        gate = Gate(saml_sessions=self.sts.sessions)
        # CloudTrail (issue 14): records each outcome, answers LookupEvents per account.
        self.cloudtrail = CloudTrailLog(accounts=[account.id for account in self.accounts])
        front = LabAwsFront(
            LookupEventsApp(DomainDispatcherApplication(create_backend_app), self.cloudtrail),
            sts=self.sts,
            gate=gate,
            state_lock=self._lock,
            on_change=self._dirty.set,
        )
        context: ssl.SSLContext | None = None
        if self._certfile is not None and self._keyfile is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(str(self._certfile), str(self._keyfile))

        class _QuietHandler(MotoRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:
                return None

        self._server = make_server(
            self._host,
            self._port,
            CloudTrailRecorder(front, self.cloudtrail),  # CloudTrail (issue 14)
            threaded=True,
            request_handler=_QuietHandler,
            ssl_context=context,
        )
        self._server.daemon_threads = True
        port = self._server.server_address[1]
        scheme = "https" if context else "http"
        self.url = f"{scheme}://{self._host}:{port}"
        self._save()
        serving = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},  # how long stop() waits for the loop
            name="lab-aws",
            daemon=True,
        )
        saving = threading.Thread(target=self._snapshots, name="lab-aws-snapshots", daemon=True)
        self._threads = [serving, saving]
        for thread in self._threads:
            thread.start()

    def _snapshots(self) -> None:
        while not self._stopping.is_set():
            if self._dirty.wait(timeout=SNAPSHOT_INTERVAL) and not self._stopping.is_set():
                # Gather a burst of calls (an apply) into one write.
                self._stopping.wait(SNAPSHOT_INTERVAL)
                if not self._stopping.is_set():
                    self._save()

    def _save(self) -> None:
        with self._lock:
            self._dirty.clear()
            try:
                sessions = dict(self.sts.sessions) if self.sts is not None else {}
                save_snapshot(
                    self.snapshot_path,
                    accounts=[account.id for account in self.accounts],
                    extra={"saved_at": datetime.now(UTC).isoformat(), "saml_sessions": sessions},
                )
            except OSError as exc:  # a full disk must not take the endpoint down
                log.error("cannot save the lab's AWS state to %s: %s", self.snapshot_path, exc)

    def stop(self) -> None:
        """Stop serving and write the final snapshot."""
        self._stopping.set()
        self._dirty.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._save()
