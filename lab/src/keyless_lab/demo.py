"""`keyless demo`: the whole federation flow, end to end, in the embedded lab.

A lab scenario, so it lives with the lab: it starts one, and reads the lab
users' secrets from it, which nothing in the services may do.

Every step runs the real code a user runs — the lab (`keyless lab up`), the
provisioning service (`keyless apply`), the login service (`keyless login`) —
against real servers on loopback. Nothing here fakes an answer; the demo only
picks the inputs (the lab users' passwords and TOTP codes from the lab's own
state) and narrates.

It leaves nothing behind: the lab runs in a temporary state dir and is
stopped, the Okta session and credentials live in that dir, and nothing is
written to ``~/.aws``.
"""

from __future__ import annotations

import base64
import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from keyless.core.credentials import AwsCredentials, mask
from keyless.errors import KeylessError, LabError
from keyless.spec import FederationSpec, load_spec
from keyless_lab.config import lab_section

DEMO_ADMIN = "alice@acme.example"
DEMO_DEVELOPER = "bob@acme.example"


@dataclass(frozen=True)
class DemoStep:
    """One narrated step: a title, what happened (lines), and machine-readable facts."""

    key: str
    title: str
    lines: tuple[str, ...] = ()
    facts: dict[str, Any] = field(default_factory=dict)
    ok: bool = True


@dataclass
class DemoReport:
    """Every step, and whether the flow behaved as federation should."""

    steps: list[DemoStep] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(step.ok for step in self.steps)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "seconds": round(self.seconds, 2),
            "steps": [
                {"key": s.key, "title": s.title, "ok": s.ok, "lines": list(s.lines), **s.facts}
                for s in self.steps
            ],
        }


class _QuietCache:
    """A credential cache that stays in memory: the demo must not leave cache files."""

    def __init__(self) -> None:
        self._entries: dict[str, AwsCredentials] = {}

    def load(self, profile: str) -> AwsCredentials | None:
        return self._entries.get(profile)

    def store(self, profile: str, credentials: AwsCredentials) -> None:
        self._entries[profile] = credentials


class _ScriptedPrompter:
    """Answers nothing: every input is given up front, so a question is a demo bug."""

    interactive = False

    def __init__(self, narrate: Callable[[str], None]) -> None:
        self._narrate = narrate

    def notify(self, message: str) -> None:
        self._narrate(message)

    def ask(self, label: str, *, secret: bool = False, flag: str | None = None) -> str:
        raise KeylessError(f"the demo was asked for {label!r}, which it should have supplied")

    def choose(self, title: str, options: list[str], *, flag: str | None = None) -> int:
        raise KeylessError(f"the demo was asked to choose {title!r}, which it should have supplied")

    def missing_input(self, what: str, *, flag: str | None = None) -> KeylessError:
        return KeylessError(f"the demo was asked for {what!r}, which it should have supplied")


@contextlib.contextmanager
def _workspace(state_dir: Path | None) -> Iterator[Path]:
    if state_dir is not None:
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        yield state_dir
        return
    directory = Path(tempfile.mkdtemp(prefix="keyless-demo-"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def run_demo(
    spec_path: Path,
    *,
    on_step: Callable[[DemoStep], None],
    on_note: Callable[[str], None] = lambda _message: None,
    state_dir: Path | None = None,
) -> DemoReport:
    """Run the federation flow in a fresh lab and report each step as it happens."""
    # The lab's extras are imported here, not at module level, so `keyless --help`
    # works on an install without them.
    from keyless_lab.extras import require_lab_extras

    require_lab_extras()
    try:
        import boto3
        import pyotp
        from botocore.exceptions import ClientError

        from keyless.adapters.secrets import FileSecretStore
        from keyless.services.login.okta_signin import LoginInputs
        from keyless.services.login.profiles import Settings
        from keyless.services.login.wiring import fetch_assertion_with_kept_session
        from keyless.services.login.wiring import login_and_cache as login
        from keyless.services.provision.federation import apply_federation, open_federation
        from keyless_lab.runtime import Lab
    except ModuleNotFoundError as exc:
        raise LabError(
            f"the embedded lab needs keyless's lab extras ({exc.name} is missing)",
            fix="reinstall keyless-lab (pip install ./lab; make demo does this)",
        ) from exc

    started = time.monotonic()
    report = DemoReport()

    def step(item: DemoStep) -> None:
        report.steps.append(item)
        on_step(item)

    spec = load_spec(spec_path)
    users = {user.login: user for user in lab_section(spec).users}
    for needed in (DEMO_ADMIN, DEMO_DEVELOPER):
        if needed not in users:
            raise LabError(
                f"{spec_path} has no lab user {needed}; the demo signs in as "
                f"{DEMO_ADMIN} and {DEMO_DEVELOPER}",
                fix="run the demo with examples/acme.yaml",
            )

    with _workspace(state_dir) as work:
        lab = Lab(spec, state_dir=work / "lab", spec_path=spec_path)
        info = lab.start()
        try:
            step(
                DemoStep(
                    "lab",
                    "Started the lab on loopback",
                    (
                        f"identity provider (Okta API)  {info.idp_url}",
                        f"AWS (moto, strict STS)        {info.aws_endpoint_url}",
                        f"organization: {', '.join(a.alias for a in info.accounts)}",
                    ),
                    {"idp_url": info.idp_url, "aws_endpoint_url": info.aws_endpoint_url},
                )
            )

            # -- provision: the same use case `keyless apply --lab --yes` runs -------
            applied = apply_federation(open_federation(spec, info.composition()))
            totals = applied.plan.totals()
            step(
                DemoStep(
                    "apply",
                    "Provisioned the federation in every account (keyless apply)",
                    tuple(
                        f"{r.account.alias:<16} {r.status}: {len(r.applied)} changes"
                        + (f" — {r.error}" if r.error else "")
                        for r in applied.aws.results
                    ),
                    {"totals": totals, "accounts": [r.as_dict() for r in applied.aws.results]},
                    ok=applied.ok,
                )
            )
            if not applied.ok:
                return report

            secrets = FileSecretStore(work / "secrets")
            sts_kwargs: dict[str, Any] = {
                "endpoint_url": info.aws_endpoint_url,
                "verify": info.ca_bundle,
                "region_name": "us-east-1",
            }

            def settings_for(login_name: str, role: str, account: str) -> Settings:
                return Settings(
                    profile=f"demo-{login_name.split('@')[0]}",
                    org_url=info.idp_url,
                    app_url=info.app_url,
                    username=login_name,
                    role=role,
                    account=account,
                    spec=str(spec_path),
                    ca_bundle=info.ca_bundle,
                    aws_endpoint_url=info.aws_endpoint_url,
                    mfa_factor="totp",
                )

            def inputs_for(login_name: str) -> Any:
                user = info.user(login_name)
                if user.totp_secret is None:
                    raise LabError(f"the lab user {login_name} has no TOTP factor")
                return LoginInputs(
                    password=user.password, mfa_code=pyotp.TOTP(user.totp_secret).now()
                )

            prompter = _ScriptedPrompter(on_note)

            # -- alice: password + TOTP, OktaAdminRole in acme-prod ---------------------
            alice_settings = settings_for(DEMO_ADMIN, "OktaAdminRole", "acme-prod")
            alice = login(
                alice_settings,
                prompter=prompter,
                secrets=secrets,
                inputs=inputs_for(DEMO_ADMIN),
                write_files=False,
                cache=_QuietCache(),
            )
            credentials = alice.credentials
            identity = boto3.client(
                "sts",
                aws_access_key_id=credentials.access_key_id,
                aws_secret_access_key=credentials.secret_access_key,
                aws_session_token=credentials.session_token,
                **sts_kwargs,
            ).get_caller_identity()
            remaining = credentials.expiration - datetime.now(UTC)
            minutes = round(remaining.total_seconds() / 60)
            step(
                DemoStep(
                    "login",
                    f"{DEMO_ADMIN} signed in with password + TOTP and took OktaAdminRole "
                    "in acme-prod (keyless login)",
                    (
                        f"sts get-caller-identity: {identity['Arn']}",
                        f"access key {mask(credentials.access_key_id)}, expires "
                        f"{credentials.expiration_text} (in {minutes} minutes)",
                    ),
                    {
                        "arn": identity["Arn"],
                        "account": identity["Account"],
                        "expiration": credentials.expiration_text,
                        "expires_in_seconds": int(remaining.total_seconds()),
                    },
                    ok=identity["Arn"].endswith("assumed-role/OktaAdminRole/" + DEMO_ADMIN),
                )
            )

            # -- the roles she may take: a fresh assertion from the kept session ------
            saml_b64, unverified = fetch_assertion_with_kept_session(
                alice_settings, secrets=secrets
            )
            aliases = {a.id: a.alias for a in info.accounts}
            roles = [
                f"{aliases.get(pair.role_arn.split(':')[4], '?'):<16} {pair.role_arn}"
                for pair in unverified.roles
            ]
            step(
                DemoStep(
                    "roles",
                    f"Roles {DEMO_ADMIN} may take (from the IdP's signed assertion; "
                    "the kept Okta session asked for no MFA)",
                    tuple(roles),
                    {"roles": [pair.role_arn for pair in unverified.roles]},
                )
            )

            # -- a tampered assertion: reach the management account --------------------
            step(_tampered_step(saml_b64, spec, sts_kwargs, boto3, ClientError))

            # -- bob: Developer in acme-dev cannot touch IAM ---------------------------
            bob = login(
                settings_for(DEMO_DEVELOPER, "Developer", "acme-dev"),
                prompter=prompter,
                secrets=secrets,
                inputs=inputs_for(DEMO_DEVELOPER),
                write_files=False,
                cache=_QuietCache(),
            )
            bob_credentials = bob.credentials
            bob_session = {
                "aws_access_key_id": bob_credentials.access_key_id,
                "aws_secret_access_key": bob_credentials.secret_access_key,
                "aws_session_token": bob_credentials.session_token,
                **sts_kwargs,
            }
            bob_arn = boto3.client("sts", **bob_session).get_caller_identity()["Arn"]
            try:
                boto3.client("iam", **bob_session).create_user(UserName="backdoor")
                refused, detail = False, "iam create-user SUCCEEDED (it should not)"
            except ClientError as exc:
                error = exc.response.get("Error", {})
                refused = error.get("Code") == "AccessDenied"
                detail = f"iam create-user: {error.get('Code')}: {error.get('Message')}"
            step(
                DemoStep(
                    "enforce",
                    f"{DEMO_DEVELOPER} took Developer (PowerUserAccess) in acme-dev and "
                    "tried to create an IAM user",
                    (f"sts get-caller-identity: {bob_arn}", detail),
                    {"arn": bob_arn, "refused": refused},
                    ok=refused,
                )
            )

            # -- audit: what is still long-lived ---------------------------------------
            step(_audit_step(spec, info.connector()))
        finally:
            lab.stop()
    report.seconds = time.monotonic() - started
    return report


def _tampered_step(
    saml_b64: str,
    spec: FederationSpec,
    sts_kwargs: dict[str, Any],
    boto3: Any,
    client_error: type[Exception],
) -> DemoStep:
    """Rewrite alice's signed assertion to name the management account's ReadOnly role."""
    management = spec.management_account or spec.accounts[0]
    prod = spec.account("acme-prod") or spec.accounts[-1]
    xml = base64.b64decode(saml_b64)
    provider = spec.identity_provider.saml_provider_name
    target_role = f"arn:aws:iam::{management.id}:role/ReadOnly"
    target_provider = f"arn:aws:iam::{management.id}:saml-provider/{provider}"
    tampered = xml.replace(
        f"arn:aws:iam::{prod.id}:role/OktaAdminRole".encode(), target_role.encode()
    ).replace(f"arn:aws:iam::{prod.id}:saml-provider/{provider}".encode(), target_provider.encode())
    sts = boto3.client("sts", **sts_kwargs)
    try:
        sts.assume_role_with_saml(
            RoleArn=target_role,
            PrincipalArn=target_provider,
            SAMLAssertion=base64.b64encode(tampered).decode(),
        )
        refused, detail = False, "AssumeRoleWithSAML SUCCEEDED (it must not)"
    except client_error as exc:
        error = getattr(exc, "response", {}).get("Error", {})
        refused = error.get("Code") == "InvalidIdentityToken"
        detail = f"AssumeRoleWithSAML: {error.get('Code')}: {error.get('Message')}"
    return DemoStep(
        "tamper",
        "An assertion edited to name ReadOnly in the management account is refused by STS",
        (f"role in the edited assertion: {target_role}", detail),
        {"refused": refused},
        ok=refused,
    )


def _audit_step(spec: FederationSpec, connector: Any) -> DemoStep:
    """Static access keys left in every account (what `keyless audit` tracks)."""
    found: list[dict[str, str]] = []
    for account in spec.accounts:
        iam = connector.iam(account).client
        for page in iam.get_paginator("list_users").paginate():
            for user in page["Users"]:
                keys = iam.list_access_keys(UserName=user["UserName"])["AccessKeyMetadata"]
                for key in keys:
                    if key.get("Status") == "Active":
                        found.append(
                            {
                                "account": account.alias,
                                "user": user["UserName"],
                                "access_key_id": mask(key["AccessKeyId"]),
                            }
                        )
    principal = spec.provisioning_principal
    provisioning = principal.name if principal is not None else None
    people = [k for k in found if k["user"] not in (provisioning, "lab-admin")]
    lines = [f"{k['account']:<16} {k['user']:<22} {k['access_key_id']}" for k in found]
    lines.append(
        "static access keys for people: "
        + ("none" if not people else ", ".join(k["user"] for k in people))
        + "; only the lab's bootstrap administrator (lab-admin, your own admin login in a "
        "real organization) may hold one"
        + (
            f", and the IdP's role-listing principal ({provisioning}, once its key is created)"
            if provisioning
            else " (group mapping: no role-listing principal, no key for the federation)"
        )
    )
    return DemoStep(
        "audit",
        "Audit: long-lived access keys left",
        tuple(lines),
        {"static_keys": found},
        ok=not people,
    )
