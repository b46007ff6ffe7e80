"""Comparing and showing IAM policy documents and SAML metadata, without I/O.

IAM stores a policy as written, but two documents that mean the same thing can
be spelled differently (``"Action": "x"`` vs ``["x"]``, list order); comparing
raw JSON would plan changes that are not changes, forever.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from cryptography import x509

from keyless.errors import SamlInputError
from keyless.saml.metadata import IdpMetadata, certificate_fingerprint, parse_metadata

# Keys whose values are sets in IAM's grammar: a string means a one-element set.
_SET_KEYS = frozenset({"Action", "NotAction", "Resource", "NotResource"})


def _as_set(value: Any) -> Any:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return sorted(set(value))
    return value


def normalize_policy(document: Any) -> Any:
    """A canonical form of a policy document: equal iff IAM would treat them the same."""
    if not isinstance(document, dict):
        return document
    result: dict[str, Any] = {}
    for key, value in document.items():
        if key == "Statement":
            statements = value if isinstance(value, list) else [value]
            normalized = [normalize_statement(s) for s in statements]
            result[key] = sorted(normalized, key=lambda s: json.dumps(s, sort_keys=True))
        else:
            result[key] = value
    return result


def normalize_statement(statement: Any) -> Any:
    """A canonical form of one policy statement."""
    if not isinstance(statement, dict):
        return statement
    result: dict[str, Any] = {}
    for key, value in statement.items():
        if key in _SET_KEYS:
            result[key] = _as_set(value)
        elif key in ("Principal", "NotPrincipal") and isinstance(value, dict):
            result[key] = {k: _as_set(v) for k, v in value.items()}
        elif key == "Condition" and isinstance(value, dict):
            result[key] = {
                operator: {k: _as_set(v) for k, v in (block or {}).items()}
                if isinstance(block, dict)
                else block
                for operator, block in value.items()
            }
        else:
            result[key] = value
    return result


def same_policy(left: Any, right: Any) -> bool:
    """Whether two policy documents are equivalent for IAM."""
    return bool(normalize_policy(left) == normalize_policy(right))


def policy_json(document: Any) -> str:
    """The JSON IAM is sent: compact, stable key order."""
    return json.dumps(document, separators=(",", ":"), sort_keys=True)


def json_diff(before: Any, after: Any, *, name: str = "document") -> list[str]:
    """A unified diff of two JSON documents, pretty-printed, for people to review."""
    left = json.dumps(before, indent=2, sort_keys=True).splitlines() if before is not None else []
    right = json.dumps(after, indent=2, sort_keys=True).splitlines() if after is not None else []
    return list(
        difflib.unified_diff(
            left, right, fromfile=f"{name} (now)", tofile=f"{name} (spec)", lineterm="", n=3
        )
    )


def _certificate_summary(certificate: x509.Certificate) -> dict[str, str]:
    return {
        "sha256": certificate_fingerprint(certificate),
        "not_after": certificate.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "subject": certificate.subject.rfc4514_string(),
    }


def metadata_summary(metadata_xml: bytes | None) -> dict[str, Any]:
    """What a reviewer needs of IdP metadata: issuer, certificates (fingerprint, expiry)."""
    if metadata_xml is None:
        return {"entity_id": None, "certificates": []}
    try:
        metadata = parse_metadata(metadata_xml)
    except SamlInputError as error:
        return {"entity_id": None, "certificates": [], "unreadable": error.message}
    return {
        "entity_id": metadata.entity_id,
        "certificates": [_certificate_summary(c) for c in metadata.certificates],
    }


def metadata_identity(metadata_xml: bytes) -> tuple[str, tuple[str, ...]] | None:
    """(entity id, sorted certificate fingerprints): what a SAML provider verifies with.

    Whitespace, attribute order or a refreshed ``validUntil`` do not change
    which assertions AWS accepts, so they are not a change worth applying.
    Unreadable metadata gives None (never equal to anything readable).
    """
    try:
        metadata: IdpMetadata = parse_metadata(metadata_xml)
    except SamlInputError:
        return None
    return metadata.entity_id, tuple(sorted(metadata.fingerprints()))
