"""The lab's AWS endpoint: moto's WSGI app behind a front that checks what AWS checks.

One HTTPS endpoint on 127.0.0.1 serves every service, as ``AWS_ENDPOINT_URL``
expects. For each request the front

- reads the request once (:mod:`keyless_lab.aws.request`): service, action and
  parameters, refusing anything that could be read two ways;
- answers ``AssumeRoleWithSAML`` and, once authorized, ``AssumeRole`` itself
  (:class:`~keyless_lab.aws.sts.StrictSts`), keeping each session's session
  policies, tags and source identity;
- refuses moto's unauthenticated control API (``/moto-api``, reset included);
- authenticates and authorizes everything else (:class:`~keyless_lab.aws.enforce.Gate`)
  on that reading, and only then hands moto a request *built from it*, so moto
  cannot run another action, or act in another account, than the one
  authorized; it holds the state lock for calls that change state so snapshots
  see a consistent picture.

This module runs moto in the current process. moto's backends are
process-global, so :class:`LabAwsServer` is meant for a process of its own
(:mod:`keyless_lab.aws.process` starts one); two in one process would share state.
"""

from __future__ import annotations

import logging
import re
import ssl
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any

from keyless_lab.aws import organizations, quotas
from keyless_lab.aws.bootstrap import LabAccount, bootstrap, management_of
from keyless_lab.aws.cloudtrail import (
    ENVIRON_KEY,
    CloudTrailLog,
    CloudTrailRecorder,
    LookupEventsApp,
    facts_of,
)
from keyless_lab.aws.derive import checks_for
from keyless_lab.aws.enforce import Caller, Gate
from keyless_lab.aws.errors import AwsError, Protocol, render_error
from keyless_lab.aws.request import (
    ApiCall,
    RawRequest,
    check_endpoint,
    environ_for_moto,
    moto_authorization,
    protocol_of,
    read_call,
    served,
)
from keyless_lab.aws.state import (
    SNAPSHOT_NAME,
    check_state_dir,
    configure_moto,
    legacy_note,
    load_snapshot,
    snapshot,
    write_snapshot,
)
from keyless_lab.aws.sts import StrictSts

log = logging.getLogger(__name__)

SNAPSHOT_INTERVAL = 1.0
# Calls that change nothing a snapshot keeps run outside the state lock and mark nothing
# dirty. CloudTrail lookups and the credential-report flag (issue 14) are among them:
# otherwise an audit of 100 accounts waits on a 4-second snapshot after each call.
_READ_ONLY = re.compile(r"^(Get|List|Describe|Lookup|GenerateCredentialReport$)")

StartResponse = Callable[..., Any]


@dataclass
class _Answer:
    """One response of the front: its own (an error, AssumeRoleWithSAML) or moto's."""

    status: str  # "200 OK"
    headers: list[tuple[str, str]]
    body: list[bytes]
    call: ApiCall | None = None  # what was asked, once read
    caller: Caller | None = None  # who asked, once authenticated


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
        answer = self._answer(environ)
        # Every request ends here, answered by the front or by moto: the one place to
        # record its outcome (answer.call, answer.caller, answer.status).
        start_response(answer.status, answer.headers)
        return answer.body

    def _answer(self, environ: dict[str, Any]) -> _Answer:
        path = str(environ.get("PATH_INFO", ""))
        if path.startswith(("/moto-api", "/latest/")) or path == "/favicon.ico":
            # moto's unauthenticated control API and instance metadata: not AWS's.
            return _Answer("404 Not Found", [("Content-Type", "text/plain")], [b"not found\n"])
        protocol: Protocol = "query"
        service: str | None = None
        call: ApiCall | None = None
        caller: Caller | None = None
        facts = facts_of(environ)  # CloudTrail (issue 14): what the recorder logs
        try:
            raw = RawRequest.from_environ(environ)
            signing = raw.signing_service
            service = served(signing) if signing is not None else "sts"
            protocol = protocol_of(service)
            # Unsigned, only STS's assertion-as-credential calls are read; anything
            # else is answered as AWS answers a request without a key.
            call = _unsigned_call(raw) if signing is None else read_call(raw, service)
            facts.action, facts.params = call.action, call.params  # CloudTrail (issue 14)
            if service == "sts" and call.action == "AssumeRoleWithSAML":
                answer = self._sts.assume_role_with_saml(call.params)
                self._on_change()
                return _Answer("200 OK", [("Content-Type", "text/xml")], [answer], call)
            if service == "sts" and call.action == "AssumeRoleWithWebIdentity":
                raise AwsError(
                    "InvalidIdentityToken",
                    "No OpenIDConnect provider found in your account (the lab federates SAML only)",
                )
            caller = self._gate.authenticate(raw.signed())
            facts.caller = caller  # CloudTrail (issue 14)
            check_endpoint(raw, service=service, region=caller.region)
            # IAM's decision on exactly what moto (or the lab's STS) will run.
            self._gate.authorize(caller, checks_for(call, caller))
            if service == "sts" and call.action == "AssumeRole":
                answer = self._sts.assume_role(
                    call.params,
                    caller_arn=caller.arn,
                    caller_is_session=caller.kind == "assumed-role",
                    source_identity=caller.source_identity,
                    transitive_tags=caller.transitive_tags,
                )
                self._on_change()
                return _Answer("200 OK", [("Content-Type", "text/xml")], [answer], call, caller)
            moto_environ = environ_for_moto(
                environ,
                call,
                body=raw.body,
                authorization=moto_authorization(
                    access_key_id=caller.access_key_id,
                    date=raw.headers.get("x-amz-date", "")[:8],
                    region=caller.region,
                    service=caller.service,
                ),
            )
        except AwsError as error:
            facts.error = error  # CloudTrail (issue 14)
            status, headers, payload = render_error(error, protocol=protocol, service=service)
            return _Answer(f"{status} {_reason(status)}", headers, [payload], call, caller)
        moto_environ[ENVIRON_KEY] = facts  # CloudTrail (issue 14): LookupEvents is answered there
        return self._run(moto_environ, call, caller)

    def _run(self, environ: dict[str, Any], call: ApiCall, caller: Caller) -> _Answer:
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
            started[:] = [status, headers]

        try:
            if call.action is not None and _READ_ONLY.match(call.action):
                _check_limits(caller, call)  # Organizations and IAM quotas (issue 21)
                body = list(self._backend(environ, start_response))
            else:
                with self._lock:
                    # Checked and run under one lock: no other call slips in between.
                    _check_limits(caller, call)  # Organizations and IAM quotas (issue 21)
                    # Materialise the body inside the lock: moto does its work while
                    # the response is produced.
                    body = list(self._backend(environ, start_response))
                    if started and str(started[0]).startswith("200"):
                        _after_call(caller, call)  # issue 21
                self._on_change()
        except AwsError as error:
            facts_of(environ).error = error  # CloudTrail (issue 14)
            status, headers, payload = render_error(
                error, protocol=call.protocol, service=call.service
            )
            return _Answer(f"{status} {_reason(status)}", headers, [payload], call, caller)
        status, headers = started
        return _Answer(str(status), list(headers), body, call, caller)


def _check_limits(caller: Caller, call: ApiCall) -> None:
    """What AWS refuses beyond IAM's decision: Organizations' rules, IAM's quotas (issue 21)."""
    if call.action is None:
        return
    if call.service == "organizations":
        organizations.check_call(caller.account_id, call.action, call.document or {})
    elif call.service == "iam":
        quotas.check_call(caller.account_id, call.action, call.params)


def _after_call(caller: Caller, call: ApiCall) -> None:
    if call.service == "organizations" and call.action is not None:
        organizations.after_call(caller.account_id, call.action, call.document or {})


def _unsigned_call(raw: RawRequest) -> ApiCall:
    try:
        return read_call(raw, "sts")
    except AwsError:
        raise AwsError(
            "MissingAuthenticationToken", "Request is missing Authentication Token"
        ) from None


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


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
        self._saving = threading.Lock()
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
        check_state_dir(self.state_dir)  # issue 21: nothing read from a dir others can write
        note = legacy_note(self.state_dir)
        if note is not None:
            log.warning("%s", note)
        restored = load_snapshot(self.snapshot_path) or {}
        with self._lock:
            self.bootstrap_credentials = bootstrap(self.accounts)
        self.sts = StrictSts(state_lock=self._lock)
        self.sts.sessions.update(restored.get("saml_sessions", {}))
        # SCPs bound member accounts' principals (issue 21), never the management account's.
        gate = Gate(
            sessions=self.sts.sessions, organization_policies=organizations.organization_policies
        )
        # CloudTrail (issue 14): records each outcome, answers LookupEvents per account.
        self.cloudtrail = CloudTrailLog(
            accounts=[account.id for account in self.accounts],
            management=management_of(self.accounts).id,
            state_lock=self._lock,
        )
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
        # Serialised so an older snapshot never replaces a newer one; the state lock is
        # held only while moto's objects are read, not while the file is written.
        with self._saving:
            with self._lock:
                self._dirty.clear()
                sessions = dict(self.sts.sessions) if self.sts is not None else {}
                graph = snapshot(
                    accounts=[account.id for account in self.accounts],
                    extra={"saved_at": datetime.now(UTC).isoformat(), "saml_sessions": sessions},
                )
            try:
                write_snapshot(self.snapshot_path, graph)
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
