"""Reading every account (and the Okta org) concurrently for `keyless audit`."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from keyless.adapters.aws import AwsConnector, IamAccount, explain_error
from keyless.errors import KeylessError
from keyless.saml.metadata import parse_metadata
from keyless.services.audit.checks import AccountChecks
from keyless.services.audit.model import (
    CHECKS,
    DEFAULT_PARALLEL,
    DEFAULT_PERIOD,
    AccountAudit,
    AuditReport,
    Finding,
    OktaAuditSource,
    SignIn,
)
from keyless.services.fanout import account_pool, checked_parallel
from keyless.spec.expand import saml_provider_arn
from keyless.spec.model import Account, FederationSpec

# -- reading an account ----------------------------------------------------------------------


def _credential_report(
    iam: Any, *, sleep: Callable[[float], None]
) -> tuple[list[dict[str, str]], datetime | None]:
    """The report's rows and when IAM generated it (``GeneratedTime``).

    AWS builds the report asynchronously: STARTED / INPROGRESS, then COMPLETE
    (IAM API Reference, GenerateCredentialReport), and a report younger than four
    hours is served as it is, so a key deleted a minute ago can still be listed:
    the evidence shows the report's age.
    """
    for attempt in range(10):
        state = iam.generate_credential_report().get("State")
        if state == "COMPLETE":
            break
        sleep(min(2.0, 0.2 * (attempt + 1)))
    answer = iam.get_credential_report()
    content = answer["Content"]
    generated = answer.get("GeneratedTime")
    text = content.decode("utf-8") if isinstance(content, bytes) else str(content)
    return (
        list(csv.DictReader(io.StringIO(text))),
        generated if isinstance(generated, datetime) else None,
    )


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
        self.spec = spec
        self.connector = connector
        self.metadata_xml = metadata_xml
        self.idp = parse_metadata(metadata_xml) if metadata_xml else None
        self.role = role
        self.okta = okta
        self.okta_skipped_reason = okta_skipped_reason
        self.parallel = checked_parallel(parallel)
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
        with account_pool(self.parallel, len(accounts) + 1) as pool:
            okta_future = pool.submit(self._okta) if self.okta is not None else None
            report.accounts = list(
                pool.map(lambda a: self._account(a, report.period_start, now), accounts)
            )
            if okta_future is not None:
                report.okta_findings, report.okta_unreadable = okta_future.result()
        report.finished_at = self.clock()
        return report

    def _okta(self) -> tuple[list[Finding], str | None]:
        """The Okta side's findings, and why it was not evaluated when it could not be read."""
        assert self.okta is not None
        try:
            return self.okta.findings(), None
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
            ], exc.message

    def _account(self, account: Account, since: datetime, now: datetime) -> AccountAudit:
        audit = AccountAudit(account=account, audited_at=now)
        checks = AccountChecks(
            self.spec, account, idp=self.idp, metadata_xml=self.metadata_xml, now=now
        )
        try:
            iam_client = self.connector.client(account, "iam", role=self.role)
            provider_arn = saml_provider_arn(self.spec, account)
            provisioning = checks.provisioning_user_name()
            actual = IamAccount(iam_client, account).read(
                provider_arn=provider_arn, user_names=[provisioning] if provisioning else []
            )
            providers = [
                p["Arn"] for p in iam_client.list_saml_providers().get("SAMLProviderList", [])
            ]
            rows, generated = _credential_report(iam_client, sleep=self.sleep)
            audit.credential_report_time = generated
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
            audit.not_evaluated = {
                check: f"account {account.alias} could not be read"
                for check in CHECKS
                if check not in ("okta", "unreadable")
            }
            return audit
        audit.users = checks.credentials(rows, actual)
        checks.root_keys(summary)
        checks.provider(actual, providers)
        audit.roles = checks.roles(actual)
        reported = {
            f.resource.rsplit("/", 1)[-1] for f in checks.findings if ":role/" in f.resource
        }
        checks.drift(actual, reported)
        audit.sign_ins = self._sign_ins(account, since, now, checks, audit.not_evaluated)
        audit.findings = checks.findings
        return audit

    def _sign_ins(
        self,
        account: Account,
        since: datetime,
        now: datetime,
        checks: AccountChecks,
        not_evaluated: dict[str, str],
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
            not_evaluated["sign-ins"] = f"CloudTrail could not be read: {explain_error(exc)}"
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
