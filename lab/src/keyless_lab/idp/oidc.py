"""The lab org's authorization server, apart from HTTP: the native OIDC app, device
authorizations, signed tokens and single-use web SSO tokens.

This models what Okta's *org authorization server* does for a CLI on an
Identity Engine org (references in :mod:`keyless_lab.idp.oauth`, which serves it):

- a **native OIDC app** (``client_id`` ``0oa…``, public client, no secret) with
  the device authorization and token exchange grants, and the AWS app's
  *allowed web SSO client* pointing at it;
- **device authorizations**: a ``device_code`` the client polls with and a
  ``user_code`` the person confirms on ``/activate`` after signing in; the
  grant remembers the browser session that approved it, because Okta ties
  the tokens to that session ("The 'subject_token' either expired or the
  session associated with it was terminated.", okta/okta-aws-cli#207);
- **access and ID tokens** as RS256 JWTs (Okta's claims: ``ver``, ``jti``,
  ``iss``, ``aud``, ``cid``, ``uid``, ``scp`` / ``amr``, ``idp``, ``sid``,
  ``auth_time``), the public key published as a JWKS;
- **web SSO tokens**: opaque, single use, for one app, redeemed at
  ``/login/token/sso`` for the app's SAML form.

Everything lives in memory, as short-lived as Okta's; the RSA key is made
at first start into the state dir (0600) so tokens verify across restarts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from keyless.files import PRIVATE, write_atomic

OIDC_KEY_FILE = "oidc-signing-key.pem"

# Protocol names, not secrets (RFC 8628, RFC 8693, Okta's web SSO token type).
GRANT_CLIENT_CREDENTIALS = "client_credentials"
GRANT_AUTHORIZATION_CODE = "authorization_code"
GRANT_DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
GRANT_TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105
TOKEN_TYPE_ID = "urn:ietf:params:oauth:token-type:id_token"  # noqa: S105
TOKEN_TYPE_ACCESS = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105
TOKEN_TYPE_WEB_SSO = "urn:okta:oauth:token-type:web_sso_token"  # noqa: S105
TOKEN_TYPE_INTERCLIENT = "urn:okta:params:oauth:token-type:interclient_token"  # noqa: S105
APP_AUDIENCE_PREFIX = "urn:okta:apps:"

# The scopes the lab's org authorization server knows (a subset of Okta's). Not
# ``device_sso``: Native SSO is a custom authorization server's (Okta, "Configure SSO
# for Native apps": the scopes ``openid device_sso offline_access`` on the "default"
# custom authorization server, okta/okta-developer-docs,
# packages/@okta/vuepress-site/docs/guides/configure-native-sso/main/index.md), and
# the org authorization server refuses it as a scope it does not have.
SCOPES = frozenset(
    {
        "openid",
        "profile",
        "email",
        "offline_access",
        "okta.apps.sso",
        "okta.apps.read",
        "okta.users.read.self",
    }
)
# Native to Web SSO's scope, granted only to a client the target app trusts (Okta,
# "Configure Native to Web SSO", https://developer.okta.com/docs/guides/native-to-web-sso/main/).
INTERCLIENT_SCOPE = "interclient_access"
# Okta's user codes: eight letters without vowels or look-alikes, shown as typed.
_USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"

GrantStatus = Literal["PENDING", "APPROVED", "DENIED", "USED"]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int_b64(value: int) -> str:
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class JwtSigner:
    """RS256 signing and verification with one RSA key (Okta signs with RS256)."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self._key = key
        numbers = key.public_key().public_numbers()
        self._jwk = {
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "e": _int_b64(numbers.e),
            "n": _int_b64(numbers.n),
        }
        # The key id: the key's RFC 7638 thumbprint, stable across restarts.
        canonical = json.dumps(
            {"e": self._jwk["e"], "kty": "RSA", "n": self._jwk["n"]},
            separators=(",", ":"),
            sort_keys=True,
        )
        self.kid = _b64url(hashlib.sha256(canonical.encode()).digest())

    @classmethod
    def load_or_create(cls, state_dir: Path) -> JwtSigner:
        """The org's token-signing key: made on first start (0600), loaded after."""
        path = state_dir / OIDC_KEY_FILE
        if path.exists():
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(loaded, rsa.RSAPrivateKey):
                raise ValueError(f"{path} does not hold an RSA key")
            return cls(loaded)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        write_atomic(
            path,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            mode=PRIVATE,
            make_parents=True,
        )
        return cls(key)

    def jwks(self) -> dict[str, Any]:
        """``/oauth2/v1/keys``: the public key as Okta lists it."""
        return {"keys": [{**self._jwk, "kid": self.kid}]}

    def sign(self, claims: dict[str, Any]) -> str:
        header = {"kid": self.kid, "alg": "RS256"}
        signing_input = (
            _b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + _b64url(signature)

    def verify(self, token: str) -> dict[str, Any] | None:
        """The claims of ``token`` if this key signed it with RS256, else None (no expiry check)."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            header = json.loads(_b64url_decode(parts[0]))
            if not isinstance(header, dict) or header.get("alg") != "RS256":
                return None
            self._key.public_key().verify(
                _b64url_decode(parts[2]),
                f"{parts[0]}.{parts[1]}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
            claims = json.loads(_b64url_decode(parts[1]))
        except (ValueError, InvalidSignature):
            return None
        return claims if isinstance(claims, dict) else None


@dataclass(frozen=True)
class NativeApp:
    """The lab directory's native OIDC app for CLIs (Okta: "OIDC - Native Application")."""

    client_id: str
    name: str
    grant_types: tuple[str, ...] = (
        GRANT_AUTHORIZATION_CODE,
        GRANT_DEVICE_CODE,
        GRANT_TOKEN_EXCHANGE,
    )


@dataclass
class DeviceGrant:
    """One device authorization: pending until the person approves or denies it."""

    device_code: str = field(repr=False)
    user_code: str
    client_id: str
    scopes: tuple[str, ...]
    created: datetime
    expires: datetime
    status: GrantStatus = "PENDING"
    user_id: str | None = None
    session_id: str | None = field(default=None, repr=False)
    auth_time: datetime | None = None
    amr: tuple[str, ...] = ()
    last_poll: float | None = None
    interval: int = 5


@dataclass(frozen=True)
class IssuedTokens:
    """What one device authorization yielded: the token set and what the tokens stand for."""

    access_jti: str
    id_jti: str
    user_id: str
    client_id: str
    session_id: str = field(repr=False)
    scopes: tuple[str, ...]
    amr: tuple[str, ...]
    auth_time: datetime
    expires: datetime


@dataclass(frozen=True)
class WebSsoToken:
    """A single-use web SSO token for one app (``/login/token/sso``)."""

    user_id: str
    app_id: str
    session_id: str = field(repr=False)
    expires: datetime


class AuthorizationServer:
    """The org authorization server's state: grants, tokens, web SSO tokens."""

    def __init__(
        self,
        *,
        signer: JwtSigner,
        native_app: NativeApp,
        clock: Callable[[], datetime],
    ) -> None:
        self.signer = signer
        self.native_app = native_app
        self.clock = clock
        self._lock = threading.Lock()
        self._grants: dict[str, DeviceGrant] = {}  # by device_code
        self._tokens: dict[str, IssuedTokens] = {}  # by the jti of either token
        self._web_sso: dict[str, WebSsoToken] = {}
        self._redeemed: dict[str, datetime] = {}  # web SSO tokens used, until they expire

    # -- device authorizations ----------------------------------------------------------

    def new_grant(
        self, client_id: str, scopes: tuple[str, ...], lifetime: timedelta, interval: int
    ) -> DeviceGrant:
        now = self.clock()
        user_code = "".join(secrets.choice(_USER_CODE_ALPHABET) for _ in range(8))
        grant = DeviceGrant(
            device_code=secrets.token_urlsafe(32),
            user_code=user_code,
            client_id=client_id,
            scopes=scopes,
            created=now,
            expires=now + lifetime,
            interval=interval,
        )
        with self._lock:
            self._prune(now)
            self._grants[grant.device_code] = grant
        return grant

    def grant_by_device_code(self, device_code: str) -> DeviceGrant | None:
        with self._lock:
            return self._grants.get(device_code)

    def grant_by_user_code(self, user_code: str) -> DeviceGrant | None:
        """The pending, unexpired grant a person typed the code of (case and dashes ignored)."""
        wanted = "".join(ch for ch in user_code.upper() if ch.isalnum())
        now = self.clock()
        with self._lock:
            for grant in self._grants.values():
                if (
                    secrets.compare_digest(grant.user_code, wanted)
                    and grant.status == "PENDING"
                    and grant.expires > now
                ):
                    return grant
        return None

    def decide(
        self,
        grant: DeviceGrant,
        *,
        approve: bool,
        user_id: str,
        session_id: str,
        auth_time: datetime,
        amr: tuple[str, ...],
    ) -> None:
        with self._lock:
            if grant.status != "PENDING":
                return
            grant.user_id = user_id
            grant.session_id = session_id
            grant.auth_time = auth_time
            grant.amr = amr
            grant.status = "APPROVED" if approve else "DENIED"

    # -- tokens -------------------------------------------------------------------------------

    def issue_tokens(
        self, grant: DeviceGrant, *, issuer: str, login: str, idp_id: str, lifetime: timedelta
    ) -> tuple[dict[str, Any], IssuedTokens]:
        """The token response for an approved grant (which is used up)."""
        assert grant.user_id is not None
        assert grant.session_id is not None
        assert grant.auth_time is not None
        now = self.clock()
        expires = now + lifetime
        issued = IssuedTokens(
            access_jti="AT." + secrets.token_urlsafe(32),
            id_jti="ID." + secrets.token_urlsafe(16),
            user_id=grant.user_id,
            client_id=grant.client_id,
            session_id=grant.session_id,
            scopes=grant.scopes,
            amr=grant.amr,
            auth_time=grant.auth_time,
            expires=expires,
        )
        common = {
            "ver": 1,
            "iss": issuer,
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
        }
        access_token = self.signer.sign(
            {
                **common,
                "jti": issued.access_jti,
                # The org authorization server's access tokens are for Okta itself.
                "aud": issuer,
                "sub": login,
                "cid": grant.client_id,
                "uid": grant.user_id,
                "scp": list(grant.scopes),
                "auth_time": int(grant.auth_time.timestamp()),
            }
        )
        at_hash = _b64url(hashlib.sha256(access_token.encode()).digest()[:16])
        id_claims: dict[str, Any] = {
            **common,
            "jti": issued.id_jti,
            "sub": grant.user_id,
            "aud": grant.client_id,
            "amr": list(grant.amr),
            "idp": idp_id,
            "sid": grant.session_id,
            "auth_time": int(grant.auth_time.timestamp()),
            "at_hash": at_hash,
        }
        if "profile" in grant.scopes:
            id_claims["preferred_username"] = login
        id_token = self.signer.sign(id_claims)
        with self._lock:
            grant.status = "USED"
            self._tokens[issued.access_jti] = issued
            self._tokens[issued.id_jti] = issued
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "expires_in": int(lifetime.total_seconds()),
            "access_token": access_token,
            "scope": " ".join(grant.scopes),
            "id_token": id_token,
        }
        return body, issued

    def token_record(self, token: str, *, kind: Literal["ID", "AT"]) -> IssuedTokens | None:
        """What a token this server issued stands for: signature, expiry and kind checked."""
        claims = self.signer.verify(token)
        if claims is None:
            return None
        jti = claims.get("jti")
        exp = claims.get("exp")
        if not isinstance(jti, str) or not jti.startswith(kind + ".") or not isinstance(exp, int):
            return None
        if exp <= self.clock().timestamp():
            return None
        with self._lock:
            return self._tokens.get(jti)

    def revoke_user_tokens(self, user_id: str) -> int:
        """Revoke every token issued to ``user_id`` (and unredeemed web SSO tokens); how many
        token sets."""
        with self._lock:
            gone = {r.access_jti for r in self._tokens.values() if r.user_id == user_id}
            self._tokens = {k: v for k, v in self._tokens.items() if v.user_id != user_id}
            self._web_sso = {k: v for k, v in self._web_sso.items() if v.user_id != user_id}
        return len(gone)

    # -- web SSO tokens -----------------------------------------------------------------------

    def mint_web_sso(self, record: IssuedTokens, app_id: str, lifetime: timedelta) -> str:
        token = secrets.token_urlsafe(48)
        with self._lock:
            self._web_sso[token] = WebSsoToken(
                user_id=record.user_id,
                app_id=app_id,
                session_id=record.session_id,
                expires=self.clock() + lifetime,
            )
        return token

    def redeem_web_sso(self, token: object) -> WebSsoToken | Literal["REPLAYED"] | None:
        """The web SSO token's grant, once: a second redemption is ``"REPLAYED"``."""
        if not isinstance(token, str) or not token:
            return None
        now = self.clock()
        with self._lock:
            found = self._web_sso.pop(token, None)
            if found is None:
                return "REPLAYED" if token in self._redeemed else None
            self._redeemed = {k: v for k, v in self._redeemed.items() if v > now}
            self._redeemed[token] = found.expires
        return found if found.expires > now else None

    def _prune(self, now: datetime) -> None:
        # Under the lock, on every new grant: keeps memory bounded.
        if len(self._grants) + len(self._web_sso) < 5000:
            return
        self._grants = {k: v for k, v in self._grants.items() if v.expires > now}
        self._web_sso = {k: v for k, v in self._web_sso.items() if v.expires > now}
        self._tokens = {k: v for k, v in self._tokens.items() if v.expires > now}
