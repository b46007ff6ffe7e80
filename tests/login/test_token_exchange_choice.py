"""Which single-use token the device flow asks for: web SSO or Native to Web SSO (issue 22).

Okta's "Configure Native to Web SSO"
(https://developer.okta.com/docs/guides/native-to-web-sso/main/): the org grants
``interclient_access`` only to a client the target app's trust map lists, and
checks the trust again at the exchange. keyless's ``exchange = auto`` asks for
that scope first and takes ``invalid_scope`` as "not offered here".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from keyless.adapters.okta_oauth import (
    DEVICE_SCOPE,
    INTERCLIENT_SCOPE,
    DeviceAuthorization,
    InterclientNotTrusted,
    OAuthTokens,
    ScopeNotGranted,
    TokensLackScope,
    oauth_failure,
)
from keyless.errors import InputError, KeylessError
from keyless.services.login.okta_device import DeviceFlowPages
from keyless.services.login.okta_flows import device_scopes, exchange_kind
from keyless.services.login.okta_signin import LoginInputs
from keyless.services.login.profiles import Settings, _validate

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("exchange", "scopes"),
    [
        (None, (INTERCLIENT_SCOPE, DEVICE_SCOPE)),
        ("auto", (INTERCLIENT_SCOPE, DEVICE_SCOPE)),
        ("web_sso_token", (DEVICE_SCOPE,)),
        ("interclient_token", (INTERCLIENT_SCOPE,)),
    ],
)
def test_device_scopes_in_order_of_preference(
    exchange: str | None, scopes: tuple[str, ...]
) -> None:
    assert device_scopes(exchange) == scopes


@pytest.mark.parametrize(
    ("exchange", "granted", "kind"),
    [
        ("auto", "openid interclient_access", "interclient_token"),
        (None, "openid interclient_access", "interclient_token"),
        ("auto", "openid okta.apps.sso", "web_sso_token"),
        # Kept from before keyless knew Native to Web SSO: as they always were.
        (None, "", "web_sso_token"),
        ("web_sso_token", "openid interclient_access", "web_sso_token"),
        ("interclient_token", "openid okta.apps.sso", "interclient_token"),
    ],
)
def test_exchange_kind_follows_the_setting_then_the_granted_scopes(
    exchange: str | None, granted: str, kind: str
) -> None:
    assert exchange_kind(exchange, granted) == kind


def test_the_profile_setting_is_checked() -> None:
    assert _validate("p", {"exchange": "Interclient_Token"}, "f")["exchange"] == (
        "interclient_token"
    )
    with pytest.raises(InputError, match="exchange must be one of"):
        _validate("p", {"exchange": "session_transfer"}, "f")


def test_okta_answers_for_native_to_web_sso_become_their_errors() -> None:
    untrusted = oauth_failure(
        "invalid_grant",
        "The target audience app must be configured to allow the client to request an "
        "'interclient_token'.",
        what="the interclient token",
        org_url="https://acme.okta.com",
    )
    assert isinstance(untrusted, InterclientNotTrusted)
    assert "interclient-allowed-apps" in (untrusted.fix or "")
    lacking = oauth_failure(
        "invalid_grant",
        "The 'actor_token' must have the 'interclient_access' scope.",
        what="the interclient token",
        org_url="https://acme.okta.com",
    )
    assert isinstance(lacking, TokensLackScope)
    scope = oauth_failure(
        "invalid_scope", "One or more scopes are not configured", what="x", org_url="u"
    )
    assert isinstance(scope, ScopeNotGranted)


class MemorySecrets:
    description = "memory"

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def set(self, key: str, value: str) -> None:
        self.values[key] = value

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


class Quiet:
    """A prompter for a person who only reads (the device flow asks nothing)."""

    interactive = True

    def notify(self, message: str) -> None:
        pass

    def ask(self, label: str, *, secret: bool = False, flag: str | None = None) -> str:
        raise AssertionError(label)

    def choose(self, title: str, options: list[str], *, flag: str | None = None) -> int:
        raise AssertionError(title)

    def missing_input(self, what: str, *, flag: str | None = None) -> KeylessError:
        raise AssertionError(what)


class FakeOAuth:
    """An org that grants ``interclient_access`` only when ``trusted``."""

    org_url = "https://acme.okta.com"

    def __init__(self, *, trusted: bool) -> None:
        self.trusted = trusted
        self.calls: list[str] = []

    def device_authorize(self, client_id: str, scope: str = DEVICE_SCOPE) -> DeviceAuthorization:
        self.calls.append(f"authorize {scope}")
        if "interclient_access" in scope and not self.trusted:
            raise oauth_failure(
                "invalid_scope", "One or more scopes are not configured", what="x", org_url="u"
            )
        self.scope = scope
        return DeviceAuthorization("dc", "ABCD", "https://v", "https://v?c", 600, 1)

    def poll(self, client_id: str, device_code: str, now: datetime) -> OAuthTokens:
        return OAuthTokens("at", "id", now + timedelta(hours=1), self.scope)

    def web_sso_token(self, client_id: str, app_id: str, tokens: OAuthTokens) -> str:
        self.calls.append("web_sso_token")
        return "wst"

    def sso_page(self, token: str) -> str:
        return f"page via {token}"

    def interclient_token(self, client_id: str, app_id: str, tokens: OAuthTokens) -> str:
        self.calls.append("interclient_token")
        if not self.trusted:
            raise InterclientNotTrusted("untrusted", fix="trust it")
        return "ict"

    def interclient_page(self, app_id: str, token: str) -> str:
        return f"page via {token}"


def _pages(oauth: FakeOAuth, secrets: MemorySecrets, exchange: str | None = None) -> Any:
    flow = DeviceFlowPages(
        oauth,  # type: ignore[arg-type]
        secrets,
        person_reads_output=True,
        clock=lambda: NOW,
        sleep=lambda _: None,
    )
    settings = Settings(
        profile="dev",
        org_url=oauth.org_url,
        app_url="https://acme.okta.com/home/amazon_aws/0oaAWS/272",
        oidc_client_id="0oaCLI",
        exchange=exchange,
    )
    return flow(settings, Quiet(), LoginInputs())


def test_auto_uses_an_interclient_token_where_the_app_trusts_the_client() -> None:
    oauth = FakeOAuth(trusted=True)
    pages = _pages(oauth, MemorySecrets())
    assert pages.first == "page via ict"
    assert oauth.calls == [f"authorize {INTERCLIENT_SCOPE}", "interclient_token"]


def test_auto_falls_back_to_the_web_sso_token_on_invalid_scope() -> None:
    oauth = FakeOAuth(trusted=False)
    pages = _pages(oauth, MemorySecrets())
    assert pages.first == "page via wst"
    assert oauth.calls == [
        f"authorize {INTERCLIENT_SCOPE}",
        f"authorize {DEVICE_SCOPE}",
        "web_sso_token",
    ]


def test_web_sso_token_setting_never_asks_for_the_interclient_scope() -> None:
    oauth = FakeOAuth(trusted=True)
    assert _pages(oauth, MemorySecrets(), "web_sso_token").first == "page via wst"
    assert oauth.calls == [f"authorize {DEVICE_SCOPE}", "web_sso_token"]


def test_interclient_token_setting_does_not_fall_back() -> None:
    oauth = FakeOAuth(trusted=False)
    with pytest.raises(InterclientNotTrusted, match="does not grant interclient_access"):
        _pages(oauth, MemorySecrets(), "interclient_token")
    assert oauth.calls == [f"authorize {INTERCLIENT_SCOPE}"]


def test_auto_with_kept_tokens_whose_trust_mapping_went_away_signs_in_again() -> None:
    secrets = MemorySecrets()
    oauth = FakeOAuth(trusted=True)
    _pages(oauth, secrets)
    oauth.trusted = False
    oauth.calls.clear()
    pages = _pages(oauth, secrets)
    assert pages.first == "page via wst"
    assert pages.reused is False
    assert oauth.calls == [
        "interclient_token",
        f"authorize {INTERCLIENT_SCOPE}",
        f"authorize {DEVICE_SCOPE}",
        "web_sso_token",
    ]
