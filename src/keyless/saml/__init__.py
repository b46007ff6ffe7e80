"""SAML 2.0 for AWS federation: verify assertions as AWS STS does, and explain refusals.

keyless never signs assertions (the IdP does; the lab's signer lives in
``keyless_lab.saml``).

- :mod:`keyless.saml.model`: the AWS attribute model and verification results.
- :mod:`keyless.saml.metadata`: IdP metadata, generated and parsed.
- :mod:`keyless.saml.verify`: strict verification with a reason for every refusal.
- :mod:`keyless.saml.extract`: pull the ``SAMLResponse`` out of base64 or an HTML form.
"""
