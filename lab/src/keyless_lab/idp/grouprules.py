"""Okta's group rules as the lab answers them: the subset that puts the members of one
group into others.

Paths, documents and lifecycle follow Okta's Groups API, "Group rule operations"
(https://developer.okta.com/docs/api/openapi/okta-management/management/tag/GroupRule/):

- ``GET|POST /api/v1/groups/rules``, ``GET|PUT|DELETE /api/v1/groups/rules/{ruleId}``,
  ``POST /api/v1/groups/rules/{ruleId}/lifecycle/{activate,deactivate}`` (204);
- a rule is created ``INACTIVE``; only an inactive rule may be changed or deleted
  (Okta answers ``400 E0000001`` otherwise);
- the rule document: ``type: group_rule``, ``name``, ``conditions.expression``
  (``type: urn:okta:expression:1.0``), ``actions.assignUserToGroups.groupIds``.

The lab evaluates one kind of expression, ``isMemberOfAnyGroup("00g…", …)`` (and
``isMemberOfGroup("00g…")``), Okta's Expression Language functions for group
membership (https://developer.okta.com/docs/reference/okta-expression-language/#group-functions);
any other expression is refused with ``E0000001`` naming the limit, rather than
accepted and ignored. Membership a rule gives is read in
:meth:`keyless_lab.idp.appstate.AppState.with_rules`.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from keyless_lab.idp.core import Idp
from keyless_lab.idp.management import guarded, paged, read_json
from keyless_lab.idp.okta import error_response

EXPRESSION_TYPE = "urn:okta:expression:1.0"
_MEMBER_OF = re.compile(r'^\s*isMemberOf(?:Any)?Group\(\s*("[^"]+"\s*(?:,\s*"[^"]+"\s*)*)\)\s*$')


def rule_document(idp: Idp, rule: dict[str, Any]) -> dict[str, Any]:
    sources = ", ".join(f'"{gid}"' for gid in rule["source_ids"])
    base = f"{idp.base_url}/api/v1/groups/rules/{rule['id']}"
    return {
        "type": "group_rule",
        "id": rule["id"],
        "status": rule["status"],
        "name": rule["name"],
        "created": rule["created"],
        "lastUpdated": rule["last_updated"],
        "conditions": {
            "people": {"users": {"exclude": []}},
            "expression": {"value": f"isMemberOfAnyGroup({sources})", "type": EXPRESSION_TYPE},
        },
        "actions": {"assignUserToGroups": {"groupIds": list(rule["target_ids"])}},
        "_links": {"self": {"href": base}},
    }


def _invalid(field: str, cause: str) -> Response:
    return error_response("E0000001", detail=field, causes=[cause])


def _parse(idp: Idp, body: dict[str, Any] | None) -> tuple[str, list[str], list[str]] | Response:
    """A rule body's name, source group ids and target group ids, or Okta's refusal."""
    if body is None:
        return error_response("E0000003")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        return _invalid("name", "name: The field cannot be left blank")
    conditions = body.get("conditions")
    expression = conditions.get("expression") if isinstance(conditions, dict) else None
    value = expression.get("value") if isinstance(expression, dict) else None
    match = _MEMBER_OF.match(value) if isinstance(value, str) else None
    if match is None:
        return _invalid(
            "conditions.expression.value",
            'conditions.expression.value: the lab evaluates isMemberOfAnyGroup("<group id>", '
            "...) expressions only",
        )
    sources = re.findall(r'"([^"]+)"', match.group(1))
    actions = body.get("actions")
    assign = actions.get("assignUserToGroups") if isinstance(actions, dict) else None
    targets = assign.get("groupIds") if isinstance(assign, dict) else None
    if not isinstance(targets, list) or not targets or not all(isinstance(t, str) for t in targets):
        return _invalid(
            "actions.assignUserToGroups.groupIds",
            "actions.assignUserToGroups.groupIds: The field cannot be left blank",
        )
    unknown = [gid for gid in [*sources, *targets] if idp.appstate.group_row(gid) is None]
    if unknown:
        return _invalid("groupIds", f"groupIds: {unknown[0]} is not a group of this org")
    return name.strip(), sources, list(targets)


@guarded("okta.groups.read")
async def list_rules(request: Request, idp: Idp) -> Response:
    """``search`` keeps the rules whose name contains it."""
    search = request.query_params.get("search", "").lower()
    rules = [r for r in idp.appstate.rules() if search in r["name"].lower()]
    return paged(request, idp, [rule_document(idp, r) for r in rules])


@guarded("okta.groups.manage")
async def create_rule(request: Request, idp: Idp) -> Response:
    parsed = _parse(idp, await read_json(request))
    if isinstance(parsed, Response):
        return parsed
    rule = idp.appstate.create_rule(*parsed)
    return JSONResponse(rule_document(idp, rule))


def _rule_or_404(request: Request, idp: Idp) -> dict[str, Any] | Response:
    rule = idp.appstate.rule(request.path_params["rule_id"])
    if rule is None:
        return error_response(
            "E0000007", detail=f"Resource not found: {request.path_params['rule_id']} (GroupRule)"
        )
    return rule


@guarded("okta.groups.read")
async def get_rule(request: Request, idp: Idp) -> Response:
    rule = _rule_or_404(request, idp)
    if isinstance(rule, Response):
        return rule
    return JSONResponse(rule_document(idp, rule))


@guarded("okta.groups.manage")
async def put_rule(request: Request, idp: Idp) -> Response:
    rule = _rule_or_404(request, idp)
    if isinstance(rule, Response):
        return rule
    if rule["status"] == "ACTIVE":
        return _invalid("status", "status: an ACTIVE rule cannot be updated; deactivate it first")
    parsed = _parse(idp, await read_json(request))
    if isinstance(parsed, Response):
        return parsed
    idp.appstate.update_rule(rule["id"], *parsed)
    updated = idp.appstate.rule(rule["id"])
    assert updated is not None
    return JSONResponse(rule_document(idp, updated))


@guarded("okta.groups.manage")
async def delete_rule(request: Request, idp: Idp) -> Response:
    rule = _rule_or_404(request, idp)
    if isinstance(rule, Response):
        return rule
    if rule["status"] == "ACTIVE":
        return _invalid("status", "status: an ACTIVE rule cannot be deleted; deactivate it first")
    idp.appstate.delete_rule(rule["id"])
    return Response(status_code=204)


@guarded("okta.groups.manage")
async def rule_lifecycle(request: Request, idp: Idp) -> Response:
    rule = _rule_or_404(request, idp)
    if isinstance(rule, Response):
        return rule
    operation = request.path_params["operation"]
    if operation not in ("activate", "deactivate"):
        return error_response("E0000007", detail=f"Resource not found: {request.url.path}")
    idp.appstate.set_rule_status(rule["id"], "ACTIVE" if operation == "activate" else "INACTIVE")
    return Response(status_code=204)


ROUTES = [
    Route("/api/v1/groups/rules", list_rules, methods=["GET"]),
    Route("/api/v1/groups/rules", create_rule, methods=["POST"]),
    Route("/api/v1/groups/rules/{rule_id}", get_rule, methods=["GET"]),
    Route("/api/v1/groups/rules/{rule_id}", put_rule, methods=["PUT"]),
    Route("/api/v1/groups/rules/{rule_id}", delete_rule, methods=["DELETE"]),
    Route("/api/v1/groups/rules/{rule_id}/lifecycle/{operation}", rule_lifecycle, methods=["POST"]),
]
