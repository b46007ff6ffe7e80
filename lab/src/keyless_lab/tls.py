"""The lab's TLS: a private CA made on first start, and a loopback server certificate.

Everything the lab serves is HTTPS, as Okta and AWS are, so that clients run
with certificate checks on: they trust the lab CA through ``REQUESTS_CA_BUNDLE``,
``SSL_CERT_FILE`` or ``AWS_CA_BUNDLE`` pointed at :attr:`TlsFiles.ca_cert`.
The CA key never leaves the state directory (mode 0600) and signs nothing but
certificates for 127.0.0.1 and localhost.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from keyless.errors import LabError
from keyless.files import PRIVATE, PUBLIC, write_atomic

CA_DAYS = 3650
# Browsers refuse leaf certificates valid for more than 398 days.
SERVER_DAYS = 397
# Renew a server certificate this long before it expires.
RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True)
class TlsFiles:
    """Paths of the lab CA certificate and of the server's certificate and key (PEM)."""

    ca_cert: Path
    server_cert: Path
    server_key: Path


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _make_ca(tls_dir: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "keyless lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, "keyless lab CA"),
        ]
    )
    start = _now() - dt.timedelta(minutes=5)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        # The lab CA may only vouch for loopback: if its key ever leaked, a
        # client trusting the lab bundle still could not be fooled about any
        # real host.
        .add_extension(
            x509.NameConstraints(
                permitted_subtrees=[
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_network("127.0.0.0/8")),
                    x509.IPAddress(ipaddress.ip_network("::1/128")),
                ],
                excluded_subtrees=None,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    write_atomic(tls_dir / "ca-key.pem", _key_pem(key), mode=PRIVATE, make_parents=True)
    write_atomic(
        tls_dir / "ca.pem",
        cert.public_bytes(serialization.Encoding.PEM),
        mode=PUBLIC,
        make_parents=True,
    )
    return cert, key


def _make_server(
    tls_dir: Path, ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    start = _now() - dt.timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=SERVER_DAYS))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
                    x509.IPAddress(ipaddress.IPv6Address("::1")),
                    x509.DNSName("localhost"),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    write_atomic(tls_dir / "server-key.pem", _key_pem(key), mode=PRIVATE, make_parents=True)
    write_atomic(
        tls_dir / "server.pem",
        cert.public_bytes(serialization.Encoding.PEM),
        mode=PUBLIC,
        make_parents=True,
    )


def _load_ca(tls_dir: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    cert_path, key_path = tls_dir / "ca.pem", tls_dir / "ca-key.pem"
    if not (cert_path.exists() and key_path.exists()):
        return None
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except ValueError as exc:
        raise LabError(
            f"the lab CA in {tls_dir} cannot be read",
            fix=f"remove {tls_dir} to have a new lab CA made (clients must then trust the new one)",
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or cert.not_valid_after_utc <= _now():
        return None
    return cert, key


def _server_is_current(tls_dir: Path, ca_cert: x509.Certificate) -> bool:
    cert_path, key_path = tls_dir / "server.pem", tls_dir / "server-key.pem"
    if not (cert_path.exists() and key_path.exists()):
        return False
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except ValueError:
        return False
    return cert.issuer == ca_cert.subject and cert.not_valid_after_utc - RENEW_BEFORE > _now()


def ensure_lab_tls(state_dir: Path) -> TlsFiles:
    """The lab's CA and server certificate under ``state_dir/tls``, made when missing.

    The CA is kept across restarts (clients keep trusting it); the server
    certificate is re-issued when it is missing, not from this CA, or close to
    expiry. Keys are written mode 0600.
    """
    tls_dir = state_dir / "tls"
    tls_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(tls_dir, 0o700)
    loaded = _load_ca(tls_dir)
    if loaded is None:
        loaded = _make_ca(tls_dir)
    ca_cert, ca_key = loaded
    if not _server_is_current(tls_dir, ca_cert):
        _make_server(tls_dir, ca_cert, ca_key)
    return TlsFiles(
        ca_cert=tls_dir / "ca.pem",
        server_cert=tls_dir / "server.pem",
        server_key=tls_dir / "server-key.pem",
    )
