"""The lab's model of Okta's AWS Account Federation app, pinned to Okta's documented examples.

Independent of keyless: nothing here imports keyless.plan or keyless.saml, so a
bug in keyless's idea of Okta cannot make these pass. The expected strings are
copied from Okta's pages, not computed:

- "Enable group-based role mapping in Okta"
  (https://help.okta.com/en/prod/Content/Topics/DeploymentGuides/AWS/aws-enable-role-based.htm):
  the group names ``aws#[account alias]#[role name]#[account #]``, the default
  Group Filter, the alternative ``aws_<id>_<role>`` filter, the Role Value Pattern;
- "Configure the Amazon Web Services Account Federation app in Okta"
  (https://help.okta.com/en-us/content/topics/deploymentguides/aws/aws-configure-aws-app.htm):
  the Join all roles example (Role1/Role2 directly, RoleA/RoleB via GroupAWS).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from keyless.spec import FederationSpec, load_spec_text
from keyless_lab.idp import admin, awsapp
from keyless_lab.idp.server import IdpServer
from keyless_lab.saml.attributes import (
    ATTR_ROLE,
    ATTR_SESSION_DURATION,
    ATTR_SESSION_NAME,
    RolePair,
    assumable_pair,
)
from keyless_lab.saml.xml import SAML, UnsafeXml, format_instant, parse_posted, text_of

# Copied from aws-enable-role-based.htm.
DOC_GROUP_FILTER = r"^aws\#\S+\#(?{{role}}[\w\-]+)\#(?{{accountid}}\d+)$"
DOC_ALTERNATIVE_FILTER = r"aws_(?{{accountid}}\d+)_(?{{role}}[a-zA-Z0-9+=,.@\-_]+)"
DOC_ROLE_VALUE_PATTERN = (
    "arn:aws:iam::${accountid}:saml-provider/[SAML Provider Name],"
    "arn:aws:iam::${accountid}:role/${role}"
)


# The API integration's key pair (Okta: Provisioning > API Integration); test values.
API_INTEGRATION = {"accessKey": "AKIAEXAMPLEEXAMPLE00", "secretKey": "test-secret"}


def _pattern(provider: str) -> str:
    # "Replace [SAML Provider Name] with the name of the SAML provider you created in AWS."
    return DOC_ROLE_VALUE_PATTERN.replace("[SAML Provider Name]", provider)


def _mapping(filter_: str = DOC_GROUP_FILTER, provider: str = "Okta") -> dict[str, Any]:
    return {
        "useGroupMapping": True,
        "groupFilter": filter_,
        "roleValuePattern": _pattern(provider),
        "joinAllRoles": True,
    }


def test_the_lab_knows_okta_s_documented_filter_and_pattern() -> None:
    assert awsapp.DOCUMENTED_GROUP_FILTER == DOC_GROUP_FILTER
    assert awsapp.documented_role_value_pattern("Okta") == _pattern("Okta")


def test_a_documented_group_name_gives_the_documented_role_value() -> None:
    group = "aws#acme-prod#OktaAdminRole#222222222222"  # aws#[alias]#[role name]#[account #]
    values = awsapp.group_mapping_values(_mapping(), [group])
    assert values == [
        "arn:aws:iam::222222222222:saml-provider/Okta,arn:aws:iam::222222222222:role/OktaAdminRole"
    ]
    # ... which is a Role value AWS reads as that role and that provider.
    assert assumable_pair(values[0]) == RolePair(
        role_arn="arn:aws:iam::222222222222:role/OktaAdminRole",
        principal_arn="arn:aws:iam::222222222222:saml-provider/Okta",
    )


def test_the_documented_alternative_filter_reads_aws_underscore_names() -> None:
    values = awsapp.group_mapping_values(
        _mapping(DOC_ALTERNATIVE_FILTER), ["aws_333333333333_Dev.Ops", "developers"]
    )
    assert values == [
        "arn:aws:iam::333333333333:saml-provider/Okta,arn:aws:iam::333333333333:role/Dev.Ops"
    ]


@pytest.mark.parametrize(
    "group",
    [
        "developers",  # not the syntax
        "aws#acme-dev#Dev.Ops#333333333333",  # the default filter's role is [\w\-]+: no dot
        "aws#acme-dev#Developer#notanumber",  # the account must be digits
        "xaws#acme-dev#Developer#333333333333",  # anchored at the start
    ],
)
def test_the_default_filter_passes_over_other_names(group: str) -> None:
    assert awsapp.group_mapping_values(_mapping(), [group]) == []


def test_a_user_the_app_is_not_assigned_to_gets_nothing_even_with_a_matching_group() -> None:
    spec = _spec()
    settings = {**_mapping(), "identityProviderArn": ""}
    member_of = {"00gconv": "aws#acme-dev#Developer#333333333333"}
    assert awsapp.app_roles(spec, settings, [("00gother", None)], member_of) == ()
    assigned = awsapp.app_roles(spec, settings, [("00gconv", None)], member_of)
    assert [pair.role_arn for pair in assigned] == ["arn:aws:iam::333333333333:role/Developer"]


def test_join_all_roles_as_documented() -> None:
    # Role1 and Role2 on the first (highest-priority) assignment, RoleA and RoleB on
    # GroupAWS's: off, Role1 and Role2; on, all four.
    spec = _spec(roles=["Role1", "Role2", "RoleA", "RoleB"])
    settings: dict[str, Any] = {
        "identityProviderArn": "arn:aws:iam::333333333333:saml-provider/Okta",
        "joinAllRoles": False,
        **API_INTEGRATION,
    }
    assignments = [("00gdirect", ("Role1", "Role2")), ("00gaws", ("RoleA", "RoleB"))]
    member_of = {"00gdirect": "direct", "00gaws": "GroupAWS"}
    off = awsapp.app_roles(spec, settings, assignments, member_of)
    assert [pair.role_name for pair in off] == ["Role1", "Role2"]
    on = awsapp.app_roles(spec, {**settings, "joinAllRoles": True}, assignments, member_of)
    assert [pair.role_name for pair in on] == ["Role1", "Role2", "RoleA", "RoleB"]
    assert {pair.principal_arn for pair in on} == {"arn:aws:iam::333333333333:saml-provider/Okta"}


def test_a_role_is_sent_only_with_its_own_account_s_provider() -> None:
    spec = _spec()
    settings = {"identityProviderArn": "arn:aws:iam::222222222222:saml-provider/Okta"}
    settings |= API_INTEGRATION
    # acme-dev (333333333333) is not in identityProviderArn: not federated, not sent.
    assert (
        awsapp.app_roles(spec, settings, [("00g1", ("[acme-dev] -- Developer",))], {"00g1": "d"})
        == ()
    )


def test_session_duration_defaults_to_okta_s_3600() -> None:
    assert awsapp.session_duration({}) == 3600
    assert awsapp.session_duration({"sessionDuration": 7200}) == 7200
    assert awsapp.session_duration({"sessionDuration": True}) == 3600


def test_an_admin_following_the_guide_configures_acme_with_group_mapping(
    acme: FederationSpec,
) -> None:
    setup = admin.admin_setup(acme, "group_mapping")
    assert setup.settings["useGroupMapping"] is True
    assert setup.settings["groupFilter"] == DOC_GROUP_FILTER
    assert setup.settings["roleValuePattern"] == _pattern("Okta")
    assert setup.settings["identityProviderArn"] == ",".join(
        f"arn:aws:iam::{account}:saml-provider/Okta"
        for account in ("111111111111", "222222222222", "333333333333")
    )
    assert setup.settings["sessionDuration"] == 3600
    assert "accessKey" not in setup.settings  # no API integration, no static key
    groups = {group.name: group.saml_roles for group in setup.groups}
    assert "aws-admins" not in groups  # reaches the app through its rule
    assert all(roles is None for roles in groups.values())  # group mapping reads names
    rules = {rule.source: rule.targets for rule in setup.rules}
    assert rules["aws-admins"] == (
        "aws#acme-prod#OktaAdminRole#222222222222",
        "aws#acme-dev#OktaAdminRole#333333333333",
    )


def test_an_admin_following_the_guide_configures_acme_with_role_import(
    acme: FederationSpec,
) -> None:
    setup = admin.admin_setup(acme, "role_import")
    assert setup.settings["useGroupMapping"] is False
    assert "groupFilter" not in setup.settings
    assert setup.settings["accessKey"]
    assert setup.settings["secretKey"]
    groups = {group.name: group.saml_roles for group in setup.groups}
    assert groups["aws-admins"] == ("[acme-prod] -- OktaAdminRole", "[acme-dev] -- OktaAdminRole")
    assert groups["aws#acme-dev#Developer#333333333333"] == ("[acme-dev] -- Developer",)
    assert setup.rules == ()


def test_samlroles_give_nothing_under_group_mapping() -> None:
    """Regression (issue 22, 1): the lab sent the union of samlRoles and group mapping.

    With Use Group Mapping on, roles come from group names only (aws-enable-role-based.htm).
    """
    spec = _spec()
    settings = {
        **_mapping(),
        "identityProviderArn": "arn:aws:iam::333333333333:saml-provider/Okta",
        **API_INTEGRATION,
    }
    member_of = {"00gx": "not-a-convention-name"}
    assigned = [("00gx", ("[acme-dev] -- Developer",))]
    assert awsapp.app_roles(spec, settings, assigned, member_of) == ()
    off = {**settings, "useGroupMapping": False}
    assert [p.role_name for p in awsapp.app_roles(spec, off, assigned, member_of)] == ["Developer"]


def test_samlroles_need_the_api_integration() -> None:
    spec = _spec()
    settings: dict[str, Any] = {
        "identityProviderArn": "arn:aws:iam::333333333333:saml-provider/Okta",
        "useGroupMapping": False,
    }
    assigned = [("00gx", ("[acme-dev] -- Developer",))]
    assert awsapp.app_roles(spec, settings, assigned, {"00gx": "x"}) == ()
    assert awsapp.imported_roles(spec, settings) == frozenset()
    with_key = {**settings, **API_INTEGRATION}
    assert "[acme-dev] -- Developer" in awsapp.imported_roles(spec, with_key)
    assert "[nope] -- NotARole" not in awsapp.imported_roles(spec, with_key)


def _attributes(xml: bytes) -> dict[str, list[str]]:
    root = parse_posted(xml)
    return {
        str(attribute.get("Name")): [text_of(v) for v in attribute.iter(SAML + "AttributeValue")]
        for attribute in root.iter(SAML + "Attribute")
    }


def test_the_lab_idp_signs_what_the_model_says(server: IdpServer) -> None:
    # The default lab's org, configured as the guide says: a member of a documented
    # group gets that group's role, named by the app username, for sessionDuration.
    login = "mapped-by-name@acme.example"
    if server.directory.get_user(login) is None:
        server.directory.add_user(
            login,
            first_name="Map",
            last_name="Ped",
            groups=("aws#acme-dev#Developer#333333333333",),
        )
    user = server.directory.get_user(login)
    assert user is not None
    issued = server.idp.issue_assertion(user, client="127.0.0.1", via="test")
    attributes = _attributes(issued.xml)
    assert attributes[ATTR_ROLE] == [
        "arn:aws:iam::333333333333:saml-provider/Okta,arn:aws:iam::333333333333:role/Developer"
    ]
    assert attributes[ATTR_SESSION_NAME] == [login]
    assert attributes[ATTR_SESSION_DURATION] == ["3600"]


def test_the_sign_in_page_parser_refuses_a_dtd() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    with pytest.raises(UnsafeXml):
        parse_posted(bomb)
    assert text_of(parse_posted(b"<a>al<!---->ice<b>@x</b></a>")) == "alice@x"


def _spec(roles: list[str] | None = None) -> FederationSpec:
    names = roles or ["Developer"]
    role_lines = "".join(f"  - name: {name}\n    accounts: all\n" for name in names)
    text = (
        "version: 1\nname: model\n"
        "identity_provider:\n  kind: lab\n  saml_provider_name: Okta\n"
        "accounts:\n"
        '  - id: "222222222222"\n    alias: acme-prod\n'
        '  - id: "333333333333"\n    alias: acme-dev\n'
        f"roles:\n{role_lines}"
    )
    return load_spec_text(text)


def test_timestamps_as_okta_writes_them() -> None:
    moment = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert format_instant(moment) == "2024-05-01T12:00:00.123Z"
