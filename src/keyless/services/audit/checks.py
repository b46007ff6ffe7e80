"""The audit's checks of one account: pure functions of what the reader gathered."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from keyless.errors import SamlInputError
from keyless.plan.desired import (
    MANAGED_BY_TAG,
    PROVISIONING_ACTIONS,
    PROVISIONING_USER_NAME,
    desired_account,
)
from keyless.plan.diff import DiffOptions, diff_account
from keyless.plan.revocations import is_revocation, releasable_at
from keyless.plan.state import ActualAccount, ActualRole
from keyless.saml.metadata import IdpMetadata, certificate_fingerprint, parse_metadata
from keyless.services.audit.model import CERT_WARN_DAYS, KEY_MAX_AGE_DAYS, Finding, Severity, _iso
from keyless.spec.expand import saml_provider_arn
from keyless.spec.model import Account, FederationSpec

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


def _takes_source_identity(trust: Mapping[str, Any]) -> bool:
    """Whether an Allow for a SAML provider covers sts:SetSourceIdentity, which AWS needs
    before it accepts an assertion carrying a SourceIdentity."""
    for statement in _statements(trust):
        principal = statement.get("Principal")
        if statement.get("Effect") != "Allow" or not isinstance(principal, Mapping):
            continue
        if not any(":saml-provider/" in p for p in _listed(principal.get("Federated"))):
            continue
        if any(
            fnmatch.fnmatchcase("sts:setsourceidentity", action.lower())
            for action in _listed(statement.get("Action"))
        ):
            return True
    return False


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
            kind = (
                "expected"
                if self.spec.expected_key(self.account, name) is not None
                else "provisioning"
                if provisioning is not None and name == provisioning and self._is_management()
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

    def provisioning_user_name(self) -> str | None:
        """The role-listing user's name; None when the federation has none (group mapping)."""
        principal = self.spec.provisioning_principal
        if principal is None:
            return None
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
        expected = self.spec.expected_key(self.account, name)
        if user["kind"] == "expected" and expected is not None:
            self.add(
                "expected-access-key",
                "medium" if oldest > KEY_MAX_AGE_DAYS else "info",
                arn,
                f"{name} holds a long-lived key the spec expects ({expected.reason}); "
                f"the oldest is {oldest} day(s) old",
                "The spec lists it under expected_access_keys: kept on purpose, but still a "
                "key that never expires, so it must be rotated and watched.",
                f"rotate it every {KEY_MAX_AGE_DAYS} days; remove it from the spec (and IAM) "
                "when it is no longer needed",
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
        spec_arn = saml_provider_arn(self.spec, self.account)
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
            fingerprint = certificate_fingerprint(cert)
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
        spec_provider = saml_provider_arn(self.spec, self.account)
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
                    "source_identity": _takes_source_identity(role.trust_policy),
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
        if not _takes_source_identity(role.trust_policy):
            self.add(
                "source-identity-fallback",
                "medium",
                role.arn,
                f"{role.name} does not trust sts:SetSourceIdentity: its sessions carry no "
                "SourceIdentity, and offboarding falls back to the session name",
                "AWS refuses an assertion with a SourceIdentity unless the trust policy allows "
                "sts:SetSourceIdentity, so this role only works while Okta sends none; without "
                "one, revocation keys on the session name, which a chained session can change.",
                "run `keyless apply` (it adds sts:SetSourceIdentity beside "
                "sts:AssumeRoleWithSAML), then have Okta send the SourceIdentity attribute "
                '(README, "SourceIdentity")',
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
