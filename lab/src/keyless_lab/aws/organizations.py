"""AWS Organizations as a boundary: who may call it, its SCP rules, and SCP evaluation.

moto keeps one Organizations backend per account and runs whatever it is asked:
a member account's ``CreatePolicy`` crashes on its empty backend (a 500), and its
``RemoveAccountFromOrganization`` drops the account from the organization map
before failing. The front asks this module first, under the state lock, and moto
runs only what AWS would run. Sources:

- [API] the Organizations API reference, per operation, as botocore's model
  carries it ("You can only call this operation from the management account or a
  member account that is a delegated administrator"; the error shapes
  ``AccessDeniedException``, ``AWSOrganizationsNotInUseException``,
  ``PolicyTypeNotEnabledException``, ``DuplicatePolicyAttachmentException``,
  ``PolicyNotAttachedException``, ``ConstraintViolationException`` and its
  ``Reason`` values);
- [SCP] Service control policies (SCPs)
  https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html
  ("SCPs don't affect users or roles in the management account"; the
  ``FullAWSAccess`` policy, ``p-FullAWSAccess``, attached to the root, every OU
  and every account when SCPs are enabled; disabling the type detaches every SCP);
- [EVAL] SCP evaluation
  https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_evaluation.html
  (for a permission to be allowed for an account, every SCP level from the root
  down through each OU to the account must allow it; an explicit Deny in any SCP
  denies);
- [QUOTAS] Quotas and service limits for AWS Organizations
  https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html
  (SCP document: 5,120 characters; SCPs attached to a root, OU or account: 5);
- [DENIED] IAM User Guide, "Troubleshoot access denied error messages"
  https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
  ("... with an explicit deny in a service control policy", "... because no
  service control policy allows the ... action").

The messages of refusals AWS does not spell out in its reference are the ones
its endpoints answer with, as users report them: ``You don't have permissions to
access this resource.`` (a member account calling a management-only operation),
``You have attached the maximum number of policies to the specified target.``
and ``You have exceeded the maximum policy size.``

Not modelled: delegated administrators (a member account is never one here),
service-linked roles' exemption from SCPs (the lab creates none), resource
control policies.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from keyless_lab.aws.errors import AwsError
from keyless_lab.aws.permissions import (
    Decision,
    Effect,
    Principal,
    Query,
    parse_document,
    policy_effect,
)

SCP = "SERVICE_CONTROL_POLICY"
FULL_AWS_ACCESS = "p-FullAWSAccess"
MAX_SCP_CHARACTERS = 5_120  # [QUOTAS] "Maximum size of a policy document: SCPs: 5,120 characters"
MAX_SCPS_PER_TARGET = 5  # [QUOTAS] "Number of SCPs attached to a root, OU or account: 5"
_PARTITION = "aws"

_NOT_IN_USE = "Your account is not a member of an organization."
_NOT_MANAGEMENT = "You don't have permissions to access this resource."

# [API]: the reference says which operations only the management account may call.
_MANAGEMENT_ONLY_TEXT = re.compile(r"from the (organization's )?management account", re.IGNORECASE)


@functools.cache
def management_only() -> frozenset[str]:
    """The Organizations operations only the management account may call, per [API]."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("organizations")
    names = {
        name
        for name in model.operation_names
        if _MANAGEMENT_ONLY_TEXT.search(
            re.sub(r"<[^>]+>", " ", model.operation_model(name).documentation)
        )
    }
    # CloseAccount's page says it closes "a member account within an organization" from
    # the management account, in other words than the rest.
    return frozenset(names | {"CloseAccount"})


def _backend(account_id: str) -> Any:
    from moto.organizations.models import organizations_backends

    # dict.get: moto's BackendDict would create a backend for any id it is asked for.
    return dict.get(dict.get(organizations_backends, account_id, {}), _PARTITION)


def organization_of(account_id: str) -> tuple[Any, bool] | None:
    """(the management account's backend, whether ``account_id`` is the management account),
    or None when the account belongs to no organization."""
    from moto.organizations.models import organizations_backends

    own = _backend(account_id)
    if own is not None and own.org is not None:
        return own, True
    entry = organizations_backends.master_accounts.get(account_id)
    if entry is None:
        return None
    management = _backend(entry[0])
    if management is None or management.org is None:
        return None
    return management, False


def _root(backend: Any) -> Any:
    from moto.organizations.models import FakeRoot

    return next(ou for ou in backend.ou if isinstance(ou, FakeRoot))


def scps_enabled(backend: Any) -> bool:
    """Whether the SCP policy type is enabled in the organization's root."""
    return any(t.get("Type") == SCP for t in _root(backend).policy_types)


def _target(backend: Any, target_id: str) -> Any:
    found = [*backend.ou, *backend.accounts]
    return next((entity for entity in found if entity.id == target_id), None)


def _scps(entity: Any) -> list[Any]:
    return [p for p in entity.attached_policies if p.type == SCP]


def _constraint(reason: str, message: str) -> AwsError:
    return AwsError("ConstraintViolationException", message, fields={"Reason": reason})


# -- before moto: who may call, and the SCP rules -------------------------------------


def check_call(account_id: str, action: str, document: Mapping[str, Any]) -> None:
    """Refuse an Organizations call as AWS would, before moto runs it (hold the state lock)."""
    found = organization_of(account_id)
    if action in management_only():
        if found is None:
            raise AwsError("AWSOrganizationsNotInUseException", _NOT_IN_USE)
        if not found[1]:
            # [API]: only the management account (no member is a delegated administrator here).
            raise AwsError("AccessDenied", _NOT_MANAGEMENT)
    if found is None or not found[1]:
        return
    backend = found[0]
    if action in ("CreatePolicy", "UpdatePolicy"):
        _check_content(backend, action, document)
    elif action == "AttachPolicy":
        _check_attach(backend, document)
    elif action == "DetachPolicy":
        _check_detach(backend, document)


def _check_content(backend: Any, action: str, document: Mapping[str, Any]) -> None:
    kind = document.get("Type")
    if action == "UpdatePolicy":
        policy = next((p for p in backend.policies if p.id == document.get("PolicyId")), None)
        kind = policy.type if policy is not None else None
    content = document.get("Content")
    if kind != SCP or not isinstance(content, str):
        return
    if len(content) > MAX_SCP_CHARACTERS:
        # [QUOTAS] counts characters as sent: the API keeps the document as given.
        raise _constraint(
            "POLICY_CONTENT_LIMIT_EXCEEDED", "You have exceeded the maximum policy size."
        )
    try:
        parsed = json.loads(content)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict) or not parse_document(parsed):
        raise AwsError(
            "MalformedPolicyDocumentException",
            "The provided policy document doesn't meet the requirements of the specified "
            "policy type.",
        )


def _attachment(backend: Any, document: Mapping[str, Any]) -> tuple[Any, Any] | None:
    policy = next((p for p in backend.policies if p.id == document.get("PolicyId")), None)
    target = _target(backend, str(document.get("TargetId", "")))
    if policy is None or target is None or policy.type != SCP:
        return None  # moto answers PolicyNotFound / TargetNotFound as AWS does
    return policy, target


def _check_attach(backend: Any, document: Mapping[str, Any]) -> None:
    found = _attachment(backend, document)
    if found is None:
        return
    policy, target = found
    if not scps_enabled(backend):
        raise AwsError(
            "PolicyTypeNotEnabledException",
            "The specified policy type isn't currently enabled in this root. You can't "
            "attach policies of the specified type to entities in a root until you enable "
            "that type in the root.",
        )
    if policy in target.attached_policies:
        raise AwsError(
            "DuplicatePolicyAttachmentException",
            "The selected policy is already attached to the specified target.",
        )
    if len(_scps(target)) >= MAX_SCPS_PER_TARGET:
        raise _constraint(
            "MAX_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED",
            "You have attached the maximum number of policies to the specified target.",
        )


def _check_detach(backend: Any, document: Mapping[str, Any]) -> None:
    found = _attachment(backend, document)
    if found is None:
        return
    policy, target = found
    if policy not in target.attached_policies:
        raise AwsError(
            "PolicyNotAttachedException",
            "The policy isn't attached to the specified target in the specified root.",
        )
    if scps_enabled(backend) and len(_scps(target)) <= 1:
        # [API] ConstraintViolationException: "attempting to remove the last service
        # control policy (SCP) from an OU or root".
        raise _constraint(
            "MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED",
            "You attempted to detach a policy from an entity that would cause the entity "
            "to have fewer than the minimum number of policies of a certain type required.",
        )


# -- after moto: what enabling or disabling the SCP type does --------------------------


def after_call(account_id: str, action: str, document: Mapping[str, Any]) -> None:
    """What AWS does beside a successful call that moto leaves out (hold the state lock)."""
    if action not in ("EnablePolicyType", "DisablePolicyType") or document.get("PolicyType") != SCP:
        return
    found = organization_of(account_id)
    if found is None or not found[1]:
        return
    backend = found[0]
    entities = [*backend.ou, *backend.accounts]
    if action == "EnablePolicyType":
        # [SCP]: FullAWSAccess on the root, every OU and every account.
        full = next((p for p in backend.policies if p.id == FULL_AWS_ACCESS), None)
        for entity in entities:
            if full is not None and full not in entity.attached_policies:
                entity.attached_policies.append(full)
                full.attachments.append(entity)
        return
    # [SCP]: disabling the type detaches every SCP from every entity.
    for entity in entities:
        for policy in _scps(entity):
            entity.attached_policies.remove(policy)
            if entity in policy.attachments:
                policy.attachments.remove(entity)


# -- SCP evaluation -----------------------------------------------------------------------


def _levels(backend: Any, account_id: str) -> list[Any] | None:
    """The root, each OU down to the account, and the account: the levels [EVAL] walks."""
    account = next((a for a in backend.accounts if a.id == account_id), None)
    if account is None:
        return None
    levels = [account]
    parent = getattr(account, "parent_id", None)
    seen: set[str] = set()
    while parent and parent not in seen:
        seen.add(parent)
        entity = _target(backend, parent)
        if entity is None:
            break
        levels.append(entity)
        parent = getattr(entity, "parent_id", None)
    return list(reversed(levels))


def scp_decision(
    account_id: str,
    *,
    action: str,
    resource: str,
    context: Mapping[str, Sequence[str]],
) -> Decision | None:
    """SCPs' word on a request by a principal of ``account_id``; None where SCPs do not apply.

    None for the management account and accounts outside an organization [SCP],
    and while the SCP type is not enabled in the root.
    """
    found = organization_of(account_id)
    if found is None or found[1] or not scps_enabled(found[0]):
        return None
    levels = _levels(found[0], account_id)
    if levels is None:
        return None
    return evaluate_levels(
        [[parse_document(str(p.content)) for p in _scps(entity)] for entity in levels],
        action=action,
        resource=resource,
        context=context,
    )


def evaluate_levels(
    levels: Sequence[Sequence[Sequence[Mapping[str, Any]]]],
    *,
    action: str,
    resource: str,
    context: Mapping[str, Sequence[str]],
) -> Decision:
    """[EVAL] over the SCPs of each level, root first (each SCP a list of statements):
    an explicit Deny in any SCP denies; otherwise every level must have an SCP that allows."""
    effect = levels_effect(levels, action=action, resource=resource, context=context)
    if effect is Effect.DENY:
        return Decision(False, "with an explicit deny in a service control policy")
    if effect is Effect.NONE:
        return Decision(False, f"no service control policy allows the {action} action")
    return Decision(True, "allowed")


def levels_effect(
    levels: Sequence[Sequence[Sequence[Mapping[str, Any]]]],
    *,
    action: str,
    resource: str,
    context: Mapping[str, Sequence[str]],
) -> Effect:
    """DENY for an explicit Deny in any SCP of any level (what AWS names first, so every
    level is read); NONE when some level has no SCP that allows; else ALLOW."""
    refused = False
    for level in levels:
        allowed = False
        for statements in level:
            effect = policy_effect(statements, action=action, resource=resource, context=context)
            if effect is Effect.DENY:
                return Effect.DENY
            allowed = allowed or effect is Effect.ALLOW
        refused = refused or not allowed
    return Effect.NONE if refused else Effect.ALLOW


def organization_policies(principal: Principal, query: Query) -> Effect:
    """The organization-policies step of the lab's evaluation (:data:`OrganizationPolicies`):
    the SCPs over the principal's account; ALLOW where none apply (the management account,
    an account outside an organization, SCPs not enabled) [SCP]."""
    found = organization_of(principal.account_id)
    if found is None or found[1] or not scps_enabled(found[0]):
        return Effect.ALLOW
    levels = _levels(found[0], principal.account_id)
    if levels is None:
        return Effect.ALLOW
    return levels_effect(
        [[parse_document(str(p.content)) for p in _scps(entity)] for entity in levels],
        action=query.action,
        resource=query.resource,
        context=query.context,
    )
