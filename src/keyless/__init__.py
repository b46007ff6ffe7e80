"""keyless: end long-lived AWS access keys with SAML federation from an identity provider."""

__version__ = "0.1.0"
