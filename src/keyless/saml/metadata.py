"""SAML IdP metadata: what an IAM SAML provider holds, parsed.

The certificates in metadata are the only ones a verifier trusts. Okta
publishes one ``KeyDescriptor`` per signing certificate, two during a
rotation, and sometimes a ``validUntil``; all of that is read here. keyless
only reads metadata; the lab IdP writes its own (``keyless_lab.saml.metadata``).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from keyless.errors import SamlInputError
from keyless.saml.xmlsafe import DS, MD, ForbiddenXml, TooDeep, parse_instant, parse_untrusted


def certificate_fingerprint(certificate: x509.Certificate) -> str:
    """The certificate's SHA-256 fingerprint as keyless prints and compares it everywhere:
    uppercase hex pairs joined by colons (``AB:CD:...``, 95 characters).

    This is the form ``openssl x509 -noout -fingerprint -sha256`` prints and certificate
    viewers show, so a person can hold keyless's output against the certificate their IdP
    or AWS account holds without converting it; one form, so that two outputs of keyless
    about the same certificate compare equal as text.
    """
    return certificate.fingerprint(hashes.SHA256()).hex(":").upper()


@dataclass(frozen=True)
class IdpMetadata:
    """An IdP as a SAML provider knows it: who it is and which keys sign for it."""

    entity_id: str
    certificates: tuple[x509.Certificate, ...]
    sso_urls: tuple[str, ...]
    valid_until: datetime | None

    def fingerprints(self) -> list[str]:
        """:func:`certificate_fingerprint` of each signing certificate, in metadata order."""
        return [certificate_fingerprint(cert) for cert in self.certificates]


def parse_metadata(unverified: bytes) -> IdpMetadata:
    """Parse IdP metadata (an EntityDescriptor, or an EntitiesDescriptor holding one IdP).

    Raises :class:`keyless.errors.SamlInputError` naming what is missing or broken.
    """
    fix = "download the metadata again from the IdP (Okta: the AWS app's Sign On tab)"
    try:
        root = parse_untrusted(unverified, what="IdP metadata")
    except (ForbiddenXml, TooDeep) as exc:
        raise SamlInputError(f"the IdP metadata is refused: {exc}", fix=fix) from exc
    if root.tag == MD + "EntitiesDescriptor":
        entities = [
            entity
            for entity in root.iter(MD + "EntityDescriptor")
            if entity.find(MD + "IDPSSODescriptor") is not None
        ]
        if len(entities) != 1:
            raise SamlInputError(
                f"the metadata describes {len(entities)} identity providers, expected exactly one",
                fix="extract the EntityDescriptor of the IdP you federate with",
            )
        root = entities[0]
    if root.tag != MD + "EntityDescriptor":
        raise SamlInputError(
            f"the metadata's root element is {root.tag}, not md:EntityDescriptor", fix=fix
        )
    entity_id = (root.get("entityID") or "").strip()
    if not entity_id:
        raise SamlInputError("the metadata's EntityDescriptor has no entityID", fix=fix)
    idp = root.find(MD + "IDPSSODescriptor")
    if idp is None:
        raise SamlInputError(
            f"the metadata of {entity_id} has no IDPSSODescriptor (is it SP metadata?)", fix=fix
        )

    certificates: list[x509.Certificate] = []
    for descriptor in idp.findall(MD + "KeyDescriptor"):
        # No "use" means the key serves both signing and encryption.
        if descriptor.get("use", "signing") != "signing":
            continue
        for element in descriptor.iterfind(f"{DS}KeyInfo/{DS}X509Data/{DS}X509Certificate"):
            text = "".join((element.text or "").split())
            try:
                certificate = x509.load_der_x509_certificate(base64.b64decode(text, validate=True))
            except ValueError as exc:
                raise SamlInputError(
                    f"a signing certificate in the metadata of {entity_id} cannot be read: {exc}",
                    fix=fix,
                ) from exc
            if certificate not in certificates:
                certificates.append(certificate)
    if not certificates:
        raise SamlInputError(f"the metadata of {entity_id} holds no signing certificate", fix=fix)

    sso_urls = tuple(
        location
        for service in idp.findall(MD + "SingleSignOnService")
        if (location := (service.get("Location") or "").strip())
    )
    valid_until: datetime | None = None
    raw_valid_until = root.get("validUntil")
    if raw_valid_until:
        try:
            valid_until = parse_instant(raw_valid_until)
        except ValueError as exc:
            raise SamlInputError(
                f"the metadata's validUntil {raw_valid_until!r} is not a timestamp", fix=fix
            ) from exc
    return IdpMetadata(
        entity_id=entity_id,
        certificates=tuple(certificates),
        sso_urls=sso_urls,
        valid_until=valid_until,
    )
