"""The lab IdP's SAML metadata, in the shape Okta publishes for the AWS app.

What an administrator downloads from the AWS app's Sign On tab and uploads as
the IAM SAML provider's metadata document (Okta, "How to Configure SAML 2.0
for Amazon Web Service",
https://saml-doc.okta.com/SAML_Docs/How-to-Configure-SAML-2.0-for-Amazon-Web-Service.html;
the elements are SAML 2.0 Metadata's, OASIS saml-metadata-2.0-os): an
EntityDescriptor with one IDPSSODescriptor, one signing KeyDescriptor per
certificate (two during a rotation), the NameID formats, and the POST and
Redirect SSO endpoints.

Only the lab (and tests that stand in for an IdP) writes metadata; keyless
reads it.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from keyless_lab.saml.xml import DS, MD, NS

_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
_PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol"
_NAMEID_FORMATS = (
    "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
    "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
)


def build_idp_metadata(
    *, entity_id: str, certificates: Sequence[x509.Certificate], sso_url: str
) -> bytes:
    """IdP metadata XML in the shape Okta publishes, one signing KeyDescriptor per certificate."""
    root = etree.Element(MD + "EntityDescriptor", nsmap={"md": NS["md"]}, entityID=entity_id)
    idp = etree.SubElement(
        root,
        MD + "IDPSSODescriptor",
        WantAuthnRequestsSigned="false",
        protocolSupportEnumeration=_PROTOCOL,
    )
    for certificate in certificates:
        descriptor = etree.SubElement(idp, MD + "KeyDescriptor", use="signing")
        key_info = etree.SubElement(descriptor, DS + "KeyInfo", nsmap={"ds": NS["ds"]})
        data = etree.SubElement(key_info, DS + "X509Data")
        der = certificate.public_bytes(serialization.Encoding.DER)
        etree.SubElement(data, DS + "X509Certificate").text = base64.b64encode(der).decode("ascii")
    for name_format in _NAMEID_FORMATS:
        etree.SubElement(idp, MD + "NameIDFormat").text = name_format
    for binding in (_POST, _REDIRECT):
        etree.SubElement(idp, MD + "SingleSignOnService", Binding=binding, Location=sso_url)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
