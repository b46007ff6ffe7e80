"""Okta's management API as the lab answers it: the subset `apply`, `offboard` and `audit` use.

Paths, documents, status codes and error bodies follow Okta's Management API
reference (developer.okta.com/docs/api/openapi/okta-management/management/):

- Apps: ``GET /api/v1/apps?q=``, ``GET|PUT /api/v1/apps/{appId}`` (``settings.app``
  holds the ``amazon_aws`` app's fields; ``settings.notes.admin`` the admin note).
- Groups: ``GET|POST /api/v1/groups``, ``GET|PUT|DELETE /api/v1/groups/{groupId}``,
  ``GET /api/v1/groups/{groupId}/users``.
- The app's username template (``credentials.userNameTemplate``) and SAML attribute
  statements (``settings.signOn.attributeStatements``), set with the same ``PUT``;
  ``GET /api/v1/apps/{appId}/users/{userId}`` (an Application User object whose
  ``credentials.userName`` the template computes; see :mod:`keyless_lab.idp.awsapp`).
- Application groups: ``GET /api/v1/apps/{appId}/groups``,
  ``GET|PUT|DELETE /api/v1/apps/{appId}/groups/{groupId}`` (``profile.samlRoles``).
- Users: ``GET /api/v1/users/{idOrLogin}``, ``POST .../lifecycle/{activate,deactivate,
  suspend,unsuspend}``, ``DELETE .../sessions``, ``GET .../groups``, ``GET .../factors``.
- ``grant_type=client_credentials`` on ``POST /oauth2/v1/token`` (the route is the
  org authorization server's, :mod:`keyless_lab.idp.oauth`, which dispatches each
  grant type to its function): ``private_key_jwt`` for a service app (OAuth 2.0
  for Okta APIs); the access token is a ``Bearer`` token.

Callers authenticate with ``Authorization: SSWS <API token>`` or ``Bearer
<access token>``. Each route needs one scope (``okta.apps.read`` ...
``okta.users.manage``; ``.manage`` also reads). A token without it gets ``403
E0000006`` and, as Okta answers an access token lacking a scope, a
``WWW-Authenticate: Bearer ... error="insufficient_scope", scope="<needed>"``
header. (Real SSWS tokens carry their admin's role rather than scopes; the lab
gives its API tokens scopes so a read-only admin can be modelled the same way.)

Lists are paged with ``limit`` and an opaque ``after`` cursor, announced in
``Link: <...>; rel="next"`` headers. ``X-Rate-Limit-*`` headers come from the
server's rate-limit middleware; a "429 storm" (``AppState.storm_every``) answers
``429 E0000047`` to every Nth call with ``X-Rate-Limit-Reset`` one second ahead.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urlencode

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from keyless_lab.config import lab_section
from keyless_lab.idp import awsapp
from keyless_lab.idp.admin import admin_setup
from keyless_lab.idp.api import client_of, idp_of
from keyless_lab.idp.appstate import ALL_SCOPES, CATALOGUE_SETTINGS, Caller
from keyless_lab.idp.core import Idp
from keyless_lab.idp.directory import User, UserStatus
from keyless_lab.idp.okta import error_response, factor_profile, link, oauth_error

MAX_BODY = 256 * 1024
DEFAULT_LIMIT = 200
MAX_LIMIT = 10000  # Okta caps most list pages at 200; groups and users allow more
ACCESS_TOKEN_LIFETIME = 3600.0
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
AMAZON_AWS = "amazon_aws"

Handler = Callable[[Request], Awaitable[Response]]


# -- reading requests ---------------------------------------------------------------------


async def read_json(request: Request) -> dict[str, Any] | None:
    """The body as a JSON object, or None (too large, not JSON, not an object).

    Read up to ``MAX_BODY`` bytes only: a lab endpoint must not buffer whatever
    a caller sends. (One shared safe body reader for the lab IdP is planned;
    this is the one place to switch to it.)
    """
    size = 0
    chunks: list[bytes] = []
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks) or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _denied_scope(idp: Idp, request: Request, scope: str) -> Response:
    # Okta's answer to an access token without the scope a route needs.
    base = idp.base_url
    header = (
        f'Bearer authorization_uri="{base}/oauth2/v1/authorize", realm="{base}", '
        f'scope="{scope}", error="insufficient_scope", error_description="The access token '
        f'provided does not contain the required scopes.", resource="{request.url.path}"'
    )
    return error_response("E0000006", headers={"WWW-Authenticate": header})


def _storm(idp: Idp) -> Response | None:
    if not idp.appstate.storm_hit():
        return None
    reset = math.floor(time.time()) + 1
    return error_response(
        "E0000047",
        headers={
            "X-Rate-Limit-Limit": "600",
            "X-Rate-Limit-Remaining": "0",
            "X-Rate-Limit-Reset": str(reset),
        },
    )


def caller_of(idp: Idp, request: Request) -> Caller | None:
    """Who is calling, from ``Authorization: SSWS ...`` or ``Bearer ...``; None when nobody."""
    header = request.headers.get("authorization", "")
    kind, _, token = header.partition(" ")
    token = token.strip()
    if not token:
        return None
    if kind == "SSWS":
        return idp.appstate.token_caller(token)
    if kind == "Bearer":
        return idp.appstate.bearer_caller(token, time.time())
    return None


def guarded(scope: str) -> Callable[[Callable[[Request, Idp], Awaitable[Response]]], Handler]:
    """A management route that needs ``scope`` (``.read`` routes accept ``.manage`` too)."""
    manage = scope.replace(".read", ".manage")

    def wrap(handler: Callable[[Request, Idp], Awaitable[Response]]) -> Handler:
        async def route(request: Request) -> Response:
            idp = idp_of(request)
            stormed = _storm(idp)
            if stormed is not None:
                return stormed
            caller = caller_of(idp, request)
            if caller is None:
                return error_response("E0000011")
            if not caller.admin:
                # Scopes say which APIs a service app may call, an admin role which
                # objects it may touch; with no role Okta refuses it everywhere
                # (Okta, "Implement OAuth for Okta with a service app", "Assign admin
                # roles to the OAuth 2.0 service app",
                # https://developer.okta.com/docs/guides/implement-oauth-for-okta-serviceapp/main/).
                idp.audit.write(
                    "management_denied",
                    ip=client_of(request),
                    caller=caller.name,
                    path=request.url.path,
                    reason="no admin role",
                )
                return error_response("E0000006")
            if scope not in caller.scopes and manage not in caller.scopes:
                idp.audit.write(
                    "management_denied",
                    ip=client_of(request),
                    caller=caller.name,
                    path=request.url.path,
                    scope=scope,
                )
                return _denied_scope(idp, request, scope)
            response = await handler(request, idp)
            if request.method != "GET":
                idp.audit.write(
                    "management",
                    ip=client_of(request),
                    caller=caller.name,
                    method=request.method,
                    path=request.url.path,
                    status=response.status_code,
                )
            return response

        return route

    return wrap


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit", "")
    return max(1, min(int(raw), MAX_LIMIT)) if raw.isdigit() else DEFAULT_LIMIT


def paged(request: Request, idp: Idp, items: Sequence[dict[str, Any]]) -> Response:
    """One page of ``items`` (sorted by id) after the ``after`` cursor, with Okta's Link headers."""
    limit = _limit(request)
    after = request.query_params.get("after")
    ordered = sorted(items, key=lambda item: str(item["id"]))
    if after:
        ordered = [item for item in ordered if str(item["id"]) > after]
    page = ordered[:limit]
    base = f"{idp.base_url}{request.url.path}"
    kept = {k: v for k, v in request.query_params.items() if k not in ("after", "limit")}
    links = [f'<{base}?{urlencode({**kept, "limit": limit})}>; rel="self"']
    if len(ordered) > limit:
        cursor = str(page[-1]["id"])
        links.append(f'<{base}?{urlencode({**kept, "after": cursor, "limit": limit})}>; rel="next"')
    return JSONResponse(page, headers={"Link": ", ".join(links)})


# -- documents ----------------------------------------------------------------------------


def public_settings(stored: dict[str, Any]) -> dict[str, Any]:
    """``settings.app`` as the Apps API shows it: every property of the app's schema,
    ``secretKey`` always null and ``secretKeyEnc`` standing for a stored secret (the
    recorded answer cited at :data:`~keyless_lab.idp.appstate.CATALOGUE_SETTINGS`)."""
    shown = {**{key: None for key in CATALOGUE_SETTINGS}, **stored, "secretKey": None}
    secret = stored.get("secretKey")
    shown["secretKeyEnc"] = (
        "enc:" + hashlib.sha256(str(secret).encode()).hexdigest()[:32] if secret else None
    )
    return shown


def app_document(idp: Idp) -> dict[str, Any]:
    row = idp.appstate.app_row()
    settings = public_settings(row["settings"])
    base = idp.base_url
    return {
        "id": idp.app_id,
        "name": AMAZON_AWS,
        "label": row["label"],
        "status": "ACTIVE",
        "lastUpdated": row["last_updated"],
        "created": row["created"],
        "accessibility": {"selfService": False, "errorRedirectUrl": None, "loginRedirectUrl": None},
        "signOnMode": "SAML_2_0",
        "features": [],
        "visibility": {
            "autoLaunch": False,
            "autoSubmitToolbar": False,
            "hide": {"iOS": False, "web": False},
            "appLinks": {"login": True},
        },
        "credentials": {
            "userNameTemplate": idp.appstate.username_template(),
            "signing": {"kid": None},
        },
        "settings": {
            "app": settings,
            "notifications": {
                "vpn": {"network": {"connection": "DISABLED"}, "message": None, "helpUrl": None}
            },
            "manualProvisioning": False,
            "implicitAssignment": False,
            "notes": {"admin": row["admin_note"], "enduser": None},
            "signOn": {
                "defaultRelayState": None,
                "attributeStatements": idp.appstate.attribute_statements(),
            },
        },
        "_links": {
            "self": link(f"{base}/api/v1/apps/{idp.app_id}", "GET", "PUT", "DELETE"),
            "groups": {"href": f"{base}/api/v1/apps/{idp.app_id}/groups"},
            "metadata": {
                "href": f"{base}/app/{AMAZON_AWS}/{idp.app_id}/sso/saml/metadata",
                "type": "application/xml",
            },
        },
    }


def group_document(idp: Idp, row: dict[str, Any]) -> dict[str, Any]:
    """A Group object (Okta Groups API, "Group object",
    https://developer.okta.com/docs/reference/api/groups/#group-object)."""
    base = f"{idp.base_url}/api/v1/groups/{row['id']}"
    return {
        "id": row["id"],
        **idp.appstate.group_times(row["id"]),
        "objectClass": ["okta:user_group"],
        "type": "OKTA_GROUP",
        "profile": {"name": row["name"], "description": row["description"] or None},
        "_links": {
            "self": {"href": base},
            "apps": {"href": f"{base}/apps"},
            "users": {"href": f"{base}/users"},
        },
    }


def assignment_document(idp: Idp, row: dict[str, Any]) -> dict[str, Any]:
    group_id = row["group_id"]
    return {
        "id": group_id,
        "lastUpdated": row["last_updated"],
        "priority": row["priority"],
        "profile": row["profile"],
        "_links": {
            "app": {"href": f"{idp.base_url}/api/v1/apps/{idp.app_id}"},
            "group": {"href": f"{idp.base_url}/api/v1/groups/{group_id}"},
        },
    }


def user_document(idp: Idp, user: User) -> dict[str, Any]:
    """A User object as the Users API returns it."""
    return {
        "id": user.id,
        "status": user.status,
        "created": user.created,
        "activated": user.created,
        "statusChanged": None,
        "lastLogin": None,
        "lastUpdated": user.password_changed,
        "passwordChanged": user.password_changed,
        "type": {"id": "oty" + idp.app_id[3:]},
        "profile": {
            "firstName": user.first_name,
            "lastName": user.last_name,
            "login": user.login,
            "email": user.login,
            "mobilePhone": user.phone,
        },
        "credentials": {"provider": {"type": "OKTA", "name": "OKTA"}},
        "_links": {"self": {"href": f"{idp.base_url}/api/v1/users/{user.id}"}},
    }


def _not_found(what: str, kind: str) -> Response:
    return error_response("E0000007", detail=f"Resource not found: {what} ({kind})")


def _invalid(summary: str, *causes: str) -> Response:
    return error_response("E0000001", detail=summary, causes=list(causes))


# -- apps ---------------------------------------------------------------------------------


@guarded("okta.apps.read")
async def list_apps(request: Request, idp: Idp) -> Response:
    """``q`` matches the start of an app's name or label, as Okta's search does."""
    query = request.query_params.get("q", "").lower()
    document = app_document(idp)
    matches = [
        document
        for text in ((document["label"], document["name"]),)
        if not query or any(t.lower().startswith(query) for t in text)
    ]
    return paged(request, idp, matches)


@guarded("okta.apps.read")
async def get_app(request: Request, idp: Idp) -> Response:
    if request.path_params["app_id"] != idp.app_id:
        return _not_found(request.path_params["app_id"], "App")
    return JSONResponse(app_document(idp))


def _check_settings(settings: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    duration = settings.get("sessionDuration")
    if duration is not None and (
        not isinstance(duration, int) or isinstance(duration, bool) or not 900 <= duration <= 43200
    ):
        problems.append("sessionDuration: must be a number between 900 and 43200")
    for flag in ("joinAllRoles", "useGroupMapping"):
        if flag in settings and not isinstance(settings[flag], bool):
            problems.append(f"{flag}: must be true or false")
    for text in (
        "identityProviderArn",
        "roleValuePattern",
        "groupFilter",
        "loginURL",
        "webSSOAllowedClient",
        "accessKey",
        "secretKey",
        "appFilter",
    ):
        if settings.get(text) is not None and not isinstance(settings[text], str):
            problems.append(f"{text}: must be a string")
    arns = str(settings.get("identityProviderArn") or "")
    for arn in filter(None, (a.strip() for a in arns.split(","))):
        if not re.fullmatch(r"arn:aws(-us-gov|-cn)?:iam::\d{12}:saml-provider/[\w.-]+", arn):
            problems.append(f"identityProviderArn: {arn!r} is not a SAML provider ARN")
    return problems


@guarded("okta.apps.manage")
async def put_app(request: Request, idp: Idp) -> Response:
    """Replace the app: ``label``, ``settings.app``, ``settings.notes.admin``."""
    if request.path_params["app_id"] != idp.app_id:
        return _not_found(request.path_params["app_id"], "App")
    body = await read_json(request)
    if body is None:
        return error_response("E0000003")
    if body.get("name") != AMAZON_AWS:
        return _invalid("name", f"name: the app is {AMAZON_AWS!r}; an app's name cannot change")
    label = body.get("label")
    raw_settings = body.get("settings")
    settings = raw_settings.get("app") if isinstance(raw_settings, dict) else None
    if not isinstance(label, str) or not label or not isinstance(settings, dict):
        return _invalid("label, settings.app", "label and settings.app are required")
    problems = _check_settings(settings)
    # The username template and attribute statements: kept as stored when the body
    # leaves them out; refused, with the subset the lab models, when it cannot honour them.
    credentials = body.get("credentials")
    template = credentials.get("userNameTemplate") if isinstance(credentials, dict) else None
    sign_on = raw_settings.get("signOn") if isinstance(raw_settings, dict) else None
    statements = sign_on.get("attributeStatements") if isinstance(sign_on, dict) else None
    if template is not None:
        problems += filter(None, [awsapp.username_template_problem(template)])
    if statements is not None:
        problems += filter(None, [awsapp.attribute_statements_problem(statements)])
    if problems:
        return _invalid(problems[0].split(":")[0], *problems)
    if isinstance(template, dict):
        idp.appstate.set_username_template(
            {"template": template["template"], "type": template["type"]}
        )
    if isinstance(statements, list):
        idp.appstate.set_attribute_statements(
            [
                {
                    "type": "EXPRESSION",
                    "name": st["name"],
                    "namespace": st.get("namespace") or awsapp.URI_NAMESPACE,
                    "values": list(st["values"]),
                }
                for st in statements
            ]
        )
    current = idp.appstate.app_row()
    # A replace: properties the body leaves out read null after it, as the schema's
    # other unset ones do; the secret is write-only (it reads null), so a body that
    # sends it null or not at all keeps the stored one.
    settings = {
        **{key: None for key in CATALOGUE_SETTINGS},
        **{k: v for k, v in settings.items() if k != "secretKeyEnc"},
    }
    if not settings.get("secretKey"):
        settings["secretKey"] = current["settings"].get("secretKey")
    notes = raw_settings.get("notes") if isinstance(raw_settings, dict) else None
    admin_note = notes.get("admin") if isinstance(notes, dict) else None
    idp.appstate.set_app(
        label=label,
        settings=settings,
        admin_note=admin_note if isinstance(admin_note, str) else None,
    )
    return JSONResponse(app_document(idp))


# -- groups ---------------------------------------------------------------------------------


def _group_rule_members(idp: Idp, name: str) -> list[str]:
    """The spec's lab users who list ``name``: they join it when it is created.

    This models an Okta group rule (the directory decides membership, not
    whoever creates the group), so an org keyless configures from scratch
    ends with the spec's people in the spec's groups.
    """
    ids: list[str] = []
    for spec_user in lab_section(idp.spec).users:
        if name in spec_user.groups:
            user = idp.directory.get_user(spec_user.login)
            if user is not None:
                ids.append(user.id)
    return ids


# One clause of Okta's search syntax for groups: ``<attribute> <op> "<value>"``.
_CLAUSE = re.compile(
    r'^\s*(profile\.name|profile\.description|id|type)\s+(eq|sw)\s+"((?:[^"\\]|\\.)*)"\s*$'
)


def _search_filter(expression: str) -> Callable[[dict[str, Any]], bool] | None:
    """``search`` on ``GET /api/v1/groups`` as a predicate; None when the lab cannot read it.

    Okta's syntax (Groups API, "List all groups", ``search``:
    https://developer.okta.com/docs/api/openapi/okta-management/management/tag/Group/#tag/Group/operation/listGroups,
    e.g. ``search=profile.name eq "West Coast Users"``): clauses of ``eq`` or ``sw``
    (starts with) on ``profile.name``, ``profile.description``, ``id``, ``type``,
    joined with ``and``; values in double quotes with ``\"`` and ``\\`` escaped. The
    lab reads that subset and refuses the rest (``400 E0000031``).
    """
    clauses = []
    for part in re.split(r'\s+and\s+(?=(?:[^"]*"[^"]*")*[^"]*$)', expression):
        match = _CLAUSE.match(part)
        if match is None:
            return None
        value = re.sub(r"\\(.)", r"\1", match.group(3))
        clauses.append((match.group(1), match.group(2), value))

    def field(row: dict[str, Any], name: str) -> str:
        if name == "type":
            return "OKTA_GROUP"
        if name == "id":
            return str(row["id"])
        return str(row["name"] if name == "profile.name" else row["description"] or "")

    def matches(row: dict[str, Any]) -> bool:
        return all(
            field(row, name) == value if op == "eq" else field(row, name).startswith(value)
            for name, op, value in clauses
        )

    return matches


@guarded("okta.groups.read")
async def list_groups(request: Request, idp: Idp) -> Response:
    """``q`` matches the start of a group's name (case-insensitive); ``search`` is
    Okta's search syntax (:func:`_search_filter`)."""
    rows = idp.appstate.group_rows()
    search = request.query_params.get("search")
    if search is not None:
        wanted = _search_filter(search)
        if wanted is None:
            return error_response("E0000031")
        rows = [r for r in rows if wanted(r)]
    query = request.query_params.get("q", "").lower()
    rows = [r for r in rows if r["name"].lower().startswith(query)]
    return paged(request, idp, [group_document(idp, r) for r in rows])


def _group_profile(body: dict[str, Any] | None) -> tuple[str, str] | Response:
    if body is None:
        return error_response("E0000003")
    profile = body.get("profile")
    name = profile.get("name") if isinstance(profile, dict) else None
    if not isinstance(name, str) or not name.strip():
        return _invalid("name", "name: The field cannot be left blank")
    description = profile.get("description") if isinstance(profile, dict) else None
    return name.strip(), description if isinstance(description, str) else ""


@guarded("okta.groups.manage")
async def create_group(request: Request, idp: Idp) -> Response:
    parsed = _group_profile(await read_json(request))
    if isinstance(parsed, Response):
        return parsed
    name, description = parsed
    row = idp.appstate.create_group(name, description)
    if row is None:
        return _invalid(
            "name", "name: An object with this field already exists in the current organization"
        )
    idp.appstate.add_members(row["id"], _group_rule_members(idp, name))
    return JSONResponse(group_document(idp, row))


@guarded("okta.groups.read")
async def get_group(request: Request, idp: Idp) -> Response:
    row = idp.appstate.group_row(request.path_params["group_id"])
    if row is None:
        return _not_found(request.path_params["group_id"], "UserGroup")
    return JSONResponse(group_document(idp, row))


@guarded("okta.groups.manage")
async def put_group(request: Request, idp: Idp) -> Response:
    group_id = request.path_params["group_id"]
    if idp.appstate.group_row(group_id) is None:
        return _not_found(group_id, "UserGroup")
    parsed = _group_profile(await read_json(request))
    if isinstance(parsed, Response):
        return parsed
    row = idp.appstate.update_group(group_id, *parsed)
    assert row is not None
    return JSONResponse(group_document(idp, row))


@guarded("okta.groups.manage")
async def delete_group(request: Request, idp: Idp) -> Response:
    group_id = request.path_params["group_id"]
    if not idp.appstate.delete_group(group_id):
        return _not_found(group_id, "UserGroup")
    return Response(status_code=204)


@guarded("okta.groups.read")
async def group_users(request: Request, idp: Idp) -> Response:
    group_id = request.path_params["group_id"]
    if idp.appstate.group_row(group_id) is None:
        return _not_found(group_id, "UserGroup")
    ids = idp.appstate.member_ids_with_rules(group_id)
    users = [idp.directory.get_user_by_id(i) for i in ids]
    return paged(request, idp, [user_document(idp, u) for u in users if u is not None])


# -- application groups ----------------------------------------------------------------------


def _app_or_404(request: Request, idp: Idp) -> Response | None:
    if request.path_params["app_id"] != idp.app_id:
        return _not_found(request.path_params["app_id"], "App")
    return None


@guarded("okta.apps.read")
async def list_app_groups(request: Request, idp: Idp) -> Response:
    missing = _app_or_404(request, idp)
    if missing is not None:
        return missing
    return paged(request, idp, [assignment_document(idp, a) for a in idp.appstate.assignments()])


@guarded("okta.apps.read")
async def get_app_group(request: Request, idp: Idp) -> Response:
    missing = _app_or_404(request, idp)
    if missing is not None:
        return missing
    found = idp.appstate.assignment(request.path_params["group_id"])
    if found is None:
        return _not_found(request.path_params["group_id"], "ApplicationGroupAssignment")
    return JSONResponse(assignment_document(idp, found))


def _saml_roles_refused(idp: Idp, roles: list[str]) -> Response | None:
    """Okta's answer to ``samlRoles`` the app does not offer (None when every value is offered).

    ``samlRoles`` is an enumeration of the roles the app's API integration
    imported (:func:`keyless_lab.idp.awsapp.imported_roles`): any other value
    fails the app user schema's validation, ``400 E0000001`` with one
    ``errorCauses`` entry per problem, in the ``<property>: <why>`` form of the
    error catalogue's examples (https://developer.okta.com/docs/reference/error-codes/).
    The causes' wording is the lab's: Okta publishes no example for this property.
    """
    if not roles:
        return None
    settings = idp.appstate.app_row()["settings"]
    if settings.get("useGroupMapping"):
        return _invalid(
            "samlRoles",
            "samlRoles: the app uses group mapping (useGroupMapping), which takes roles from "
            "group names through groupFilter and roleValuePattern; it offers no SAML User Roles",
        )
    if not awsapp.api_integration(settings):
        return _invalid(
            "samlRoles",
            "samlRoles: the app's API integration (accessKey, secretKey) is not configured, "
            "so it has imported no roles to choose from",
        )
    offered = awsapp.imported_roles(idp.spec, settings)
    unknown = [role for role in roles if role not in offered]
    if unknown:
        return _invalid(
            "samlRoles",
            *(
                f"samlRoles: {role!r} is not a role the app's API integration imported"
                for role in unknown
            ),
        )
    return None


@guarded("okta.apps.manage")
async def put_app_group(request: Request, idp: Idp) -> Response:
    """Assign a group to the app, or change its assignment (``priority``, ``profile``)."""
    missing = _app_or_404(request, idp)
    if missing is not None:
        return missing
    group_id = request.path_params["group_id"]
    if idp.appstate.group_row(group_id) is None:
        return _not_found(group_id, "UserGroup")
    body = await read_json(request)
    if body is None:
        return error_response("E0000003")
    profile = body.get("profile", {})
    priority = body.get("priority")
    if not isinstance(profile, dict):
        return _invalid("profile", "profile: must be an object")
    roles = profile.get("samlRoles")
    if roles is not None and (
        not isinstance(roles, list) or not all(isinstance(r, str) for r in roles)
    ):
        return _invalid("samlRoles", "samlRoles: must be a list of role names")
    if priority is not None and (not isinstance(priority, int) or isinstance(priority, bool)):
        return _invalid("priority", "priority: must be a number")
    refused = _saml_roles_refused(idp, roles or [])
    if refused is not None:
        return refused
    idp.appstate.assign(group_id, profile, priority)
    found = idp.appstate.assignment(group_id)
    assert found is not None
    return JSONResponse(assignment_document(idp, found))


@guarded("okta.apps.manage")
async def delete_app_group(request: Request, idp: Idp) -> Response:
    missing = _app_or_404(request, idp)
    if missing is not None:
        return missing
    if not idp.appstate.unassign(request.path_params["group_id"]):
        return _not_found(request.path_params["group_id"], "ApplicationGroupAssignment")
    return Response(status_code=204)


# -- Native to Web SSO trust mappings ---------------------------------------------------------


def trust_document(idp: Idp, row: dict[str, Any]) -> dict[str, Any]:
    """A trust mapping as Okta's guide shows it (Application Interclient Trust Mappings,
    https://developer.okta.com/docs/guides/native-to-web-sso/main/, "Configure the trust map")."""
    return {
        "id": row["id"],
        "orgId": idp.idp_id,
        "appInstanceId": idp.app_id,
        "trustedAppInstanceId": row["client_id"],
        "created": row["created"],
        "lastUpdated": row["created"],
        "lastUpdatedBy": None,
    }


# Okta's guide: "You can define up to five apps per target web app."
MAX_TRUSTED_APPS = 5


@guarded("okta.apps.interclientTrust.manage")
async def add_trusted_app(request: Request, idp: Idp) -> Response:
    """``POST /api/v1/apps/{appId}/interclient-allowed-apps`` with ``{"id": client_id}``."""
    missing = _app_or_404(request, idp)
    if missing is not None:
        return missing
    body = await read_json(request)
    if body is None:
        return error_response("E0000003")
    client_id = body.get("id")
    if not isinstance(client_id, str) or not client_id:
        return _invalid("id", "id: The field cannot be left blank")
    known = idp.oauth is not None and idp.oauth.native_app.client_id == client_id
    if not known:
        return _not_found(client_id, "App")
    trusted = idp.appstate.trusted()
    if all(t["client_id"] != client_id for t in trusted) and len(trusted) >= MAX_TRUSTED_APPS:
        return _invalid("id", f"id: at most {MAX_TRUSTED_APPS} apps may be trusted by one app")
    return JSONResponse(trust_document(idp, idp.appstate.trust(client_id)))


@guarded("okta.apps.interclientTrust.read")
async def list_trusted_apps(request: Request, idp: Idp) -> Response:
    missing = _app_or_404(request, idp)
    if missing is not None:
        return missing
    return JSONResponse([trust_document(idp, row) for row in idp.appstate.trusted()])


# -- users ------------------------------------------------------------------------------------


def _user(request: Request, idp: Idp) -> User | None:
    """``{id}`` is a user id or a login (Okta accepts both)."""
    key = request.path_params["user_id"]
    return idp.directory.get_user_by_id(key) or idp.directory.get_user(key)


def app_user_document(idp: Idp, user: User) -> dict[str, Any]:
    """An Application User object (Okta Apps API, "Application User object": ``id``,
    ``scope``, ``status``, ``credentials.userName``, ``profile``)."""
    name = awsapp.app_username(idp.appstate.username_template(), idp.user_profile(user))
    return {
        "id": user.id,
        "externalId": None,
        "created": user.created,
        "lastUpdated": user.password_changed,
        "scope": "GROUP",
        "status": "ACTIVE" if user.status == "ACTIVE" else "INACTIVE",
        "syncState": "DISABLED",
        "credentials": {"userName": name},
        "profile": {},
        "_links": {
            "app": {"href": f"{idp.base_url}/api/v1/apps/{idp.app_id}"},
            "user": {"href": f"{idp.base_url}/api/v1/users/{user.id}"},
        },
    }


@guarded("okta.apps.read")
async def get_app_user(request: Request, idp: Idp) -> Response:
    """``GET /api/v1/apps/{appId}/users/{userId}``: 404 unless the app is assigned to the
    user (here through a group, the only way the lab assigns it)."""
    if request.path_params["app_id"] != idp.app_id:
        return _not_found(request.path_params["app_id"], "App")
    user = idp.directory.get_user_by_id(request.path_params["user_id"])
    member_of = idp.appstate.with_rules(idp.directory.user_group_ids(user.id)) if user else {}
    assigned = {str(a["group_id"]) for a in idp.appstate.assignments()}
    if user is None or not assigned & set(member_of):
        return _not_found(request.path_params["user_id"], "AppUser")
    return JSONResponse(app_user_document(idp, user))


@guarded("okta.users.read")
async def get_user(request: Request, idp: Idp) -> Response:
    user = _user(request, idp)
    if user is None:
        return _not_found(request.path_params["user_id"], "User")
    return JSONResponse(user_document(idp, user))


# Okta's lifecycle transitions: (from statuses allowed, to status, error when not allowed).
_LIFECYCLE: dict[str, tuple[tuple[UserStatus, ...], UserStatus, str]] = {
    "activate": (("DEPROVISIONED",), "ACTIVE", "E0000016"),
    "deactivate": (("ACTIVE", "LOCKED_OUT", "SUSPENDED", "DEPROVISIONED"), "DEPROVISIONED", ""),
    "suspend": (("ACTIVE",), "SUSPENDED", "Cannot suspend a user that is not active"),
    "unsuspend": (("SUSPENDED",), "ACTIVE", "Cannot unsuspend a user that is not suspended"),
}


@guarded("okta.users.manage")
async def user_lifecycle(request: Request, idp: Idp) -> Response:
    """``POST /api/v1/users/{id}/lifecycle/{operation}``; 200 with an empty object."""
    user = _user(request, idp)
    if user is None:
        return _not_found(request.path_params["user_id"], "User")
    operation = request.path_params["operation"]
    rule = _LIFECYCLE.get(operation)
    if rule is None:
        return _not_found(request.url.path, "Operation")
    allowed, target, refusal = rule
    if user.status not in allowed:
        if refusal.startswith("E"):
            return error_response(refusal)
        return _invalid(refusal, refusal)
    if user.status != target:
        idp.directory.set_status(user.login, target)
    if target in ("DEPROVISIONED", "SUSPENDED"):
        # Deactivation ends the user's sessions; a suspended user's are refused from now on.
        idp.end_user_sessions(user.id)
    return JSONResponse({})


def _flag(request: Request, name: str) -> bool | None:
    """A boolean query parameter: absent is False, ``true``/``false`` as written, else None."""
    raw = request.query_params.get(name)
    if raw is None:
        return False
    return {"true": True, "false": False}.get(raw.lower())


@guarded("okta.users.manage")
async def clear_user_sessions(request: Request, idp: Idp) -> Response:
    """``DELETE /api/v1/users/{id}/sessions``: every session of the user ends; 204.

    Okta's User Sessions API, "Revoke all user sessions"
    (https://developer.okta.com/docs/api/openapi/okta-management/management/tag/UserSessions/):
    ``oauthTokens=true`` also revokes the OpenID Connect and OAuth access and
    refresh tokens issued to the user (without it they stay valid until they
    expire); ``forgetDevices=true`` forgets the devices the user asked to have
    remembered, so the next sign-in asks for MFA again.
    """
    user = _user(request, idp)
    if user is None:
        return _not_found(request.path_params["user_id"], "User")
    oauth_tokens, forget = _flag(request, "oauthTokens"), _flag(request, "forgetDevices")
    if oauth_tokens is None or forget is None:
        return _invalid("oauthTokens", "oauthTokens, forgetDevices: must be true or false")
    ended = idp.end_user_sessions(user.id)
    revoked = idp.oauth.revoke_user_tokens(user.id) if oauth_tokens and idp.oauth else 0
    forgotten = idp.forget_devices(user.id) if forget else 0
    idp.audit.write(
        "sessions_cleared",
        login=user.login,
        ip=client_of(request),
        count=ended,
        oauth_tokens_revoked=revoked,
        devices_forgotten=forgotten,
    )
    return Response(status_code=204)


@guarded("okta.users.read")
async def user_groups(request: Request, idp: Idp) -> Response:
    user = _user(request, idp)
    if user is None:
        return _not_found(request.path_params["user_id"], "User")
    direct = idp.directory.user_group_ids(user.id)
    rows = [idp.appstate.group_row(g) for g in sorted(idp.appstate.with_rules(direct))]
    return paged(request, idp, [group_document(idp, r) for r in rows if r is not None])


@guarded("okta.users.read")
async def user_factors(request: Request, idp: Idp) -> Response:
    """The user's enrolled factors (Factors API), without secrets."""
    user = _user(request, idp)
    if user is None:
        return _not_found(request.path_params["user_id"], "User")
    documents = [
        {
            "id": f.id,
            "factorType": f.factor_type,
            "provider": f.provider,
            "vendorName": f.provider,
            "status": "ACTIVE",
            "profile": factor_profile(f, user),
            "_links": {
                "self": {"href": f"{idp.base_url}/api/v1/users/{user.id}/factors/{f.id}"},
            },
        }
        for f in idp.directory.factors(user.id)
    ]
    return JSONResponse(documents)


# -- OAuth 2.0 client credentials (service apps) --------------------------------------------


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_seen_jti: dict[str, float] = {}
_jti_lock = threading.Lock()


def verify_client_assertion(
    assertion: str, *, public_key_pem: str, client_id: str, audience: str, now: float
) -> str | None:
    """Why ``assertion`` is not a valid ``private_key_jwt`` for ``client_id`` (None: valid).

    RS256 only; ``iss`` and ``sub`` the client id, ``aud`` the token endpoint,
    ``exp`` in the future and at most an hour away, ``jti`` not seen before
    (the checks Okta documents for client authentication with a JWT).
    """
    parts = assertion.split(".")
    if len(parts) != 3:
        return "The client_assertion is not a JWT."
    try:
        header = json.loads(_b64url(parts[0]))
        claims = json.loads(_b64url(parts[1]))
        signature = _b64url(parts[2])
    except (ValueError, UnicodeDecodeError):
        return "The client_assertion is not a JWT."
    if not isinstance(header, dict) or header.get("alg") != "RS256" or not isinstance(claims, dict):
        return "The client_assertion must be signed with RS256."
    key = serialization.load_pem_public_key(public_key_pem.encode())
    if not isinstance(key, rsa.RSAPublicKey):
        return "The service app's key is not an RSA key."
    try:
        key.verify(
            signature, f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256()
        )
    except InvalidSignature:
        return "The client_assertion signature is invalid."
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        return "The client_assertion's iss and sub must be the client_id."
    if claims.get("aud") != audience:
        return f"The audience of the client_assertion must be {audience}."
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp <= now or exp > now + 3600 + 60:
        return "The client_assertion token is expired or expires more than an hour from now."
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        return "The client_assertion must have a jti claim."
    with _jti_lock:
        for old in [k for k, v in _seen_jti.items() if v < now]:
            del _seen_jti[old]
        if jti in _seen_jti:
            return "The client_assertion token has already been used (jti replay)."
        _seen_jti[jti] = float(exp)
    return None


async def client_credentials_grant(request: Request, form: dict[str, str]) -> Response:
    """``grant_type=client_credentials`` with ``private_key_jwt``: a Bearer token with scopes."""
    idp = idp_of(request)
    if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE or not form.get(
        "client_assertion"
    ):
        return oauth_error(
            "invalid_client",
            "Client authentication failed: service apps authenticate with private_key_jwt.",
            401,
        )
    try:
        unverified = json.loads(_b64url(form["client_assertion"].split(".")[1]))
    except (ValueError, IndexError, UnicodeDecodeError):
        unverified = None
    client_id = unverified.get("iss") if isinstance(unverified, dict) else None
    app = idp.appstate.service_app(client_id) if isinstance(client_id, str) else None
    if app is None or not isinstance(client_id, str):
        return oauth_error("invalid_client", "The client_id is not known.", 401)
    why = verify_client_assertion(
        form["client_assertion"],
        public_key_pem=app.public_key_pem,
        client_id=client_id,
        audience=f"{idp.base_url}/oauth2/v1/token",
        now=time.time(),
    )
    if why is not None:
        return oauth_error("invalid_client", why, 401)
    requested = form.get("scope", "").split()
    if not requested:
        return oauth_error("invalid_scope", "The authorization server requires a scope.")
    unknown = [s for s in requested if s not in ALL_SCOPES]
    if unknown:
        return oauth_error(
            "invalid_scope", f"One or more scopes are not configured: {' '.join(unknown)}"
        )
    missing = [s for s in requested if s not in app.scopes]
    if missing:
        return oauth_error(
            "invalid_scope",
            f"The following scopes were not granted to the client: {' '.join(missing)}",
        )
    caller = Caller(
        "Bearer", f"service app {app.name}", frozenset(requested), admin=bool(app.admin_roles)
    )
    token = idp.appstate.mint_access_token(caller, ACCESS_TOKEN_LIFETIME, time.time())
    return JSONResponse(
        {
            "token_type": "Bearer",
            "expires_in": int(ACCESS_TOKEN_LIFETIME),
            "access_token": token,
            "scope": " ".join(requested),
        },
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


ROUTES = [
    Route("/api/v1/apps", list_apps, methods=["GET"]),
    Route("/api/v1/apps/{app_id}", get_app, methods=["GET"]),
    Route("/api/v1/apps/{app_id}", put_app, methods=["PUT"]),
    Route("/api/v1/apps/{app_id}/users/{user_id}", get_app_user, methods=["GET"]),
    Route("/api/v1/apps/{app_id}/groups", list_app_groups, methods=["GET"]),
    Route("/api/v1/apps/{app_id}/groups/{group_id}", get_app_group, methods=["GET"]),
    Route("/api/v1/apps/{app_id}/groups/{group_id}", put_app_group, methods=["PUT"]),
    Route("/api/v1/apps/{app_id}/groups/{group_id}", delete_app_group, methods=["DELETE"]),
    Route("/api/v1/apps/{app_id}/interclient-allowed-apps", add_trusted_app, methods=["POST"]),
    Route("/api/v1/apps/{app_id}/interclient-allowed-apps", list_trusted_apps, methods=["GET"]),
    Route("/api/v1/groups", list_groups, methods=["GET"]),
    Route("/api/v1/groups", create_group, methods=["POST"]),
    Route("/api/v1/groups/{group_id}", get_group, methods=["GET"]),
    Route("/api/v1/groups/{group_id}", put_group, methods=["PUT"]),
    Route("/api/v1/groups/{group_id}", delete_group, methods=["DELETE"]),
    Route("/api/v1/groups/{group_id}/users", group_users, methods=["GET"]),
    Route("/api/v1/users/{user_id}", get_user, methods=["GET"]),
    Route("/api/v1/users/{user_id}/lifecycle/{operation}", user_lifecycle, methods=["POST"]),
    Route("/api/v1/users/{user_id}/sessions", clear_user_sessions, methods=["DELETE"]),
    Route("/api/v1/users/{user_id}/groups", user_groups, methods=["GET"]),
    Route("/api/v1/users/{user_id}/factors", user_factors, methods=["GET"]),
]


def seed_configured_app(idp: Idp, web_sso_client: str | None = None) -> bool:
    """Configure a new AWS app as an Okta admin would for the lab's spec; False if done before.

    The default lab starts as an org whose Okta side is already in place, so
    logins work after an AWS-only apply; what is configured, and from which of
    Okta's guides, is :mod:`keyless_lab.idp.admin`'s. The admin also names the
    CLIs' native app as the Allowed Web SSO Client (``web_sso_client``, okta/okta-aws-cli
    README, "Allowed Web SSO Client ID"). ``keyless lab up --unconfigured-okta-app``
    skips this and leaves the app as Okta's catalogue adds it
    (:data:`~keyless_lab.idp.appstate.CATALOGUE_SETTINGS`).
    """
    state = idp.appstate
    current = state.app_row()
    if current["settings"].get("identityProviderArn"):
        return False
    setup = admin_setup(idp.spec)
    rows = {row["name"]: row for row in state.group_rows()}

    def ensure(name: str) -> dict[str, Any]:
        row = rows.get(name)
        if row is None:
            row = state.create_group(name, "")
            assert row is not None
            state.add_members(row["id"], _group_rule_members(idp, name))
            rows[name] = row
        return row

    for group in setup.groups:
        row = ensure(group.name)
        profile = {} if group.saml_roles is None else {"samlRoles": list(group.saml_roles)}
        state.assign(row["id"], profile, None)
    for rule in setup.rules:
        made = state.create_rule(
            f"{rule.source} to its AWS roles",
            [ensure(rule.source)["id"]],
            [ensure(target)["id"] for target in rule.targets],
        )
        state.set_rule_status(made["id"], "ACTIVE")
    settings = {**current["settings"], **setup.settings, "webSSOAllowedClient": web_sso_client}
    state.set_app(label=current["label"], settings=settings, admin_note=current["admin_note"])
    return True
