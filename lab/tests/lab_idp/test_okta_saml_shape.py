"""The lab's SAML response, decoded, has the shape of a real Okta AWS app response.

The reference is Okta's AWS Account Federation app as real responses show it
(a redacted capture kept as a test vector in segmentio/aws-okta,
``lib/saml_test.go``; the attribute NameFormats also in Okta's "How to
Configure SAML 2.0 for Amazon Web Services"). Values that change per response
(IDs, instants, digests, keys) are compared as placeholders, their relations
(NotBefore backdated five minutes, every NotOnOrAfter five minutes on) checked
on their own. Okta's serializer repeats ``xmlns:saml2`` on the Assertion's
children; no reader sees a repeated declaration, so the skeleton ignores
repeats, and the one repeat a signature relies on (``xmlns:xs`` on the
Assertion as well as the Response, for ``InclusiveNamespaces PrefixList="xs"``
when the Assertion is taken out alone) is checked in the bytes.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from lxml import etree

from keyless_lab.idp.server import IdpServer
from lab_idp.idp_support import NewUser
from lab_idp.test_sessions_and_app import _form, sign_in

# Okta's response for one role, as the capture shows it (whitespace removed, the
# per-response values as placeholders; xmlns:saml2 repeats left out, see above).
OKTA_SHAPE = """
<saml2p:Response xmlns:saml2p="urn:oasis:names:tc:SAML:2.0:protocol"
    xmlns:xs="http://www.w3.org/2001/XMLSchema"
    Destination="https://signin.aws.amazon.com/saml" ID="{id}" IssueInstant="{time}"
    Version="2.0">
 <saml2:Issuer xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion"
     Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">{issuer}</saml2:Issuer>
 <ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
  <ds:SignedInfo>
   <ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
   <ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>
   <ds:Reference URI="#{id}">
    <ds:Transforms>
     <ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
     <ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#">
      <ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#"
          PrefixList="xs"/>
     </ds:Transform>
    </ds:Transforms>
    <ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
    <ds:DigestValue>{b64}</ds:DigestValue>
   </ds:Reference>
  </ds:SignedInfo>
  <ds:SignatureValue>{b64}</ds:SignatureValue>
  <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{b64}</ds:X509Certificate></ds:X509Data>
  </ds:KeyInfo>
 </ds:Signature>
 <saml2p:Status>
  <saml2p:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>
 </saml2p:Status>
 <saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion"
     xmlns:xs="http://www.w3.org/2001/XMLSchema" ID="{id}" IssueInstant="{time}" Version="2.0">
  <saml2:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">{issuer}</saml2:Issuer>
  <ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
   <ds:SignedInfo>
    <ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
    <ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>
    <ds:Reference URI="#{id}">
     <ds:Transforms>
      <ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
      <ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#">
       <ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#"
           PrefixList="xs"/>
      </ds:Transform>
     </ds:Transforms>
     <ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
     <ds:DigestValue>{b64}</ds:DigestValue>
    </ds:Reference>
   </ds:SignedInfo>
   <ds:SignatureValue>{b64}</ds:SignatureValue>
   <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{b64}</ds:X509Certificate></ds:X509Data>
   </ds:KeyInfo>
  </ds:Signature>
  <saml2:Subject>
   <saml2:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
       >{login}</saml2:NameID>
   <saml2:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
    <saml2:SubjectConfirmationData NotOnOrAfter="{time}"
        Recipient="https://signin.aws.amazon.com/saml"/>
   </saml2:SubjectConfirmation>
  </saml2:Subject>
  <saml2:Conditions NotBefore="{time}" NotOnOrAfter="{time}">
   <saml2:AudienceRestriction>
    <saml2:Audience>urn:amazon:webservices</saml2:Audience>
   </saml2:AudienceRestriction>
  </saml2:Conditions>
  <saml2:AuthnStatement AuthnInstant="{time}" SessionIndex="{id}">
   <saml2:AuthnContext>
    <saml2:AuthnContextClassRef
      >urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml2:AuthnContextClassRef>
   </saml2:AuthnContext>
  </saml2:AuthnStatement>
  <saml2:AttributeStatement>
   <saml2:Attribute Name="https://aws.amazon.com/SAML/Attributes/Role"
       NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">
    <saml2:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema"
        xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
        xsi:type="xs:string">{role}</saml2:AttributeValue>
   </saml2:Attribute>
   <saml2:Attribute Name="https://aws.amazon.com/SAML/Attributes/RoleSessionName"
       NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">
    <saml2:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema"
        xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
        xsi:type="xs:string">{login}</saml2:AttributeValue>
   </saml2:Attribute>
   <saml2:Attribute Name="https://aws.amazon.com/SAML/Attributes/SessionDuration"
       NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">
    <saml2:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema"
        xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
        xsi:type="xs:string">3600</saml2:AttributeValue>
   </saml2:Attribute>
  </saml2:AttributeStatement>
 </saml2:Assertion>
</saml2p:Response>
"""

_ID = re.compile(r"^#?id[0-9a-zA-Z.]{16,}$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$")
_B64 = re.compile(r"^[A-Za-z0-9+/=\s]{40,}$")


def _value(value: str, login: str, issuer: str, role: str) -> str:
    stripped = value.strip()
    if _ID.match(stripped):
        return ("#" if stripped.startswith("#") else "") + "{id}"
    if _TIME.match(stripped):
        return "{time}"
    if _B64.match(stripped):
        return "{b64}"
    return {login: "{login}", issuer: "{issuer}", role: "{role}"}.get(stripped, stripped)


def _skeleton(element: etree._Element, **values: str) -> Any:
    """Tag, attributes, the prefixes first declared here, text; children in order."""
    parent = element.getparent()
    inherited = parent.nsmap if parent is not None else {}
    declared = sorted(
        prefix or "" for prefix, uri in element.nsmap.items() if inherited.get(prefix) != uri
    )
    return (
        element.tag,
        sorted((str(k), _value(str(v), **values)) for k, v in element.attrib.items()),
        declared,
        _value(element.text or "", **values),
        [_skeleton(child, **values) for child in element],
    )


def test_lab_response_has_oktas_shape(
    server: IdpServer, client: httpx.Client, make_user: Callable[..., NewUser]
) -> None:
    # One role, so the response compares with the one-role capture value for value.
    user = make_user(groups=("developers",))
    client.post("/api/v1/sessions", json={"sessionToken": sign_in(client, user)})
    _, saml = _form(client.get(server.app_url).text)
    raw = base64.b64decode(saml)
    lab = etree.fromstring(raw)
    for root in (b"saml2p:Response", b"saml2:Assertion"):
        assert re.search(b"<" + root + b' [^>]*xmlns:xs="http://www.w3.org/2001/XMLSchema"', raw)

    role_values = lab.xpath(
        "//*[local-name()='Attribute'][@Name='https://aws.amazon.com/SAML/Attributes/Role']"
        "/*/text()"
    )
    assert isinstance(role_values, list)
    assert len(role_values) == 1
    values = {"login": user.login, "issuer": server.entity_id, "role": str(role_values[0])}
    okta = etree.fromstring(re.sub(r">\s+<", "><", OKTA_SHAPE.strip()).replace("\n", " "))
    assert _skeleton(lab, **values) == _skeleton(okta, **values)

    # The instants, as Okta relates them.
    ns = {"saml2": "urn:oasis:names:tc:SAML:2.0:assertion"}

    def instant(path: str) -> datetime:
        found = lab.xpath(path, namespaces=ns)
        assert isinstance(found, list)
        return datetime.fromisoformat(str(found[0]).replace("Z", "+00:00"))

    issued = instant("saml2:Assertion/@IssueInstant")
    assert instant("@IssueInstant") == issued
    assert instant("saml2:Assertion/saml2:AuthnStatement/@AuthnInstant") <= issued
    assert instant("saml2:Assertion/saml2:Conditions/@NotBefore") == issued - timedelta(minutes=5)
    for expiry in (
        "saml2:Assertion/saml2:Conditions/@NotOnOrAfter",
        "saml2:Assertion/saml2:Subject/saml2:SubjectConfirmation"
        "/saml2:SubjectConfirmationData/@NotOnOrAfter",
    ):
        assert instant(expiry) == issued + timedelta(minutes=5)
    # Okta writes the provider first, then the role, in one account.
    provider, role = str(role_values[0]).split(",")
    assert provider == "arn:aws:iam::333333333333:saml-provider/Okta"
    assert role == "arn:aws:iam::333333333333:role/Developer"
