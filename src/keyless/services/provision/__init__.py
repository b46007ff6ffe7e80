"""Provisioning a federation: `keyless plan`, `keyless apply`.

- :mod:`.federation`: the use case — plan and apply across AWS and the Okta org,
  one result.
- :mod:`.accounts`: the AWS half, every account read and changed concurrently.
"""
