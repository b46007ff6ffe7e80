"""Getting short-lived credentials for a person: `keyless login`, `credential-process`, `exec`.

- :mod:`.service`: one sign-in, from the profile to AWS credentials.
- :mod:`.okta_signin`, :mod:`.okta_session`, :mod:`.okta_flows`, :mod:`.okta_device`:
  Okta's Classic authentication API, the kept session, the engines' flows, the device grant.
- :mod:`.assertion`, :mod:`.roles`, :mod:`.access`: the SAML response, the role choice,
  AWS credentials from it.
- :mod:`.profiles`: keyless profiles and their settings; :mod:`.wiring`: the cache and
  the cross-process lock around a sign-in.
"""
