"""`keyless export cloudformation`: a StackSet template for member accounts, and the management one.

A service-managed StackSet deploys one template to every account of the
target OUs (never to the management account), including accounts that join
them later, so the member template holds every member account's roles, each
behind a condition on ``AWS::AccountId`` that matches the accounts the spec
puts it in. Only roles the spec gives ``accounts: all`` go without one. The
management account gets its own template, deployed as a plain stack. Both
render the same desired state ``keyless plan`` uses; the SAML provider's ARN
comes from ``Ref`` (which also orders the provider before the roles that trust
it).

CloudFormation has no account-alias resource: aliases stay with
``keyless apply`` (the README says so).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from keyless.export.common import accounts_to_export, logical_id, write_text
from keyless.plan.desired import DesiredAccount, DesiredRole, DesiredUser
from keyless.spec.model import FederationSpec

PROVIDER_ID = "SamlProvider"
MEMBER_TEMPLATE = "member-accounts.template.json"
MANAGEMENT_TEMPLATE = "management-account.template.json"


def _tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def _with_provider_ref(document: dict[str, Any], provider_arn: str) -> dict[str, Any]:
    """The trust policy with the account's provider ARN as ``Ref`` (the ARN differs per account)."""
    text = json.dumps(document)
    marker = json.dumps(provider_arn)
    return json.loads(text.replace(marker, json.dumps({"Ref": PROVIDER_ID})))  # type: ignore[no-any-return]


def _role_resource(role: DesiredRole, provider_arn: str, condition: str | None) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "RoleName": role.name,
        "Path": role.path,
        "Description": role.description,
        "MaxSessionDuration": role.max_session_duration,
        "AssumeRolePolicyDocument": _with_provider_ref(role.trust_policy, provider_arn),
        "Tags": _tags(role.tags),
    }
    if not role.description:
        del properties["Description"]
    if role.managed_policies:
        properties["ManagedPolicyArns"] = list(role.managed_policies)
    if role.inline_policies:
        properties["Policies"] = [
            {"PolicyName": name, "PolicyDocument": doc}
            for name, doc in role.inline_policies.items()
        ]
    if role.permissions_boundary:
        properties["PermissionsBoundary"] = role.permissions_boundary
    resource: dict[str, Any] = {"Type": "AWS::IAM::Role", "Properties": properties}
    if condition:
        resource["Condition"] = condition
    skips = []
    if any(p.endswith("/AdministratorAccess") for p in role.managed_policies):
        skips.append(
            {
                "id": "CKV_AWS_274",
                "comment": "Which role gets AdministratorAccess is the federation spec's "
                "reviewed decision; this template only renders it.",
            }
        )
    if role.purpose == "provisioning":
        skips.append(
            {
                "id": "CKV_AWS_61",
                "comment": "The IdP's listing role trusts the management account narrowed by an "
                "ArnEquals aws:PrincipalArn condition to the provisioning user, as Okta documents.",
            }
        )
    if skips:
        resource["Metadata"] = {"checkov": {"skip": skips}}
    return resource


def _user_resources(user: DesiredUser) -> dict[str, Any]:
    ((policy_name, document),) = user.inline_policies.items()
    return {
        "ProvisioningUser": {
            "Type": "AWS::IAM::User",
            "Metadata": {
                "checkov": {
                    "skip": [
                        {
                            "id": "CKV_AWS_273",
                            "comment": "Okta's AWS API integration signs in as an IAM user with an "
                            "access key; its only rights are listing roles and account aliases.",
                        }
                    ]
                }
            },
            "Properties": {"UserName": user.name, "Tags": _tags(user.tags)},
        },
        "ProvisioningUserPolicy": {
            "Type": "AWS::IAM::Policy",
            "Metadata": {
                "checkov": {
                    "skip": [
                        {
                            "id": "CKV_AWS_40",
                            "comment": "The IdP's provisioning user is a single fixed principal; "
                            "the policy only lists roles.",
                        }
                    ]
                }
            },
            "Properties": {
                "PolicyName": policy_name,
                "PolicyDocument": document,
                "Users": [{"Ref": "ProvisioningUser"}],
            },
        },
    }


def _base(description: str) -> dict[str, Any]:
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": description,
        "Parameters": {
            "SamlMetadataDocument": {
                "Type": "String",
                "Description": "The identity provider's SAML metadata XML (the app's Sign On tab).",
                "MinLength": 1000,
            }
        },
    }


def _provider(desired: DesiredAccount) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::SAMLProvider",
        "Properties": {
            "Name": desired.provider.name,
            "SamlMetadataDocument": {"Ref": "SamlMetadataDocument"},
            "Tags": _tags(desired.provider.tags),
        },
    }


def management_template(spec: FederationSpec) -> dict[str, Any] | None:
    """The management account's stack: its provider, roles and the IdP's provisioning user."""
    management = next((d for d in accounts_to_export(spec) if d.account.management), None)
    if management is None:
        return None
    template = _base(
        f"keyless federation {spec.name}: the management account "
        f"{management.account.alias} ({management.account.id})"
    )
    resources: dict[str, Any] = {PROVIDER_ID: _provider(management)}
    for role in management.roles:
        resources[f"Role{logical_id(role.name)}"] = _role_resource(
            role, management.provider.arn, None
        )
    for user in management.users:
        resources.update(_user_resources(user))
    template["Resources"] = resources
    return template


def _condition(account_ids: list[str]) -> dict[str, Any]:
    """True in any of ``account_ids`` (Fn::Or takes 2 to 10 conditions: nested beyond that)."""
    equals = [{"Fn::Equals": [{"Ref": "AWS::AccountId"}, account_id]} for account_id in account_ids]
    return _any(equals)


def _any(conditions: list[dict[str, Any]]) -> dict[str, Any]:
    if len(conditions) == 1:
        return conditions[0]
    if len(conditions) <= 10:
        return {"Fn::Or": conditions}
    return _any([_any(conditions[i : i + 10]) for i in range(0, len(conditions), 10)])


def _in_every_account(spec: FederationSpec, role: DesiredRole) -> bool:
    """Whether the spec gives ``role`` to every account (``accounts: all``), including
    accounts it does not list yet. The IdP's listing role serves listed accounts only."""
    spec_role = spec.role(role.name)
    return role.purpose == "federated" and spec_role is not None and spec_role.accounts == "all"


def member_template(spec: FederationSpec) -> dict[str, Any] | None:
    """The StackSet template: every member account's provider and roles, by account condition."""
    members = [d for d in accounts_to_export(spec) if not d.account.management]
    if not members:
        return None
    template = _base(
        f"keyless federation {spec.name}: member accounts (deploy as a service-managed StackSet)"
    )
    conditions: dict[str, Any] = {}
    resources: dict[str, Any] = {PROVIDER_ID: _provider(members[0])}
    by_role: dict[str, list[DesiredAccount]] = {}
    for desired in members:
        for role in desired.roles:
            by_role.setdefault(role.name, []).append(desired)
    for name, holders in by_role.items():
        sample = holders[0]
        role = next(r for r in sample.roles if r.name == name)
        condition = None
        if not _in_every_account(spec, role):
            # Scoped to the accounts the spec names even when they are, today, every
            # member: the StackSet also deploys to accounts that join the OU later.
            condition = f"In{logical_id(name)}Accounts"
            conditions[condition] = _condition(sorted(h.account.id for h in holders))
        resources[f"Role{logical_id(name)}"] = _role_resource(role, sample.provider.arn, condition)
    if conditions:
        template["Conditions"] = conditions
    template["Resources"] = resources
    return template


def _readme(spec: FederationSpec, files: list[str]) -> str:
    members = [a for a in spec.accounts if not a.management]
    management = spec.management_account
    return f"""# Federation `{spec.name}` as CloudFormation

Generated by `keyless export cloudformation` from the federation spec; it
describes exactly what `keyless plan` / `keyless apply` would build (SAML
provider `{spec.identity_provider.saml_provider_name}`, the federated roles with
their trust and permission policies, the IdP's role-listing principal), every
resource tagged `keyless:managed-by = {spec.name}`.

Files: {", ".join(f"`{f}`" for f in files)}.

## Member accounts: a service-managed StackSet

`{MEMBER_TEMPLATE}` is one template for all {len(members)} member account(s). Each
role carries a condition on `AWS::AccountId`, so an account gets exactly the
roles the spec gives it. Only a role with `accounts: all` has no condition: it
also lands in accounts that join the OU later. A role with an account list is
created in exactly those accounts, whatever else the OU holds now or later.

```sh
aws cloudformation create-stack-set --stack-set-name keyless-{spec.name} \\
  --template-body file://{MEMBER_TEMPLATE} \\
  --permission-model SERVICE_MANAGED \\
  --auto-deployment Enabled=true,RetainStacksOnAccountRemoval=false \\
  --capabilities CAPABILITY_NAMED_IAM \\
  --parameters ParameterKey=SamlMetadataDocument,ParameterValue="$(cat idp-metadata.xml)"
aws cloudformation create-stack-instances --stack-set-name keyless-{spec.name} \\
  --deployment-targets OrganizationalUnitIds=ou-xxxx-xxxxxxxx \\
  --regions us-east-1
```

IAM is global: deploy to one region only. Service-managed StackSets need
trusted access for CloudFormation in AWS Organizations
(`aws organizations enable-aws-service-access --service-principal \\
member.org.stacksets.cloudformation.amazonaws.com` or the console's StackSets page).

## The management account: a plain stack

Service-managed StackSets never deploy to the management account, so
`{MANAGEMENT_TEMPLATE}` holds its provider, roles and the IdP's provisioning
user{f" ({management.alias}, {management.id})" if management else ""}:

```sh
aws cloudformation deploy --stack-name keyless-{spec.name} \\
  --template-file {MANAGEMENT_TEMPLATE} \\
  --capabilities CAPABILITY_NAMED_IAM \\
  --parameter-overrides SamlMetadataDocument="$(cat idp-metadata.xml)"
```

The provisioning user's access key is not part of the template (a key in a
stack's outputs would be readable by anyone who can describe the stack): create
it once with `keyless apply --create-provisioning-key` or the IAM console.

## Not covered by CloudFormation

- Account aliases (no CloudFormation resource exists): `keyless apply` sets them.
"""


def cloudformation_files(spec: FederationSpec) -> dict[str, str]:
    """Every file of the export, by name."""
    files: dict[str, str] = {}
    member = member_template(spec)
    if member is not None:
        files[MEMBER_TEMPLATE] = json.dumps(member, indent=2) + "\n"
    management = management_template(spec)
    if management is not None:
        files[MANAGEMENT_TEMPLATE] = json.dumps(management, indent=2) + "\n"
    files["README.md"] = _readme(spec, sorted(files))
    return files


def write_cloudformation(spec: FederationSpec, out_dir: Path) -> list[Path]:
    """Write the CloudFormation export into ``out_dir``; returns the files written."""
    return [write_text(out_dir / name, text) for name, text in cloudformation_files(spec).items()]
