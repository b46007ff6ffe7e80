"""People in the Okta org: take one person's access away (`keyless offboard`) and find
who should not hold AWS groups (`keyless audit`), through the management API.

Both take an :class:`keyless.adapters.okta_admin.OktaAdminClient`, so the same code
runs against a real org and the lab; :class:`OktaOrgOffboarding` and
:class:`OktaOrgAudit` are what the two commands plug into their Okta seams.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from keyless.adapters.okta_admin import (
    OktaAdminClient,
    okta_object,
)
from keyless.errors import InputError, KeylessError
from keyless.services.audit import Finding, Severity
from keyless.services.offboard import OktaOutcome
from keyless.spec.expand import expand_grants
from keyless.spec.model import FederationSpec

AMAZON_AWS = "amazon_aws"


# -- offboarding ----------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class OktaOffboardResult:
    """What offboarding did to one Okta user."""

    login: str
    user_id: str
    status_before: str
    status_after: str
    sessions_cleared: bool
    started_at: str
    finished_at: str
    groups: tuple[str, ...] = ()  # the user's groups (kept: Okta keeps them on suspend)

    def as_dict(self) -> dict[str, Any]:
        return {
            "login": self.login,
            "user_id": self.user_id,
            "status_before": self.status_before,
            "status_after": self.status_after,
            "sessions_cleared": self.sessions_cleared,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "groups": list(self.groups),
        }


def offboard_okta_user(client: OktaAdminClient, login: str, *, suspend: bool) -> OktaOffboardResult:
    """Take a person's Okta access away now: suspend (reversible) or deactivate, end sessions.

    Sessions are cleared first so that a live session cannot mint one more
    assertion while the status changes; an already suspended or deactivated
    user is left in that state (and their sessions still cleared).
    """
    started = _now()
    user = client.find_user(login)
    if user is None:
        raise InputError(
            f"no Okta user {login!r} in {client.org_url}",
            fix="check the login (usually the email address)",
        )
    user_id = str(user["id"])
    before = str(user.get("status", ""))
    groups = tuple(
        str(okta_object(g.get("profile")).get("name", "")) for g in client.list_user_groups(user_id)
    )
    client.clear_user_sessions(user_id)
    if suspend and before == "ACTIVE":
        client.suspend_user(user_id)
    elif not suspend and before != "DEPROVISIONED":
        client.deactivate_user(user_id)
    after = str(client.get_user(user_id).get("status", ""))
    return OktaOffboardResult(
        login=login,
        user_id=user_id,
        status_before=before,
        status_after=after,
        sessions_cleared=True,
        started_at=started,
        finished_at=_now(),
        groups=groups,
    )


# -- audit --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OktaFinding:
    """One thing the Okta org holds that it should not."""

    kind: str  # "no_mfa_factor", "deactivated_in_group"
    login: str
    groups: tuple[str, ...]
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "login": self.login,
            "groups": list(self.groups),
            "detail": self.detail,
        }


def audit_okta(client: OktaAdminClient, spec: FederationSpec) -> list[OktaFinding]:
    """People in the spec's AWS groups without an MFA factor enrolled, and deactivated
    users who still hold such groups (membership outlives deactivation in Okta)."""
    group_names = {grant.group for grant in expand_grants(spec)}
    members: dict[str, tuple[dict[str, Any], list[str]]] = {}
    for document in client.list_groups():
        name = str(okta_object(document.get("profile")).get("name") or "")
        if name not in group_names:
            continue
        for user in client.list_group_users(str(document["id"])):
            entry = members.setdefault(str(user["id"]), (user, []))
            entry[1].append(name)
    findings: list[OktaFinding] = []
    for user_id, (user, groups) in sorted(members.items(), key=lambda i: str(i[1][0].get("id"))):
        login = str(okta_object(user.get("profile")).get("login") or user_id)
        status = str(user.get("status") or "")
        held = tuple(sorted(groups))
        if status == "DEPROVISIONED":
            findings.append(
                OktaFinding(
                    "deactivated_in_group",
                    login,
                    held,
                    f"{login} is deactivated but still in {', '.join(held)}",
                )
            )
            continue
        factors = [f for f in client.list_user_factors(user_id) if f.get("status") == "ACTIVE"]
        if not factors:
            findings.append(
                OktaFinding(
                    "no_mfa_factor",
                    login,
                    held,
                    f"{login} ({status}) can reach AWS through {', '.join(held)} with no MFA "
                    "factor enrolled",
                )
            )
    return findings


# -- the seams `keyless offboard` and `keyless audit` plug in -----------------------------------


class OktaOrgOffboarding:
    """:class:`keyless.services.offboard.OktaOffboarding` for a real org or the lab's."""

    def __init__(self, client: OktaAdminClient, app_id: str | None = None) -> None:
        self.client = client
        self.app_id = app_id

    def offboard_user(self, login: str, *, suspend: bool, dry_run: bool) -> OktaOutcome:
        if dry_run:
            user = self.client.find_user(login)
            if user is None:
                raise InputError(
                    f"no Okta user {login!r} in {self.client.org_url}",
                    fix="check the login (usually the email address)",
                )
            status = str(user.get("status", ""))
            groups = tuple(
                str(okta_object(g.get("profile")).get("name", ""))
                for g in self.client.list_user_groups(str(user["id"]))
            )
            stored, app_user_name = self._names(user)
            email = str(okta_object(user.get("profile")).get("email") or "") or None
            return OktaOutcome(
                status,
                status,
                False,
                groups,
                detail="dry run: nothing changed",
                login=stored,
                app_user_name=app_user_name,
                email=email,
            )
        result = offboard_okta_user(self.client, login, suspend=suspend)
        return OktaOutcome(
            result.status_before,
            result.status_after,
            result.sessions_cleared,
            result.groups,
            detail=f"user {result.user_id}",
        )

    def _names(self, user: dict[str, Any]) -> tuple[str | None, str | None]:
        """Their login as Okta stores it, and the username the AWS app sends for them
        (None when the app is unknown or they are not assigned to it)."""
        stored = str(okta_object(user.get("profile")).get("login") or "") or None
        if self.app_id is None:
            return stored, None
        try:
            name = self.client.app_user_name(self.app_id, str(user["id"]))
        except KeylessError:
            return stored, None
        return stored, name or None


class OktaOrgAudit:
    """:class:`keyless.services.audit.OktaAuditSource` over :func:`audit_okta`."""

    _TITLES: ClassVar[dict[str, tuple[Severity, str]]] = {
        "no_mfa_factor": ("high", "in an AWS group without an MFA factor enrolled"),
        "deactivated_in_group": ("medium", "deactivated but still in AWS groups"),
    }

    def __init__(self, client: OktaAdminClient, spec: FederationSpec) -> None:
        self.client = client
        self.spec = spec

    def findings(self) -> list[Finding]:
        found: list[Finding] = []
        for item in audit_okta(self.client, self.spec):
            severity, title = self._TITLES.get(item.kind, ("medium", item.kind))
            fix = (
                "enrol an MFA factor for the user (or remove them from the AWS groups)"
                if item.kind == "no_mfa_factor"
                else "remove the deactivated user from the AWS groups"
            )
            found.append(
                Finding(
                    check="okta",
                    severity=severity,
                    account_id="",
                    account_alias="okta",
                    resource=item.login,
                    title=f"{item.login}: {title}",
                    why=item.detail,
                    fix=fix,
                    detail={"groups": list(item.groups), "kind": item.kind},
                )
            )
        return found


class OktaUnavailable:
    """Stands in for the org when keyless cannot act on it, so the step fails by name
    (offboarding that leaves a person active in Okta must not look finished)."""

    def __init__(self, error: KeylessError) -> None:
        self.error = error

    def offboard_user(self, login: str, *, suspend: bool, dry_run: bool) -> OktaOutcome:
        raise self.error

    def findings(self) -> list[Finding]:
        raise self.error
