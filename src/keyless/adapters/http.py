"""Every HTTP client keyless uses, from one factory; and httpx without its command line.

:func:`make_client` is the only place an ``httpx.Client`` is built in keyless
(``tests/test_http_clients.py`` checks): Okta's authentication and management
APIs, unsigned STS, the IdP metadata download and the console federation
endpoint all get the same rules.

- **Trust**: only the configured CA bundle when one is given (a private CA, the
  lab's), else the CA set httpx ships (certifi). ``verify`` is always an
  explicit :class:`ssl.SSLContext`, so ``SSL_CERT_FILE``/``SSL_CERT_DIR`` never
  change what is trusted. Contexts are cached per CA file (see :func:`tls_context`).
- **Proxies**: none from the environment (``trust_env=False``): ``HTTPS_PROXY``,
  ``ALL_PROXY`` and the rest are ignored, unlike curl and the AWS CLI. These
  clients carry passwords, MFA codes, session cookies, SAML assertions and
  temporary keys (the console federation call has the secret key in its query
  string); where they go must be what the profile or the connection file names,
  not whatever a shell, a CI job or a tool's dotfile exported. A proxy would also
  see in clear every request to a plain-``http`` endpoint (a local emulator).
  ``tests/login/test_login_security.py`` pins this. (boto3's management calls
  still follow botocore's own proxy settings; a deliberate proxy for keyless
  would be an explicit setting, not an ambient variable.)
- **Timeouts**: :data:`DEFAULT_TIMEOUT` seconds unless the caller says otherwise.
- **Redirects** are not followed: every caller decides what a redirect means.
- **Errors**: a request that never got an answer (refused, DNS, TLS, timeout,
  proxy) becomes :class:`keyless.errors.UnreachableError` (exit
  :data:`keyless.errors.EXIT_REMOTE`) through :func:`unreachable`, the one mapping.

httpx, imported without its command-line client:

httpx 0.28 imports ``httpx._main`` (its ``httpx`` command, built on click,
rich and pygments) on every ``import httpx`` when those packages are
installed — they are, beside typer — which costs about 0.15 s, half of
httpx's import and a tenth of a sign-in. keyless never runs that command.
While httpx is first imported here, ``httpx._main`` is a stand-in whose
``main`` loads the real module only if it is ever called; afterwards the
stand-in is dropped from ``sys.modules`` so an explicit ``import httpx._main``
still gets the real one. (The httpx2 fork made the same import lazy
upstream: "Importing the CLI code doubles the import time for httpx".)

Modules that use httpx import it from here: ``from keyless.adapters.http import httpx``.
"""

from __future__ import annotations

import functools
import importlib
import os
import ssl
import sys
import types
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from keyless.errors import UnreachableError


def _stand_in() -> types.ModuleType:
    stand_in = types.ModuleType("httpx._main")

    def main(*args: Any, **kwargs: Any) -> Any:
        sys.modules.pop("httpx._main", None)
        return importlib.import_module("httpx._main").main(*args, **kwargs)

    stand_in.main = main  # type: ignore[attr-defined]
    return stand_in


if "httpx" not in sys.modules and "httpx._main" not in sys.modules:
    _STAND_IN = _stand_in()
    sys.modules["httpx._main"] = _STAND_IN
    try:
        import httpx
    finally:
        if sys.modules.get("httpx._main") is _STAND_IN:
            del sys.modules["httpx._main"]
else:
    import httpx

__all__ = [
    "DEFAULT_TIMEOUT",
    "USER_AGENT",
    "httpx",
    "make_client",
    "tls_context",
    "unreachable",
    "unreachable_errors",
]

DEFAULT_TIMEOUT = 30.0
USER_AGENT = "keyless"
_TLS_FIX = "pass --ca-bundle (or set it with `keyless configure`) when the server uses a private CA"


def tls_context(ca_bundle: str | None = None) -> ssl.SSLContext:
    """The SSL context trusting ``ca_bundle`` only, or httpx's CA set (certifi) without one.

    One context per CA file per process: building one costs tens of
    milliseconds, and a sign-in opens an Okta client and an STS client.
    Contexts are safe to share between clients and threads. The file's
    identity is part of the key, so a CA file rewritten in place (a lab
    started again) is read again.
    """
    if not ca_bundle:
        return _default_context()
    try:
        info = os.stat(ca_bundle)
    except OSError:
        return ssl.create_default_context(cafile=ca_bundle)  # raises the usual error
    return _context_for(ca_bundle, info.st_ino, info.st_mtime_ns, info.st_size)


@functools.lru_cache(maxsize=8)
def _context_for(ca_bundle: str, inode: int, mtime_ns: int, size: int) -> ssl.SSLContext:
    del inode, mtime_ns, size  # the cache key only
    return ssl.create_default_context(cafile=ca_bundle)


@functools.lru_cache(maxsize=1)
def _default_context() -> ssl.SSLContext:
    import certifi  # httpx's own dependency, and what httpx trusts by default

    return ssl.create_default_context(cafile=certifi.where())


def make_client(
    *,
    ca_bundle: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    user_agent: str = USER_AGENT,
    headers: Mapping[str, str] | None = None,
) -> httpx.Client:
    """An httpx client with keyless's trust, proxy, timeout and redirect rules (module doc).

    The caller owns it (``with make_client(...) as http:``, or ``close()``).
    """
    return httpx.Client(
        verify=tls_context(ca_bundle),
        timeout=timeout,
        headers={"User-Agent": user_agent, **(headers or {})},
        follow_redirects=False,
        trust_env=False,  # no proxy (nor CA) from the environment: see the module doc
    )


def unreachable(
    service: str, exc: httpx.TransportError, *, fix: str | None = None, detail: bool = True
) -> UnreachableError:
    """The one mapping of a transport failure (no answer at all) to keyless's error.

    ``service`` names what was called ("the Okta org at https://acme.okta.com");
    ``detail=False`` leaves httpx's text out, for requests whose URL holds a secret.
    """
    why = f": {exc}" if detail else f" ({type(exc).__name__})"
    if isinstance(exc, httpx.TimeoutException):
        return UnreachableError(
            f"cannot reach {service}: no answer in time{why}",
            fix="retry; check your network and VPN",
        )
    if isinstance(exc, httpx.ConnectError) and (
        isinstance(exc.__context__, ssl.SSLError) or "CERTIFICATE" in str(exc).upper()
    ):
        return UnreachableError(
            f"cannot reach {service}: its TLS certificate is not trusted{why}", fix=_TLS_FIX
        )
    return UnreachableError(
        f"cannot reach {service}{why}", fix=fix or "check the URL, your network and VPN"
    )


@contextmanager
def unreachable_errors(
    service: str, *, fix: str | None = None, detail: bool = True
) -> Iterator[None]:
    """Raise :func:`unreachable`'s error for any transport failure inside the block
    (chained to httpx's, unless ``detail=False``: then nothing of it is kept)."""
    try:
        yield
    except httpx.TransportError as exc:
        error = unreachable(service, exc, fix=fix, detail=detail)
        if detail:
            raise error from exc
        raise error from None
