"""Okta's AWS Account Federation app, as Okta documents it: from the app's settings,
a user's groups and the app's group assignments to the assertion's AWS attributes.

This is the lab's own model, written from Okta's documentation and never from
keyless's code (an oracle that shares the product's logic repeats its bugs).
The app settings are ``settings.app`` of the ``amazon_aws`` app as Okta's Apps
API stores them; the admin console labels are in brackets.

*Sign-on settings* (Okta, "Configure the Amazon Web Services Account
Federation app in Okta",
https://help.okta.com/en-us/content/topics/deploymentguides/aws/aws-configure-aws-app.htm):

- ``identityProviderArn`` [Identity Provider ARN]: the IAM SAML provider Okta
  names beside each role. With several accounts (Okta, "Connect Okta to
  multiple AWS instances using an API",
  https://help.okta.com/en/prod/Content/Topics/DeploymentGuides/AWS/connect-okta-multiple-aws-api.htm)
  it lists one provider per account, comma-separated; a role is sent with its
  own account's provider, and an account without one is not federated;
- ``sessionDuration`` [Session Duration]: sent as ``SessionDuration``;
- ``joinAllRoles`` [Join all roles]: off, only the first (highest-priority)
  assignment's roles are sent; on, the roles of every assignment;
- ``useGroupMapping`` [Use Group Mapping]: "connect Okta to multiple AWS
  instances using user groups", below.

*Role assignments* (Okta, "Learn about Amazon Web Services integration",
https://help.okta.com/en-us/content/topics/deploymentguides/aws/aws-about-integration.htm):
an assignment's ``profile.samlRoles`` [SAML User Roles] names roles the API
integration imported. The lab reads ``[<account alias>] -- <role>`` as that
role in that account and a bare role name as the role in every account that
has it (the docs show the picker, not the stored form; this form is the lab's
assumption, the one keyless writes too, and is the part of this model not
pinned to a documented example). A user the app is not assigned to gets no
assertion at all.

*Group mapping* (Okta, "Enable group-based role mapping in Okta",
https://help.okta.com/en/prod/Content/Topics/DeploymentGuides/AWS/aws-enable-role-based.htm,
and "Connect Okta to multiple AWS instances using groups",
https://help.okta.com/en/prod/Content/Topics/DeploymentGuides/AWS/connect-okta-multiple-aws-groups.htm):
each of the user's groups whose name matches ``groupFilter`` [Group Filter], a
regular expression with two named captures written ``(?{{accountid}}...)`` and
``(?{{role}}...)``, gives one Role value: ``roleValuePattern`` [Role Value
Pattern] with ``${accountid}`` and ``${role}`` replaced by the captures. The
documented group names are ``aws#[account alias]#[role name]#[account #]``,
matched by the documented default filter :data:`DOCUMENTED_GROUP_FILTER`, and
the documented pattern is :func:`documented_role_value_pattern`'s.

*One or the other, never both.* Role import and group mapping are alternatives
(aws-enable-role-based.htm: with Use Group Mapping on, "the API integration
isn't used" and the roles come from the user's groups). So with
``useGroupMapping`` on the Role values are the groups' only, and an
assignment's ``samlRoles`` gives nothing; with it off they are the assignments'
``samlRoles`` only, and those exist only once the API integration
(``accessKey`` and ``secretKey`` [Access Key, Secret Key], "Connect Okta to
multiple AWS instances using an API", connect-okta-multiple-aws-api.htm) has
imported roles: ``samlRoles`` is an enumeration of the imported roles, and the
management API refuses any other value (see :func:`imported_roles`).

The other attributes (Okta, "How to Configure SAML 2.0 for Amazon Web
Service",
https://saml-doc.okta.com/SAML_Docs/How-to-Configure-SAML-2.0-for-Amazon-Web-Service.html):
``RoleSessionName`` is the app username (Okta's default for this app: the
Okta username), and the Role values are written ``provider ARN,role ARN``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from keyless.spec.model import FederationSpec
from keyless_lab.saml.attributes import RolePair

# Okta's documented default Group Filter, for groups named
# aws#[account alias]#[role name]#[account #] (aws-enable-role-based.htm).
DOCUMENTED_GROUP_FILTER = r"^aws\#\S+\#(?{{role}}[\w\-]+)\#(?{{accountid}}\d+)$"
# Okta's sessionDuration when the admin leaves the default.
DEFAULT_SESSION_DURATION = 3600

_ROLE_IN_ACCOUNT = re.compile(r"^\[(?P<account>[^\]]+)\] -- (?P<role>.+)$")


def documented_role_value_pattern(provider_name: str, partition: str = "aws") -> str:
    """Okta's documented Role Value Pattern for a SAML provider named ``provider_name``.

    "arn:aws:iam::${accountid}:saml-provider/[SAML Provider Name],
    arn:aws:iam::${accountid}:role/${role}" (aws-enable-role-based.htm), in
    ``partition`` (the ARN's partition for GovCloud and China).
    """
    return (
        f"arn:{partition}:iam::${{accountid}}:saml-provider/{provider_name},"
        f"arn:{partition}:iam::${{accountid}}:role/${{role}}"
    )


def python_group_filter(okta_filter: str) -> re.Pattern[str] | None:
    """Okta's ``groupFilter`` as a Python regex (None when it does not compile).

    Okta's captures ``(?{{accountid}}...)`` and ``(?{{role}}...)`` become Python's
    ``(?P<accountid>...)`` and ``(?P<role>...)``; the rest is the same syntax
    (``\\#`` is an escaped ``#`` in both).
    """
    translated = okta_filter.replace("(?{{accountid}}", "(?P<accountid>").replace(
        "(?{{role}}", "(?P<role>"
    )
    try:
        return re.compile(translated)
    except re.error:
        return None


def group_mapping_values(settings: Mapping[str, Any], group_names: Sequence[str]) -> list[str]:
    """The Role values group mapping gives for ``group_names``: one per matching group."""
    regex = python_group_filter(str(settings.get("groupFilter") or ""))
    pattern = str(settings.get("roleValuePattern") or "")
    if regex is None or not pattern:
        return []
    values: list[str] = []
    for name in group_names:
        match = regex.match(name)
        if match is None:
            continue
        found = match.groupdict()
        values.append(
            pattern.replace("${accountid}", found.get("accountid") or "").replace(
                "${role}", found.get("role") or ""
            )
        )
    return values


def _pair_of(value: str) -> RolePair | None:
    """A ``provider ARN,role ARN`` value (either order) as a pair; None when it is not one."""
    arns = [part.strip() for part in value.split(",")]
    role = next((a for a in arns if ":role/" in a), None)
    provider = next((a for a in arns if ":saml-provider/" in a), None)
    return RolePair(role_arn=role, principal_arn=provider) if role and provider else None


def _providers(settings: Mapping[str, Any]) -> dict[str, str]:
    """``identityProviderArn``'s providers by account id (the first one per account)."""
    found: dict[str, str] = {}
    for arn in str(settings.get("identityProviderArn") or "").split(","):
        parts = arn.strip().split(":")
        if len(parts) == 6 and parts[5].startswith("saml-provider/"):
            found.setdefault(parts[4], arn.strip())
    return found


def _imported_roles(
    spec: FederationSpec, providers: Mapping[str, str], saml_roles: Sequence[str]
) -> list[RolePair]:
    """The pairs ``samlRoles`` names, each with its account's provider.

    The API integration imports every role of the connected accounts; the lab's
    accounts and their roles are the spec's (a role is created where the spec
    places it, with the spec's IAM path).
    """
    pairs: list[RolePair] = []
    for value in saml_roles:
        match = _ROLE_IN_ACCOUNT.match(value)
        name = match.group("role") if match else value
        role = spec.role(name)
        if match:
            account = spec.account(match.group("account"))
            accounts = [account] if account is not None else []
        else:
            accounts = [a for a in spec.accounts if role is None or spec.role_in_account(role, a)]
        path = role.path if role is not None else "/"
        for account in accounts:
            provider = providers.get(account.id)
            if provider is not None:
                role_arn = f"arn:{account.partition}:iam::{account.id}:role{path}{name}"
                pairs.append(RolePair(role_arn=role_arn, principal_arn=provider))
    return pairs


def api_integration(settings: Mapping[str, Any]) -> bool:
    """Whether the app's API integration is configured (an access key and its secret)."""
    return bool(settings.get("accessKey")) and bool(settings.get("secretKey"))


def imported_roles(spec: FederationSpec, settings: Mapping[str, Any]) -> frozenset[str]:
    """The ``samlRoles`` values the app offers: the roles its API integration imported.

    None without the integration, and none while group mapping is on (the
    integration is not used then). The integration lists the roles of every
    account named in ``identityProviderArn``; the lab's accounts and roles are
    the spec's, each offered as ``[<account alias>] -- <role>`` and, as in a
    single-account app, by its bare name.
    """
    if settings.get("useGroupMapping") or not api_integration(settings):
        return frozenset()
    providers = _providers(settings)
    values: set[str] = set()
    for account in spec.accounts:
        if account.id not in providers:
            continue
        for role in spec.roles:
            if spec.role_in_account(role, account):
                values.add(f"[{account.alias}] -- {role.name}")
                values.add(role.name)
    return frozenset(values)


def app_roles(
    spec: FederationSpec,
    settings: Mapping[str, Any],
    assignments: Sequence[tuple[str, tuple[str, ...] | None]],
    member_of: Mapping[str, str],
) -> tuple[RolePair, ...]:
    """The (role, provider) pairs for a member of ``member_of`` (group id -> name), no repeats.

    ``assignments`` are the app's (group id, samlRoles) in priority order.
    """
    assigned = [(group_id, roles) for group_id, roles in assignments if group_id in member_of]
    if not assigned:
        return ()
    pairs: list[RolePair] = []
    if settings.get("useGroupMapping"):
        # Group mapping: the groups' names alone; assignments only admit the user.
        values = group_mapping_values(settings, sorted(member_of.values()))
        pairs += [pair for pair in map(_pair_of, values) if pair is not None]
    else:
        providers = _providers(settings)
        offered = imported_roles(spec, settings)
        role_lists = [roles for _, roles in assigned if roles]
        if not settings.get("joinAllRoles"):
            role_lists = role_lists[:1]
        for saml_roles in role_lists:
            kept = [value for value in saml_roles if value in offered]
            pairs += _imported_roles(spec, providers, kept)
    unique: list[RolePair] = []
    for pair in pairs:
        if pair not in unique:
            unique.append(pair)
    return tuple(unique)


def session_duration(settings: Mapping[str, Any]) -> int:
    """``sessionDuration`` as the app sends it (Okta's default, 3600, while unset)."""
    value = settings.get("sessionDuration")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return DEFAULT_SESSION_DURATION


def role_session_name(app_username: str) -> str:
    """``RoleSessionName``: the app username (saml-doc.okta.com, above)."""
    return app_username


# -- the app username and attribute statements --------------------------------------------
#
# *App username* (Okta Apps API, "Application credentials object": ``credentials.
# userNameTemplate`` = ``{template, type}``, "the template used to generate the username
# when the app is assigned through a group or directly to a user"; Okta Java SDK
# ``ApplicationCredentialsUsernameTemplate``). Okta computes each app user's
# ``credentials.userName`` from it (``GET /api/v1/apps/{appId}/users/{userId}``, "Application
# User object"), and this app sends that name as RoleSessionName. A new app has Okta's
# default, :data:`DEFAULT_USERNAME_TEMPLATE` (``${source.login}``: the Okta username).
# ``BUILT_IN`` templates are the admin console's "Application username format" choices
# the lab models (:data:`BUILT_IN_TEMPLATES`); a ``CUSTOM`` template is an Okta
# Expression Language expression. The values keep the case the profile stores.
#
# *Attribute statements* (Okta Apps API, SAML 2.0 ``settings.signOn.attributeStatements``:
# ``{type: "EXPRESSION", name, namespace, values}``; Okta's console: Sign On tab,
# "Attributes"). This is how the AWS Security Blog's "How to integrate AWS STS
# SourceIdentity with your identity provider" (aws.amazon.com/blogs/security/how-to-
# integrate-aws-sts-sourceidentity-with-your-identity-provider/) has an Okta admin send
# ``https://aws.amazon.com/SAML/Attributes/SourceIdentity``: Okta's own AWS Account
# Federation guide and the app's settings (``settings.app``, as the okta Terraform
# provider's ``amazon_aws`` examples list them) have no SourceIdentity setting. Without
# such a statement the app sends no SourceIdentity at all.
#
# Expressions (Okta Expression Language, developer.okta.com/reference/okta_expression_language:
# ``user.$attribute``, ``String.substringBefore``, ``String.toLowerCase``,
# ``String.toUpperCase``): the lab evaluates only :func:`evaluate_expression`'s subset
# and refuses the rest when they are stored, rather than guess.

DEFAULT_USERNAME_TEMPLATE: dict[str, str] = {"template": "${source.login}", "type": "BUILT_IN"}
SOURCE_IDENTITY_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/SourceIdentity"
URI_NAMESPACE = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
# Okta username, Okta username prefix, Email, Email prefix.
BUILT_IN_TEMPLATES = (
    "${source.login}",
    '${fn:substringBefore(source.login, "@")}',
    "${source.email}",
    '${fn:substringBefore(source.email, "@")}',
)
MODELLED_EXPRESSIONS = (
    "user.login, user.email (source.* in templates), "
    'String.substringBefore(<one of those>, "@"), String.toLowerCase(...), '
    "String.toUpperCase(...)"
)

_CALL = re.compile(
    r"^(?P<fn>String\.substringBefore|fn:substringBefore|String\.toLowerCase|"
    r"String\.toUpperCase)\((?P<args>.*)\)$"
)


def evaluate_expression(expression: str, profile: Mapping[str, str]) -> str | None:
    """The value of an Okta expression for a user ``profile``; None outside the lab's subset.

    ``profile`` holds ``login`` and ``email``. ``${...}`` (the template form) is unwrapped.
    """
    text = expression.strip()
    if text.startswith("${") and text.endswith("}"):
        text = text[2:-1].strip()
    attribute = re.fullmatch(r"(?:user|source)\.(login|email)", text)
    if attribute:
        return profile.get(attribute.group(1))
    call = _CALL.match(text)
    if call is None:
        return None
    function, args = call.group("fn"), call.group("args")
    if function.endswith("substringBefore"):
        parts = re.fullmatch(r'(?P<inner>.+?)\s*,\s*"(?P<sep>[^"]+)"\s*', args)
        if parts is None:
            return None
        inner = evaluate_expression(parts.group("inner"), profile)
        # Okta: "String.substringBefore("abc@okta.com", "@") -> abc"; no separator: the whole.
        return None if inner is None else inner.split(parts.group("sep"), 1)[0]
    inner = evaluate_expression(args, profile)
    if inner is None:
        return None
    return inner.lower() if function.endswith("toLowerCase") else inner.upper()


def username_template_problem(template: object) -> str | None:
    """Why ``credentials.userNameTemplate`` is not one the lab models (None when it is)."""
    if not isinstance(template, Mapping):
        return "credentials.userNameTemplate: must be an object {template, type}"
    kind, text = template.get("type"), template.get("template")
    if kind not in ("BUILT_IN", "CUSTOM") or not isinstance(text, str):
        return "credentials.userNameTemplate: type BUILT_IN or CUSTOM, and a template string"
    if kind == "BUILT_IN" and text not in BUILT_IN_TEMPLATES:
        return (
            f"credentials.userNameTemplate.template: {text!r} is not a built-in template "
            f"the lab models ({', '.join(BUILT_IN_TEMPLATES)})"
        )
    if evaluate_expression(text, {"login": "a@b", "email": "a@b"}) is None:
        return (
            f"credentials.userNameTemplate.template: the lab models only {MODELLED_EXPRESSIONS}, "
            f"not {text!r}"
        )
    return None


def attribute_statements_problem(statements: object) -> str | None:
    """Why ``settings.signOn.attributeStatements`` is not one the lab models (None when it is)."""
    if not isinstance(statements, list):
        return "settings.signOn.attributeStatements: must be a list"
    for index, statement in enumerate(statements):
        where = f"settings.signOn.attributeStatements[{index}]"
        if not isinstance(statement, Mapping) or not isinstance(statement.get("name"), str):
            return f"{where}: an object with a name"
        if statement.get("type", "EXPRESSION") != "EXPRESSION":
            return f"{where}.type: the lab models EXPRESSION statements only"
        values = statement.get("values")
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            return f"{where}.values: a list of expressions"
        for value in values:
            if evaluate_expression(value, {"login": "a@b", "email": "a@b"}) is None:
                return f"{where}.values: the lab models only {MODELLED_EXPRESSIONS}, not {value!r}"
    return None


def app_username(template: Mapping[str, Any], profile: Mapping[str, str]) -> str:
    """``credentials.userName`` of an app user: the template applied to the Okta profile."""
    value = evaluate_expression(str(template.get("template") or ""), profile)
    return value if value is not None else profile["login"]


def source_identity(
    statements: Sequence[Mapping[str, Any]], profile: Mapping[str, str]
) -> str | None:
    """The SourceIdentity the app sends: its SourceIdentity statement's value, or none."""
    for statement in statements:
        if statement.get("name") == SOURCE_IDENTITY_ATTRIBUTE and statement.get("values"):
            return evaluate_expression(str(statement["values"][0]), profile)
    return None
