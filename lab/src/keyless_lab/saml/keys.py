"""The IdP's signing key and certificate, parsed once and kept as key objects.

Parsing a PEM private key costs more than the RSA signature itself, so an IdP
holds a :class:`SigningKey` for its lifetime and never re-parses per assertion.
"""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from keyless.errors import InputError


@dataclass(frozen=True)
class SigningKey:
    """An RSA private key and the self-signed certificate published in metadata."""

    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @classmethod
    def generate(cls, common_name: str, *, days: int = 3650) -> SigningKey:
        """Generate an RSA-2048 key and a self-signed certificate for ``common_name``."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        # Backdate a little so a verifier with a slightly slow clock accepts it.
        start = datetime.now(UTC) - timedelta(minutes=5)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        return cls(private_key=key, certificate=certificate)

    @classmethod
    def from_pem(cls, key_pem: bytes, cert_pem: bytes) -> SigningKey:
        """Load an unencrypted PEM private key and its PEM certificate.

        Raises :class:`keyless.errors.InputError` when either cannot be read or
        the certificate is not for this key.
        """
        try:
            key = serialization.load_pem_private_key(key_pem, password=None)
        except (ValueError, TypeError) as exc:
            raise InputError(
                "the IdP signing key is not an unencrypted PEM private key",
                fix="provide a PKCS#8 or PKCS#1 PEM RSA key without a passphrase",
            ) from exc
        if not isinstance(key, rsa.RSAPrivateKey):
            raise InputError(
                f"the IdP signing key is a {type(key).__name__}, not an RSA key",
                fix="AWS accepts RSA signatures only: generate an RSA-2048 key",
            )
        try:
            certificate = x509.load_pem_x509_certificate(cert_pem)
        except ValueError as exc:
            raise InputError(
                "the IdP certificate is not a PEM X.509 certificate",
                fix="provide the certificate in PEM form (-----BEGIN CERTIFICATE-----)",
            ) from exc
        if certificate.public_key().public_numbers() != key.public_key().public_numbers():  # type: ignore[union-attr]
            raise InputError(
                "the IdP certificate does not belong to the signing key",
                fix="pass the certificate that was issued for this key",
            )
        return cls(private_key=key, certificate=certificate)

    def key_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM; the caller writes it mode 0600."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def cert_pem(self) -> bytes:
        """The certificate as PEM."""
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @functools.cached_property
    def cert_b64(self) -> str:
        """The certificate's DER in base64, as it goes in ``ds:X509Certificate``."""
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        return base64.b64encode(der).decode("ascii")
