"""Export a federation's AWS side to the engine a team already runs.

``terraform``: a reusable module for one account's federation, a root with one
AWS provider alias per account (assuming its access role) and, for an Okta
spec, the ``okta_app_saml`` app. ``cloudformation``: a member-account template
for a service-managed StackSet plus the management account's template. Both
render the same desired state ``keyless plan`` uses.
"""
