"""What ``keyless doctor`` asks the world: one HTTPS request's clock and TLS, a role's limit.

- :func:`probe_url`: one ``GET`` with a given CA bundle through keyless's only HTTP
  client factory (:func:`keyless.adapters.http.make_client`): whether TLS verified,
  the server's ``Date`` header against this computer's clock, and the JSON body
  (``/.well-known/okta-organization`` answers which engine an Okta org runs);
- :func:`role_max_session_duration`: IAM ``GetRole`` with a session's own
  credentials, for the role's ``MaxSessionDuration``.

Nothing here decides whether an answer is good: :mod:`keyless.services.doctor` does.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from keyless.adapters.http import httpx, make_client, unreachable
from keyless.core.aws import DEFAULT_SESSION_SECONDS, ca_bundle_for
from keyless.core.credentials import AwsCredentials, Clock, utcnow
from keyless.errors import DeniedError, RemoteError, UnreachableError

PROBE_TIMEOUT = 10.0


@dataclass(frozen=True)
class ProbeAnswer:
    """What one ``GET`` learned; ``error`` set when no answer came (TLS, refused, DNS...)."""

    url: str
    ca_bundle: str | None
    status_code: int | None = None
    server_date: datetime | None = None
    local_date: datetime | None = None
    body: Any = None
    error: UnreachableError | None = None
    tls_error: bool = False


def probe_url(url: str, ca_bundle: str | None, *, clock: Clock = utcnow) -> ProbeAnswer:
    """``GET url`` trusting ``ca_bundle`` only (None: the CA set keyless ships)."""
    try:
        with make_client(ca_bundle=ca_bundle, timeout=PROBE_TIMEOUT) as http:
            before = clock()
            response = http.get(url, headers={"Accept": "application/json"})
            after = clock()
    except httpx.TransportError as exc:
        error = unreachable(url, exc)
        return ProbeAnswer(
            url, ca_bundle, error=error, tls_error="TLS certificate" in error.message
        )
    except OSError as exc:  # an unreadable CA bundle file
        return ProbeAnswer(
            url,
            ca_bundle,
            error=UnreachableError(f"cannot read the CA bundle {ca_bundle}: {exc}"),
            tls_error=True,
        )
    server_date = None
    header = response.headers.get("Date")
    if header:
        try:
            server_date = email.utils.parsedate_to_datetime(header).astimezone(UTC)
        except (TypeError, ValueError):
            server_date = None
    try:
        body = response.json()
    except ValueError:
        body = None
    # The server stamped its Date somewhere between sending and receiving: the midpoint.
    return ProbeAnswer(
        url,
        ca_bundle,
        status_code=response.status_code,
        server_date=server_date,
        local_date=before + (after - before) / 2,
        body=body,
    )


def role_max_session_duration(
    credentials: AwsCredentials,
    role_name: str,
    *,
    region: str,
    endpoint_url: str | None,
    ca_bundle: str | None,
) -> int:
    """The role's ``MaxSessionDuration`` through IAM ``GetRole`` with ``credentials``.

    :class:`~keyless.errors.DeniedError` when the session may not read it (most
    roles below administrator cannot), :class:`~keyless.errors.RemoteError` when
    IAM cannot be reached.
    """
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from keyless.adapters.aws import CLIENT_CONFIG, describe_client_error

    session = boto3.Session(
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        aws_session_token=credentials.session_token,
        region_name=region,
    )
    trust = ca_bundle_for(endpoint_url, ca_bundle)
    iam = session.client(
        "iam",
        endpoint_url=endpoint_url,
        verify=trust if trust else True,
        config=CLIENT_CONFIG,
    )
    try:
        role = iam.get_role(RoleName=role_name)["Role"]
    except ClientError as exc:
        code, message = describe_client_error(exc)
        raise DeniedError(f"iam:GetRole {role_name}: {code}: {message}") from exc
    except BotoCoreError as exc:
        raise RemoteError(f"IAM could not be reached: {exc}") from exc
    return int(role.get("MaxSessionDuration") or DEFAULT_SESSION_SECONDS)
