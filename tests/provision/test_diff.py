"""The pure plan core: desired state, policy comparison, and the order of operations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from keyless.plan.desired import MANAGED_BY_TAG, desired_account, desired_state, trust_policy
from keyless.plan.diff import DiffOptions, diff_account, diff_alias, diff_provider, diff_role
from keyless.plan.documents import metadata_identity, same_policy
from keyless.plan.state import ActualAccount, ActualProvider, ActualRole, ActualUser
from keyless.spec import load_spec, load_spec_text
from keyless.spec.model import FederationSpec
from keyless_lab.saml.keys import SigningKey
from keyless_lab.saml.metadata import build_idp_metadata

REPO = Path(__file__).resolve().parents[2]
ACME = load_spec(REPO / "examples" / "acme.yaml")
OURS = {MANAGED_BY_TAG: "acme"}


def _metadata(common_name: str = "idp") -> bytes:
    key = SigningKey.generate(common_name)
    return build_idp_metadata(
        entity_id="http://www.okta.com/exk1",
        certificates=[key.certificate],
        sso_url="https://x/sso",
    )


METADATA = _metadata()


def _variant(**changes: Any) -> FederationSpec:
    data = yaml.safe_load((REPO / "examples" / "acme.yaml").read_text())
    data.update(changes)
    return load_spec_text(yaml.safe_dump(data))


def _actual_from_desired(spec: FederationSpec, alias: str, **role_overrides: Any) -> ActualAccount:
    """An account that holds exactly what the spec wants (as apply would leave it)."""
    account = spec.account(alias)
    assert account is not None
    desired = desired_account(spec, account, METADATA)
    roles = {
        r.name: ActualRole(
            name=r.name,
            path=r.path,
            arn=r.arn,
            trust_policy=json.loads(json.dumps(r.trust_policy)),
            managed_policies=r.managed_policies,
            inline_policies=dict(r.inline_policies),
            max_session_duration=r.max_session_duration,
            permissions_boundary=r.permissions_boundary,
            description=r.description,
            tags=dict(r.tags),
        )
        for r in desired.roles
    }
    for name, overrides in role_overrides.items():
        roles[name] = ActualRole(**{**roles[name].__dict__, **overrides})
    users = {
        u.name: ActualUser(
            name=u.name,
            arn=u.arn,
            inline_policies=dict(u.inline_policies),
            managed_policies=(),
            tags=dict(u.tags),
        )
        for u in desired.users
    }
    return ActualAccount(
        account_id=account.id,
        provider=ActualProvider(arn=desired.provider.arn, metadata_xml=METADATA, tags=dict(OURS)),
        roles=roles,
        users=users,
        aliases=(alias,),
    )


def test_trust_policy_names_the_accounts_provider_and_every_signin_url() -> None:
    spec = _variant(
        identity_provider={
            "kind": "lab",
            "signin_urls": [
                "https://signin.aws.amazon.com/saml",
                "https://eu-west-1.signin.aws.amazon.com/saml",
            ],
        }
    )
    account = spec.account("acme-prod")
    assert account is not None
    assert trust_policy(spec, account) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "FederatedFromIdp",
                "Effect": "Allow",
                "Principal": {"Federated": "arn:aws:iam::222222222222:saml-provider/Okta"},
                "Action": ["sts:AssumeRoleWithSAML", "sts:SetSourceIdentity", "sts:TagSession"],
                "Condition": {
                    "StringEquals": {
                        "SAML:aud": [
                            "https://signin.aws.amazon.com/saml",
                            "https://eu-west-1.signin.aws.amazon.com/saml",
                        ]
                    }
                },
            }
        ],
    }


def test_require_source_identity_refuses_assertions_without_one() -> None:
    """Issue 23: `source_identity.require` adds a Null condition on sts:SourceIdentity."""
    from keyless.policy.trust import evaluate_trust_policy

    spec = _variant(identity_provider={"kind": "lab", "source_identity": {"require": True}})
    account = spec.account("acme-dev")
    assert account is not None
    policy = trust_policy(spec, account)
    condition = policy["Statement"][0]["Condition"]
    assert condition["Null"] == {"sts:SourceIdentity": "false"}
    provider = "arn:aws:iam::333333333333:saml-provider/Okta"
    context = {"SAML:aud": ["https://signin.aws.amazon.com/saml"]}
    without = evaluate_trust_policy(
        policy, principal_arn=provider, action="sts:AssumeRoleWithSAML", context=context
    )
    assert not without.allowed
    assert "sts:SourceIdentity" in without.explanation
    with_one = {**context, "sts:SourceIdentity": ["alice@acme.example"]}
    for action in ("sts:AssumeRoleWithSAML", "sts:SetSourceIdentity"):
        decision = evaluate_trust_policy(
            policy, principal_arn=provider, action=action, context=with_one
        )
        assert decision.allowed, decision.explanation
    default = trust_policy(_variant(), account)
    assert "Null" not in default["Statement"][0]["Condition"]


def test_equivalent_policies_are_not_a_change() -> None:
    left = {
        "Version": "2012-10-17",
        "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
    }
    statement: dict[str, object] = {
        "Effect": "Allow",
        "Action": ["s3:GetObject"],
        "Resource": ["*"],
    }
    right = {"Version": "2012-10-17", "Statement": [statement]}
    assert same_policy(left, right)
    assert not same_policy(left, {**right, "Statement": [{**statement, "Effect": "Deny"}]})


def test_a_converged_account_has_no_changes() -> None:
    for alias in ("acme-management", "acme-prod", "acme-dev"):
        account = ACME.account(alias)
        assert account is not None
        plan = diff_account(
            desired_account(ACME, account, METADATA),
            _actual_from_desired(ACME, alias),
            DiffOptions("acme"),
        )
        assert plan.changes == (), plan.changes


def test_new_role_is_created_before_its_policies() -> None:
    account = ACME.account("acme-dev")
    assert account is not None
    role = next(r for r in desired_account(ACME, account, METADATA).roles if r.name == "Developer")
    (change,) = diff_role(role, None, spec_name="acme", adopt=False)
    assert [op.api for op in change.operations] == [
        "create_role",
        "put_role_policy",
        "attach_role_policy",
    ]
    params = change.operations[0].params
    assert {"Key": MANAGED_BY_TAG, "Value": "acme"} in params["Tags"]
    assert json.loads(params["AssumeRolePolicyDocument"]) == role.trust_policy


def test_policies_change_before_trust() -> None:
    wrong_trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Federated": "x"}, "Action": "sts:AssumeRoleWithSAML"}
        ],
    }
    actual = _actual_from_desired(
        ACME,
        "acme-dev",
        Developer={
            "trust_policy": wrong_trust,
            "managed_policies": (),
            "max_session_duration": 3600,
        },
    )
    account = ACME.account("acme-dev")
    assert account is not None
    plan = diff_account(desired_account(ACME, account, METADATA), actual, DiffOptions("acme"))
    (change,) = plan.changes
    apis = [op.api for op in change.operations]
    assert apis == ["attach_role_policy", "update_role", "update_assume_role_policy"]
    trust = next(f for f in change.fields if f.field == "trust_policy")
    assert any(line.startswith("+") and "SAML:aud" in line for line in trust.diff_lines())


def test_unmanaged_role_is_a_conflict_unless_adopted() -> None:
    actual = _actual_from_desired(ACME, "acme-prod", ReadOnly={"tags": {}, "managed_policies": ()})
    account = ACME.account("acme-prod")
    assert account is not None
    desired = desired_account(ACME, account, METADATA)
    (conflict,) = diff_account(desired, actual, DiffOptions("acme")).changes
    assert (conflict.action, conflict.name, conflict.operations) == ("conflict", "ReadOnly", ())
    assert "--adopt" in conflict.reason
    (adopted,) = diff_account(desired, actual, DiffOptions("acme", adopt=True)).changes
    assert adopted.action == "update"
    assert [op.api for op in adopted.operations] == ["attach_role_policy", "tag_role"]


def test_role_of_another_federation_is_a_conflict() -> None:
    account = ACME.account("acme-prod")
    assert account is not None
    role = desired_account(ACME, account, METADATA).roles[0]
    actual = _actual_from_desired(ACME, "acme-prod").roles[role.name]
    theirs = ActualRole(**{**actual.__dict__, "tags": {MANAGED_BY_TAG: "other"}})
    (change,) = diff_role(role, theirs, spec_name="acme", adopt=False)
    assert change.action == "conflict"
    assert "'other'" in change.reason


def test_roles_that_left_the_spec_are_kept_unless_pruned() -> None:
    actual = _actual_from_desired(ACME, "acme-prod")
    gone = ActualRole(
        name="OldRole",
        path="/",
        arn="arn:aws:iam::222222222222:role/OldRole",
        trust_policy={},
        managed_policies=("arn:aws:iam::aws:policy/ReadOnlyAccess",),
        inline_policies={"p": {}},
        max_session_duration=3600,
        permissions_boundary=None,
        description="",
        tags=dict(OURS),
        instance_profiles=("ip",),
    )
    hand_made = ActualRole(**{**gone.__dict__, "name": "HandMade", "tags": {}})
    actual = ActualAccount(
        **{**actual.__dict__, "roles": {**actual.roles, "OldRole": gone, "HandMade": hand_made}}
    )
    account = ACME.account("acme-prod")
    assert account is not None
    desired = desired_account(ACME, account, METADATA)
    (orphan,) = diff_account(desired, actual, DiffOptions("acme")).changes
    assert (orphan.action, orphan.name, orphan.pending) == ("orphan", "OldRole", False)
    (delete,) = diff_account(desired, actual, DiffOptions("acme", prune=True)).changes
    assert [op.api for op in delete.operations] == [
        "remove_role_from_instance_profile",
        "detach_role_policy",
        "delete_role_policy",
        "delete_role",
    ]


def test_metadata_change_is_shown_by_fingerprint_and_expiry() -> None:
    account = ACME.account("acme-prod")
    assert account is not None
    desired = desired_account(ACME, account, METADATA).provider
    rotated = _metadata("rotated")
    actual = ActualProvider(arn=desired.arn, metadata_xml=rotated, tags=dict(OURS))
    (change,) = diff_provider(desired, actual, spec_name="acme", adopt=False)
    assert [op.api for op in change.operations] == ["update_saml_provider"]
    lines = change.fields[0].diff_lines()
    assert any("cert sha256" in line and "expires" in line for line in lines)
    # The same metadata, re-serialized, is no change; unmanaged but identical is left alone.
    assert metadata_identity(METADATA.replace(b"><", b">\n<")) == metadata_identity(METADATA)
    same = ActualProvider(arn=desired.arn, metadata_xml=METADATA, tags={})
    assert diff_provider(desired, same, spec_name="acme", adopt=False) == []
    other = ActualProvider(arn=desired.arn, metadata_xml=rotated, tags={})
    assert diff_provider(desired, other, spec_name="acme", adopt=False)[0].action == "conflict"


def test_alias() -> None:
    assert diff_alias("acme-prod", ("acme-prod",), adopt=False) == []
    assert diff_alias("acme-prod", (), adopt=False)[0].operations[0].api == "create_account_alias"
    assert diff_alias("acme-prod", ("legacy",), adopt=False)[0].action == "conflict"
    assert [op.api for op in diff_alias("acme-prod", ("legacy",), adopt=True)[0].operations] == [
        "delete_account_alias",
        "create_account_alias",
    ]


def test_provisioning_user_with_extra_rights_is_narrowed() -> None:
    # Only role import has a provisioning principal (group mapping holds no key).
    spec = _variant(
        mapping_mode="role_import",
        group_convention={"enabled": False},
        provisioning_principal={"kind": "user", "name": "OktaProvisioningUser"},
    )
    actual = _actual_from_desired(spec, "acme-management")
    user = actual.users["OktaProvisioningUser"]
    wide = ActualUser(
        **{**user.__dict__, "managed_policies": ("arn:aws:iam::aws:policy/IAMFullAccess",)}
    )
    actual = ActualAccount(**{**actual.__dict__, "users": {user.name: wide}})
    account = spec.account("acme-management")
    assert account is not None
    (change,) = diff_account(
        desired_account(spec, account, METADATA), actual, DiffOptions("acme")
    ).changes
    assert [op.api for op in change.operations] == ["detach_user_policy"]


def test_role_kind_provisioning_principal() -> None:
    spec = _variant(provisioning_principal={"kind": "role"})
    states = {d.account.alias: d for d in desired_state(spec, METADATA)}
    management = states["acme-management"]
    (user,) = management.users
    statements = user.inline_policies["keyless-idp-list-roles"]["Statement"]
    assert statements[1]["Resource"] == [
        "arn:aws:iam::222222222222:role/Okta-Idp-cross-account-role",
        "arn:aws:iam::333333333333:role/Okta-Idp-cross-account-role",
    ]
    assert "Okta-Idp-cross-account-role" not in management.role_names
    listing = next(r for r in states["acme-prod"].roles if r.name == "Okta-Idp-cross-account-role")
    (statement,) = listing.trust_policy["Statement"]
    assert statement["Principal"] == {"AWS": "arn:aws:iam::111111111111:root"}
    assert statement["Condition"] == {
        "ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::111111111111:user/OktaProvisioningUser"}
    }
    (policy,) = listing.inline_policies.values()
    assert policy["Statement"][0]["Action"] == ["iam:ListAccountAliases", "iam:ListRoles"]
