"""The one place that builds the login side's ports and providers, and writes the cache.

Services take their I/O as arguments (:mod:`keyless.core.ports`); the real
ones — the Okta client over httpx, unsigned STS over httpx, the keyring or
0600 files — come from :mod:`keyless.services.compose`, and this module puts
them together for the login side. It prints nothing (the CLI and
:mod:`keyless.credential_process` render what it returns) and is the only code
that stores into the credential_process cache:

- :func:`login_and_cache`: ``keyless login`` (sign in, write files, cache);
- :class:`CachedProvider` around :class:`LoginProvider`: ``credential-process``,
  ``exec``, ``env``, ``console`` (cache while fresh, else a login under the
  profile's lock);
- :func:`fetch_assertion_with_kept_session`: a fresh assertion, asking nothing.

Which :class:`~keyless.services.login.okta_session.SamlPageSource` a profile uses is
decided in :func:`saml_pages`: Okta Classic with a kept session, or Identity
Engine's device flow (:mod:`keyless.services.login.okta_device`). The Okta client's
cookie jar is restored and kept around it in :func:`okta_api`.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal

from keyless.adapters.cache_file import MIN_REMAINING_SECONDS, role_key
from keyless.adapters.credential_cache import CredentialCache
from keyless.adapters.locks import FileLock
from keyless.adapters.okta import OktaClient
from keyless.adapters.sts import StsClients
from keyless.core.credentials import AwsCredentials, Clock, utcnow
from keyless.core.ports import (
    CredentialProvider,
    CredentialStore,
    OktaApi,
    Prompter,
    SecretStore,
    StsFactory,
)
from keyless.services import compose
from keyless.services.login.access import role_cache_key
from keyless.services.login.assertion import UnverifiedAssertion, read_unverified_assertion
from keyless.services.login.okta_flows import choose_flow
from keyless.services.login.okta_session import ClassicSessionPages, SamlPageSource, jar_key
from keyless.services.login.okta_signin import LoginInputs
from keyless.services.login.profiles import Settings, resolve_settings
from keyless.services.login.service import LoginResult, login


@contextmanager
def okta_api(
    settings: Settings, okta_client: OktaApi | None = None, *, secrets: SecretStore | None = None
) -> Iterator[OktaApi]:
    """``okta_client`` as given, or an Okta client for the profile's org, closed afterwards.

    With ``secrets``, the client's cookie jar (``sid``, ``DT`` and whatever Okta
    sets) is restored from the secret store first and kept there afterwards, and
    ``rememberDevice`` is sent when the profile asks for it: Okta recognises the
    device next time, as it recognises a browser.
    """
    if okta_client is not None:
        with _cookie_jar(settings, okta_client, secrets):
            yield okta_client
        return
    org_url, _ = settings.require_org()
    settings.check_reachable()
    with compose.okta_http(settings) as http:
        okta = OktaClient(org_url, http=http, unreachable_fix=settings.unreachable_fix)
        with _cookie_jar(settings, okta, secrets):
            yield okta


@contextmanager
def _cookie_jar(settings: Settings, okta: OktaApi, secrets: SecretStore | None) -> Iterator[None]:
    if secrets is None or not isinstance(okta, OktaClient):
        yield
        return
    from keyless.adapters import okta_cookies

    org_url, _ = settings.require_org()
    key = jar_key(settings)
    okta_cookies.restore(secrets, key, okta.cookies, org_url)
    okta.remember_device = bool(settings.remember_device)
    try:
        yield
    finally:
        okta_cookies.keep(secrets, key, okta.cookies, org_url)


def saml_pages(
    settings: Settings,
    okta: OktaApi,
    secrets: SecretStore,
    *,
    person_reads_output: bool = True,
    clock: Clock = utcnow,
    poll_interval: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> SamlPageSource:
    """How ``settings`` gets to the AWS app's SAML page: the profile's ``auth_flow``
    (``auto``: the device flow on an Identity Engine org when the profile names an
    OIDC client id, Classic otherwise; :func:`keyless.services.login.okta_flows.choose_flow`).

    ``person_reads_output``: whoever runs this reads what it prints even without
    a terminal (``keyless login``), so the device flow may show its URL.
    """
    oauth = None
    if isinstance(okta, OktaClient):
        from keyless.adapters.okta_oauth import OktaOAuthClient

        oauth = OktaOAuthClient(okta)
    engine: list[str | None] = []

    def pipeline() -> str | None:
        # /.well-known/okta-organization, asked at most once per run.
        if not engine:
            engine.append(oauth.pipeline() if oauth is not None else None)
        return engine[0]

    if oauth is not None and choose_flow(settings, pipeline) == "device":
        from keyless.services.login.okta_device import DeviceFlowPages

        return DeviceFlowPages(
            oauth,
            secrets,
            person_reads_output=person_reads_output,
            clock=clock,
            sleep=sleep,
            monotonic=monotonic,
        )
    return ClassicSessionPages(
        okta,
        secrets,
        clock=clock,
        poll_interval=poll_interval,
        sleep=sleep,
        monotonic=monotonic,
        identity_engine=lambda: pipeline() == "idx",
    )


def login_and_cache(
    settings: Settings,
    *,
    prompter: Prompter,
    secrets: SecretStore | None = None,
    inputs: LoginInputs | None = None,
    all_roles: bool = False,
    write_files: bool = True,
    record_role: bool = False,
    cache: CredentialStore | None = None,
    okta_client: OktaApi | None = None,
    sts_factory: StsFactory | None = None,
    clock: Clock = utcnow,
    poll_interval: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> LoginResult:
    """``keyless login``: sign in (or reuse the Okta session), take the role(s), store them.

    The credential_process cache of ``settings.profile`` gets the role the
    profile prefers (:attr:`LoginResult.cached`); with ``all_roles``, each role
    profile written gets its role's credentials.
    """
    settings.require_org()
    secrets = secrets if secrets is not None else compose.secret_store()
    own_sts = None
    if sts_factory is None:
        own_sts = sts_factory = compose.sts_clients(settings)
    try:
        with okta_api(settings, okta_client, secrets=secrets) as okta:
            pages = saml_pages(
                settings,
                okta,
                secrets,
                clock=clock,
                poll_interval=poll_interval,
                sleep=sleep,
                monotonic=monotonic,
            )
            result = login(
                settings,
                pages=pages,
                sts=sts_factory,
                prompter=prompter,
                inputs=inputs,
                all_roles=all_roles,
                write_files=write_files,
                record_role=record_role,
                clock=clock,
            )
    finally:
        if own_sts is not None:
            own_sts.close()
    store = cache if cache is not None else CredentialCache()
    if result.cached is not None:
        store.store(settings.profile, result.cached.credentials)
    if all_roles:
        for item in result.logins:
            if item.written_profile is not None:
                store.store(role_cache_key(settings.profile, item.role), item.credentials)
    if write_files and settings.lab_dir:
        from keyless.services.login.access import follow_lab_endpoints

        follow_lab_endpoints(settings)
    return result


class LoginProvider:
    """A :class:`~keyless.core.ports.CredentialProvider` that logs in for a profile.

    Writes no files and no cache: :class:`CachedProvider` around it caches.
    """

    def __init__(self, settings: Settings, *, prompter: Prompter) -> None:
        self.settings = settings
        self.prompter = prompter

    def retrieve(self) -> AwsCredentials:
        """Log in (normally through the kept Okta session) and return the role's credentials."""
        secrets = compose.secret_store()
        with (
            okta_api(self.settings, secrets=secrets) as okta,
            _sts_clients(self.settings) as sts,
        ):
            # Behind the AWS CLI nobody reads stderr unless a terminal is there.
            pages = saml_pages(self.settings, okta, secrets, person_reads_output=False)
            result = login(
                self.settings, pages=pages, sts=sts, prompter=self.prompter, write_files=False
            )
        return result.credentials


@contextmanager
def _sts_clients(settings: Settings) -> Iterator[StsClients]:
    clients = compose.sts_clients(settings)
    try:
        yield clients
    finally:
        clients.close()


class CachedProvider:
    """Serve ``provider``'s credentials from the cache while more than five minutes remain.

    A refresh happens under the profile's cross-process lock, and the cache is
    read again once the lock is held: of twenty processes that find the cache
    stale at once, the first signs in and the other nineteen read its result.
    """

    def __init__(
        self,
        provider: CredentialProvider,
        *,
        profile: str,
        cache: CredentialCache | None = None,
        clock: Clock = utcnow,
        min_remaining: float = MIN_REMAINING_SECONDS,
        lock_timeout: float = 600.0,
    ) -> None:
        self.provider = provider
        self.profile = profile
        self.cache = cache or CredentialCache()
        self.clock = clock
        self.min_remaining = min_remaining
        self.lock_timeout = lock_timeout

    def _fresh(self) -> AwsCredentials | None:
        cached = self.cache.load(self.profile)
        if cached is not None and cached.seconds_left(self.clock()) > self.min_remaining:
            return cached
        return None

    def retrieve(self) -> AwsCredentials:
        """Cached credentials if fresh, else new ones from the provider (cached)."""
        cached = self._fresh()
        if cached is not None:
            return cached
        # A sign-in with push MFA can take minutes: wait long for the lock.
        with FileLock(self.cache.lock_path(self.profile), timeout=self.lock_timeout):
            cached = self._fresh()
            if cached is not None:
                return cached
            credentials = self.provider.retrieve()
            self.cache.store(self.profile, credentials)
            return credentials


def credentials_for(settings: Settings, *, prompter: Prompter) -> AwsCredentials:
    """The profile's credentials: from the cache while fresh, else through a login."""
    return CachedProvider(
        LoginProvider(settings, prompter=prompter), profile=settings.profile
    ).retrieve()


def fetch_assertion_with_kept_session(
    settings: Settings,
    *,
    secrets: SecretStore | None = None,
    okta_client: OktaApi | None = None,
    clock: Clock = utcnow,
) -> tuple[str, UnverifiedAssertion]:
    """A fresh SAML response for the profile's user from the kept Okta session, asking nothing.

    Returns the base64 ``SAMLResponse`` and what it says (unverified). Raises
    :class:`~keyless.errors.LoginRequiredError` when no live session is kept,
    so callers that must not prompt (the demo, scripts) fail with the login
    command to run.
    """
    secrets = secrets if secrets is not None else compose.secret_store()
    with okta_api(settings, okta_client, secrets=secrets) as okta:
        page = ClassicSessionPages(okta, secrets, clock=clock).kept_page(settings)
    return read_unverified_assertion(page)


def open_prompter(*, mode: Literal["login", "credential-process"], profile: str) -> Prompter:
    """A terminal prompter when there is a terminal, else one that fails naming what is missing."""
    from keyless.adapters.terminal import NonInteractivePrompter, TerminalPrompter, open_tty

    if os.environ.get("KEYLESS_NO_PROMPT") not in (None, "", "0"):
        return NonInteractivePrompter(mode=mode, profile=profile)
    if mode == "login" and not (sys.stdin.isatty() or sys.stderr.isatty()):
        return NonInteractivePrompter(mode=mode, profile=profile)
    tty = open_tty()
    if tty is None:
        return NonInteractivePrompter(mode=mode, profile=profile)
    return TerminalPrompter(tty)


def refresh_for_process(
    profile: str, *, role: str | None = None, account: str | None = None
) -> AwsCredentials:
    """The slow path of ``keyless credential-process``: the profile's credentials, from
    the cache while fresh, else through a login that asks only when a terminal is there.

    ``role``/``account`` fix the role over the profile's (the role profiles
    ``login --all-roles`` writes), with a cache entry of their own.
    Raises :class:`~keyless.errors.KeylessError`; the caller prints and exits.
    """
    fixed = {"role": role, "account": account}
    settings = resolve_settings(profile, {k: v for k, v in fixed.items() if v is not None})
    prompter = open_prompter(mode="credential-process", profile=profile)
    return CachedProvider(
        LoginProvider(settings, prompter=prompter), profile=role_key(profile, role, account)
    ).retrieve()
