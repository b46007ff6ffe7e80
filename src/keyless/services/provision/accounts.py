"""The AWS side of a federation: plan and apply a spec across every account.

:mod:`keyless.services.provision.federation` is the use case callers run (``keyless
plan|apply``, ``keyless demo``, tests): it orders this side before the Okta
org's and returns one result. This module is that use case's AWS half — the
:class:`Provisioner` — and its inputs: :func:`connect` (the management
account) and :func:`load_metadata` (the IdP's metadata XML), both normally
built by :mod:`keyless.services.compose`.

The same code runs against the lab: the CLI (``--lab``, reading a connection
file, :mod:`keyless.adapters.connection_file`) only fills in an endpoint URL,
a CA bundle, the bootstrap key and the metadata URL; nothing here knows the lab.

Accounts are read and changed concurrently (``parallel`` workers, bounded);
an account that fails (access denied, missing access role, an IAM error) is
reported with its cause and the others go on. Running again converges: the
plan is recomputed from what IAM holds each time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from keyless.adapters.aws import (
    AwsConnector,
    AwsEndpoint,
    IamAccount,
    explain_error,
    explain_error_and_fix,
    management_session,
)
from keyless.adapters.http import httpx, make_client, unreachable_errors
from keyless.core.credentials import mask
from keyless.errors import ConfigError, InputError, RemoteError
from keyless.plan.desired import DesiredAccount, desired_account
from keyless.plan.diff import AccountPlan, Change, DiffOptions, Plan, diff_account
from keyless.saml.metadata import parse_metadata
from keyless.services.fanout import across, checked_parallel
from keyless.spec.model import Account, FederationSpec

DEFAULT_PARALLEL = 8
MAX_METADATA_BYTES = 1024 * 1024

Progress = Callable[[Account], None]


# -- inputs: where AWS is, what the IdP's metadata says -------------------------------------


def connect(
    *,
    profile: str | None = None,
    endpoint_url: str | None = None,
    ca_bundle: str | None = None,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    region: str = "us-east-1",
) -> AwsConnector:
    """A connector for the management account.

    With an explicit key (the lab's bootstrap key), that key; else ``profile``
    or the standard AWS chain. ``endpoint_url`` and ``ca_bundle`` point every
    client elsewhere than real AWS (the lab); everything after this is the
    same code path as real AWS.
    """
    session = management_session(
        profile=profile,
        access_key_id=access_key_id,
        secret_access_key=secret_access_key,
        region=region,
    )
    return AwsConnector(
        session,
        endpoint=AwsEndpoint(endpoint_url=endpoint_url, region=region, verify=ca_bundle or None),
    )


def load_metadata(
    spec: FederationSpec,
    *,
    spec_dir: Path | None = None,
    url: str | None = None,
    ca_bundle: str | None = None,
    http: httpx.Client | None = None,
) -> bytes:
    """The IdP's SAML metadata XML: from ``url`` when given (the lab IdP's), else the spec's.

    ``ca_bundle`` is the CA that ``url``'s server certificate chains to (the
    lab's own CA). The document is parsed once here so that broken metadata
    stops the run before any account is touched.
    """
    source = spec.identity_provider.metadata
    if url is not None:
        document = _download(url, ca_bundle=ca_bundle or None, http=http)
    elif source is not None and source.file is not None:
        path = Path(source.file)
        if not path.is_absolute() and spec_dir is not None:
            path = spec_dir / path
        try:
            document = path.read_bytes()
        except OSError as exc:
            raise InputError(
                f"cannot read the IdP metadata file {path}: {exc.strerror}",
                fix="check identity_provider.metadata.file in the spec (relative to the spec file)",
            ) from exc
    elif source is not None and source.url is not None:
        document = _download(source.url, ca_bundle=None, http=http)
    else:
        raise ConfigError(
            f"the spec {spec.name!r} names no IdP metadata (identity_provider.kind is "
            f"{spec.identity_provider.kind!r})",
            fix="pass --lab to use the running lab's IdP, or set identity_provider.metadata",
        )
    parse_metadata(document)
    return document


def _download(url: str, *, ca_bundle: str | None, http: httpx.Client | None) -> bytes:
    client = http or make_client(ca_bundle=ca_bundle)
    fix = "check the URL (the app's Sign On tab) or that the lab is up (`keyless lab up`)"
    try:
        with unreachable_errors(f"the IdP metadata at {url}", fix=fix):
            response = client.get(url)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise RemoteError(f"cannot download the IdP metadata from {url}: {exc}", fix=fix) from exc
    finally:
        if http is None:
            client.close()
    if len(response.content) > MAX_METADATA_BYTES:
        raise RemoteError(f"the IdP metadata at {url} is larger than {MAX_METADATA_BYTES} bytes")
    return response.content


# -- results ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountResult:
    """What apply did in one account."""

    account: Account
    status: str  # "applied", "unchanged", "failed"
    applied: tuple[Change, ...] = ()
    error: str | None = None
    fix: str | None = None
    skipped: tuple[Change, ...] = ()  # conflicts and orphans left alone

    def as_dict(self) -> dict[str, Any]:
        return {
            "account_id": self.account.id,
            "alias": self.account.alias,
            "status": self.status,
            "error": self.error,
            "fix": self.fix,
            "applied": [f"{c.action} {c.resource} {c.name}" for c in self.applied],
            "left_alone": [f"{c.action} {c.resource} {c.name}: {c.reason}" for c in self.skipped],
        }


@dataclass(frozen=True)
class ProvisioningKey:
    """The IdP provisioning user's new access key (the one secret keyless prints)."""

    user_name: str
    access_key_id: str
    secret_access_key: str = field(repr=False)


@dataclass(frozen=True)
class ApplyReport:
    """The plan that was applied and, per account, what happened."""

    plan: Plan
    results: tuple[AccountResult, ...]

    @property
    def ok(self) -> bool:
        """True when every account was applied (conflicts left alone do not count as failures)."""
        return all(r.status != "failed" for r in self.results)

    def failed_accounts(self) -> list[AccountResult]:
        return [r for r in self.results if r.status == "failed"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "spec": self.plan.spec_name,
            "ok": self.ok,
            "totals": self.plan.totals(),
            "accounts": [r.as_dict() for r in self.results],
            # Created after the report (keyless.services.provision.federation.FederationResult).
            "provisioning_key": None,
        }


# -- the provisioner ------------------------------------------------------------------------


class Provisioner:
    """Plans and applies one spec; keeps the IAM client of each account with changes
    between plan and apply (and only until that account is applied)."""

    def __init__(
        self,
        spec: FederationSpec,
        connector: AwsConnector,
        metadata_xml: bytes | None,
        *,
        parallel: int = DEFAULT_PARALLEL,
    ) -> None:
        self.spec = spec
        self.connector = connector
        self.metadata_xml = metadata_xml
        self.parallel = checked_parallel(parallel)
        self._clients: dict[str, IamAccount] = {}

    def select(self, accounts: Sequence[str] = ()) -> list[Account]:
        """The spec's accounts named by alias or id (all when none are named)."""
        if not accounts:
            return list(self.spec.accounts)
        selected: list[Account] = []
        for name in accounts:
            account = self.spec.account(name)
            if account is None:
                known = ", ".join(a.alias for a in self.spec.accounts)
                raise InputError(f"no account {name!r} in the spec", fix=f"use one of: {known}")
            if account not in selected:
                selected.append(account)
        return selected

    def _plan_one(self, account: Account, options: DiffOptions) -> AccountPlan:
        desired: DesiredAccount = desired_account(self.spec, account, self.metadata_xml)
        try:
            iam = self.connector.iam(account)
            actual = iam.read(
                provider_arn=desired.provider.arn, user_names=[u.name for u in desired.users]
            )
        except Exception as exc:  # contained per account; see explain_error_and_fix
            message, fix = explain_error_and_fix(exc)
            return AccountPlan(account=account, error=message, fix=fix)
        account_plan = diff_account(desired, actual, options)
        if account_plan.pending:
            # apply() reuses this client. An account with nothing to change lets it go
            # now: a botocore client is thousands of objects that every full garbage
            # collection walks, so keeping all of them made the CPU per account grow
            # with the number of accounts.
            self._clients[account.id] = iam
        return account_plan

    def plan(
        self,
        *,
        accounts: Sequence[str] = (),
        prune: bool = False,
        adopt: bool = False,
        progress: Progress | None = None,
    ) -> Plan:
        """Read every selected account concurrently and diff it against the spec."""
        if self.metadata_xml is None:
            raise ConfigError("planning needs the IdP's metadata", fix="see load_metadata()")
        selected = self.select(accounts)
        # Fail fast, once, on management credentials that do not work at all.
        self.connector.caller_account()
        options = DiffOptions(spec_name=self.spec.name, prune=prune, adopt=adopt)

        def work(account: Account) -> AccountPlan:
            result = self._plan_one(account, options)
            if progress is not None:
                progress(account)
            return result

        plans = tuple(across(selected, work, parallel=self.parallel))
        return Plan(spec_name=self.spec.name, accounts=plans, prune=prune, adopt=adopt)

    def _apply_one(self, account_plan: AccountPlan) -> AccountResult:
        account = account_plan.account
        skipped = tuple(c for c in account_plan.changes if not c.pending)
        if account_plan.error:
            return AccountResult(account, "failed", error=account_plan.error, fix=account_plan.fix)
        pending = account_plan.pending
        if not pending:
            return AccountResult(account, "unchanged", skipped=skipped)
        applied: list[Change] = []
        try:
            iam = self._clients.pop(account.id, None) or self.connector.iam(account)
            for change in pending:
                for operation in change.operations:
                    iam.run(operation)
                applied.append(change)
        except Exception as exc:  # contained per account; see explain_error_and_fix
            message, fix = explain_error_and_fix(exc)
            done = f" after {len(applied)} of {len(pending)} changes" if applied else ""
            return AccountResult(
                account,
                "failed",
                applied=tuple(applied),
                error=f"{account.alias} ({account.id}){done}: {message}",
                fix=fix
                or "fix the cause and run `keyless apply` again: it picks up where it stopped",
                skipped=skipped,
            )
        return AccountResult(account, "applied", applied=tuple(applied), skipped=skipped)

    def apply(self, plan: Plan, *, progress: Progress | None = None) -> ApplyReport:
        """Apply ``plan`` account by account (concurrently), each in the plan's safe order."""

        def work(account_plan: AccountPlan) -> AccountResult:
            result = self._apply_one(account_plan)
            if progress is not None:
                progress(account_plan.account)
            return result

        results = tuple(across(plan.accounts, work, parallel=self.parallel))
        return ApplyReport(plan=plan, results=results)

    def create_provisioning_key(self) -> ProvisioningKey:
        """Create the IdP provisioning user's access key, once (refused if it has one)."""
        management = self.spec.management_account
        if management is None:
            raise InputError(
                "the spec marks no management account, so keyless manages no provisioning user",
                fix="mark the organization's management account with `management: true`",
            )
        if self.spec.provisioning_principal is None:
            raise InputError(
                f"the spec ({self.spec.mapping_mode}) has no provisioning principal: group "
                "mapping needs no API integration and so no access key",
                fix="leave the Okta app's Provisioning tab off; only mapping_mode: role_import "
                "lists roles with a key (then add provisioning_principal: {kind: user})",
            )
        desired = desired_account(self.spec, management, self.metadata_xml)
        if not desired.users:
            raise InputError("the spec defines no provisioning user")
        user = desired.users[0].name
        iam = self._clients.get(management.id) or self.connector.iam(management)
        try:
            existing = iam.access_key_ids(user)
            if existing:
                masked = ", ".join(mask(k) for k in existing)
                raise InputError(
                    f"{user} already has an access key ({masked}); keyless creates it only once",
                    fix=f"to rotate it, delete the old key in IAM (`aws iam delete-access-key "
                    f"--user-name {user} ...`) after Okta uses a new one",
                )
            key_id, secret = iam.create_access_key(user)
        except ClientError as exc:
            message = explain_error(exc)
            raise RemoteError(
                f"cannot create the access key of {user}: {message}",
                fix="run `keyless apply` first so the user exists",
            ) from exc
        return ProvisioningKey(user_name=user, access_key_id=key_id, secret_access_key=secret)
