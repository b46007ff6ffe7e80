"""The embedded lab: an Okta-compatible IdP and a strict STS over moto, on loopback.

- :mod:`keyless_lab.runtime` starts and stops the whole lab (``keyless lab up``)
  and writes ``lab.json`` for clients.
- :mod:`keyless_lab.idp` is the identity provider (Okta's Classic authentication
  API, sessions, the AWS app, MFA, web pages), :mod:`keyless_lab.signin` the
  lab's AWS sign-in page, :mod:`keyless_lab.tls` the lab CA.
- :mod:`keyless_lab.aws` is moto's server behind a strict ``AssumeRoleWithSAML``
  and IAM enforcement, in a child process.

Nothing in the core knows about the lab: clients reach it by endpoint URLs.
"""
