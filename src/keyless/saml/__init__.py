"""SAML 2.0 for AWS federation: sign assertions as an IdP, verify them as AWS STS does.

- :mod:`keyless.saml.keys`: the IdP signing key and certificate, loaded once.
- :mod:`keyless.saml.model`: the AWS attribute model and verification results.
- :mod:`keyless.saml.build`: build and sign a SAML Response (the IdP side).
- :mod:`keyless.saml.metadata`: IdP metadata, generated and parsed.
- :mod:`keyless.saml.verify`: strict verification with a reason for every refusal.
- :mod:`keyless.saml.extract`: pull the ``SAMLResponse`` out of base64 or an HTML form.
"""
