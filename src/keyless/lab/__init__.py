"""The embedded lab: an Okta-compatible IdP and a strict STS over moto, on loopback.

- :mod:`keyless.lab.runtime` starts and stops the whole lab (``keyless lab up``)
  and writes ``lab.json`` for clients.
- :mod:`keyless.lab.idp` is the identity provider (Okta's Classic authentication
  API, sessions, the AWS app, MFA, web pages), :mod:`keyless.lab.signin` the
  lab's AWS sign-in page, :mod:`keyless.lab.tls` the lab CA.
- :mod:`keyless.lab.aws` is moto's server behind a strict ``AssumeRoleWithSAML``
  and IAM enforcement, in a child process.

Nothing in the core knows about the lab: clients reach it by endpoint URLs.
"""
