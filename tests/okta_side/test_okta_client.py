"""The Okta management client against the lab over real HTTP: pagination, 429 back-off
with an injected clock and sleep, Okta's error bodies, and a service app's
client credentials with private_key_jwt."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from keyless.adapters.okta_admin import (
    ApiToken,
    OktaAdminClient,
    OktaApiError,
    OktaNotFoundError,
    OktaPermissionError,
    PrivateKeyJwt,
    make_admin_http,
    sign_client_assertion,
)
from keyless.errors import RemoteError
from okta_support import OktaLab, acme_with_okta


@pytest.fixture
def http(okta_lab: OktaLab) -> Iterator[httpx.Client]:
    client = make_admin_http(ca_bundle=okta_lab.info.ca_bundle)
    try:
        yield client
    finally:
        client.close()


def _client(okta_lab: OktaLab, http: httpx.Client, **kwargs: object) -> OktaAdminClient:
    return OktaAdminClient(
        okta_lab.info.idp_url,
        ApiToken(okta_lab.info.okta_api_token),
        http=http,
        **kwargs,  # type: ignore[arg-type]
    )


def test_lists_follow_link_next_to_the_end(okta_lab: OktaLab, http: httpx.Client) -> None:
    client = _client(okta_lab, http)
    names = {f"page-{i:02d}" for i in range(5)}
    for name in sorted(names):
        client.create_group(name, "")
    calls = client.calls
    pages = list(
        client.paged(
            "/api/v1/groups", scope="okta.groups.read", params={"q": "page-", "limit": "2"}
        )
    )
    assert {g["profile"]["name"] for g in pages} == names
    assert client.calls - calls == 3  # 2 + 2 + 1, each page found through rel="next"
    first = http.get(
        f"{okta_lab.info.idp_url}/api/v1/groups",
        params={"q": "page-", "limit": "2"},
        headers={"Authorization": f"SSWS {okta_lab.info.okta_api_token}"},
    )
    assert 'rel="next"' in first.headers["link"]
    assert "after=" in first.links["next"]["url"]
    assert first.headers["x-rate-limit-limit"]  # Okta's rate-limit headers on every answer


def test_a_429_is_waited_out_until_x_rate_limit_reset(
    okta_lab: OktaLab, http: httpx.Client
) -> None:
    waits: list[float] = []
    # The sleep only records: the storm lets the retry through, so nothing really waits.
    client = _client(okta_lab, http, sleep=waits.append)
    state = okta_lab.lab.idp.idp.appstate
    state.storm_every = 2
    try:
        for _ in range(4):
            client.get_app(okta_lab.info.app_id)
    finally:
        state.storm_every = 0
    assert client.rate_limited >= 2
    assert len(waits) == client.rate_limited
    # Reset is the next whole second: the client waits at most about that long.
    assert all(0 < wait <= 1.1 for wait in waits)


def test_a_missing_scope_is_named_and_a_bad_token_explained(
    okta_lab: OktaLab, http: httpx.Client
) -> None:
    token = okta_lab.lab.idp.idp.appstate.create_token("reader", ("okta.groups.read",))
    reader = OktaAdminClient(okta_lab.info.idp_url, ApiToken(token), http=http)
    assert isinstance(reader.list_groups(), list)
    with pytest.raises(OktaPermissionError) as denied:
        reader.create_group("nope", "")
    assert "okta.groups.manage" in denied.value.message
    assert denied.value.code == "E0000006"
    assert denied.value.error_id.startswith("oae")
    assert denied.value.exit_code == 1
    with pytest.raises(OktaPermissionError) as bad:
        OktaAdminClient(okta_lab.info.idp_url, ApiToken("00nottoken"), http=http).list_groups()
    assert bad.value.code == "E0000011"
    with pytest.raises(OktaNotFoundError):
        _client(okta_lab, http).get_app("0oanothere")
    admin = _client(okta_lab, http)
    admin.create_group("taken", "")
    with pytest.raises(OktaApiError) as taken:
        admin.create_group("taken", "")
    assert not isinstance(taken.value, OktaPermissionError)
    assert taken.value.status == 400
    assert "already exists" in taken.value.message


def test_private_key_jwt_client_credentials(
    okta_lab: OktaLab, http: httpx.Client, tmp_path: Path
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = tmp_path / "service.pub.pem"
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    made = okta_lab.lab_cli(
        "service-app",
        "create",
        "--public-key",
        str(public),
        "--scopes",
        "okta.apps.read,okta.groups.read",
        "--json",
    )
    assert made.returncode == 0, made.stderr
    client_id = json.loads(made.stdout)["client_id"]
    auth = PrivateKeyJwt(
        client_id=client_id, private_key=key, scopes=("okta.apps.read", "okta.groups.read")
    )
    client = OktaAdminClient(okta_lab.info.idp_url, auth, http=http)
    assert client.get_app(okta_lab.info.app_id)["name"] == "amazon_aws"
    client.list_groups()
    assert client.calls == 3  # one token, then two calls on the same access token
    with pytest.raises(OktaPermissionError) as denied:
        client.create_group("svc", "")
    assert "okta.groups.manage" in denied.value.message

    # A scope never granted is refused at the token endpoint.
    greedy = PrivateKeyJwt(client_id=client_id, private_key=key, scopes=("okta.users.manage",))
    with pytest.raises(OktaPermissionError) as refused:
        OktaAdminClient(okta_lab.info.idp_url, greedy, http=http).list_groups()
    assert "invalid_scope" in refused.value.message
    # An assertion signed by another key, and one replayed, are refused.
    token_url = f"{okta_lab.info.idp_url}/oauth2/v1/token"
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for signer in (other, key):
        assertion = sign_client_assertion(
            signer, client_id=client_id, audience=token_url, now=time.time()
        )
        form = {
            "grant_type": "client_credentials",
            "scope": "okta.apps.read",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        }
        answer = http.post(token_url, data=form)
        if signer is other:
            assert answer.status_code == 401
            assert answer.json()["error"] == "invalid_client"
        else:
            assert answer.status_code == 200
            replay = http.post(token_url, data=form)
            assert replay.status_code == 401
            assert "replay" in replay.json()["error_description"]


def test_plan_with_a_service_app_from_the_environment(okta_lab: OktaLab, tmp_path: Path) -> None:
    """`okta.auth: private_key_jwt`: the key comes from KEYLESS_OKTA_PRIVATE_KEY_FILE."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = tmp_path / "service.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    private.chmod(0o600)
    public = tmp_path / "service.pub.pem"
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    made = okta_lab.lab_cli("service-app", "create", "--public-key", str(public), "--json")
    assert made.returncode == 0, made.stderr
    client_id = json.loads(made.stdout)["client_id"]
    spec = okta_lab.write_spec(
        acme_with_okta(auth="private_key_jwt", client_id=client_id), "service-app.yaml"
    )
    planned = okta_lab.keyless(
        "plan",
        "--json",
        "--target",
        "okta",
        spec=spec,
        env={"KEYLESS_OKTA_PRIVATE_KEY_FILE": str(private)},
    )
    assert planned.returncode in (0, 3), planned.stderr
    assert json.loads(planned.stdout)["okta"]["error"] is None
    missing = okta_lab.keyless("plan", "--target", "okta", spec=spec)
    assert missing.returncode == 2
    assert "KEYLESS_OKTA_PRIVATE_KEY_FILE" in missing.stderr


class _RepeatingNext(BaseHTTPRequestHandler):
    """A list endpoint whose every page links to the same ``next`` page (and, past a
    bound, fails, so a client that loops shows up as a failure rather than a hang)."""

    served = 0

    def do_GET(self) -> None:
        type(self).served += 1
        if type(self).served > 20:
            self.send_response(500)
            self.end_headers()
            return
        port = int(self.server.server_address[1])  # type: ignore[index]
        body = json.dumps([{"id": f"00g{type(self).served}"}]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header(
            "Link", f'<http://127.0.0.1:{port}/api/v1/groups?after=same&limit=1>; rel="next"'
        )
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


def test_a_repeated_next_link_stops_paging_with_an_error_naming_it() -> None:
    """Regression (issue 21, item 8): the client looped forever on a repeated rel="next"."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RepeatingNext)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with httpx.Client() as transport:
            client = OktaAdminClient(url, ApiToken("t"), http=transport)
            with pytest.raises(RemoteError) as caught:
                list(client.paged("/api/v1/groups", scope="okta.groups.read"))
        assert f"{url}/api/v1/groups?after=same&limit=1" in str(caught.value)
        assert "already read" in str(caught.value)
        assert client.calls == 2  # the first page, the linked page, and no more
    finally:
        server.shutdown()
        server.server_close()
