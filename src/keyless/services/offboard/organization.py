"""The organization as offboarding sees it: which of the spec's accounts an SCP covers,
and the keyless SCPs at the root.

Where the SCP goes: **the organization's root**. Attaching to each member account
costs a write per account (and 5 SCPs per account is a tight budget that others
share); attaching to the OUs that hold the spec's accounts needs a ListParents per
account to find them and a write per OU, and misses an account moved to another
OU later. At the root one write covers every member, now and later. It also
covers member accounts outside the spec, which is what offboarding wants: the
Deny matches only the revoked people's own identities, who should hold no session
anywhere in the organization. SCPs never apply to the management account, so it
always gets the per-role Denies (Organizations User Guide, "Service control
policies": "SCPs don't affect users or roles in the management account").

Read with Organizations APIs from the management account: DescribeOrganization
(is there one, and is the spec's management account its management account),
ListRoots (the root and whether the SCP policy type is enabled there),
ListAccounts (membership), ListPoliciesForTarget on the root and ListPolicies
(the keyless SCPs and the root's free attachments), DescribePolicy (their content).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from keyless.adapters.aws import AwsConnector, describe_client_error, explain_error
from keyless.plan.revocations import Revocations, ScpSlot, is_revocation
from keyless.spec.model import FederationSpec

SCP = "SERVICE_CONTROL_POLICY"
SCP_DESCRIPTION = (
    "keyless offboard: denies the sessions of people who left (keyless owns it; "
    "`keyless offboard --release` edits it)"
)


@dataclass
class OrgView:
    """What the organization offers offboarding."""

    root_id: str | None = None
    organization_id: str | None = None  # o-..., where an organization trail files its logs
    scp_enabled: bool = False
    members: set[str] = field(default_factory=set)
    attached_at_root: list[str] = field(default_factory=list)  # policy ids
    slots: list[ScpSlot] = field(default_factory=list)
    note: str = ""

    @property
    def usable(self) -> bool:
        """True when an SCP at the root stops member accounts' sessions."""
        return self.root_id is not None and self.scp_enabled


def read_organization(spec: FederationSpec, connector: AwsConnector) -> OrgView:
    """The organization seen from the spec's management account (an empty view and why,
    when there is none, it is not the spec's, or SCPs are not enabled)."""
    management = spec.management_account
    if management is None:
        return OrgView(note="the spec names no management account: per-role Denies everywhere")
    try:
        client = connector.client(management, "organizations")
        try:
            organization = client.describe_organization()["Organization"]
        except ClientError as exc:
            if describe_client_error(exc)[0] == "AWSOrganizationsNotInUseException":
                return OrgView(note="the accounts are in no organization: per-role Denies")
            raise
        if organization.get("MasterAccountId") != management.id:
            return OrgView(
                note=f"{management.alias} is not the organization's management account: "
                "per-role Denies"
            )
        root = client.list_roots()["Roots"][0]
        view = OrgView(root_id=str(root["Id"]), organization_id=str(organization.get("Id", "")))
        view.scp_enabled = any(
            t.get("Type") == SCP and t.get("Status") == "ENABLED"
            for t in root.get("PolicyTypes", [])
        )
        for page in client.get_paginator("list_accounts").paginate():
            view.members.update(
                str(a["Id"]) for a in page.get("Accounts", []) if a.get("Status") == "ACTIVE"
            )
        view.members.discard(management.id)
        if not view.scp_enabled:
            view.note = (
                "service control policies are not enabled in the organization's root: "
                "per-role Denies in every account (enable them with `aws organizations "
                f"enable-policy-type --root-id {view.root_id} --policy-type {SCP}` and "
                "offboarding is one write per organization)"
            )
            return view
        for page in client.get_paginator("list_policies_for_target").paginate(
            TargetId=view.root_id, Filter=SCP
        ):
            view.attached_at_root.extend(str(p["Id"]) for p in page.get("Policies", []))
        for page in client.get_paginator("list_policies").paginate(Filter=SCP):
            for summary in page.get("Policies", []):
                if not is_revocation(str(summary.get("Name", ""))):
                    continue
                policy = client.describe_policy(PolicyId=summary["Id"])["Policy"]
                document = json.loads(policy.get("Content") or "{}")
                view.slots.append(
                    ScpSlot(
                        name=str(summary["Name"]),
                        policy_id=str(summary["Id"]),
                        revocations=Revocations.from_document(document),
                        attached=str(summary["Id"]) in view.attached_at_root,
                    )
                )
        view.slots.sort(key=lambda s: s.name)
        view.note = (
            f"member accounts: keyless SCP(s) at the organization's root {view.root_id} "
            "(one write covers every member account)"
        )
        return view
    except (ClientError, BotoCoreError) as exc:
        return OrgView(
            note=f"the organization could not be read ({explain_error(exc)}): per-role Denies"
        )


def write_slot(client: Any, view: OrgView, slot: ScpSlot) -> dict[str, Any]:
    """Create, update, attach (or, when it revokes nobody any more, detach and delete) one
    keyless SCP; the document Organizations now holds (empty when deleted)."""
    assert view.root_id is not None
    document = slot.revocations.document()
    if slot.revocations.empty:
        if slot.policy_id is not None:
            if slot.attached:
                client.detach_policy(PolicyId=slot.policy_id, TargetId=view.root_id)
            client.delete_policy(PolicyId=slot.policy_id)
        return {}
    text = json.dumps(document, separators=(",", ":"))
    if slot.policy_id is None:
        created = client.create_policy(
            Content=text, Description=SCP_DESCRIPTION, Name=slot.name, Type=SCP
        )
        slot.policy_id = str(created["Policy"]["PolicySummary"]["Id"])
    else:
        client.update_policy(PolicyId=slot.policy_id, Content=text)
    if not slot.attached:
        client.attach_policy(PolicyId=slot.policy_id, TargetId=view.root_id)
        slot.attached = True
    held = client.describe_policy(PolicyId=slot.policy_id)["Policy"]
    read: dict[str, Any] = json.loads(held.get("Content") or "{}")
    return read
