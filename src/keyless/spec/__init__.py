"""The federation spec: one YAML file that describes a whole federation.

``model`` holds the pydantic types, ``load`` reads a file into them with
errors that name file, line and path, and ``expand`` turns a spec into the
per-account roles and the (group, account, role) grants every other part uses.
"""

from keyless.spec.expand import (
    AccountRoles,
    Grant,
    expand_accounts,
    expand_grants,
    grants_for_groups,
    role_arn,
    saml_provider_arn,
)
from keyless.spec.load import load_spec, load_spec_text
from keyless.spec.model import Account, FederatedRole, FederationSpec

__all__ = [
    "Account",
    "AccountRoles",
    "FederatedRole",
    "FederationSpec",
    "Grant",
    "expand_accounts",
    "expand_grants",
    "grants_for_groups",
    "load_spec",
    "load_spec_text",
    "role_arn",
    "saml_provider_arn",
]
