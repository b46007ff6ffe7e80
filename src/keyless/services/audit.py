"""Find what is still long-lived, and prove what is not: the service behind `keyless audit`.

Every account of the spec is read concurrently, with the role the caller
names (a ReadOnly-class role is enough: every call here is a Get, List,
Generate or Lookup), in a fixed number of API calls per account
(:data:`CALLS_PER_ACCOUNT`, plus one per 50 sign-in events):

    sts:AssumeRole (member accounts)        1
    iam:ListRoles, GetAccountAuthorizationDetails,
        GetSAMLProvider, ListAccountAliases  4  (the same read `plan` makes)
    iam:ListSAMLProviders                   1
    iam:GenerateCredentialReport (twice: STARTED, then COMPLETE), GetCredentialReport
                                            3  (more only while AWS builds it)
    iam:GetAccountSummary                   1
    cloudtrail:LookupEvents                 1 per 50 AssumeRoleWithSAML events
    iam:ListUserTags                        1 per IAM user holding a key or a password

Each check yields :class:`Finding` objects with a severity, the resource, why it
matters, the fix, and the controls it evidences (:data:`CHECKS`). The Okta side
comes through the :class:`OktaAuditSource` seam when the spec configures an org.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from keyless.adapters.aws import AwsConnector, IamAccount, explain_error
from keyless.errors import InputError, KeylessError, SamlInputError
from keyless.plan.desired import (
    LAB_BOOTSTRAP_TAG,
    MANAGED_BY_TAG,
    PROVISIONING_ACTIONS,
    PROVISIONING_USER_NAME,
    desired_account,
)
from keyless.plan.diff import DiffOptions, diff_account
from keyless.plan.revocations import is_revocation, releasable_at
from keyless.plan.state import ActualAccount, ActualRole
from keyless.saml.metadata import IdpMetadata, parse_metadata
from keyless.spec.model import Account, FederationSpec

Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")
DEFAULT_PARALLEL = 8
DEFAULT_PERIOD = timedelta(days=7)
CALLS_PER_ACCOUNT = 11  # the budget above: 1 + 4 + 1 + 3 + 1 + 1
CERT_WARN_DAYS = 30
KEY_MAX_AGE_DAYS = 90


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def severity_rank(severity: str) -> int:
    """0 for critical ... 4 for info (lower is worse)."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


@dataclass(frozen=True)
class Check:
    """One kind of finding: what it checks and which controls it evidences."""

    id: str
    title: str
    soc2: tuple[str, ...]
    nist: tuple[str, ...]


# The control mapping an auditor reads (SOC 2 Trust Services Criteria 2017;
# NIST SP 800-53 Rev. 5): CC6.1 logical access security, CC6.2 provisioning and
# removal of access, CC6.3 role-based least privilege, CC7.2 monitoring of
# anomalies; AC-2 account management, AC-2(3) disable accounts, AC-6 least
# privilege, IA-2(1) MFA for privileged accounts, IA-5(1) authenticator management.
CHECKS: dict[str, Check] = {
    c.id: c
    for c in (
        Check(
            "person-access-key",
            "IAM users holding long-lived access keys",
            ("CC6.1", "CC6.2"),
            ("AC-2", "IA-2(1)", "IA-5(1)"),
        ),
        Check(
            "provisioning-key",
            "The IdP's provisioning principal key (expected)",
            ("CC6.1", "CC6.3"),
            ("AC-6", "IA-5(1)"),
        ),
        Check(
            "provisioning-privilege",
            "The provisioning principal may only list roles",
            ("CC6.3",),
            ("AC-6",),
        ),
        Check(
            "console-without-mfa",
            "Console passwords without MFA",
            ("CC6.1",),
            ("IA-2(1)", "IA-5(1)"),
        ),
        Check("root-access-key", "Root user access keys", ("CC6.1", "CC6.3"), ("AC-6", "IA-2(1)")),
        Check(
            "saml-provider",
            "SAML provider metadata matches the IdP's current metadata",
            ("CC6.1", "CC7.2"),
            ("IA-2(1)",),
        ),
        Check(
            "saml-audience",
            "Trust policies accept the sign-in URL the IdP sends (SAML:aud)",
            ("CC6.1", "CC7.2"),
            ("AC-2",),
        ),
        Check(
            "foreign-provider",
            "Roles trusting a SAML provider that is not the spec's",
            ("CC6.1", "CC6.3"),
            ("AC-2", "AC-6"),
        ),
        Check(
            "max-session",
            "MaxSessionDuration no longer than the spec says",
            ("CC6.1",),
            ("AC-2",),
        ),
        Check(
            "drift",
            "Roles and providers as the spec describes them",
            ("CC6.2", "CC6.3", "CC7.2"),
            ("AC-2", "AC-6"),
        ),
        Check(
            "unmanaged",
            "Federated roles and providers keyless does not manage",
            ("CC6.2", "CC7.2"),
            ("AC-2",),
        ),
        Check(
            "revocation",
            "Session revocations left by `keyless offboard`",
            ("CC6.2",),
            ("AC-2", "AC-2(3)"),
        ),
        Check(
            "sign-ins",
            "Who assumed which role, from CloudTrail",
            ("CC7.2",),
            ("AC-2",),
        ),
        Check("okta", "The IdP side (Okta)", ("CC6.1", "CC6.2"), ("AC-2(3)", "IA-2(1)")),
        Check(
            "unreadable",
            "Accounts the audit could not read",
            ("CC7.2",),
            ("AC-2",),
        ),
    )
}


@dataclass(frozen=True)
class Finding:
    """One thing the audit found."""

    check: str
    severity: Severity
    account_id: str
    account_alias: str
    resource: str
    title: str
    why: str
    fix: str
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def controls(self) -> tuple[str, ...]:
        check = CHECKS.get(self.check)
        return (*check.soc2, *check.nist) if check else ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "severity": self.severity,
            "account_id": self.account_id,
            "account_alias": self.account_alias,
            "resource": self.resource,
            "title": self.title,
            "why": self.why,
            "fix": self.fix,
            "controls": list(self.controls),
            "detail": dict(self.detail),
        }


@dataclass(frozen=True)
class SignIn:
    """One AssumeRoleWithSAML from CloudTrail."""

    at: datetime
    person: str
    role_arn: str
    account_id: str
    account_alias: str
    source_ip: str
    error: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": _iso(self.at),
            "person": self.person,
            "role_arn": self.role_arn,
            "role": self.role_arn.rsplit("/", 1)[-1],
            "account_id": self.account_id,
            "account_alias": self.account_alias,
            "source_ip": self.source_ip,
            "error": self.error,
        }


@dataclass
class AccountAudit:
    """What one account holds: users with keys, roles, the provider, sign-ins."""

    account: Account
    findings: list[Finding] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    roles: list[dict[str, Any]] = field(default_factory=list)
    sign_ins: list[SignIn] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "account_id": self.account.id,
            "alias": self.account.alias,
            "error": self.error,
            "users": self.users,
            "roles": self.roles,
            "sign_ins": [s.as_dict() for s in self.sign_ins],
            "findings": len(self.findings),
        }


class OktaAuditSource(Protocol):
    """Findings about the IdP side: people in AWS groups without MFA, deactivated
    users still in groups. Raises :class:`KeylessError` when the org cannot be read."""

    def findings(self) -> list[Finding]: ...


@dataclass
class AuditReport:
    """The whole audit: findings by severity, per-account tables, the sign-in timeline."""

    spec_name: str
    started_at: datetime
    period_start: datetime
    period_end: datetime
    accounts: list[AccountAudit]
    okta_findings: list[Finding] = field(default_factory=list)
    okta_skipped: str | None = None
    finished_at: datetime | None = None

    @property
    def findings(self) -> list[Finding]:
        found = [f for a in self.accounts for f in a.findings] + self.okta_findings
        return sorted(
            found, key=lambda f: (severity_rank(f.severity), f.account_alias, f.check, f.resource)
        )

    @property
    def sign_ins(self) -> list[SignIn]:
        return sorted((s for a in self.accounts for s in a.sign_ins), key=lambda s: s.at)

    def counts(self) -> dict[str, int]:
        totals: dict[str, int] = {severity: 0 for severity in SEVERITIES}
        for finding in self.findings:
            totals[finding.severity] += 1
        return totals

    def fails(self, threshold: Severity | None) -> bool:
        """True when a finding at ``threshold`` or worse exists (``--fail-on``)."""
        if threshold is None:
            return False
        limit = severity_rank(threshold)
        return any(severity_rank(f.severity) <= limit for f in self.findings)

    def as_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec_name,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at) if self.finished_at else None,
            "period": {"start": _iso(self.period_start), "end": _iso(self.period_end)},
            "counts": self.counts(),
            "findings": [f.as_dict() for f in self.findings],
            "accounts": [a.as_dict() for a in self.accounts],
            "sign_ins": [s.as_dict() for s in self.sign_ins],
            "okta_skipped": self.okta_skipped,
            "controls": {
                c.id: {"title": c.title, "soc2": list(c.soc2), "nist": list(c.nist)}
                for c in CHECKS.values()
            },
        }


# -- the checks (pure: they read what the account reader gathered) ---------------------------


def _days(since: datetime, now: datetime) -> int:
    return max(0, (now - since).days)


def _when(text: str) -> datetime | None:
    if not text or text in ("N/A", "no_information", "not_supported"):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    statements = document.get("Statement") or []
    if isinstance(statements, Mapping):
        return [statements]
    return [s for s in statements if isinstance(s, Mapping)]


def _listed(value: object) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [] if value is None else [str(value)]


def _federated_providers(trust: Mapping[str, Any]) -> list[str]:
    providers: list[str] = []
    for statement in _statements(trust):
        principal = statement.get("Principal")
        if isinstance(principal, Mapping):
            providers += [p for p in _listed(principal.get("Federated")) if ":saml-provider/" in p]
    return providers


def _audiences(trust: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    for statement in _statements(trust):
        for operator, pairs in (statement.get("Condition") or {}).items():
            if not isinstance(pairs, Mapping) or "string" not in str(operator).lower():
                continue
            for key, value in pairs.items():
                if str(key).lower() == "saml:aud":
                    found += _listed(value)
    return found


class AccountChecks:
    """The checks of one account, over what was read from it."""

    def __init__(
        self,
        spec: FederationSpec,
        account: Account,
        *,
        idp: IdpMetadata | None,
        metadata_xml: bytes | None,
        now: datetime,
    ) -> None:
        self.spec = spec
        self.account = account
        self.idp = idp
        self.metadata_xml = metadata_xml
        self.now = now
        self.findings: list[Finding] = []

    def add(
        self,
        check: str,
        severity: Severity,
        resource: str,
        title: str,
        why: str,
        fix: str,
        **detail: Any,
    ) -> None:
        self.findings.append(
            Finding(
                check=check,
                severity=severity,
                account_id=self.account.id,
                account_alias=self.account.alias,
                resource=resource,
                title=title,
                why=why,
                fix=fix,
                detail=detail,
            )
        )

    # -- users and keys --------------------------------------------------------------------

    def credentials(
        self,
        report_rows: Sequence[Mapping[str, str]],
        actual: ActualAccount,
        tags: Mapping[str, dict[str, str]],
    ) -> list[dict[str, Any]]:
        """Access keys and console passwords, from the IAM credential report."""
        provisioning = self.provisioning_user_name()
        users: list[dict[str, Any]] = []
        for row in report_rows:
            name = row.get("user", "")
            if name == "<root_account>":
                continue  # the root user is judged from GetAccountSummary
            keys = []
            for n in ("1", "2"):
                if row.get(f"access_key_{n}_active") == "true":
                    rotated = _when(row.get(f"access_key_{n}_last_rotated", ""))
                    used = _when(row.get(f"access_key_{n}_last_used_date", ""))
                    keys.append(
                        {
                            "age_days": _days(rotated, self.now) if rotated else None,
                            "last_used": _iso(used) if used else None,
                            "last_used_service": row.get(f"access_key_{n}_last_used_service"),
                        }
                    )
            user_tags = tags.get(name, {})
            kind = (
                "lab-bootstrap"
                if user_tags.get(LAB_BOOTSTRAP_TAG) == "true"
                else "provisioning"
                if name == provisioning and self._is_management()
                else "person"
            )
            entry = {
                "user": name,
                "arn": row.get("arn", ""),
                "kind": kind,
                "access_keys": keys,
                "password": row.get("password_enabled") == "true",
                "mfa": row.get("mfa_active") == "true",
            }
            users.append(entry)
            self._judge_user(entry, actual)
        return users

    def _is_management(self) -> bool:
        management = self.spec.management_account
        return management is not None and management.id == self.account.id

    def provisioning_user_name(self) -> str:
        principal = self.spec.provisioning_principal
        return principal.name if principal.kind == "user" else PROVISIONING_USER_NAME

    def _judge_user(self, user: Mapping[str, Any], actual: ActualAccount) -> None:
        name, arn, keys = user["user"], user["arn"], user["access_keys"]
        if user["password"] and not user["mfa"]:
            self.add(
                "console-without-mfa",
                "high",
                arn,
                f"{name} can sign in to the console with a password and no MFA",
                "A password alone is phished or guessed; people should sign in through the IdP, "
                "where MFA is enforced.",
                f"delete the login profile (`aws iam delete-login-profile --user-name {name}`) "
                "or enable MFA; give the person a federated role instead",
            )
        if not keys:
            return
        oldest = max((k["age_days"] or 0) for k in keys)
        detail = {"keys": keys}
        if user["kind"] == "lab-bootstrap":
            self.add(
                "person-access-key",
                "info",
                arn,
                f"{name} is the lab's own bootstrap key (expected in the lab only)",
                "The embedded lab creates it as an administrator's first credentials; "
                "a real account has no such user.",
                "nothing to do in the lab; never create such a user in a real account",
                **detail,
            )
            return
        if user["kind"] == "provisioning":
            least = self._provisioning_least_privileged(name, actual)
            self.add(
                "provisioning-key",
                "medium" if oldest > KEY_MAX_AGE_DAYS else "info",
                arn,
                f"{name} is the IdP's provisioning principal (expected); key {oldest} day(s) old; "
                f"least-privileged: {'yes' if least else 'NO'}",
                "Okta lists roles with this key: it is the one long-lived key the federation "
                "needs, and it must be able to do nothing else.",
                f"rotate it every {KEY_MAX_AGE_DAYS} days (create a new key, paste it in Okta, "
                "delete the old one)",
                least_privileged=least,
                **detail,
            )
            return
        self.add(
            "person-access-key",
            "high",
            arn,
            f"{name} holds {len(keys)} long-lived access key(s), the oldest {oldest} day(s) old",
            "A static key never expires, skips MFA and survives the person leaving: the "
            "thing federation exists to remove.",
            f"move {name} to a federated role (`keyless login`), then deactivate and delete the "
            f"key (`aws iam update-access-key --status Inactive --user-name {name} "
            "--access-key-id ...`, then `delete-access-key`)",
            **detail,
        )

    def _provisioning_least_privileged(self, name: str, actual: ActualAccount) -> bool:
        user = actual.users.get(name)
        if user is None:
            return False
        allowed = {a.lower() for a in PROVISIONING_ACTIONS}
        ok = not user.managed_policies
        for document in user.inline_policies.values():
            for statement in _statements(document):
                if statement.get("Effect") != "Allow":
                    continue
                actions = {a.lower() for a in _listed(statement.get("Action"))}
                if "NotAction" in statement or not actions <= allowed:
                    # A principal that can assume roles elsewhere (kind: role) is expected to.
                    if actions == {"sts:assumerole"}:
                        continue
                    ok = False
        if not ok:
            self.add(
                "provisioning-privilege",
                "high",
                user.arn,
                f"{name} may do more than iam:ListRoles and iam:ListAccountAliases",
                "Its key lives in Okta; anything more it may do, anyone holding the key may do.",
                "run `keyless apply`: it puts back the one inline policy and nothing else "
                "(remove attached managed policies by hand)",
                managed_policies=list(user.managed_policies),
                inline_policies=sorted(user.inline_policies),
            )
        return ok

    def root_keys(self, summary: Mapping[str, Any]) -> None:
        if int(summary.get("AccountAccessKeysPresent", 0) or 0) > 0:
            self.add(
                "root-access-key",
                "critical",
                f"arn:{self.account.partition}:iam::{self.account.id}:root",
                "the root user has access keys",
                "Root keys can do anything in the account and cannot be limited by any policy.",
                "sign in as root, delete its access keys (IAM > Security credentials), and keep "
                "root for the few tasks only root can do",
            )

    # -- federation health -----------------------------------------------------------------

    def provider(self, actual: ActualAccount, provider_arns: Iterable[str]) -> None:
        expected = actual.provider
        spec_arn = f"arn:{self.account.partition}:iam::{self.account.id}:saml-provider/" + (
            self.spec.identity_provider.saml_provider_name
        )
        if expected is None:
            self.add(
                "saml-provider",
                "high",
                spec_arn,
                "the spec's SAML provider does not exist",
                "Nobody can federate into this account.",
                "run `keyless apply`",
            )
        else:
            try:
                held = parse_metadata(expected.metadata_xml)
            except SamlInputError as exc:
                self.add(
                    "saml-provider",
                    "high",
                    spec_arn,
                    "the provider's metadata cannot be read",
                    str(exc),
                    "run `keyless apply` to upload the IdP's current metadata",
                )
                held = None
            if held is not None:
                self._certificates(held, spec_arn)
        for arn in provider_arns:
            if arn != spec_arn:
                self.add(
                    "unmanaged",
                    "medium",
                    arn,
                    "a SAML provider the spec does not describe",
                    "Any IdP it names can sign people into roles that trust it.",
                    "delete it if nothing uses it, or describe it in the spec",
                )

    def _certificates(self, held: IdpMetadata, arn: str) -> None:
        if self.idp is not None and set(held.fingerprints()) != set(self.idp.fingerprints()):
            self.add(
                "saml-provider",
                "high",
                arn,
                "the provider's certificate is not the IdP's current one",
                "AWS verifies assertions against this certificate only: after the IdP rotates "
                "its key, every sign-in fails (or an old key is still trusted).",
                "run `keyless apply` to upload the IdP's current metadata",
                provider=held.fingerprints(),
                idp=self.idp.fingerprints(),
            )
        for cert in held.certificates:
            expires = cert.not_valid_after_utc
            left = (expires - self.now).days
            fingerprint = held.fingerprints()[held.certificates.index(cert)]
            if left < CERT_WARN_DAYS:
                self.add(
                    "saml-provider",
                    "high" if left < 7 else "medium",
                    arn,
                    f"the provider's certificate expires in {left} day(s) ({expires:%Y-%m-%d})",
                    "An expired IdP certificate stops every sign-in.",
                    "rotate the certificate at the IdP, then `keyless apply`",
                    fingerprint=fingerprint,
                )

    def roles(self, actual: ActualAccount) -> list[dict[str, Any]]:
        spec_provider = (
            f"arn:{self.account.partition}:iam::{self.account.id}:saml-provider/"
            f"{self.spec.identity_provider.saml_provider_name}"
        )
        urls = set(self.spec.identity_provider.signin_urls)
        spec_roles = {
            r.name: r for r in self.spec.roles if self.spec.role_in_account(r, self.account)
        }
        table: list[dict[str, Any]] = []
        for role in sorted(actual.roles.values(), key=lambda r: r.name):
            providers = _federated_providers(role.trust_policy)
            if not providers:
                continue
            managed = role.tags.get(MANAGED_BY_TAG) == self.spec.name
            table.append(
                {
                    "role": role.name,
                    "arn": role.arn,
                    "managed": managed,
                    "in_spec": role.name in spec_roles,
                    "max_session_duration": role.max_session_duration,
                    "audiences": _audiences(role.trust_policy),
                    "providers": providers,
                    "revocations": sorted(n for n in role.inline_policies if is_revocation(n)),
                }
            )
            self._role(role, providers, urls, spec_provider, spec_roles.get(role.name))
        return table

    def _role(
        self,
        role: ActualRole,
        providers: list[str],
        urls: set[str],
        spec_provider: str,
        spec_role: Any,
    ) -> None:
        wrong = [a for a in _audiences(role.trust_policy) if a not in urls]
        if wrong or not _audiences(role.trust_policy):
            self.add(
                "saml-audience",
                "high",
                role.arn,
                f"{role.name} trusts SAML:aud {', '.join(wrong) or '(none)'}, "
                f"not the sign-in URL {', '.join(sorted(urls))}",
                "AWS compares SAML:aud with the Recipient the IdP sends (the sign-in URL): a "
                "regional URL the IdP does not send refuses everyone; no audience accepts "
                "assertions meant for anything.",
                "run `keyless apply` (it writes the spec's signin_urls into the trust policy), "
                "or list the regional URL in identity_provider.signin_urls if the IdP sends it",
                audiences=_audiences(role.trust_policy),
            )
        foreign = [p for p in providers if p != spec_provider]
        if foreign:
            self.add(
                "foreign-provider",
                "high",
                role.arn,
                f"{role.name} trusts a SAML provider that is not the spec's: {', '.join(foreign)}",
                "Whoever controls that IdP can sign in as this role.",
                "remove that provider from the trust policy (`keyless apply --adopt` puts back "
                "the spec's), or describe the role in the spec",
            )
        if spec_role is None:
            self.add(
                "unmanaged",
                "medium",
                role.arn,
                f"{role.name} is a federated role the spec does not describe",
                "Access nobody reviews in code: who may take it is decided elsewhere.",
                "describe it in the spec (and `keyless apply --adopt`), or delete it",
            )
        elif role.max_session_duration > spec_role.max_session_duration:
            self.add(
                "max-session",
                "medium",
                role.arn,
                f"{role.name} allows {role.max_session_duration}s sessions, the spec "
                f"{spec_role.max_session_duration}s",
                "Longer sessions outlive an offboarding by longer.",
                "run `keyless apply`",
                actual=role.max_session_duration,
                spec=spec_role.max_session_duration,
            )
        for name, document in sorted(role.inline_policies.items()):
            if not is_revocation(name):
                continue
            ready = releasable_at(document, role.max_session_duration)
            if ready is not None and ready <= self.now:
                self.add(
                    "revocation",
                    "low",
                    role.arn,
                    f"{name} on {role.name} stops no live session any more",
                    "Every session it was put there to stop has expired.",
                    "`keyless offboard --release USER` removes it",
                )

    def drift(self, actual: ActualAccount, reported: set[str]) -> None:
        """Differences from the spec that the specific checks above did not already name."""
        desired = desired_account(self.spec, self.account, self.metadata_xml)
        plan = diff_account(desired, actual, DiffOptions(spec_name=self.spec.name))
        named = {"trust_policy", "max_session_duration"}  # what saml-audience/max-session say
        for change in plan.changes:
            fields = [f.field for f in change.fields]
            if change.resource == "role" and change.name in reported and set(fields) <= named:
                continue
            if change.resource == "saml-provider" or change.action == "orphan":
                continue  # the provider check names it with its fingerprints
            self.add(
                "drift",
                "medium" if change.action != "conflict" else "high",
                f"{change.resource} {change.name}",
                f"{change.resource} {change.name}: {change.action}"
                + (f" ({', '.join(fields)})" if fields else ""),
                change.reason or "The account no longer matches the spec.",
                "run `keyless plan` to see the difference and `keyless apply` to put it right",
            )


# -- reading an account ----------------------------------------------------------------------


def _credential_report(iam: Any, *, sleep: Callable[[float], None]) -> list[dict[str, str]]:
    # AWS builds the report asynchronously: STARTED / INPROGRESS, then COMPLETE
    # (IAM API Reference, GenerateCredentialReport); a report younger than four
    # hours is returned as it is.
    for attempt in range(10):
        state = iam.generate_credential_report().get("State")
        if state == "COMPLETE":
            break
        sleep(min(2.0, 0.2 * (attempt + 1)))
    content = iam.get_credential_report()["Content"]
    text = content.decode("utf-8") if isinstance(content, bytes) else str(content)
    return list(csv.DictReader(io.StringIO(text)))


class Auditor:
    """Runs the audit of one spec across its accounts."""

    def __init__(
        self,
        spec: FederationSpec,
        connector: AwsConnector,
        metadata_xml: bytes | None,
        *,
        role: str | None = None,
        okta: OktaAuditSource | None = None,
        okta_skipped_reason: str | None = None,
        parallel: int = DEFAULT_PARALLEL,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if parallel < 1:
            raise InputError(f"--parallel must be at least 1, got {parallel}")
        self.spec = spec
        self.connector = connector
        self.metadata_xml = metadata_xml
        self.idp = parse_metadata(metadata_xml) if metadata_xml else None
        self.role = role
        self.okta = okta
        self.okta_skipped_reason = okta_skipped_reason
        self.parallel = parallel
        self.clock = clock
        self.sleep = sleep

    def run(self, *, period: timedelta = DEFAULT_PERIOD) -> AuditReport:
        """Audit every account (and the Okta side) concurrently."""
        now = self.clock()
        report = AuditReport(
            spec_name=self.spec.name,
            started_at=now,
            period_start=now - period,
            period_end=now,
            accounts=[],
            okta_skipped=None if self.okta else self.okta_skipped_reason,
        )
        accounts = list(self.spec.accounts)
        with ThreadPoolExecutor(max_workers=min(self.parallel, len(accounts) + 1)) as pool:
            okta_future = pool.submit(self._okta) if self.okta is not None else None
            report.accounts = list(
                pool.map(lambda a: self._account(a, report.period_start, now), accounts)
            )
            if okta_future is not None:
                report.okta_findings = okta_future.result()
        report.finished_at = self.clock()
        return report

    def _okta(self) -> list[Finding]:
        assert self.okta is not None
        try:
            return self.okta.findings()
        except KeylessError as exc:
            return [
                Finding(
                    check="unreadable",
                    severity="high",
                    account_id="",
                    account_alias="okta",
                    resource=self.spec.identity_provider.org_url or "okta",
                    title="the Okta org could not be read",
                    why=exc.message,
                    fix=exc.fix or "check the Okta API token and its scopes",
                )
            ]

    def _account(self, account: Account, since: datetime, now: datetime) -> AccountAudit:
        audit = AccountAudit(account=account)
        checks = AccountChecks(
            self.spec, account, idp=self.idp, metadata_xml=self.metadata_xml, now=now
        )
        try:
            iam_client = self.connector.client(account, "iam", role=self.role)
            provider_arn = (
                f"arn:{account.partition}:iam::{account.id}:saml-provider/"
                f"{self.spec.identity_provider.saml_provider_name}"
            )
            provisioning = checks.provisioning_user_name()
            actual = IamAccount(iam_client, account).read(
                provider_arn=provider_arn, user_names=[provisioning]
            )
            providers = [
                p["Arn"] for p in iam_client.list_saml_providers().get("SAMLProviderList", [])
            ]
            rows = _credential_report(iam_client, sleep=self.sleep)
            summary = iam_client.get_account_summary().get("SummaryMap", {})
        except Exception as exc:  # contained per account: the others go on
            audit.error = explain_error(exc)
            checks.add(
                "unreadable",
                "high",
                f"account {account.alias} ({account.id})",
                "the account could not be read",
                audit.error,
                getattr(exc, "fix", None)
                or "give the audit role read access (ReadOnlyAccess is enough) and run it again",
            )
            audit.findings = checks.findings
            return audit
        try:
            tags = self._user_tags(iam_client, rows, actual)
        except (ClientError, BotoCoreError) as exc:
            audit.error = explain_error(exc)
            tags = {}
        audit.users = checks.credentials(rows, actual, tags)
        checks.root_keys(summary)
        checks.provider(actual, providers)
        audit.roles = checks.roles(actual)
        reported = {
            f.resource.rsplit("/", 1)[-1] for f in checks.findings if ":role/" in f.resource
        }
        checks.drift(actual, reported)
        audit.sign_ins = self._sign_ins(account, since, now, checks)
        audit.findings = checks.findings
        return audit

    def _user_tags(
        self, iam: Any, rows: Sequence[Mapping[str, str]], actual: ActualAccount
    ) -> dict[str, dict[str, str]]:
        """Tags of the users that hold a key or a password (one ListUserTags each).

        The credential report carries no tags; they tell the lab's bootstrap user
        from a person. Users keyless manages were already read with theirs.
        """
        tags = {name: dict(user.tags) for name, user in actual.users.items()}
        for row in rows:
            name = row.get("user", "")
            holds = "true" in (
                row.get("access_key_1_active"),
                row.get("access_key_2_active"),
                row.get("password_enabled"),
            )
            if name in tags or name == "<root_account>" or not holds:
                continue
            listed = iam.list_user_tags(UserName=name).get("Tags", [])
            tags[name] = {t["Key"]: t["Value"] for t in listed}
        return tags

    def _sign_ins(
        self, account: Account, since: datetime, now: datetime, checks: AccountChecks
    ) -> list[SignIn]:
        found: list[SignIn] = []
        try:
            trail = self.connector.client(account, "cloudtrail", role=self.role)
            pages = trail.get_paginator("lookup_events").paginate(
                LookupAttributes=[
                    {"AttributeKey": "EventName", "AttributeValue": "AssumeRoleWithSAML"}
                ],
                StartTime=since,
                EndTime=now,
            )
            for page in pages:
                for event in page.get("Events", []):
                    record = json.loads(event.get("CloudTrailEvent") or "{}")
                    found.append(
                        SignIn(
                            at=datetime.strptime(
                                record.get("eventTime", ""), "%Y-%m-%dT%H:%M:%SZ"
                            ).replace(tzinfo=UTC),
                            person=str((record.get("userIdentity") or {}).get("userName", "")),
                            role_arn=str(
                                (record.get("requestParameters") or {}).get("roleArn", "")
                            ),
                            account_id=account.id,
                            account_alias=account.alias,
                            source_ip=str(record.get("sourceIPAddress", "")),
                            error=record.get("errorCode"),
                        )
                    )
        except (ClientError, BotoCoreError, KeylessError, ValueError) as exc:
            checks.add(
                "sign-ins",
                "low",
                f"account {account.alias} ({account.id})",
                "CloudTrail could not be read: who assumed what is unknown here",
                explain_error(exc),
                "allow cloudtrail:LookupEvents to the audit role, or read the organization "
                "trail's S3 logs",
            )
        return found
