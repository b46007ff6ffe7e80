"""A client for the part of Okta's management API that `apply`, `offboard` and `audit` use.

Endpoints (Okta Management API reference, developer.okta.com/docs/api/openapi/
okta-management/management/; all served by the lab IdP too):

- Apps: ``GET /api/v1/apps?q=``, ``GET|PUT /api/v1/apps/{appId}``
- Groups: ``GET|POST /api/v1/groups``, ``GET|PUT|DELETE /api/v1/groups/{groupId}``,
  ``GET /api/v1/groups/{groupId}/users``
- Application groups: ``GET /api/v1/apps/{appId}/groups``,
  ``GET|PUT|DELETE /api/v1/apps/{appId}/groups/{groupId}``
- Users: ``GET /api/v1/users/{idOrLogin}``, ``POST /api/v1/users/{id}/lifecycle/
  {activate,deactivate,suspend,unsuspend}``, ``DELETE /api/v1/users/{id}/sessions``,
  ``GET /api/v1/users/{id}/groups``, ``GET /api/v1/users/{id}/factors``

Authentication, Okta's two ways for a service:

- :class:`ApiToken`: ``Authorization: SSWS <token>`` (an admin's API token);
- :class:`PrivateKeyJwt`: OAuth 2.0 client credentials for a service app, the
  client authenticated by a JWT signed with its private key (``client_assertion_type
  = urn:ietf:params:oauth:client-assertion-type:jwt-bearer``, RFC 7523), at the
  org authorization server's ``/oauth2/v1/token``, asking for scopes such as
  ``okta.apps.manage``; the answer's ``access_token`` is sent as ``Bearer``.

Neither secret ever comes from the spec: :func:`credentials_from_env` reads them
from the environment or the keyring.

Lists follow ``Link: <...>; rel="next"`` (cursor ``after``) to the end, and stop
with an error on a link to a page already read (a server repeating its ``next``
would otherwise be paged forever). A ``429``
is waited out until ``X-Rate-Limit-Reset`` (epoch seconds, Okta's rate-limit
headers) and retried, with the clock and sleep injectable. Okta's error bodies
(``errorCode``, ``errorSummary``, ``errorCauses``, ``errorId``) become
:class:`OktaApiError` s whose message names the call, and on ``403`` the scope
the call needs.

    OktaApiError (RemoteError, exit 3)      an error answer from Okta
    ├── OktaPermissionError (exit 1)         401/403: the token is invalid or lacks a scope
    └── OktaNotFoundError                    404: no such app, group or user
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from keyless.adapters.http import DEFAULT_TIMEOUT, httpx, unreachable_errors
from keyless.adapters.okta import make_http_client
from keyless.adapters.ratelimit import rate_limit_wait
from keyless.errors import EXIT_FINDING, ConfigError, RemoteError

# Every scope keyless may ask a service app for (OAuth 2.0 scopes for Okta's APIs).
from keyless.spec.model import OKTA_SCOPES as MANAGEMENT_SCOPES

USER_AGENT = "keyless (Okta management client)"
TOKEN_ENV = "KEYLESS_OKTA_API_TOKEN"  # noqa: S105 - a variable name, not a secret
PRIVATE_KEY_ENV = "KEYLESS_OKTA_PRIVATE_KEY"
PRIVATE_KEY_FILE_ENV = "KEYLESS_OKTA_PRIVATE_KEY_FILE"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PAGE_LIMIT = 200
MAX_RETRIES = 8
MAX_WAIT = 60.0


# -- errors ---------------------------------------------------------------------------------


class OktaApiError(RemoteError):
    """An error answer from Okta's API, with its parts kept for callers."""

    def __init__(
        self,
        message: str,
        *,
        fix: str | None = None,
        status: int,
        code: str = "",
        summary: str = "",
        causes: tuple[str, ...] = (),
        error_id: str = "",
    ) -> None:
        super().__init__(message, fix=fix)
        self.status = status
        self.code = code
        self.summary = summary
        self.causes = causes
        self.error_id = error_id


class OktaPermissionError(OktaApiError):
    """Okta refused the credentials or the call (401, 403)."""

    exit_code = EXIT_FINDING


class OktaNotFoundError(OktaApiError):
    """The app, group or user does not exist (404)."""


def _scope_from_challenge(header: str) -> str | None:
    match = re.search(r'scope="([^"]+)"', header)
    return match.group(1) if match else None


def error_from_response(response: httpx.Response, *, what: str, scope: str | None) -> OktaApiError:
    """The :class:`OktaApiError` for an error answer to ``what`` (a call needing ``scope``)."""
    body: dict[str, Any] = {}
    try:
        parsed = response.json()
        body = parsed if isinstance(parsed, dict) else {}
    except ValueError:
        pass
    status = response.status_code
    code = str(body.get("errorCode") or "")
    summary = str(body.get("errorSummary") or response.reason_phrase or "")
    causes = tuple(
        str(c.get("errorSummary"))
        for c in body.get("errorCauses") or []
        if isinstance(c, dict) and c.get("errorSummary")
    )
    error_id = str(body.get("errorId") or "")
    detail = f"{status} {code}: {summary}".replace("  ", " ").strip()
    if causes:
        detail += " (" + "; ".join(causes) + ")"
    if error_id:
        detail += f" [errorId {error_id}]"
    kind: type[OktaApiError] = OktaApiError
    if status == 401:
        kind = OktaPermissionError
        message = f"Okta refused the credentials for {what}: {detail}"
        fix = (
            f"check the API token ({TOKEN_ENV}) or the service app's client id and key; "
            "a token unused for 30 days expires"
        )
    elif status == 403:
        kind = OktaPermissionError
        needed = _scope_from_challenge(response.headers.get("www-authenticate", "")) or scope
        # A service app needs an admin role as well as the scope (Okta, "Implement OAuth
        # for Okta with a service app": assign admin roles to the app); a token carrying
        # the scope is still refused 403 E0000006 when the app's role does not allow it.
        message = f"Okta refused {what} ({detail})"
        if needed:
            message += f": the credentials lack the scope {needed}, or the admin role to use it"
        fix = (
            f"grant {needed} to the service app (its Okta API Scopes tab) and give the app an "
            "admin role that may make this change (its Admin roles tab, e.g. Application "
            "Administrator and Group Administrator); with an API token, use one of an admin "
            "with that role"
            if needed
            else "give the service app (Admin roles tab) or the API token's admin a role "
            "allowed to make this change"
        )
    elif status == 404:
        kind = OktaNotFoundError
        message = f"Okta has no such resource for {what} ({detail})"
        fix = "check the id or name (an app's id is in its URL in Okta's admin console)"
    elif status == 400:
        message = f"Okta rejected {what} ({detail})"
        fix = "check the values in the spec that this call sends"
    else:
        message = f"Okta failed {what} ({detail})"
        fix = "retry in a moment; check Okta's status page"
    return kind(
        message,
        fix=fix,
        status=status,
        code=code,
        summary=summary,
        causes=causes,
        error_id=error_id,
    )


# -- authentication ---------------------------------------------------------------------------


class OktaAuth(Protocol):
    """Something that gives the ``Authorization`` header for the next call."""

    def authorization(self, client: OktaAdminClient) -> str: ...

    def invalidate(self) -> None:
        """Forget a cached token (after a 401)."""
        ...


@dataclass(frozen=True)
class ApiToken:
    """An admin API token, sent as ``Authorization: SSWS <token>``."""

    token: str = field(repr=False)

    def authorization(self, client: OktaAdminClient) -> str:
        return f"SSWS {self.token}"

    def invalidate(self) -> None:
        pass


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_client_assertion(
    private_key: rsa.RSAPrivateKey,
    *,
    client_id: str,
    audience: str,
    now: float,
    key_id: str | None = None,
    lifetime: int = 300,
) -> str:
    """A ``private_key_jwt`` client assertion (RS256): iss = sub = client id, aud = token URL."""
    header: dict[str, str] = {"alg": "RS256", "typ": "JWT"}
    if key_id:
        header["kid"] = key_id
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": int(now),
        "exp": int(now) + lifetime,
        "jti": secrets.token_urlsafe(24),
    }
    signing_input = (
        _b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64url(json.dumps(claims, separators=(",", ":")).encode())
    )
    signature = private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + _b64url(signature)


@dataclass
class PrivateKeyJwt:
    """OAuth 2.0 client credentials for a service app, authenticated with its private key.

    The access token is fetched on first use and kept until a minute before it expires.
    """

    client_id: str
    private_key: rsa.RSAPrivateKey = field(repr=False)
    scopes: tuple[str, ...] = MANAGEMENT_SCOPES
    key_id: str | None = None
    _token: str | None = field(default=None, repr=False)
    _expires: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_pem(
        cls, client_id: str, pem: bytes, *, scopes: tuple[str, ...], key_id: str | None = None
    ) -> PrivateKeyJwt:
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                "the Okta service app's private key cannot be read (PEM, unencrypted, RSA)",
                fix=f"set {PRIVATE_KEY_FILE_ENV} to the key file the service app's public key "
                "belongs to",
            ) from exc
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ConfigError("the Okta service app's key must be an RSA key (RS256)")
        return cls(client_id=client_id, private_key=key, scopes=scopes, key_id=key_id)

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def authorization(self, client: OktaAdminClient) -> str:
        with self._lock:
            if self._token is not None and client.clock() < self._expires - 60:
                return f"Bearer {self._token}"
            token_url = f"{client.org_url}/oauth2/v1/token"
            assertion = sign_client_assertion(
                self.private_key,
                client_id=self.client_id,
                audience=token_url,
                now=client.clock(),
                key_id=self.key_id,
            )
            response = client.send(
                "POST",
                token_url,
                data={
                    "grant_type": "client_credentials",
                    "scope": " ".join(self.scopes),
                    "client_assertion_type": CLIENT_ASSERTION_TYPE,
                    "client_assertion": assertion,
                },
                headers={"Accept": "application/json"},
            )
            try:
                body = response.json()
            except ValueError:
                body = {}
            if response.status_code != 200 or not isinstance(body, dict):
                error = body.get("error", "") if isinstance(body, dict) else ""
                description = body.get("error_description", "") if isinstance(body, dict) else ""
                raise OktaPermissionError(
                    f"Okta refused the service app {self.client_id} an access token "
                    f"({response.status_code} {error}: {description})",
                    fix="check the client id, that the public key in Okta matches "
                    f"{PRIVATE_KEY_FILE_ENV}, and the scopes granted to the app",
                    status=response.status_code,
                    code=str(error),
                    summary=str(description),
                )
            token = body.get("access_token")
            if not isinstance(token, str):
                raise RemoteError("Okta's token endpoint answered without an access_token")
            self._token = token
            self._expires = client.clock() + float(body.get("expires_in") or 3600)
            return f"Bearer {token}"


def credentials_from_env(
    *,
    method: str,
    client_id: str | None = None,
    scopes: tuple[str, ...] = MANAGEMENT_SCOPES,
    environ: dict[str, str] | None = None,
    keyring_get: Callable[[str], str | None] | None = None,
    org_url: str = "",
) -> OktaAuth:
    """The credentials for ``method`` (``api_token`` or ``private_key_jwt``), never from the spec.

    API token: ``KEYLESS_OKTA_API_TOKEN``, else the keyring entry
    ``okta-api-token:<org host>``. Private key: ``KEYLESS_OKTA_PRIVATE_KEY`` (PEM)
    or ``KEYLESS_OKTA_PRIVATE_KEY_FILE`` (a path).
    """
    env = os.environ if environ is None else environ
    if method == "api_token":
        token = env.get(TOKEN_ENV)
        if not token and keyring_get is not None:
            token = keyring_get(f"okta-api-token:{urllib.parse.urlsplit(org_url).hostname}")
        if not token:
            raise ConfigError(
                "managing the Okta side needs an Okta API token, and none was found",
                fix=f"export {TOKEN_ENV}=<token> (Okta admin console: Security > API > Tokens), "
                "or pass --target aws to leave Okta alone",
            )
        return ApiToken(token.strip())
    if method == "private_key_jwt":
        if not client_id:
            raise ConfigError(
                "okta.auth is private_key_jwt but the spec names no okta.client_id",
                fix="set okta.client_id to the service app's client id",
            )
        pem = env.get(PRIVATE_KEY_ENV, "").encode()
        path = env.get(PRIVATE_KEY_FILE_ENV)
        if not pem and path:
            try:
                with open(path, "rb") as handle:
                    pem = handle.read()
            except OSError as exc:
                raise ConfigError(
                    f"cannot read the Okta service app's private key {path}: {exc.strerror}",
                    fix=f"check {PRIVATE_KEY_FILE_ENV}",
                ) from exc
        if not pem:
            raise ConfigError(
                "managing the Okta side with private_key_jwt needs the service app's private key",
                fix=f"export {PRIVATE_KEY_FILE_ENV}=/path/to/key.pem (or {PRIVATE_KEY_ENV})",
            )
        return PrivateKeyJwt.from_pem(client_id, pem, scopes=scopes)
    raise ConfigError(
        f"unknown Okta auth method {method!r}", fix="use api_token or private_key_jwt"
    )


# -- the client ------------------------------------------------------------------------------


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe="@")


class OktaAdminClient:
    """Okta's management API for one org, over an httpx client passed in.

    ``clock`` (epoch seconds) and ``sleep`` are injectable so that rate-limit
    waits can be tested without waiting. ``calls`` counts HTTP requests made
    (the benchmark's figure), ``rate_limited`` the 429s waited out.
    """

    def __init__(
        self,
        org_url: str,
        auth: OktaAuth,
        *,
        http: httpx.Client,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        max_retries: int = MAX_RETRIES,
        max_wait: float = MAX_WAIT,
    ) -> None:
        self.org_url = org_url.rstrip("/")
        self.auth = auth
        self._http = http
        self.clock = clock
        self.sleep = sleep
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.calls = 0
        self.rate_limited = 0
        self._count_lock = threading.Lock()

    def close(self) -> None:
        """Close the HTTP client (whoever built this client owns it)."""
        self._http.close()

    # -- transport ------------------------------------------------------------------

    def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One HTTP request to the org (rate limits waited out); transport errors explained."""
        target = url if url.startswith(("https://", "http://")) else self.org_url + url
        if urllib.parse.urlsplit(target)[:2] != urllib.parse.urlsplit(self.org_url)[:2]:
            # Links come from Okta's headers: credentials go to the org's origin only.
            raise RemoteError(
                f"Okta sent a link outside {self.org_url} ({target}); keyless sent nothing there"
            )
        for attempt in range(self.max_retries + 1):
            with self._count_lock:
                self.calls += 1
            try:
                with unreachable_errors(
                    f"the Okta org at {self.org_url}",
                    fix="check the Okta org URL in the spec, the network, and the CA bundle",
                ):
                    response = self._http.request(method, target, **kwargs)
            except httpx.HTTPError as exc:
                raise RemoteError(f"talking to {self.org_url} failed: {exc}", fix="retry") from exc
            if response.status_code != 429 or attempt == self.max_retries:
                return response
            with self._count_lock:
                self.rate_limited += 1
            self.sleep(self._wait(response))
        raise AssertionError("unreachable")  # the loop returns on its last attempt

    def _wait(self, response: httpx.Response) -> float:
        """Seconds until Okta's window resets (``Retry-After``, else ``X-Rate-Limit-Reset``)."""
        return min(rate_limit_wait(response, self.clock()), self.max_wait)

    def request(
        self,
        method: str,
        path: str,
        *,
        scope: str,
        json_body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        """An authenticated call to ``path`` needing ``scope``; error answers raised."""
        what = f"{method} {path}"
        for attempt in (1, 2):
            response = self.send(
                method,
                path,
                json=json_body,
                params=params,
                headers={
                    "Authorization": self.auth.authorization(self),
                    "Accept": "application/json",
                    "User-Agent": USER_AGENT,
                },
            )
            if (
                response.status_code == 401
                and attempt == 1
                and isinstance(self.auth, PrivateKeyJwt)
            ):
                self.auth.invalidate()  # an access token can expire early; fetch one more
                continue
            if response.status_code >= 400:
                raise error_from_response(response, what=what, scope=scope)
            return response
        raise AssertionError("unreachable")

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise RemoteError(
                f"{self.org_url} answered {response.status_code} with something that is not JSON",
                fix="check the Okta org URL",
            ) from exc

    def _object(self, response: httpx.Response) -> dict[str, Any]:
        body = self._json(response)
        if not isinstance(body, dict):
            raise RemoteError(f"{self.org_url} answered {response.request.url} with no object")
        return body

    def paged(
        self, path: str, *, scope: str, params: dict[str, str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of a list, page by page through ``Link: <...>; rel="next"``."""
        query = {"limit": str(PAGE_LIMIT), **(params or {})}
        response = self.request("GET", path, scope=scope, params=query)
        # Pages already read: a server that links back to one would page forever.
        seen = {str(response.request.url)}
        while True:
            body = self._json(response)
            if not isinstance(body, list):
                raise RemoteError(f"{self.org_url} answered {path} with no list")
            yield from (item for item in body if isinstance(item, dict))
            following = response.links.get("next", {}).get("url")
            if not following:
                return
            target = str(httpx.URL(self.org_url).join(following))
            if target in seen:
                raise RemoteError(
                    f'{self.org_url} sent rel="next" {following} for a page of {path} '
                    "already read; keyless stopped paging there rather than loop forever",
                    fix="the org's list API is misbehaving: retry later, or report it to Okta",
                )
            seen.add(target)
            response = self.request("GET", following, scope=scope)

    # -- apps -----------------------------------------------------------------------

    def get_app(self, app_id: str) -> dict[str, Any]:
        """``GET /api/v1/apps/{appId}``."""
        return self._object(
            self.request("GET", f"/api/v1/apps/{_quote(app_id)}", scope="okta.apps.read")
        )

    def find_apps(self, query: str) -> list[dict[str, Any]]:
        """``GET /api/v1/apps?q=``: apps whose name or label starts with ``query``."""
        return list(self.paged("/api/v1/apps", scope="okta.apps.read", params={"q": query}))

    def app_user_name(self, app_id: str, user_id: str) -> str:
        """The username the app sends for this person (``GET /api/v1/apps/{appId}/users/{userId}``
        → ``credentials.userName``): what the app's username template made of them, in the
        case Okta stores it. :class:`OktaNotFoundError` when the user is not assigned."""
        document = self._object(
            self.request(
                "GET",
                f"/api/v1/apps/{_quote(app_id)}/users/{_quote(user_id)}",
                scope="okta.apps.read",
            )
        )
        return str(okta_object(document.get("credentials")).get("userName") or "")

    def update_app(self, app_id: str, document: dict[str, Any]) -> dict[str, Any]:
        """``PUT /api/v1/apps/{appId}`` with the whole app object (Okta replaces it)."""
        return self._object(
            self.request(
                "PUT",
                f"/api/v1/apps/{_quote(app_id)}",
                scope="okta.apps.manage",
                json_body=document,
            )
        )

    # -- groups ---------------------------------------------------------------------

    def list_groups(self, query: str | None = None) -> list[dict[str, Any]]:
        """``GET /api/v1/groups`` (``q``: names starting with it), every page."""
        params = {"q": query} if query else None
        return list(self.paged("/api/v1/groups", scope="okta.groups.read", params=params))

    def find_group(self, name: str) -> dict[str, Any] | None:
        """The group named exactly ``name``: ``GET /api/v1/groups?search=profile.name eq "..."``.

        One small answer per name instead of every group of the org 200 at a time
        (Okta Groups API, "List groups": ``search`` with ``profile.name eq``); the
        name is compared again here, exactly.
        """
        escaped = name.replace("\\", "\\\\").replace('"', '\\"')
        for group in self.paged(
            "/api/v1/groups",
            scope="okta.groups.read",
            params={"search": f'profile.name eq "{escaped}"'},
        ):
            if okta_object(group.get("profile")).get("name") == name:
                return group
        return None

    def search_groups(self, expression: str) -> list[dict[str, Any]]:
        """``GET /api/v1/groups?search=EXPRESSION``, every page."""
        return list(
            self.paged("/api/v1/groups", scope="okta.groups.read", params={"search": expression})
        )

    # -- group rules ----------------------------------------------------------------

    def list_group_rules(self, search: str | None = None) -> list[dict[str, Any]]:
        """``GET /api/v1/groups/rules`` (``search``: rules whose name contains it)."""
        params = {"search": search} if search else None
        return list(self.paged("/api/v1/groups/rules", scope="okta.groups.read", params=params))

    def create_group_rule(
        self, name: str, source_group_id: str, target_group_ids: list[str]
    ) -> dict[str, Any]:
        """``POST /api/v1/groups/rules``: members of the source join the targets (INACTIVE)."""
        return self._object(
            self.request(
                "POST",
                "/api/v1/groups/rules",
                scope="okta.groups.manage",
                json_body=group_rule_body(name, source_group_id, target_group_ids),
            )
        )

    def update_group_rule(
        self, rule_id: str, name: str, source_group_id: str, target_group_ids: list[str]
    ) -> dict[str, Any]:
        """``PUT /api/v1/groups/rules/{id}`` (Okta updates INACTIVE rules only)."""
        return self._object(
            self.request(
                "PUT",
                f"/api/v1/groups/rules/{_quote(rule_id)}",
                scope="okta.groups.manage",
                json_body=group_rule_body(name, source_group_id, target_group_ids),
            )
        )

    def group_rule_lifecycle(self, rule_id: str, operation: str) -> None:
        """``POST /api/v1/groups/rules/{id}/lifecycle/{activate|deactivate}``."""
        self.request(
            "POST",
            f"/api/v1/groups/rules/{_quote(rule_id)}/lifecycle/{operation}",
            scope="okta.groups.manage",
        )

    def get_group(self, group_id: str) -> dict[str, Any]:
        return self._object(
            self.request("GET", f"/api/v1/groups/{_quote(group_id)}", scope="okta.groups.read")
        )

    def create_group(self, name: str, description: str) -> dict[str, Any]:
        """``POST /api/v1/groups`` with ``profile.name`` and ``profile.description``."""
        return self._object(
            self.request(
                "POST",
                "/api/v1/groups",
                scope="okta.groups.manage",
                json_body={"profile": {"name": name, "description": description}},
            )
        )

    def update_group(self, group_id: str, name: str, description: str) -> dict[str, Any]:
        """``PUT /api/v1/groups/{groupId}`` (the whole profile)."""
        return self._object(
            self.request(
                "PUT",
                f"/api/v1/groups/{_quote(group_id)}",
                scope="okta.groups.manage",
                json_body={"profile": {"name": name, "description": description}},
            )
        )

    def delete_group(self, group_id: str) -> None:
        self.request("DELETE", f"/api/v1/groups/{_quote(group_id)}", scope="okta.groups.manage")

    def list_group_users(self, group_id: str) -> list[dict[str, Any]]:
        """``GET /api/v1/groups/{groupId}/users``: the members, every page."""
        return list(
            self.paged(f"/api/v1/groups/{_quote(group_id)}/users", scope="okta.groups.read")
        )

    # -- application groups ------------------------------------------------------------

    def list_app_groups(self, app_id: str) -> list[dict[str, Any]]:
        """``GET /api/v1/apps/{appId}/groups``: the app's group assignments, every page."""
        return list(self.paged(f"/api/v1/apps/{_quote(app_id)}/groups", scope="okta.apps.read"))

    def get_app_group(self, app_id: str, group_id: str) -> dict[str, Any] | None:
        try:
            return self._object(
                self.request(
                    "GET",
                    f"/api/v1/apps/{_quote(app_id)}/groups/{_quote(group_id)}",
                    scope="okta.apps.read",
                )
            )
        except OktaNotFoundError:
            return None

    def assign_group(
        self,
        app_id: str,
        group_id: str,
        profile: dict[str, Any],
        priority: int | None = None,
    ) -> dict[str, Any]:
        """``PUT /api/v1/apps/{appId}/groups/{groupId}``: assign, or replace the assignment."""
        body: dict[str, Any] = {"profile": profile}
        if priority is not None:
            body["priority"] = priority
        return self._object(
            self.request(
                "PUT",
                f"/api/v1/apps/{_quote(app_id)}/groups/{_quote(group_id)}",
                scope="okta.apps.manage",
                json_body=body,
            )
        )

    def unassign_group(self, app_id: str, group_id: str) -> None:
        self.request(
            "DELETE",
            f"/api/v1/apps/{_quote(app_id)}/groups/{_quote(group_id)}",
            scope="okta.apps.manage",
        )

    # -- users (offboarding and audit) ---------------------------------------------------

    def get_user(self, login_or_id: str) -> dict[str, Any]:
        """``GET /api/v1/users/{idOrLogin}``; :class:`OktaNotFoundError` when there is none."""
        return self._object(
            self.request("GET", f"/api/v1/users/{_quote(login_or_id)}", scope="okta.users.read")
        )

    def find_user(self, login: str) -> dict[str, Any] | None:
        """The user with this login, or None."""
        try:
            return self.get_user(login)
        except OktaNotFoundError:
            return None

    def _lifecycle(
        self, user_id: str, operation: str, params: dict[str, str] | None = None
    ) -> None:
        self.request(
            "POST",
            f"/api/v1/users/{_quote(user_id)}/lifecycle/{operation}",
            scope="okta.users.manage",
            params=params,
        )

    def activate_user(self, user_id: str, *, send_email: bool = False) -> None:
        """``POST /api/v1/users/{id}/lifecycle/activate`` (DEPROVISIONED or STAGED users)."""
        self._lifecycle(user_id, "activate", {"sendEmail": str(send_email).lower()})

    def deactivate_user(self, user_id: str) -> None:
        """``POST .../lifecycle/deactivate``: DEPROVISIONED; Okta ends the user's sessions."""
        self._lifecycle(user_id, "deactivate")

    def suspend_user(self, user_id: str) -> None:
        """``POST .../lifecycle/suspend`` (ACTIVE users only): no sign-in, assignments kept."""
        self._lifecycle(user_id, "suspend")

    def unsuspend_user(self, user_id: str) -> None:
        """``POST .../lifecycle/unsuspend`` (SUSPENDED users only)."""
        self._lifecycle(user_id, "unsuspend")

    def clear_user_sessions(self, user_id: str) -> None:
        """``DELETE /api/v1/users/{id}/sessions?oauthTokens=true&forgetDevices=true``.

        Without ``oauthTokens=true`` Okta ends the browser sessions but leaves the
        OIDC/OAuth tokens it issued (the device flow's access and ID tokens, which
        still buy web SSO tokens) alive; ``forgetDevices`` drops remembered devices
        so the next sign-in asks for MFA again (Okta Users API, "Revoke all user
        sessions").
        """
        self.request(
            "DELETE",
            f"/api/v1/users/{_quote(user_id)}/sessions",
            scope="okta.users.manage",
            params={"oauthTokens": "true", "forgetDevices": "true"},
        )

    def list_user_groups(self, user_id: str) -> list[dict[str, Any]]:
        """``GET /api/v1/users/{id}/groups``."""
        return list(self.paged(f"/api/v1/users/{_quote(user_id)}/groups", scope="okta.users.read"))

    def list_user_factors(self, user_id: str) -> list[dict[str, Any]]:
        """``GET /api/v1/users/{id}/factors``: the user's enrolled MFA factors."""
        body = self._json(
            self.request("GET", f"/api/v1/users/{_quote(user_id)}/factors", scope="okta.users.read")
        )
        return [f for f in body if isinstance(f, dict)] if isinstance(body, list) else []


def group_rule_body(name: str, source_group_id: str, target_group_ids: list[str]) -> dict[str, Any]:
    """A group rule document (Okta Groups API, "Group rule object")."""
    return {
        "type": "group_rule",
        "name": name,
        "conditions": {
            "expression": {
                "value": f'isMemberOfAnyGroup("{source_group_id}")',
                "type": "urn:okta:expression:1.0",
            }
        },
        "actions": {"assignUserToGroups": {"groupIds": list(target_group_ids)}},
    }


def make_admin_http(
    *, ca_bundle: str | None = None, timeout: float = DEFAULT_TIMEOUT
) -> httpx.Client:
    """An httpx client for the management API (:func:`keyless.adapters.http.make_client`)."""
    return make_http_client(ca_bundle=ca_bundle, timeout=timeout, user_agent=USER_AGENT)


def okta_object(value: object) -> dict[str, Any]:
    """``value`` when Okta sent a JSON object there, else an empty one (untrusted JSON)."""
    return value if isinstance(value, dict) else {}
