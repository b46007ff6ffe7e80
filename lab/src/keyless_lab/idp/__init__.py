"""The lab's identity provider: an Okta-compatible SAML IdP on loopback.

- :mod:`keyless_lab.idp.directory`: users, groups and MFA enrolments in SQLite.
- :mod:`keyless_lab.idp.core`: sign-in transactions, sessions, lockout, rate
  limits, the audit log and the SAML assertions issued.
- :mod:`keyless_lab.idp.api`: Okta's Classic authentication, session and
  appLinks APIs (JSON, as Okta documents them).
- :mod:`keyless_lab.idp.apps`: the AWS Account Federation app (embed link, SSO
  URL, metadata) and the session-cookie redirect.
- :mod:`keyless_lab.idp.web`: the sign-in, MFA and dashboard pages.
- :mod:`keyless_lab.idp.server`: :class:`IdpServer`, HTTPS in a thread.
"""
