"""The AWS app's username template and attribute statements (issue 23), as the lab models them.

Okta computes an app user's ``credentials.userName`` from ``credentials.userNameTemplate``
and sends it as RoleSessionName; SourceIdentity comes only from an attribute statement.
"""

from __future__ import annotations

import pytest

from keyless_lab.idp import awsapp

PROFILE = {"login": "Alice.Admin@acme.example", "email": "Alice.Admin@acme.example"}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("${source.login}", "Alice.Admin@acme.example"),  # Okta's default; case as stored
        ('${fn:substringBefore(source.login, "@")}', "Alice.Admin"),
        ("${source.email}", "Alice.Admin@acme.example"),
        ('${fn:substringBefore(source.email, "@")}', "Alice.Admin"),
    ],
)
def test_built_in_templates(template: str, expected: str) -> None:
    built_in = {"template": template, "type": "BUILT_IN"}
    assert awsapp.username_template_problem(built_in) is None
    assert awsapp.app_username(built_in, PROFILE) == expected


def test_custom_expressions_in_the_modelled_subset() -> None:
    custom = {
        "template": 'String.toLowerCase(String.substringBefore(user.email, "@"))',
        "type": "CUSTOM",
    }
    assert awsapp.username_template_problem(custom) is None
    assert awsapp.app_username(custom, PROFILE) == "alice.admin"


@pytest.mark.parametrize(
    "template",
    [
        {"template": "${source.samAccountName}", "type": "BUILT_IN"},
        {"template": "user.firstName", "type": "CUSTOM"},
        {"template": "${source.login}", "type": "NONE"},
        "not an object",
    ],
)
def test_templates_outside_the_subset_are_refused_with_the_subset_named(template: object) -> None:
    problem = awsapp.username_template_problem(template)
    assert problem is not None
    assert problem.startswith("credentials.userNameTemplate")


def test_source_identity_comes_only_from_its_attribute_statement() -> None:
    assert awsapp.source_identity([], PROFILE) is None
    other = {"name": "department", "values": ["user.login"]}
    statement = {
        "type": "EXPRESSION",
        "name": awsapp.SOURCE_IDENTITY_ATTRIBUTE,
        "namespace": awsapp.URI_NAMESPACE,
        "values": ['String.substringBefore(user.email, "@")'],
    }
    assert awsapp.attribute_statements_problem([other, statement]) is None
    assert awsapp.source_identity([other, statement], PROFILE) == "Alice.Admin"
    assert awsapp.attribute_statements_problem([{**statement, "values": ["appuser.x"]}])
    assert awsapp.attribute_statements_problem([{**statement, "type": "GROUP"}])
