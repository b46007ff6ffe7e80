"""Pure logic of offboard and audit: the revocation policy as IAM evaluates it, plan leaving
it alone, and the audit's checks over account states built by hand."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from keyless.plan.desired import MANAGED_BY_TAG, desired_account
from keyless.plan.diff import diff_role
from keyless.plan.revocations import (
    cutoff,
    is_revocation,
    policy_name,
    releasable_at,
    revocation_policy,
)
from keyless.plan.state import ActualAccount, ActualProvider, ActualRole, ActualUser
from keyless.saml.metadata import certificate_fingerprint, parse_metadata
from keyless.services.audit import AccountChecks, AuditReport, Finding
from keyless.spec import load_spec, saml_provider_arn
from keyless.spec.model import ProvisioningPrincipal
from keyless_lab.aws.permissions import decide
from keyless_lab.saml.keys import SigningKey
from keyless_lab.saml.metadata import build_idp_metadata
from offboard_support import ACME

SPEC = load_spec(ACME)
DEV = next(a for a in SPEC.accounts if a.alias == "acme-dev")
MANAGEMENT = next(a for a in SPEC.accounts if a.management)
NOW = datetime(2026, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)


def _context(session: str, issued: datetime) -> dict[str, list[str]]:
    return {
        "aws:userid": [f"AROAEXAMPLEROLEID0001:{session}"],
        "aws:TokenIssueTime": [issued.strftime("%Y-%m-%dT%H:%M:%SZ")],
    }


ADMIN = [{"Effect": "Allow", "Action": "*", "Resource": "*"}]


@pytest.mark.parametrize(
    ("session", "issued", "allowed"),
    [
        ("alice@acme.example", NOW - timedelta(minutes=5), False),  # her old session
        ("alice@acme.example", NOW, False),  # issued in the same second as the revocation
        ("alice@acme.example", NOW + timedelta(seconds=2), True),  # a new one after it
        ("carol@acme.example", NOW - timedelta(minutes=5), True),  # someone else's
        ("malice@acme.example", NOW - timedelta(minutes=5), True),  # a name she is a suffix of
    ],
)
def test_one_persons_revocation_as_iam_evaluates_it(
    session: str, issued: datetime, allowed: bool
) -> None:
    deny = revocation_policy("alice@acme.example", cutoff(NOW))["Statement"]
    decision = decide(
        [ADMIN, deny],
        boundary=None,
        action="iam:ListRoles",
        resource="*",
        context=_context(session, issued),
    )
    assert decision.allowed is allowed


def test_every_session_revocation_has_aws_revoke_older_sessions_shape() -> None:
    document = revocation_policy(None, cutoff(NOW))
    (statement,) = document["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Action"] == ["*"]
    assert statement["Resource"] == ["*"]
    assert statement["Condition"] == {
        "DateLessThan": {"aws:TokenIssueTime": "2026-03-01T12:00:01Z"}
    }
    assert policy_name(None) == "keyless-revoke-all-sessions"


def test_names_cutoffs_and_release_times() -> None:
    assert policy_name("alice@acme.example") == "keyless-revoke-user-alice@acme.example"
    assert is_revocation(policy_name("alice@acme.example"))
    assert not is_revocation("DenyLeavingTheRegion")
    assert cutoff(NOW) == datetime(2026, 3, 1, 12, 0, 1, tzinfo=UTC)
    assert cutoff(NOW.replace(microsecond=0)) == datetime(2026, 3, 1, 12, 0, 1, tzinfo=UTC)
    document = revocation_policy("alice@acme.example", cutoff(NOW))
    assert releasable_at(document, 3600) == datetime(2026, 3, 1, 13, 0, 1, tzinfo=UTC)
    assert releasable_at({"Statement": []}, 3600) is None


def _actual_role(spec_role: str, **changes: Any) -> ActualRole:
    desired = next(r for r in desired_account(SPEC, DEV, None).roles if r.name == spec_role)
    role = ActualRole(
        name=desired.name,
        path=desired.path,
        arn=desired.arn,
        trust_policy=copy.deepcopy(desired.trust_policy),
        managed_policies=desired.managed_policies,
        inline_policies=dict(desired.inline_policies),
        max_session_duration=desired.max_session_duration,
        permissions_boundary=desired.permissions_boundary,
        description=desired.description,
        tags=dict(desired.tags),
    )
    return replace(role, **changes)


def test_plan_leaves_a_revocation_on_a_role_alone() -> None:
    """Regression (issue 14): plan would delete offboard's Deny and hand the sessions back."""
    desired = next(r for r in desired_account(SPEC, DEV, None).roles if r.name == "Developer")
    revocation = revocation_policy("alice@acme.example", cutoff(NOW))
    actual = _actual_role(
        "Developer",
        inline_policies={**desired.inline_policies, policy_name("alice@acme.example"): revocation},
    )
    assert diff_role(desired, actual, spec_name=SPEC.name, adopt=False) == []
    # Any other inline policy the spec does not name is still removed.
    stray = _actual_role(
        "Developer", inline_policies={**desired.inline_policies, "Stray": revocation}
    )
    (change,) = diff_role(desired, stray, spec_name=SPEC.name, adopt=False)
    assert [op.api for op in change.operations] == ["delete_role_policy"]


def _checks(account: Any = DEV, **kwargs: Any) -> AccountChecks:
    spec = kwargs.get("spec", SPEC)
    return AccountChecks(spec, account, idp=kwargs.get("idp"), metadata_xml=None, now=NOW)


def _account(*roles: ActualRole, users: dict[str, ActualUser] | None = None) -> ActualAccount:
    return ActualAccount(
        account_id=DEV.id, provider=None, roles={r.name: r for r in roles}, users=users or {}
    )


def test_role_checks_name_the_audience_the_provider_and_the_session_length() -> None:
    regional = _actual_role("ReadOnly")
    regional.trust_policy["Statement"][0]["Condition"]["StringEquals"]["SAML:aud"] = (
        "https://eu-west-1.signin.aws.amazon.com/saml"
    )
    foreign = _actual_role("Developer", max_session_duration=43200)
    foreign.trust_policy["Statement"][0]["Principal"]["Federated"] = (
        f"arn:aws:iam::{DEV.id}:saml-provider/SomeoneElse"
    )
    unmanaged = _actual_role(
        "ReadOnly", name="Contractors", arn=f"arn:aws:iam::{DEV.id}:role/Contractors", tags={}
    )
    checks = _checks()
    table = checks.roles(_account(regional, foreign, unmanaged))
    found = {(f.check, f.resource.rsplit("/", 1)[-1], f.severity) for f in checks.findings}
    assert ("saml-audience", "ReadOnly", "high") in found
    assert ("foreign-provider", "Developer", "high") in found
    assert ("max-session", "Developer", "medium") in found
    assert ("unmanaged", "Contractors", "medium") in found
    assert {row["role"]: row["managed"] for row in table} == {
        "Contractors": False,
        "Developer": True,
        "ReadOnly": True,
    }


def test_a_role_without_set_source_identity_is_reported_as_relying_on_the_fallback() -> None:
    """Issue 23: audit names the roles whose sessions carry no SourceIdentity, with the fix."""
    old = _actual_role("ReadOnly")
    old.trust_policy["Statement"][0]["Action"] = ["sts:AssumeRoleWithSAML", "sts:TagSession"]
    wildcard = _actual_role("OktaAdminRole")
    wildcard.trust_policy["Statement"][0]["Action"] = "sts:*"
    current = _actual_role("Developer")
    checks = _checks()
    table = checks.roles(_account(old, wildcard, current))
    fallback = [f for f in checks.findings if f.check == "source-identity-fallback"]
    assert [f.resource.rsplit("/", 1)[-1] for f in fallback] == ["ReadOnly"]
    assert "keyless apply" in fallback[0].fix
    assert "sts:SetSourceIdentity" in fallback[0].fix
    assert {row["role"]: row["source_identity"] for row in table} == {
        "Developer": True,
        "OktaAdminRole": True,
        "ReadOnly": False,
    }


def test_credential_report_rows_people_and_the_provisioning_principal() -> None:
    provisioning = ActualUser(
        name="OktaProvisioningUser",
        arn=f"arn:aws:iam::{MANAGEMENT.id}:user/OktaProvisioningUser",
        inline_policies={
            "keyless-idp-list-roles": {
                "Statement": [
                    {"Effect": "Allow", "Action": ["iam:ListRoles", "iam:ListAccountAliases"]}
                ]
            }
        },
        managed_policies=("arn:aws:iam::aws:policy/AdministratorAccess",),
        tags={MANAGED_BY_TAG: SPEC.name},
    )
    actual = ActualAccount(
        account_id=MANAGEMENT.id, provider=None, users={provisioning.name: provisioning}
    )
    old = (NOW - timedelta(days=400)).isoformat()
    rows = [
        {
            "user": "OktaProvisioningUser",
            "arn": provisioning.arn,
            "password_enabled": "false",
            "mfa_active": "false",
            "access_key_1_active": "true",
            "access_key_1_last_rotated": old,
            "access_key_1_last_used_date": "N/A",
        },
        {
            "user": "erin",
            "arn": f"arn:aws:iam::{MANAGEMENT.id}:user/erin",
            "password_enabled": "true",
            "mfa_active": "false",
            "access_key_1_active": "false",
        },
        {"user": "<root_account>", "arn": "", "password_enabled": "true", "mfa_active": "true"},
    ]
    # Role import keeps the role-listing principal (acme maps groups: it has none).
    role_import = SPEC.model_copy(
        update={"provisioning_principal": ProvisioningPrincipal(kind="user")}
    )
    assert role_import.provisioning_principal is not None
    assert role_import.provisioning_principal.name == "OktaProvisioningUser"
    checks = _checks(MANAGEMENT, spec=role_import)
    users = checks.credentials(rows, actual)
    assert [u["kind"] for u in users] == ["provisioning", "person"]
    found = {(f.check, f.severity) for f in checks.findings}
    # Expected key, but 400 days old and with AdministratorAccess attached.
    assert ("provisioning-key", "medium") in found
    assert ("provisioning-privilege", "high") in found
    assert ("console-without-mfa", "high") in found


def test_provider_certificate_mismatch_and_expiry() -> None:
    current = SigningKey.generate("idp now")
    expiring = SigningKey.generate("idp before", days=10)
    idp = parse_metadata(
        build_idp_metadata(
            entity_id="http://idp", certificates=[current.certificate], sso_url="https://idp/sso"
        )
    )
    held = build_idp_metadata(
        entity_id="http://idp", certificates=[expiring.certificate], sso_url="https://idp/sso"
    )
    checks = AccountChecks(SPEC, DEV, idp=idp, metadata_xml=None, now=datetime.now(UTC))
    provider_arn = f"arn:aws:iam::{DEV.id}:saml-provider/Okta"
    actual = ActualAccount(
        account_id=DEV.id, provider=ActualProvider(arn=provider_arn, metadata_xml=held, tags={})
    )
    checks.provider(actual, [provider_arn, f"arn:aws:iam::{DEV.id}:saml-provider/Old"])
    titles = [(f.check, f.severity, f.title) for f in checks.findings]
    assert any(c == "saml-provider" and "not the IdP's current" in t for c, _, t in titles)
    assert any(c == "saml-provider" and s == "medium" and "expires in" in t for c, s, t in titles)
    # Fingerprints in the one form (issue 20: the audit printed lowercase hex, the plan AB:CD).
    details = [f.detail for f in checks.findings if f.check == "saml-provider"]
    assert details[0]["idp"] == [certificate_fingerprint(current.certificate)]
    assert details[1]["fingerprint"] == certificate_fingerprint(expiring.certificate)
    assert any(f.check == "unmanaged" and f.resource.endswith("/Old") for f in checks.findings)


def test_audit_names_the_provider_by_saml_provider_arn() -> None:
    """Issue 20: the audit rebuilt the provider ARN by hand beside saml_provider_arn."""
    idp = SPEC.identity_provider.model_copy(update={"saml_provider_name": "Corp"})
    spec = SPEC.model_copy(update={"identity_provider": idp})
    arn = saml_provider_arn(spec, DEV)
    assert arn.endswith(":saml-provider/Corp")
    checks = AccountChecks(spec, DEV, idp=None, metadata_xml=None, now=NOW)
    checks.provider(ActualAccount(account_id=DEV.id, provider=None), [arn])
    assert [(f.check, f.resource) for f in checks.findings] == [("saml-provider", arn)]


def test_fail_on_thresholds() -> None:
    finding = Finding("drift", "medium", DEV.id, DEV.alias, "role x", "t", "w", "f")
    report = AuditReport(
        spec_name="acme", started_at=NOW, period_start=NOW, period_end=NOW, accounts=[]
    )
    report.okta_findings = [finding]
    assert report.fails("medium")
    assert report.fails("low")
    assert not report.fails("high")
    assert report.counts()["medium"] == 1
    assert "CC6.2" in finding.controls
    assert "AC-2" in finding.controls


# -- issue 23: revocation by identity, packed and sized -------------------------------------------


def _person(name: str, **extra: Any) -> Any:
    from keyless.plan.revocations import PersonKeys

    return PersonKeys(name=name, source_identities=(name,), **extra)


def test_a_packed_revocation_denies_the_person_in_any_case_they_used_and_not_a_colleague() -> None:
    from keyless.plan.revocations import Revocations

    revocations = Revocations()
    until = NOW + timedelta(hours=13)
    revocations.add(
        _person(
            "alice@acme.example",
            session_names=("Alice@acme.example",),
            session_ids=("AROACHAINED000000001:innocent",),
        ),
        until,
    )
    statements = revocations.document()["Statement"]
    # No time condition: an assertion redeemed after the offboarding is refused too.
    assert "DateLessThan" not in str(statements)

    def allowed(userid: str, source_identity: str | None = None) -> bool:
        context = {"aws:userid": [userid]}
        if source_identity:
            context["aws:SourceIdentity"] = [source_identity]
        decision = decide(
            [ADMIN, statements],
            boundary=None,
            action="iam:ListRoles",
            resource="*",
            context=context,
        )
        return bool(decision.allowed)

    assert not allowed("AROAROLE:alice@acme.example")
    assert not allowed("AROAROLE:Alice@acme.example")
    assert not allowed("AROACHAINED000000001:innocent")
    assert not allowed("AROAOTHER:renamed", source_identity="alice@acme.example")
    assert allowed("AROAROLE:carol@acme.example")
    assert allowed("AROAOTHER:innocent")


def test_people_share_statements_and_release_reads_the_recorded_time() -> None:
    from keyless.plan.revocations import ROLE_INLINE_CHARACTERS, Revocations, recorded_until

    revocations = Revocations()
    for n in range(50):  # fifty runs, a few seconds apart
        revocations.add(_person(f"p{n:02d}@acme.example"), NOW + timedelta(seconds=n * 5))
    assert len(revocations.document()["Statement"]) == 2
    assert revocations.size() < ROLE_INLINE_CHARACTERS // 3
    read = Revocations.from_document(revocations.document())
    assert read.people() == {f"p{n:02d}@acme.example" for n in range(50)}
    # Nobody is released early: the shared statement keeps the latest time.
    latest = datetime(2026, 3, 1, 12, 4, 6, tzinfo=UTC)  # NOW + 245 s, whole seconds up
    assert read.until_of("p00@acme.example") == [latest] * 2
    assert recorded_until(revocations.document()) == latest
    read.remove("p00@acme.example")
    assert "p00@acme.example" not in read.people()
    assert len(read.people()) == 49


def test_scps_fill_up_then_a_new_one_and_the_root_limit_refuses_up_front() -> None:
    from keyless.plan.revocations import SCP_CHARACTERS, QuotaError, pack_scps

    people = [_person(f"person-with-a-long-name-{n:03d}@acme.example") for n in range(200)]
    slots = pack_scps([], people, NOW, free_attachments=4)
    assert len(slots) >= 2
    assert all(s.revocations.size() <= SCP_CHARACTERS for s in slots)
    assert [s.name for s in slots][:2] == ["keyless-revoke-scp-1", "keyless-revoke-scp-2"]
    with pytest.raises(QuotaError, match="free attachment"):
        pack_scps([], people, NOW, free_attachments=1)


def test_the_spec_refuses_reserved_policy_names() -> None:
    """Regression (issue 23): a spec policy named keyless-revoke-... replaced the Deny in plan."""
    from keyless.errors import KeylessError
    from keyless.plan.revocations import REVOCATION_PREFIX
    from keyless.spec import load_spec_text
    from keyless.spec.model import RESERVED_POLICY_PREFIX

    assert RESERVED_POLICY_PREFIX == REVOCATION_PREFIX
    text = ACME.read_text().replace("      DenyLeavingTheRegion:", "      Keyless-Revoke-People:")
    with pytest.raises(KeylessError, match="reserved"):
        load_spec_text(text, source="reserved.yaml")


def test_chained_sessions_are_followed_from_the_persons_keys() -> None:
    from keyless.services.offboard.evidence import TrailSession, person_sessions

    def saml(name: str, key: str) -> TrailSession:
        return TrailSession("1", "us-east-1", "AssumeRoleWithSAML", "r", f"AROA:{name}", key, "t")

    def chain(userid: str, key: str, caller: str) -> TrailSession:
        return TrailSession(
            "1", "us-east-1", "AssumeRole", "r2", userid, key, "t", caller_key=caller
        )

    trail = [
        saml("Alice@acme.example", "ASIA1"),
        saml("carol@acme.example", "ASIA2"),
        chain("AROAB:hop1", "ASIA3", "ASIA1"),
        chain("AROAC:hop2", "ASIA4", "ASIA3"),
        chain("AROAD:carols", "ASIA5", "ASIA2"),
    ]
    found = person_sessions(trail, names={"alice@acme.example"}, source_identities=set())
    assert found.session_names == {"Alice@acme.example"}
    assert found.chained_ids == {"AROAB:hop1", "AROAC:hop2"}


@pytest.mark.parametrize(
    ("attribute", "expected"),
    [
        ("app_username", "Hana.Lee"),
        ("login", "Hana.Lee@acme.example"),
        ("email", "hana@mail.acme.example"),
        ("email_prefix", "hana"),
    ],
)
def test_offboarding_revokes_the_source_identity_the_spec_has_okta_send(
    attribute: str, expected: str
) -> None:
    """Issue 23: the revoked SourceIdentity is the attribute the spec sends, not only the
    app username (a spec sending the email prefix revoked a name no session carried)."""
    from keyless.services.offboard.model import OktaOutcome
    from keyless.services.offboard.service import _source_identity

    data = SPEC.model_dump()
    data["identity_provider"]["source_identity"] = {"attribute": attribute}
    spec = type(SPEC).model_validate(data)
    outcome = OktaOutcome(
        "ACTIVE",
        "ACTIVE",
        False,
        login="Hana.Lee@acme.example",
        app_user_name="Hana.Lee",
        email="hana@mail.acme.example",
    )
    assert _source_identity(spec, outcome, "Hana.Lee") == expected
