"""The composition root: the one module that builds what keyless talks to the world through.

Services take their I/O as arguments; this module chooses the real ones, from
either of the two places keyless learns where the world is:

- a **profile** (``keyless configure``, ``~/.aws/config``) and the spec: real AWS
  through the standard credential chain, the Okta org the spec names, the IdP
  metadata the spec points at;
- a **connection file** (:class:`keyless.adapters.connection_file.Connection`,
  the lab's ``lab.json`` or any environment that writes one): one AWS endpoint
  and its bootstrap key, the org URL, app, CA bundle and admin token.

What it builds: the AWS connector of the management account
(:meth:`Composition.aws_connector`), the IdP's metadata
(:meth:`Composition.idp_metadata`), Okta management clients
(:meth:`Composition.okta_side`, :meth:`Composition.okta_admin`), and, for the
login side, Okta and STS clients for a profile (:func:`okta_http`,
:func:`sts_clients`); the secret store (:func:`secret_store`), the clock
(:data:`clock`) and every HTTP client (:func:`keyless.adapters.http.make_client`).

Nothing here decides anything about a federation, prints, or knows the lab.
Heavy modules (boto3 through :mod:`keyless.adapters.aws`) are imported only by
the method that needs them, so the sign-in path stays free of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from keyless.adapters.http import DEFAULT_TIMEOUT, httpx, make_client
from keyless.core.credentials import Clock, utcnow

if TYPE_CHECKING:
    from keyless.adapters.aws import AwsConnector
    from keyless.adapters.connection_file import Connection
    from keyless.adapters.okta_admin import OktaAdminClient
    from keyless.adapters.sts import StsClients
    from keyless.core.ports import SecretStore
    from keyless.services.login.profiles import Settings
    from keyless.services.okta.side import KnownOrg, OktaSide, OktaTarget
    from keyless.spec.model import FederationSpec

DEFAULT_REGION = "us-east-1"

clock: Clock = utcnow
"""The wall clock every service is handed unless a test hands another."""


def secret_store() -> SecretStore:
    """The OS keyring when usable, else 0600 files (:mod:`keyless.adapters.secrets`)."""
    from keyless.adapters.secrets import open_secret_store

    return open_secret_store()


def http_client(*, ca_bundle: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> httpx.Client:
    """An HTTP client with keyless's one set of rules (:mod:`keyless.adapters.http`)."""
    return make_client(ca_bundle=ca_bundle, timeout=timeout)


# -- the login side: from a profile's settings ----------------------------------------------


def okta_http(settings: Settings, *, timeout: float = DEFAULT_TIMEOUT) -> httpx.Client:
    """The HTTP client for the profile's Okta org (its CA bundle, when it names one)."""
    from keyless.adapters.okta import make_http_client

    return make_http_client(ca_bundle=settings.ca_bundle, timeout=timeout)


def sts_clients(settings: Settings) -> StsClients:
    """Unsigned STS clients for the profile (its CA bundle for a configured endpoint only)."""
    from keyless.adapters.sts import StsClients

    return StsClients(settings.ca_bundle, unreachable_fix=settings.unreachable_fix)


# -- plan, apply, audit, offboard: from a profile or a connection file -----------------------


@dataclass(frozen=True)
class Composition:
    """Where AWS and the Okta org are for ``plan``/``apply``/``audit``/``offboard``.

    ``connection`` set: everything comes from the connection file. Otherwise
    ``profile`` (or the standard AWS chain) and the spec say.
    """

    profile: str | None = None
    connection: Connection | None = None
    region: str = DEFAULT_REGION

    @classmethod
    def from_options(
        cls, *, profile: str | None = None, connection_dir: Path | None = None
    ) -> Composition:
        """The connection file in ``connection_dir`` when given, else ``profile``.

        The CLI has rejected both at once (``--profile`` with ``--lab``) before any work.
        """
        if connection_dir is None:
            return cls(profile=profile)
        from keyless.adapters.connection_file import load_connection

        return cls(connection=load_connection(connection_dir))

    @property
    def ca_bundle(self) -> str | None:
        """The CA bundle the connection file names (None: the default trust)."""
        return (self.connection.ca_bundle or None) if self.connection is not None else None

    def aws_connector(self) -> AwsConnector:
        """The management account's connector: the connection file's endpoint and key,
        or the profile (the standard AWS chain without one)."""
        from keyless.services.provision.accounts import connect

        info = self.connection
        if info is None:
            return connect(profile=self.profile, region=self.region)
        return connect(
            endpoint_url=info.aws_endpoint_url,
            ca_bundle=self.ca_bundle,
            access_key_id=info.access_key_id,
            secret_access_key=info.secret_access_key,
            region=self.region,
        )

    def idp_metadata(
        self,
        spec: FederationSpec,
        *,
        spec_dir: Path | None = None,
        http: httpx.Client | None = None,
    ) -> bytes:
        """The IdP's SAML metadata: served at the connection file's URL, or as the spec says."""
        from keyless.services.provision.accounts import load_metadata

        info = self.connection
        if info is None:
            return load_metadata(spec, spec_dir=spec_dir, http=http)
        return load_metadata(spec, url=info.metadata_url, ca_bundle=self.ca_bundle, http=http)

    def known_org(self) -> KnownOrg | None:
        """The Okta org, app and admin token the connection file names (None without one)."""
        if self.connection is None:
            return None
        from keyless.services.okta.side import KnownOrg

        info = self.connection
        return KnownOrg(
            org_url=info.idp_url,
            app_id=info.app_id,
            ca_bundle=self.ca_bundle,
            api_token=info.okta_api_token or None,
            oidc_client_id=info.oidc_client_id,
        )

    def okta_org(self, spec: FederationSpec) -> OktaTarget:
        """The spec's Okta org and credentials, whether or not keyless manages its app
        (``offboard`` and ``audit``); the token from the environment or the keyring."""
        from keyless.services.okta.side import okta_org

        return okta_org(spec, known=self.known_org(), keyring_get=_keyring_get)

    def okta_admin(self, target: OktaTarget) -> OktaAdminClient:
        """A management client for ``target`` over a client from the HTTP factory."""
        from keyless.services.okta.side import connect_okta

        return connect_okta(target)

    def okta_side(self, spec: FederationSpec) -> OktaSide | None:
        """The spec's Okta side for ``plan``/``apply``; None when the spec leaves Okta alone."""
        from keyless.services.okta.side import OktaSide, okta_target

        target = okta_target(spec, known=self.known_org(), keyring_get=_keyring_get)
        if target is None:
            return None
        return OktaSide(spec, target, self.okta_admin(target))


def _keyring_get(key: str) -> str | None:
    # Opened only when the environment names no token: a keyring backend can be slow.
    return secret_store().get(key)
