"""Plan and apply a federation across AWS and the Okta org: the use case behind `plan|apply`.

One use case, whoever calls it — ``keyless plan|apply``, ``keyless demo``, tests::

    federation = open_federation(spec, Composition(profile="mgmt"), spec_dir=spec_file.parent)
    plan = federation.plan(prune=False)       # reads only: every account, then the Okta org
    result = federation.apply(plan)           # what `apply --yes` does after the plan
    assert result.ok, result.as_dict()

    # or in one call, from parts a test built (a connector, the metadata, no Okta side):
    result = apply_federation(Federation(spec, connector, metadata_xml))

The order is fixed here, not in a caller: AWS first (the SAML providers must
exist before the Okta app names them), then Okta whatever happened in AWS;
each side's completed changes are kept and reported. The IdP provisioning
user's key, when asked for, is created only when every account was applied,
and sent straight into the Okta app's API integration when keyless manages the
app and its apply did not fail; otherwise it is returned for the caller to show
once. Everything comes back in one :class:`FederationResult`.

``target`` narrows the run to one side: ``aws``, ``okta``, or ``all``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from keyless.errors import InputError, KeylessError
from keyless.plan.diff import Plan
from keyless.services.compose import Composition
from keyless.services.provision.accounts import (
    DEFAULT_PARALLEL,
    ApplyReport,
    Progress,
    Provisioner,
    ProvisioningKey,
)
from keyless.spec.model import FederationSpec

if TYPE_CHECKING:
    from keyless.adapters.aws import AwsConnector
    from keyless.plan.okta import OktaPlan
    from keyless.services.okta.side import OktaApplyResult, OktaSide

Target = Literal["all", "aws", "okta"]
TARGETS: tuple[Target, ...] = ("all", "aws", "okta")


def check_target(target: str) -> Target:
    """``target`` as a :data:`Target`; :class:`InputError` for anything else."""
    for known in TARGETS:
        if target == known:
            return known
    raise InputError(f"--target must be one of {', '.join(TARGETS)}, got {target!r}")


@dataclass(frozen=True)
class FederationPlan:
    """Both sides' plans: AWS (empty with ``--target okta``), Okta (None when not managed)."""

    aws: Plan
    okta: OktaPlan | None
    target: Target

    @property
    def has_changes(self) -> bool:
        """Anything pending on either side."""
        return self.aws.has_changes or (self.okta is not None and bool(self.okta.pending))

    @property
    def has_errors(self) -> bool:
        """An account or the Okta org could not be read."""
        return self.aws.has_errors or (self.okta is not None and bool(self.okta.error))

    def totals(self) -> dict[str, int]:
        """Counts by action across every account and the Okta org, plus unreadable ones."""
        counts = self.aws.totals()
        if self.okta is not None:
            for change in self.okta.changes:
                counts[change.action] += 1
            counts["errors"] += 1 if self.okta.error else 0
        return counts

    def as_dict(self) -> dict[str, Any]:
        """One plan document for both sides (``plan --json``), totals across both."""
        document = self.aws.as_dict()
        document["target"] = self.target
        document["okta"] = self.okta.as_dict() if self.okta is not None else None
        document["totals"] = self.totals()
        document["has_changes"] = self.has_changes
        return document


@dataclass(frozen=True)
class FederationResult:
    """What one apply did: every account, the Okta org, the provisioning key.

    ``key_sent_to_okta``: the key went into the Okta app and its secret must not
    be shown; otherwise a created key is for the caller to show once.
    ``key_not_sent``: why sending it to Okta failed (it is then shown instead).
    """

    plan: FederationPlan
    aws: ApplyReport
    okta: OktaApplyResult | None = None
    provisioning_key: ProvisioningKey | None = None
    key_sent_to_okta: bool = False
    key_not_sent: KeylessError | None = field(default=None, repr=False)

    @property
    def aws_ok(self) -> bool:
        """Every account applied (conflicts left alone are not failures)."""
        return self.aws.ok

    @property
    def okta_failed(self) -> bool:
        """The Okta org's apply failed (its plan could not be read, or a change failed)."""
        return self.okta is not None and self.okta.status == "failed"

    @property
    def ok(self) -> bool:
        """Both sides applied."""
        return self.aws_ok and not self.okta_failed

    def as_dict(self) -> dict[str, Any]:
        """The ``apply --json`` document: the AWS report, ``okta``, ``provisioning_key``.

        The secret is in it only when the key was created and not sent to Okta
        (the one secret keyless prints, and only when asked to create it).
        """
        document = self.aws.as_dict()
        document["okta"] = self.okta.as_dict() if self.okta is not None else None
        if self.okta_failed:
            document["ok"] = False
        key = self.provisioning_key
        if key is not None:
            document["provisioning_key"] = {
                "user": key.user_name,
                "access_key_id": key.access_key_id,
                "sent_to_okta": self.key_sent_to_okta,
            }
            if not self.key_sent_to_okta:
                document["provisioning_key"]["secret_access_key"] = key.secret_access_key
        return document


class Federation:
    """One spec's AWS side (every account) and Okta side, kept between plan and apply.

    Built from its parts — the management account's connector, the IdP's
    metadata (None when only Okta is planned), the Okta side (None when not
    managed) — by :func:`open_federation`, or directly by a test. It owns the
    Okta side's HTTP client: ``with open_federation(...) as federation:``, or
    :meth:`close`.
    """

    def __init__(
        self,
        spec: FederationSpec,
        connector: AwsConnector,
        metadata_xml: bytes | None,
        okta: OktaSide | None = None,
        *,
        target: Target = "all",
        parallel: int = DEFAULT_PARALLEL,
    ) -> None:
        self.spec = spec
        self.provisioner = Provisioner(spec, connector, metadata_xml, parallel=parallel)
        self.okta = okta
        self.target = target

    def close(self) -> None:
        """Close the Okta side's HTTP client (boto3's clients need no closing)."""
        if self.okta is not None:
            self.okta.client.close()

    def __enter__(self) -> Federation:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def accounts_to_read(self, accounts: Sequence[str] = ()) -> int:
        """How many accounts :meth:`plan` reads (none with ``--target okta``)."""
        return 0 if self.target == "okta" else len(self.provisioner.select(accounts))

    def plan(
        self,
        *,
        accounts: Sequence[str] = (),
        prune: bool = False,
        adopt: bool = False,
        progress: Progress | None = None,
    ) -> FederationPlan:
        """Read every selected account concurrently, then the Okta org; diff both (reads only)."""
        if self.target == "okta":
            aws = Plan(spec_name=self.spec.name, accounts=(), prune=prune, adopt=adopt)
        else:
            aws = self.provisioner.plan(
                accounts=accounts, prune=prune, adopt=adopt, progress=progress
            )
        okta = self.okta.plan(adopt=adopt, prune=prune) if self.okta is not None else None
        return FederationPlan(aws=aws, okta=okta, target=self.target)

    def apply(
        self,
        plan: FederationPlan,
        *,
        create_provisioning_key: bool = False,
        progress: Progress | None = None,
    ) -> FederationResult:
        """Apply ``plan``: every account, then the Okta org, then the provisioning key."""
        report = self.provisioner.apply(plan.aws, progress=progress)
        key = None
        sent = False
        not_sent: KeylessError | None = None
        okta = self.okta if plan.okta is not None else None
        if create_provisioning_key and report.ok and self.spec.mapping_mode == "role_import":
            # Role import: samlRoles may name only roles the app's API integration has
            # imported, so the key goes into the app before any group is assigned.
            key = self.provisioner.create_provisioning_key()
            if okta is not None and plan.okta is not None and not plan.okta.error:
                try:
                    okta.send_provisioning_key(key.access_key_id, key.secret_access_key)
                    sent = True
                except KeylessError as error:
                    not_sent = error
        # AWS first (the providers exist before the app names them), then Okta, whatever
        # happened in AWS: each side's completed changes are kept and reported.
        okta_result = okta.apply(plan.okta) if okta is not None and plan.okta is not None else None
        if create_provisioning_key and report.ok and key is None:
            key = self.provisioner.create_provisioning_key()
            if okta is not None and okta_result is not None and okta_result.status != "failed":
                # Straight into the app's API integration: the secret is then never printed.
                try:
                    okta.send_provisioning_key(key.access_key_id, key.secret_access_key)
                    sent = True
                except KeylessError as error:
                    not_sent = error
        return FederationResult(
            plan=plan,
            aws=report,
            okta=okta_result,
            provisioning_key=key,
            key_sent_to_okta=sent,
            key_not_sent=not_sent,
        )


def open_federation(
    spec: FederationSpec,
    composition: Composition,
    *,
    spec_dir: Path | None = None,
    target: Target = "all",
    parallel: int = DEFAULT_PARALLEL,
) -> Federation:
    """The federation of ``spec`` wired to where ``composition`` says AWS and Okta are.

    The Okta side comes first (``--target okta`` on a spec without an ``okta:``
    section fails before AWS is touched); the IdP metadata is read, and broken
    metadata stops the run, unless only Okta is planned.
    """
    okta = None if target == "aws" else composition.okta_side(spec)
    if okta is None and target == "okta":
        raise InputError(
            f"the spec {spec.name!r} has no `okta:` section: keyless manages no Okta side",
            fix="add `okta: {auth: api_token}` to the spec (see README, The Okta side)",
        )
    connector = composition.aws_connector()
    metadata = None if target == "okta" else composition.idp_metadata(spec, spec_dir=spec_dir)
    return Federation(spec, connector, metadata, okta, target=target, parallel=parallel)


def plan_federation(
    federation: Federation,
    *,
    accounts: Sequence[str] = (),
    prune: bool = False,
    adopt: bool = False,
    progress: Progress | None = None,
) -> FederationPlan:
    """What ``apply`` would change in every account and the Okta org (reads only);
    ``federation`` is closed afterwards."""
    with federation:
        return federation.plan(accounts=accounts, prune=prune, adopt=adopt, progress=progress)


def apply_federation(
    federation: Federation,
    *,
    accounts: Sequence[str] = (),
    prune: bool = False,
    adopt: bool = False,
    create_provisioning_key: bool = False,
    progress: Progress | None = None,
) -> FederationResult:
    """Plan and apply on both sides without asking (the in-process ``apply --yes``);
    ``federation`` is closed afterwards."""
    with federation:
        plan = federation.plan(accounts=accounts, prune=prune, adopt=adopt, progress=progress)
        return federation.apply(
            plan, create_provisioning_key=create_provisioning_key, progress=progress
        )
