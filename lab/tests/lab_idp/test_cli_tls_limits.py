"""The lab IdP's CLI (acting on a running IdP), its TLS, its rate limits and its pages' guards."""

from __future__ import annotations

import json
import re
import ssl
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
import typer
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from typer.testing import CliRunner

from keyless.spec import FederationSpec
from keyless_lab.cli.lab_idp import register
from keyless_lab.idp.core import IdpSettings
from keyless_lab.idp.server import IdpServer
from keyless_lab.tls import ensure_lab_tls
from lab_idp.idp_support import NewUser, lab_tls_context, start_idp


def cli(server: IdpServer, *args: str, stdin: str | None = None) -> Any:
    app = typer.Typer()
    register(app)
    return CliRunner().invoke(app, [*args, "--lab-dir", str(server.state_dir)], input=stdin)


def test_user_lifecycle_through_the_cli(server: IdpServer, client: httpx.Client) -> None:
    login = "cli-user@acme.example"
    added = cli(
        server, "user", "add", login, "--first-name", "Cli", "--group", "auditors", "--json"
    )
    assert added.exit_code == 0, added.output
    password = json.loads(added.stdout)["password"]
    listed = json.loads(cli(server, "user", "list", "--json").stdout)
    row = next(r for r in listed if r["login"] == login)
    assert row["status"] == "ACTIVE"
    assert row["groups"] == ["auditors"]
    assert row["factors"] == []

    assert cli(server, "user", "lock", login).exit_code == 0
    locked = client.post("/api/v1/authn", json={"username": login, "password": password})
    assert locked.json()["status"] == "LOCKED_OUT"
    assert cli(server, "user", "unlock", login).exit_code == 0
    assert cli(server, "user", "remove", login).exit_code == 0
    gone = client.post("/api/v1/authn", json={"username": login, "password": password})
    assert gone.status_code == 401
    missing = cli(server, "user", "remove", login)
    assert missing.exit_code != 0
    assert "no user" in str(missing.exception)


def test_groups_and_members(server: IdpServer) -> None:
    group = "aws#acme-dev#ReadOnly#333333333333"
    assert cli(server, "group", "add", group).exit_code == 0
    assert cli(server, "user", "add", "g@acme.example").exit_code == 0
    shown = cli(server, "group", "members", group, "--add", "g@acme.example", "--json")
    assert json.loads(shown.stdout) == {"group": group, "members": ["g@acme.example"]}
    # Okta's naming convention grants the role the group name says.
    user = server.directory.get_user("g@acme.example")
    assert user is not None
    assert [p.role_arn for p in server.idp.roles_for(user)] == [
        "arn:aws:iam::333333333333:role/ReadOnly"
    ]


def test_bracketed_group_names_are_printed_verbatim(server: IdpServer) -> None:
    """Regression: rich read `[x]` as markup, so `lab group add "ops-[x]"` said `created ops-`."""
    group = "ops-[x]"
    assert cli(server, "group", "add", group).stdout == f"created {group}\n"
    assert cli(server, "user", "add", "b@acme.example").exit_code == 0
    shown = cli(server, "group", "members", group, "--add", "b@acme.example")
    assert shown.stdout == f"{group}: b@acme.example\n"
    listed = cli(server, "user", "list")
    assert group in listed.stdout


def test_mfa_enroll_prints_otpauth_uri_and_a_qr_code(server: IdpServer) -> None:
    assert cli(server, "user", "add", "qr@acme.example").exit_code == 0
    result = cli(server, "mfa", "enroll", "qr@acme.example", "--factor", "totp")
    assert result.exit_code == 0, result.output
    uri = re.search(r"otpauth://totp/\S+", result.stdout)
    assert uri is not None
    totp = pyotp.parse_uri(uri.group(0))
    assert isinstance(totp, pyotp.TOTP)
    assert len(totp.secret) == 32
    assert "█" in result.stdout or "▀" in result.stdout or "▄" in result.stdout


def test_push_answer_without_a_waiting_push_fails_clearly(server: IdpServer) -> None:
    result = cli(server, "push", "approve", "carol@acme.example")
    assert result.exit_code != 0
    assert "no push waiting" in str(result.exception)


def test_cli_without_a_lab_says_how_to_start_one(tmp_path: Path) -> None:
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["user", "list", "--lab-dir", str(tmp_path)])
    assert result.exit_code != 0
    assert "keyless lab up" in str(result.exception.fix)  # type: ignore[union-attr]


def test_tls_ca_and_server_certificate(tmp_path: Path) -> None:
    files = ensure_lab_tls(tmp_path)
    for secret in (files.server_key, files.ca_cert.with_name("ca-key.pem")):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    leaf = x509.load_pem_x509_certificate(files.server_cert.read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "127.0.0.1" in [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku
    # A restart keeps the CA (clients keep trusting it).
    again = ensure_lab_tls(tmp_path)
    assert again.ca_cert.read_bytes() == files.ca_cert.read_bytes()


def test_lab_ca_can_only_vouch_for_loopback(tmp_path: Path) -> None:
    """A leaked lab CA key must not let anyone impersonate a real host to a client
    that trusts the lab bundle: the CA carries critical name constraints."""
    import datetime as dt
    import ipaddress

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

    files = ensure_lab_tls(tmp_path)
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    ca_key = serialization.load_pem_private_key(
        files.ca_cert.with_name("ca-key.pem").read_bytes(), password=None
    )
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    constraints = ca.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical
    now = dt.datetime.now(dt.UTC)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    forged = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(ca.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("signin.aws.amazon.com")]), critical=True
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    verifier = PolicyBuilder().store(Store([ca])).time(now)
    with pytest.raises(VerificationError):
        verifier.build_server_verifier(x509.DNSName("signin.aws.amazon.com")).verify(forged, [])
    # The lab's own server certificate still verifies for 127.0.0.1.
    leaf = x509.load_pem_x509_certificate(files.server_cert.read_bytes())
    loopback = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
    assert verifier.build_server_verifier(loopback).verify(leaf, [])


def test_server_refuses_clients_that_do_not_trust_the_lab_ca(server: IdpServer) -> None:
    with (
        httpx.Client(verify=ssl.create_default_context()) as stranger,
        pytest.raises(httpx.ConnectError),
    ):
        stranger.get(server.url + "/.well-known/okta-organization")


def test_signing_key_is_private_and_kept(server: IdpServer) -> None:
    key_file = server.state_dir / "idp-signing-key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((server.state_dir / "idp.sqlite").stat().st_mode) == 0o600
    assert stat.S_IMODE(server.audit_log.stat().st_mode) == 0o600


def test_rate_limit_answers_429_with_okta_headers(acme: FederationSpec, tmp_path: Path) -> None:
    server, _ = start_idp(acme, tmp_path, IdpSettings(rate_limit_authn=3))
    try:
        with httpx.Client(base_url=server.url, verify=lab_tls_context(server)) as client:
            body = {"username": "nobody@acme.example", "password": "x"}
            statuses = [client.post("/api/v1/authn", json=body).status_code for _ in range(3)]
            assert statuses == [401, 401, 401]
            limited = client.post("/api/v1/authn", json=body)
            assert limited.status_code == 429
            assert limited.headers["X-Rate-Limit-Limit"] == "3"
            assert limited.headers["X-Rate-Limit-Remaining"] == "0"
            assert int(limited.headers["X-Rate-Limit-Reset"]) > 0
            document = limited.json()
            assert document["errorCode"] == "E0000047"
            assert document["errorSummary"] == (
                "API call exceeded rate limit due to too many requests."
            )
            # Other endpoints have their own bucket.
            assert client.get("/.well-known/okta-organization").status_code == 200
    finally:
        server.stop()


def test_rate_limit_and_audit_ignore_spoofed_x_forwarded_for(
    acme: FederationSpec, tmp_path: Path
) -> None:
    """Bug: uvicorn trusts X-Forwarded-For from 127.0.0.1 by default, and every client of
    the loopback IdP comes from 127.0.0.1, so a caller could name a new address in each
    request: the per-client rate limit never tripped (unbounded password and MFA guessing)
    and the audit log recorded whatever address the caller chose."""
    server, _ = start_idp(acme, tmp_path, IdpSettings(rate_limit_authn=3))
    try:
        with httpx.Client(base_url=server.url, verify=lab_tls_context(server)) as client:
            body = {"username": "spoofer@acme.example", "password": "x"}
            statuses = [
                client.post(
                    "/api/v1/authn", json=body, headers={"X-Forwarded-For": f"203.0.113.{n}"}
                ).status_code
                for n in range(5)
            ]
            assert statuses == [401, 401, 401, 429, 429]
        records = [json.loads(line) for line in server.audit_log.read_text().splitlines()]
        ips = {r["ip"] for r in records if r.get("login") == "spoofer@acme.example"}
        assert ips == {"127.0.0.1"}
    finally:
        server.stop()


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match is not None
    return match.group(1)


def test_sign_in_page_checks_csrf_and_never_redirects_away(
    server: IdpServer, make_user: Callable[..., NewUser]
) -> None:
    user = make_user()
    with httpx.Client(base_url=server.url, verify=lab_tls_context(server)) as browser:
        page = browser.get("/login/login.htm", params={"fromURI": "https://evil.example/"})
        assert "evil.example" not in page.text
        csrf = _csrf(page.text)
        cookie = page.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "Secure" in cookie
        assert "SameSite=strict" in cookie
        forged = browser.post(
            "/login/login.htm",
            data={"username": user.login, "password": user.password, "csrf": "forged" * 8},
        )
        assert forged.status_code == 403
        signed = browser.post(
            "/login/login.htm",
            data={
                "username": user.login,
                "password": user.password,
                "csrf": csrf,
                "fromURI": "//evil.example/",
            },
        )
        assert signed.status_code == 200
        state = re.search(r'name="stateToken" value="([^"]+)"', signed.text)
        factor = re.search(r'name="factorId" value="([^"]+)"', signed.text)
        assert state
        assert factor
        done = browser.post(
            "/signin/verify",
            data={
                "csrf": csrf,
                "stateToken": state.group(1),
                "factorId": factor.group(1),
                "passCode": user.code(),
                "fromURI": "//evil.example/",
            },
        )
        assert done.status_code == 303
        assert done.headers["location"] == "/app/UserHome"
        home = browser.get("/app/UserHome")
        assert "Amazon Web Services" in home.text
        assert f"/home/amazon_aws/{server.app_id}/272?fromHome=true" in home.text
        assert home.headers["X-Frame-Options"] == "DENY"
