"""The lab IdP's HTTPS server: uvicorn in a daemon thread on 127.0.0.1.

:class:`IdpServer` puts the pieces together: the lab TLS (:mod:`keyless_lab.tls`),
the directory, the signing key (made at first start into the state dir, mode
0600, and loaded once into a :class:`SigningKey`), the audit log, and one
Starlette app serving Okta's APIs, the AWS app, the pages and the lab's AWS
sign-in page. The port is bound when the server is made (port 0 picks a free
one), so its URLs are known before it starts.
"""

from __future__ import annotations

import html
import os
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keyless.errors import LabError
from keyless.files import PRIVATE, PUBLIC, write_atomic
from keyless.spec.model import FederationSpec
from keyless_lab.idp import api, apps, grouprules, management, oauth, stepup, web
from keyless_lab.idp.api import client_of
from keyless_lab.idp.body import BadBody, BodyLimitMiddleware
from keyless_lab.idp.core import AuditLog, Idp, IdpSettings
from keyless_lab.idp.directory import Directory, okta_id
from keyless_lab.idp.html import STATIC, MalformedTarget
from keyless_lab.idp.oidc import AuthorizationServer, JwtSigner, NativeApp
from keyless_lab.idp.okta import error_response, oauth_error
from keyless_lab.saml.keys import SigningKey
from keyless_lab.signin import AwsSigninPage
from keyless_lab.tls import TlsFiles, ensure_lab_tls

SIGNING_KEY_FILE = "idp-signing-key.pem"
SIGNING_CERT_FILE = "idp-signing-cert.pem"

# Paths whose POSTs are sign-in attempts, limited with the authn API.
_AUTHN_PAGES = ("/login/login.htm", "/signin/verify")


def load_signing_key(state_dir: Path) -> SigningKey:
    """The IdP's SAML signing key: made on first start (key 0600), loaded once after."""
    key_path, cert_path = state_dir / SIGNING_KEY_FILE, state_dir / SIGNING_CERT_FILE
    if key_path.exists() and cert_path.exists():
        return SigningKey.from_pem(key_path.read_bytes(), cert_path.read_bytes())
    key = SigningKey.generate("keyless lab IdP")
    write_atomic(key_path, key.key_pem(), mode=PRIVATE, make_parents=True)
    write_atomic(cert_path, key.cert_pem(), mode=PUBLIC, make_parents=True)
    return key


class RateLimitMiddleware:
    """Okta's rate limits: per bucket and client, ``429 E0000047`` past the limit, and the
    ``X-Rate-Limit-Limit/Remaining/Reset`` headers on every limited endpoint's answer."""

    def __init__(self, app: ASGIApp, idp: Idp) -> None:
        self.app = app
        self.idp = idp

    def _bucket(self, scope: Scope) -> tuple[str, int] | None:
        path: str = scope["path"]
        settings = self.idp.settings
        if path.startswith("/api/v1/authn") or (scope["method"] == "POST" and path in _AUTHN_PAGES):
            return "authn", settings.rate_limit_authn
        if path == "/oauth2/v1/token":
            return "token", settings.rate_limit_token
        if path.startswith("/api/"):
            return "api", settings.rate_limit_other
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        bucket = self._bucket(scope) if scope["type"] == "http" else None
        if bucket is None:
            await self.app(scope, receive, send)
            return
        name, limit = bucket
        client = scope.get("client") or ("unknown", 0)
        allowed, headers = self.idp.rate_limiter.hit(name, str(client[0]), limit)
        if not allowed:
            self.idp.audit.write("rate_limited", ip=str(client[0]), bucket=name, path=scope["path"])
            response = error_response("E0000047", headers=headers)
            await response(scope, receive, send)
            return
        raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *raw]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _not_found(request: Request, exc: Exception) -> Response:
    return error_response("E0000007", detail=f"Resource not found: {request.url.path}")


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    return error_response("E0000022")


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        return await _not_found(request, exc)
    if status == 405:
        return await _method_not_allowed(request, exc)
    return error_response("E0000001" if status < 500 else "E0000003", detail=str(exc))


async def _malformed_target(request: Request, exc: Exception) -> Response:
    # Okta validates its redirect parameters (redirectUrl, fromURI) and answers a malformed
    # one with its API validation error, E0000001 (400), naming the parameter; never a 500.
    cause = str(exc) if isinstance(exc, MalformedTarget) else "invalid redirect target"
    return error_response("E0000001", detail=cause, causes=[cause])


def _bad_body_handler(idp: Idp) -> Callable[[Request, Exception], Awaitable[Response]]:
    """Okta's answer to a body it cannot read: E0000003 on the API, a plain page elsewhere."""

    async def bad_body(request: Request, exc: Exception) -> Response:
        reason = exc.reason if isinstance(exc, BadBody) else "unreadable body"
        idp.audit.write("bad_request", ip=client_of(request), path=request.url.path, reason=reason)
        if request.url.path.startswith("/api/"):
            return error_response("E0000003", causes=[reason])
        if request.url.path.startswith("/oauth2/"):
            # The authorization server answers in OAuth's shape (RFC 6749 §5.2).
            return oauth_error("invalid_request", f"The request is malformed: {reason}.")
        page = (
            "<!doctype html><title>Bad request</title>"
            f"<h1>The request body was not well-formed.</h1><p>{html.escape(reason)}</p>"
        )
        return HTMLResponse(page, status_code=400)

    return bad_body


def build_app(idp: Idp, signin: AwsSigninPage) -> ASGIApp:
    """The Starlette app: Okta's APIs, the AWS app, the pages, the lab AWS sign-in page."""
    bad_body = _bad_body_handler(idp)
    app = Starlette(
        routes=[
            *api.ROUTES,
            *apps.ROUTES,
            *grouprules.ROUTES,  # before management's /api/v1/groups/{group_id}
            *management.ROUTES,
            *stepup.ROUTES,
            *oauth.ROUTES,
            *web.ROUTES,
            *signin.routes(),
            Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
        ],
        exception_handlers={
            404: _not_found,
            405: _method_not_allowed,
            HTTPException: _http_error,
            BadBody: bad_body,
            MalformedTarget: _malformed_target,
        },
    )
    app.state.idp = idp
    return BodyLimitMiddleware(RateLimitMiddleware(app, idp), bad_body)


class IdpServer:
    """The lab IdP on ``https://127.0.0.1:<port>``: an Okta org with one AWS app."""

    def __init__(
        self,
        *,
        spec: FederationSpec,
        state_dir: Path,
        aws_endpoint_url: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        settings: IdpSettings | None = None,
        okta_app_configured: bool = True,
    ) -> None:
        self.spec = spec
        self.state_dir = state_dir
        state_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(state_dir, 0o700)
        self.tls: TlsFiles = ensure_lab_tls(state_dir)
        self.directory = Directory(state_dir / "idp.sqlite")
        self.key = load_signing_key(state_dir)
        self.audit_log = state_dir / "audit.jsonl"
        self.sms_log = state_dir / "sms.log"
        self.app_id = self.directory.meta_setdefault("app_id", okta_id("0oa"))
        self.entity_id = "http://www.okta.com/" + self.directory.meta_setdefault(
            "app_key", okta_id("exk")
        )

        # IPPROTO_TCP given explicitly: asyncio sets TCP_NODELAY on accepted sockets only
        # when the listening socket says TCP, and without it every small answer waits
        # ~40 ms for the client's delayed ACK (Nagle).
        self._socket = socket.socket(
            socket.AF_INET6 if ":" in host else socket.AF_INET,
            socket.SOCK_STREAM,
            socket.IPPROTO_TCP,
        )
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((host, port))
        except OSError as exc:
            self._socket.close()
            raise LabError(
                f"the lab IdP cannot listen on {host}:{port}: {exc.strerror}",
                fix="pick another port, or stop what uses this one",
            ) from exc
        self.port: int = self._socket.getsockname()[1]
        shown_host = f"[{host}]" if ":" in host else host
        # On 443 the URL has no port, as a real org's: a client that derives a cookie
        # domain from the URL (gimme-aws-creds' DT) then names the host as Okta's does.
        self.url = f"https://{shown_host}" + ("" if self.port == 443 else f":{self.port}")
        self.app_url = f"{self.url}/home/amazon_aws/{self.app_id}/272"
        self.sso_url = f"{self.url}/app/amazon_aws/{self.app_id}/sso/saml"
        self.metadata_url = f"{self.sso_url}/metadata"

        self._audit = AuditLog(self.audit_log)
        self.idp = Idp(
            spec=spec,
            directory=self.directory,
            key=self.key,
            audit=self._audit,
            base_url=self.url,
            app_id=self.app_id,
            entity_id=self.entity_id,
            settings=settings or IdpSettings(),
            sms_log=self.sms_log,
        )
        # The org authorization server and its native OIDC app for CLIs, which a
        # configured AWS app names as its Allowed Web SSO Client (Okta: AWS app > Sign
        # On > "Allowed Web SSO Client", settings.app.webSSOAllowedClient).
        self.oidc_client_id = self.directory.meta_setdefault("oidc_client_id", okta_id("0oa"))
        self.idp.oauth = AuthorizationServer(
            signer=JwtSigner.load_or_create(state_dir),
            native_app=NativeApp(
                client_id=self.oidc_client_id,
                name="keyless CLI",
                grant_types=self.idp.settings.native_app_grant_types,
            ),
            clock=self.idp.clock,
        )
        if okta_app_configured:
            # An org whose AWS app is set up as keyless would (see seed_configured_app).
            management.seed_configured_app(self.idp, web_sso_client=self.oidc_client_id)
        aws_ca = str(self.tls.ca_cert) if aws_endpoint_url else None
        self.signin = AwsSigninPage(spec=spec, aws_endpoint_url=aws_endpoint_url, ca_bundle=aws_ca)
        self.app = build_app(self.idp, self.signin)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def metadata_xml(self) -> bytes:
        """The AWS app's SAML metadata (entity id, signing certificate, SSO URLs)."""
        return apps.metadata_xml(self.idp)

    def set_aws_endpoint(self, aws_endpoint_url: str, ca_bundle: str | None = None) -> None:
        """Point the lab AWS sign-in page at the lab STS (when it starts after the IdP)."""
        self.signin.aws_endpoint_url = aws_endpoint_url
        self.signin.ca_bundle = ca_bundle or str(self.tls.ca_cert)

    def start(self, timeout: float = 15.0) -> None:
        """Serve in a daemon thread; return once the server accepts connections."""
        if self._thread is not None:
            return
        config = uvicorn.Config(
            self.app,
            ssl_certfile=str(self.tls.server_cert),
            ssl_keyfile=str(self.tls.server_key),
            log_level="warning",
            access_log=False,
            lifespan="off",
            # uvicorn trusts X-Forwarded-For from 127.0.0.1 by default, and every client
            # of this loopback server is 127.0.0.1: any caller could pick its address,
            # escaping the rate limits and forging the audit log's "ip".
            proxy_headers=False,
            timeout_keep_alive=30,
            backlog=512,
        )
        self._server = uvicorn.Server(config)
        self._socket.listen(512)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"keyless-lab-idp-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise LabError(
                    f"the lab IdP did not start on {self.url}",
                    fix="run with --verbose for the cause; check the state dir is writable",
                )
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop serving and release the port, the directory and the audit log."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._thread = None
        self._server = None
        self._socket.close()
        self._audit.close()
        self.directory.close()

    def __enter__(self) -> IdpServer:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
