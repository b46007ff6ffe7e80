"""Reading the SAML assertion on the client: its roles, duration and time, unverified.

The IdP's signature is AWS's to check; keyless only reads what it needs to
choose a role and a duration, through keyless.saml's parser that refuses
DTDs and entities. Nothing here is trusted: names say ``unverified``.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass
from datetime import datetime

from keyless.errors import ConfigError, RemoteError, SamlInputError
from keyless.saml.model import ATTR_ROLE, ATTR_SESSION_DURATION, ATTR_SESSION_NAME, RolePair
from keyless.saml.roles import read_role_values

_FORM_ACTION = re.compile(r"""<form\b[^>]*\baction\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


@dataclass(frozen=True)
class UnverifiedAssertion:
    """What the client reads from the assertion before AWS checks it (nothing here is trusted)."""

    roles: tuple[RolePair, ...]
    session_duration: int | None
    session_name: str | None
    issue_instant: datetime | None
    signin_url: str
    notes: tuple[str, ...] = ()  # Role values left out, and why


def read_unverified_assertion(page: str) -> tuple[str, UnverifiedAssertion]:
    """The base64 SAMLResponse from the app's page and what it says (read-only, unverified).

    The IdP signature is AWS's to check; keyless only reads the roles, and
    reads them through keyless.saml's parser that refuses DTDs and entities.
    """
    from keyless.saml.extract import extract_saml_response
    from keyless.saml.xmlsafe import NS, parse_instant, parse_untrusted, text_of

    unverified_xml = extract_saml_response(page)
    try:
        root = parse_untrusted(unverified_xml, what="SAML response from Okta")
    except SamlInputError:
        raise
    except Exception as exc:  # ForbiddenXml, TooDeep: hostile or broken
        raise RemoteError(
            f"the SAML response from Okta was refused by keyless's safe XML parser: {exc}",
            fix="report this to your Okta administrator; do not use this org until explained",
        ) from exc
    if root.find(".//saml:EncryptedAssertion", NS) is not None:
        raise ConfigError(
            "the AWS app sends an encrypted assertion, which a CLI cannot read",
            fix="turn off assertion encryption in the Okta AWS app (AWS does not support it)",
        )
    roles: list[RolePair] = []
    dropped: list[str] = []
    duration: int | None = None
    session_name: str | None = None
    for attribute in root.iterfind(".//saml:Assertion//saml:Attribute", NS):
        name = attribute.get("Name")
        values = [text_of(value) for value in attribute.iterfind("saml:AttributeValue", NS)]
        if name == ATTR_ROLE:
            read = read_role_values(values)
            roles.extend(pair for pair in read.pairs if pair not in roles)
            dropped.extend(
                f"{m.note()}; AWS would refuse it, so it is not offered" for m in read.malformed
            )
        elif name == ATTR_SESSION_DURATION and values:
            duration = int(values[0]) if values[0].isdigit() else None
        elif name == ATTR_SESSION_NAME and values:
            session_name = values[0]
    issue_instant = None
    assertion = root.find(".//saml:Assertion", NS)
    if assertion is not None and assertion.get("IssueInstant"):
        try:
            issue_instant = parse_instant(assertion.get("IssueInstant", ""))
        except ValueError:
            issue_instant = None
    action = _FORM_ACTION.search(page)
    signin_url = html.unescape(action.group(1)) if action else "https://signin.aws.amazon.com/saml"
    encoded = base64.b64encode(unverified_xml).decode("ascii")
    return encoded, UnverifiedAssertion(
        roles=tuple(roles),
        session_duration=duration,
        session_name=session_name,
        issue_instant=issue_instant,
        signin_url=signin_url,
        notes=tuple(dropped),
    )
