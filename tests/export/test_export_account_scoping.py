"""Regression tests for issue 10 item 2: exports granted roles to accounts the spec never named.

The CloudFormation member template left a role unconditioned when its account list
happened to equal every current member (acme's ``OktaAdminRole``: ``[acme-prod,
acme-dev]``), so the README's auto-deploying StackSet gave AdministratorAccess to
every account that joined the OU later. A role with an account list must be scoped
to those accounts in every export, whatever the membership.

An account joining the OU is modelled as CloudFormation does it: the member template
is instantiated with ``AWS::AccountId`` set to the new id and its conditions decide
which resources exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

from keyless.export.cloudformation import member_template
from keyless.export.terraform import terraform_files
from keyless.plan.desired import desired_state
from keyless.spec import load_spec, load_spec_text
from keyless.spec.model import FederationSpec

REPO = Path(__file__).resolve().parents[2]
NEW_ACCOUNT = "444444444444"


def _specs() -> dict[str, FederationSpec]:
    acme = load_spec(REPO / "examples" / "acme.yaml")
    data = yaml.safe_load((REPO / "examples" / "acme.yaml").read_text())
    # The IdP lists roles through a role in each member account.
    data["provisioning_principal"] = {"kind": "role", "name": "Okta-Idp-cross-account-role"}
    # Every role named by list, which covers every member today.
    everyone = [a["alias"] for a in data["accounts"]]
    listed = yaml.safe_load(yaml.safe_dump(data))
    for role in listed["roles"]:
        role["accounts"] = everyone
    for mapping in listed["group_mappings"]:
        mapping["accounts"] = everyone
    return {
        "acme": acme,
        "acme-role-principal": load_spec_text(yaml.safe_dump(data)),
        "acme-all-listed": load_spec_text(yaml.safe_dump(listed)),
    }


SPECS = _specs()


def _evaluate(node: Any, conditions: dict[str, Any], account_id: str) -> Any:
    """The value of a CloudFormation condition expression in ``account_id``."""
    if isinstance(node, dict):
        ((function, argument),) = node.items()
        if function == "Ref":
            assert argument == "AWS::AccountId", argument
            return account_id
        if function == "Condition":
            return _evaluate(conditions[argument], conditions, account_id)
        values = [_evaluate(item, conditions, account_id) for item in argument]
        if function == "Fn::Equals":
            return values[0] == values[1]
        if function == "Fn::Or":
            assert 2 <= len(values) <= 10, "CloudFormation's Fn::Or takes 2 to 10 conditions"
            return any(values)
        if function == "Fn::And":
            return all(values)
        if function == "Fn::Not":
            return not values[0]
        raise AssertionError(f"unexpected intrinsic {function}")
    return node


def _roles_deployed(template: dict[str, Any], account_id: str) -> set[str]:
    """The role names a StackSet instance of ``template`` creates in ``account_id``."""
    conditions = template.get("Conditions", {})
    return {
        resource["Properties"]["RoleName"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Role"
        and (
            "Condition" not in resource
            or _evaluate(conditions[resource["Condition"]], conditions, account_id)
        )
    }


@pytest.mark.parametrize("name", sorted(SPECS))
def test_an_account_joining_the_ou_gets_only_the_all_accounts_roles(name: str) -> None:
    spec = SPECS[name]
    template = member_template(spec)
    assert template is not None
    everywhere = {role.name for role in spec.roles if role.accounts == "all"}
    assert _roles_deployed(template, NEW_ACCOUNT) == everywhere
    if name == "acme":
        # The review's case: AdministratorAccess for aws-admins must not follow new accounts.
        assert "OktaAdminRole" not in _roles_deployed(template, NEW_ACCOUNT)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_each_member_gets_exactly_its_roles(name: str) -> None:
    spec = SPECS[name]
    template = member_template(spec)
    assert template is not None
    for desired in desired_state(spec, None):
        if desired.account.management:
            continue
        assert _roles_deployed(template, desired.account.id) == {r.name for r in desired.roles}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_terraform_providers_refuse_other_accounts(name: str) -> None:
    """Terraform renders one module per named account; each provider is pinned to that
    account with ``allowed_account_ids``, so credentials for another account fail the plan."""
    spec = SPECS[name]
    parsed = hcl2.loads(terraform_files(spec)["providers.tf"])
    pinned: dict[str | None, list[str]] = {}
    for block in parsed["provider"]:
        body = block['"aws"']
        alias = body.get("alias")
        pinned[alias.strip('"') if alias else None] = [
            str(x).strip('"') for x in body["allowed_account_ids"]
        ]
    management = spec.management_account or spec.accounts[0]
    assert pinned.pop(None) == [management.id]
    expected = {account.alias.replace("-", "_"): [account.id] for account in spec.accounts}
    assert pinned == expected
