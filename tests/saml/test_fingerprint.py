"""Certificate fingerprints: one function, one form, everywhere keyless prints one (issue 20:
the plan printed ``AB:CD:...`` and the audit, inspect and verify printed ``abcd...``)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from keyless.plan.documents import metadata_summary
from keyless.saml.inspect import inspect_response
from keyless.saml.metadata import IdpMetadata, certificate_fingerprint
from keyless.saml.verify import verify_response
from keyless_lab.saml.keys import SigningKey
from keyless_lab.saml.metadata import build_idp_metadata
from saml_data import NOW, Build

COLON_HEX = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){31}$")


def test_the_form_is_uppercase_colon_separated_sha256(idp_key: SigningKey) -> None:
    assert COLON_HEX.match(certificate_fingerprint(idp_key.certificate))


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_the_form_is_what_openssl_prints(idp_key: SigningKey) -> None:
    shown = subprocess.run(
        ["openssl", "x509", "-noout", "-fingerprint", "-sha256"],
        input=idp_key.cert_pem(),
        capture_output=True,
        check=True,
    ).stdout.decode()
    # "sha256 Fingerprint=AB:CD:..." (OpenSSL 3; 1.1 says "SHA256 Fingerprint=")
    assert shown.strip().split("=", 1)[1] == certificate_fingerprint(idp_key.certificate)


def test_every_output_uses_the_one_form(
    idp_key: SigningKey, attacker_key: SigningKey, metadata: IdpMetadata, build: Build
) -> None:
    expected = certificate_fingerprint(idp_key.certificate)
    assert certificate_fingerprint(idp_key.certificate) == expected
    assert metadata.fingerprints() == [expected]
    document = build_idp_metadata(
        entity_id="http://idp", certificates=[idp_key.certificate], sso_url="https://idp/sso"
    )
    assert [c["sha256"] for c in metadata_summary(document)["certificates"]] == [expected]
    inspection = inspect_response(build(), now=NOW)
    assert {s.certificate_sha256 for s in inspection.signatures} == {expected}
    refused = verify_response(build(key=attacker_key), metadata=metadata, now=NOW)
    assert certificate_fingerprint(attacker_key.certificate) in refused.reasons[0].message
    assert expected in refused.reasons[0].message
