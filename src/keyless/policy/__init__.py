"""IAM policy documents: trust policy evaluation for AssumeRoleWithSAML.

- :mod:`keyless.policy.conditions`: the IAM condition operators.
- :mod:`keyless.policy.trust`: statement matching and the Allow/Deny decision.
"""
