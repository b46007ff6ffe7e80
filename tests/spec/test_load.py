"""The federation spec: valid examples load; every broken spec names file, line, path and fix."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from keyless.errors import SpecError
from keyless.spec import (
    expand_accounts,
    expand_grants,
    grants_for_groups,
    load_spec,
    load_spec_text,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

MINIMAL = textwrap.dedent(
    """\
    version: 1
    name: test
    identity_provider:
      kind: lab
    accounts:
      - id: "111111111111"
        alias: t-management
        management: true
      - id: "222222222222"
        alias: t-prod
        environment: prod
    roles:
      - name: Admin
        accounts: [t-prod]
        managed_policies: [arn:aws:iam::aws:policy/AdministratorAccess]
    group_mappings:
      - group: admins
        role: Admin
    """
)


def problems_of(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_spec_text(text, source="spec.yaml")
    assert caught.value.problems, "a SpecError always lists its problems"
    return [str(problem) for problem in caught.value.problems]


@pytest.mark.parametrize("name", ["acme.yaml", "okta.yaml"])
def test_examples_validate(name: str) -> None:
    spec = load_spec(EXAMPLES / name)
    assert {a.alias for a in spec.accounts} >= {"acme-prod", "acme-dev"}
    assert {r.name for r in spec.roles} == {"OktaAdminRole", "ReadOnly", "Developer"}


def test_acme_grants_match_the_people_in_the_example() -> None:
    spec = load_spec(EXAMPLES / "acme.yaml")
    # The lab's people (the spec's `lab:` extension section, which keyless ignores).
    by_login = {user["login"]: user for user in spec.lab["users"]}

    def taken(login: str) -> set[tuple[str, str]]:
        return {
            (g.account.alias, g.role_name)
            for g in grants_for_groups(spec, by_login[login]["groups"])
        }

    assert taken("alice@acme.example") == {
        ("acme-prod", "OktaAdminRole"),
        ("acme-dev", "OktaAdminRole"),
    }
    assert taken("bob@acme.example") == {("acme-dev", "Developer")}
    assert taken("carol@acme.example") == {
        ("acme-management", "ReadOnly"),
        ("acme-prod", "ReadOnly"),
        ("acme-dev", "ReadOnly"),
    }
    assert by_login["carol@acme.example"]["factors"] == ["push"]


def test_minimal_spec_defaults() -> None:
    spec = load_spec_text(MINIMAL)
    assert spec.identity_provider.saml_provider_name == "Okta"
    assert spec.session.duration == 3600
    assert spec.roles[0].max_session_duration == 3600
    assert spec.accounts[1].access_role == "OrganizationAccountAccessRole"
    # Group mapping (the default) needs no API integration, so no role-listing principal.
    assert spec.mapping_mode == "group_mapping"
    assert spec.provisioning_principal is None
    grants = expand_grants(spec)
    explicit = [g for g in grants if g.source == "mapping"]
    assert [(g.group, g.account.alias, g.role_arn) for g in explicit] == [
        ("admins", "t-prod", "arn:aws:iam::222222222222:role/Admin")
    ]
    assert grants[0].provider_arn == "arn:aws:iam::222222222222:saml-provider/Okta"


def test_eleven_digit_account_id_names_line_and_path() -> None:
    text = MINIMAL.replace('"222222222222"', '"22222222222"')
    assert problems_of(text) == [
        "spec.yaml:9: accounts[1].id: must be 12 digits, got '22222222222'"
    ]


def test_unquoted_short_account_id_explains_yaml_quoting() -> None:
    (problem,) = problems_of(MINIMAL.replace('"222222222222"', "12345"))
    assert problem.startswith("spec.yaml:9: accounts[1].id: must be 12 digits, got '12345'")
    assert "quote account ids" in problem


def test_unknown_alias_in_role_accounts() -> None:
    (problem,) = problems_of(MINIMAL.replace("accounts: [t-prod]", "accounts: [t-prd]"))
    assert problem.startswith("spec.yaml:14: roles[0].accounts[0]: unknown account alias 't-prd'")
    assert "t-management, t-prod" in problem


def test_duplicated_alias() -> None:
    text = MINIMAL.replace("alias: t-prod", "alias: t-management").replace(
        "[t-prod]", "[t-management]"
    )
    (problem,) = problems_of(text)
    assert problem.startswith(
        "spec.yaml:10: accounts[1].alias: duplicate account alias 't-management'"
    )


def test_duplicated_account_id() -> None:
    (problem,) = problems_of(MINIMAL.replace('"222222222222"', '"111111111111"'))
    assert problem.startswith("spec.yaml:9: accounts[1].id: duplicate account id '111111111111'")


def test_session_duration_above_aws_limit() -> None:
    text = MINIMAL.replace(
        "    accounts: [t-prod]\n", "    accounts: [t-prod]\n    max_session_duration: 50000\n"
    )
    (problem,) = problems_of(text)
    assert problem.startswith("spec.yaml:15: roles[0].max_session_duration: ")
    assert "between 900 and 43200" in problem
    assert "got 50000" in problem


def test_invalid_yaml_names_the_line() -> None:
    text = MINIMAL.replace("  kind: lab\n", "  kind: lab\n   broken: [\n")
    (problem,) = problems_of(text)
    assert problem.startswith("spec.yaml:")
    assert "invalid YAML" in problem
    line = int(problem.split(":")[1])
    assert 4 <= line <= 6


def test_group_mapped_to_unknown_role() -> None:
    (problem,) = problems_of(MINIMAL.replace("role: Admin", "role: Admn"))
    assert problem.startswith(
        "spec.yaml:18: group_mappings[0].role: group 'admins' maps to unknown role 'Admn'"
    )
    assert "use one of: Admin" in problem


def test_typo_in_a_key_suggests_the_right_one() -> None:
    text = MINIMAL.replace("managed_policies:", "managed_polices:")
    (problem,) = problems_of(text)
    assert problem.startswith(
        "spec.yaml:15: roles[0].managed_polices: unknown key 'managed_polices'"
    )
    assert "did you mean 'managed_policies'" in problem


def test_duplicate_yaml_key_is_refused() -> None:
    text = MINIMAL.replace("name: test\n", "name: test\nname: other\n")
    (problem,) = problems_of(text)
    assert problem.startswith("spec.yaml:3: name: duplicate key")


def test_several_problems_are_all_reported() -> None:
    text = MINIMAL.replace('"222222222222"', '"2"').replace(
        "    accounts: [t-prod]\n", "    accounts: [t-prod]\n    max_session_duration: 60\n"
    )
    assert len(problems_of(text)) == 2


def test_okta_kind_needs_org_url_app_and_metadata() -> None:
    (problem,) = problems_of(MINIMAL.replace("kind: lab", "kind: okta"))
    assert "identity_provider" in problem
    assert "org_url, app_id, metadata" in problem


def test_regional_signin_urls_are_accepted_and_others_refused() -> None:
    regional = MINIMAL.replace(
        "  kind: lab\n",
        "  kind: lab\n  signin_urls: [https://signin.aws.amazon.com/saml, "
        "https://us-east-2.signin.aws.amazon.com/saml]\n",
    )
    assert len(load_spec_text(regional).identity_provider.signin_urls) == 2
    (problem,) = problems_of(
        regional.replace("https://us-east-2.signin", "https://evil.example/signin")
    )
    assert "not an AWS SAML sign-in URL" in problem


def test_convention_groups_resolve_to_account_and_role() -> None:
    spec = load_spec_text(MINIMAL)
    (grant,) = grants_for_groups(spec, ["aws#t-prod#Admin#222222222222", "unrelated"])
    assert (grant.account.id, grant.role_name, grant.source) == (
        "222222222222",
        "Admin",
        "convention",
    )


def test_custom_convention_pattern() -> None:
    text = MINIMAL + 'group_convention:\n  pattern: "AWS_{account_id}_{role}"\n'
    spec = load_spec_text(text)
    (grant,) = grants_for_groups(spec, ["AWS_222222222222_Admin"])
    assert grant.role_arn == "arn:aws:iam::222222222222:role/Admin"
    (problem,) = problems_of(text.replace("AWS_{account_id}_{role}", "AWS_{acount}_{role}"))
    assert "unknown placeholder" in problem


def test_expand_accounts_lists_roles_and_groups_per_account() -> None:
    spec = load_spec(EXAMPLES / "acme.yaml")
    dev = next(entry for entry in expand_accounts(spec) if entry.account.alias == "acme-dev")
    roles = {role.name: groups for role, _arn, groups in dev.roles}
    assert set(roles) == {"OktaAdminRole", "ReadOnly", "Developer"}
    assert "developers" in roles["Developer"]
    assert "aws#acme-dev#Developer#333333333333" in roles["Developer"]


def test_missing_file_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no such spec file"):
        load_spec(tmp_path / "absent.yaml")
    with pytest.raises(SpecError, match="a spec is a YAML mapping"):
        load_spec_text("- just\n- a list\n")
    with pytest.raises(SpecError, match="the spec is empty"):
        load_spec_text("")


def test_mapping_to_an_account_the_role_is_not_in() -> None:
    # Regression: the check once compared against the last role in the list,
    # not the mapped one.
    text = (
        MINIMAL.replace("    role: Admin\n", "    role: Admin\n    accounts: [t-management]\n")
        + "  - group: x\n    role: Admin\n    accounts: [t-prod]\n"
    )
    (problem,) = problems_of(text)
    assert (
        "group_mappings[0].accounts[0]: role 'Admin' is not created in account 't-management'"
        in (problem)
    )


def test_a_bad_field_does_not_hide_a_dangling_reference() -> None:
    """Regression: field errors stopped validation before references were checked, so a
    typo in a key hid an unknown alias elsewhere and fixes came one run at a time."""
    text = MINIMAL.replace("managed_policies:", "managed_polices:").replace(
        "role: Admin", "role: Admn"
    )
    problems = problems_of(text)
    assert len(problems) == 2
    assert problems[0].startswith("spec.yaml:15: roles[0].managed_polices: unknown key")
    assert problems[1].startswith("spec.yaml:18: group_mappings[0].role: group 'admins'")


def test_a_bad_account_id_and_an_unknown_alias_are_reported_together() -> None:
    text = MINIMAL.replace('"222222222222"', '"2"').replace("[t-prod]", "[t-prd]")
    problems = problems_of(text)
    assert [p.split(": ")[1] for p in problems] == ["accounts[1].id", "roles[0].accounts[0]"]


def test_mapping_may_name_accounts_by_id() -> None:
    text = MINIMAL.replace("    role: Admin\n", '    role: Admin\n    accounts: ["222222222222"]\n')
    (grant,) = [g for g in expand_grants(load_spec_text(text)) if g.source == "mapping"]
    assert grant.account.alias == "t-prod"
