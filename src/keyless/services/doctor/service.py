"""``keyless doctor``: read what a profile meets, and let :mod:`.checks` judge it.

It never signs in and never asks anything: Okta is asked for its engine (one
unauthenticated ``GET``, whose ``Date`` header and TLS are checked too), the
AWS endpoint for its ``Date`` and TLS, the AWS app's settings only with an admin
API token the environment or keyring already holds, and a fresh assertion only
through the profile's kept Okta session (or the device flow's kept tokens). Each
role's ``MaxSessionDuration`` comes from IAM ``GetRole`` with the profile's cached
credentials where they may read it, else from the spec, else it is unknown.

Every piece of I/O is in :class:`DoctorPorts`; :func:`default_ports` builds the
real ones.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from keyless.adapters.probe import ProbeAnswer
from keyless.core.aws import ca_bundle_for
from keyless.core.credentials import AwsCredentials, Clock, utcnow
from keyless.errors import ConfigError, DeniedError, KeylessError
from keyless.saml.model import RolePair
from keyless.services.doctor.checks import (
    NOT_EVALUATED,
    OK,
    PROBLEM,
    SIGV4_SKEW,
    Check,
    RoleLimits,
    app_check,
    chained_check,
    clock_check,
    engine_check,
    exit_status,
    not_evaluated,
    role_check,
    tls_check,
)
from keyless.services.login.assertion import UnverifiedAssertion, read_unverified_assertion
from keyless.services.login.okta_flows import app_id_of, choose_flow
from keyless.services.login.profiles import Settings
from keyless.services.login.roles import SpecHints
from keyless.services.login.service import MAX_CLOCK_SKEW

SAML_LIMIT = (
    "AWS accepts a SAML assertion only within minutes of Okta's IssueInstant, and "
    "`keyless login` refuses one more than 5 minutes from this clock"
)
SIGV4_LIMIT = "AWS refuses a signed request more than 5 minutes from its time stamp (SigV4)"


@dataclass
class DoctorPorts:
    """Everything the doctor reads, as functions (a test hands in its own)."""

    # GET url trusting a CA bundle (None: the bundled CAs)
    probe: Callable[[str, str | None], ProbeAnswer]
    # the AWS app's settings.app; ConfigError when no admin credentials are at hand
    app_settings: Callable[[Settings, str], dict[str, Any]]
    # a fresh assertion through what is kept for the flow; LoginRequiredError otherwise
    assertion: Callable[[Settings, str], UnverifiedAssertion]
    # a role's MaxSessionDuration with a session's credentials; DeniedError when refused
    role_max: Callable[[AwsCredentials, str, Settings], int]
    # the profile's cached credentials (credential_process), or None
    cached_credentials: Callable[[str], AwsCredentials | None]
    # the AWS config file's profiles: section name -> keys
    aws_profiles: Callable[[], dict[str, dict[str, str]]]
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    clock: Clock = utcnow


@dataclass
class DoctorReport:
    """Every check, in order, and each role's session."""

    profile: str
    checks: list[Check]
    roles: list[dict[str, Any]]
    chained: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No problem found (warnings and checks not evaluated do not fail)."""
        return exit_status(self.checks)

    def as_dict(self) -> dict[str, Any]:
        """The ``--json`` document: ``profile``, ``ok``, ``checks``, ``roles``, ``chained``."""
        return {
            "profile": self.profile,
            "ok": self.ok,
            "checks": [check.as_dict() for check in self.checks],
            "roles": self.roles,
            "chained": self.chained,
        }


def _skew(answer: ProbeAnswer) -> Any:
    if answer.server_date is None or answer.local_date is None:
        return None
    return answer.local_date - answer.server_date


def _unreachable(answer: ProbeAnswer) -> str | None:
    return answer.error.message if answer.error is not None else None


def _ca_fix(settings: Settings, host: str) -> str:
    return (
        f"point the profile at the CA bundle that signs {host}: `keyless configure --profile "
        f"{settings.profile} --ca-bundle FILE` (a private CA such as the lab's: the file "
        "`keyless lab status` names); without --ca-bundle keyless trusts the public CAs"
    )


def diagnose(settings: Settings, ports: DoctorPorts) -> DoctorReport:
    """Run every check for ``settings``' profile (never prompts, never signs in)."""
    org_url, _ = settings.require_org()
    checks: list[Check] = []
    org_host = urllib.parse.urlsplit(org_url).hostname or org_url
    okta = ports.probe(org_url.rstrip("/") + "/.well-known/okta-organization", settings.ca_bundle)
    checks.append(
        tls_check(
            "okta.tls",
            "the Okta org",
            okta.url,
            bundle=settings.ca_bundle,
            bundle_source="the profile's ca_bundle" if settings.ca_bundle else "no ca_bundle set",
            error=_unreachable(okta),
            tls_error=okta.tls_error,
            fix=_ca_fix(settings, org_host),
        )
    )
    checks.append(
        clock_check(
            "okta.clock",
            "Okta",
            _skew(okta),
            limit=MAX_CLOCK_SKEW,
            limit_reason=SAML_LIMIT,
            unreachable=_unreachable(okta),
        )
    )
    said = okta.body.get("pipeline") if isinstance(okta.body, dict) else None
    pipeline = said if isinstance(said, str) else None
    answered = okta.error is None
    checks.append(engine_check(settings, pipeline, answered=answered))
    checks.extend(_aws_checks(settings, ports))

    flow: str | None = None
    if answered:
        try:
            flow = choose_flow(settings, lambda: pipeline)
        except KeylessError:
            flow = None  # okta.engine says why
    unverified: UnverifiedAssertion | None = None
    page_check: Check | None = None
    if flow is None:
        page_check = not_evaluated(
            "session.roles", "no sign-in flow fits this profile (see okta.engine and okta.tls)"
        )
    else:
        try:
            unverified = ports.assertion(settings, flow)
        except KeylessError as exc:
            page_check = not_evaluated(
                "session.roles",
                f"the roles and their sessions need a fresh assertion and doctor never signs "
                f"in: {exc.message}",
                exc.fix,
            )
    providers = (
        tuple(sorted({pair.principal_arn for pair in unverified.roles})) if unverified else ()
    )
    checks.append(_app(settings, ports, providers=providers, flow=flow, answered=answered))
    roles: list[dict[str, Any]] = []
    chained: list[dict[str, Any]] = []
    if unverified is None:
        assert page_check is not None
        checks.append(page_check)
    elif not unverified.roles:
        checks.append(
            Check(
                "session.roles",
                PROBLEM,
                "Okta's assertion for this profile names no AWS role",
                "ask your Okta administrator to map one of your groups to an AWS role",
            )
        )
    else:
        hints = SpecHints.load(settings.spec)
        limits = _role_limits(settings, ports, unverified.roles, hints)
        for role in limits:
            check, _ = role_check(
                settings,
                role,
                session_duration=unverified.session_duration,
                spec_known=bool(settings.spec),
            )
            checks.append(check)
            roles.append({"label": role.label, **check.details, "status": check.status})
    for name, values in ports.aws_profiles().items():
        source = values.get("source_profile")
        if source in (settings.profile, settings.credentials_profile) and values.get("role_arn"):
            profile = name.removeprefix("profile ").strip()
            seconds = values.get("duration_seconds")
            check, _ = chained_check(
                source,
                profile,
                values["role_arn"],
                int(seconds) if seconds and seconds.isdigit() else None,
            )
            checks.append(check)
            chained.append({**check.details, "status": check.status})
    return DoctorReport(settings.profile, checks, roles, chained)


def _aws_checks(settings: Settings, ports: DoctorPorts) -> list[Check]:
    from keyless.adapters.sts import default_endpoint

    endpoint = settings.aws_endpoint_url or default_endpoint(settings.region or "us-east-1")
    host = urllib.parse.urlsplit(endpoint).hostname or endpoint
    own = ca_bundle_for(settings.aws_endpoint_url, settings.ca_bundle)
    sts = ports.probe(endpoint, own)
    checks = [
        tls_check(
            "aws.tls",
            "the AWS endpoint (keyless's STS calls)",
            endpoint,
            bundle=own,
            bundle_source="the profile's ca_bundle" if own else "no ca_bundle for this endpoint",
            error=_unreachable(sts),
            tls_error=sts.tls_error,
            fix=_ca_fix(settings, host),
        ),
        clock_check(
            "aws.clock",
            "AWS",
            _skew(sts),
            limit=SIGV4_SKEW,
            limit_reason=SIGV4_LIMIT,
            unreachable=_unreachable(sts),
        ),
    ]
    # The AWS CLI and SDKs choose their own bundle: AWS_CA_BUNDLE wins over the profile's.
    from keyless.adapters.credentials_file import config_section

    section = ports.aws_profiles().get(config_section(settings.profile)) or {}
    if ports.environ.get("AWS_CA_BUNDLE"):
        cli_bundle: str | None = ports.environ["AWS_CA_BUNDLE"]
        cli_source = "AWS_CA_BUNDLE"
        cli_fix = f"unset AWS_CA_BUNDLE, or point it at the CA that signs {host}" + (
            f" ({own})" if own else ""
        )
    else:
        cli_bundle = section.get("ca_bundle")
        cli_source = f"ca_bundle in [{config_section(settings.profile)}] of the AWS config"
        cli_fix = _ca_fix(settings, host) + " (it rewrites the AWS config's ca_bundle)"
        if not cli_bundle:
            cli_source = "the AWS CLI's bundled CAs"
    if cli_bundle == own or (not cli_bundle and not own):
        checks.append(
            Check(
                "aws.cli-ca",
                OK,
                f"the AWS CLI and SDKs trust the same CA bundle as keyless ({cli_source})",
                None,
                {"ca_bundle": cli_bundle, "ca_bundle_source": cli_source},
            )
        )
    else:
        cli = ports.probe(endpoint, cli_bundle)
        checks.append(
            tls_check(
                "aws.cli-ca",
                "the AWS endpoint (the AWS CLI's and SDKs' calls)",
                endpoint,
                bundle=cli_bundle,
                bundle_source=cli_source,
                error=_unreachable(cli),
                tls_error=cli.tls_error,
                fix=cli_fix,
            )
        )
    return checks


def _app(
    settings: Settings,
    ports: DoctorPorts,
    *,
    providers: tuple[str, ...],
    flow: str | None,
    answered: bool,
) -> Check:
    if not answered:
        return not_evaluated("okta.app", "the Okta org gave no answer (see okta.tls)")
    app_id = app_id_of(settings)
    if app_id is None:
        return not_evaluated(
            "okta.app",
            f"the AWS app's id cannot be read from {settings.app_url}",
            f"`keyless configure --profile {settings.profile} --aws-app-id 0oa...`",
        )
    try:
        app_settings = ports.app_settings(settings, app_id)
    except ConfigError:
        host = urllib.parse.urlsplit(settings.org_url or "").hostname
        return not_evaluated(
            "okta.app",
            "reading the AWS app's settings needs an Okta admin API token (okta.apps.read), "
            "and a person's sign-in cannot read them; none is set",
            f"export KEYLESS_OKTA_API_TOKEN=<token> or keep it in the keyring as "
            f"okta-api-token:{host}",
        )
    except KeylessError as exc:
        return not_evaluated("okta.app", f"Okta did not give the app's settings: {exc.message}")
    return app_check(settings, app_settings, providers_in_assertion=providers, flow=flow)


def _role_limits(
    settings: Settings,
    ports: DoctorPorts,
    pairs: tuple[RolePair, ...],
    hints: SpecHints,
) -> list[RoleLimits]:
    cached = ports.cached_credentials(settings.profile)
    if cached is not None and cached.seconds_left(ports.clock()) <= 0:
        cached = None
    cached_account = None
    if cached is not None:
        cached_account = cached.account_id or (
            RolePair(cached.role_arn, "").account_id if cached.role_arn else None
        )
    found: list[RoleLimits] = []
    for pair in pairs:
        spec_limit = hints.max_durations.get((pair.account_id, pair.role_name))
        limit: int | None = None
        why = "no spec in the profile and no credentials of this account to read it with"
        if cached is not None and cached_account == pair.account_id:
            try:
                limit, why = ports.role_max(cached, pair.role_name, settings), "iam:GetRole"
            except DeniedError as exc:
                why = f"{exc.message}; the spec names none" if spec_limit is None else "spec"
            except KeylessError as exc:
                why = exc.message
        elif cached is None:
            why = (
                "no live credentials of this profile to read it with "
                f"(`keyless login --profile {settings.profile}`)"
            )
        if limit is None and spec_limit is not None:
            limit, why = spec_limit, "spec"
        found.append(
            RoleLimits(
                role_arn=pair.role_arn,
                account_id=pair.account_id,
                label=hints.label(pair),
                max_session_duration=limit,
                max_source=why,
                spec_limit=spec_limit,
            )
        )
    return found


# -- the real ports --------------------------------------------------------------------------


def default_ports() -> DoctorPorts:
    """The ports over the real world: HTTPS, the keyring, the caches, boto3."""
    from keyless.adapters.credential_cache import CredentialCache
    from keyless.adapters.credentials_file import aws_config_path, read_ini
    from keyless.adapters.probe import probe_url

    def aws_profiles() -> dict[str, dict[str, str]]:
        document = read_ini(aws_config_path())
        return {section.name: document.get(section.name) or {} for section in document.sections}

    return DoctorPorts(
        probe=lambda url, bundle: probe_url(url, bundle),
        app_settings=_read_app_settings,
        assertion=_kept_assertion,
        role_max=_read_role_max,
        cached_credentials=CredentialCache().load,
        aws_profiles=aws_profiles,
    )


def _read_app_settings(settings: Settings, app_id: str) -> dict[str, Any]:
    from keyless.adapters.okta_admin import (
        OktaAdminClient,
        credentials_from_env,
        make_admin_http,
        okta_object,
    )
    from keyless.services import compose

    org_url, _ = settings.require_org()
    auth = credentials_from_env(
        method="api_token",
        keyring_get=lambda key: compose.secret_store().get(key),
        org_url=org_url,
    )
    client = OktaAdminClient(org_url, auth, http=make_admin_http(ca_bundle=settings.ca_bundle))
    try:
        document = client.get_app(app_id)
    finally:
        client.close()
    return dict(okta_object(okta_object(document.get("settings")).get("app")))


def _kept_assertion(settings: Settings, flow: str) -> UnverifiedAssertion:
    """A fresh assertion asking nothing: the kept Okta session (Classic) or the kept
    tokens (device flow); LoginRequiredError when a person would be needed."""
    from keyless.services.login.wiring import fetch_assertion_with_kept_session

    if flow != "device":
        return fetch_assertion_with_kept_session(settings)[1]
    from keyless.adapters.okta import OktaClient
    from keyless.adapters.okta_oauth import OktaOAuthClient
    from keyless.adapters.terminal import NonInteractivePrompter
    from keyless.services import compose
    from keyless.services.login.okta_device import DeviceFlowPages
    from keyless.services.login.okta_signin import LoginInputs
    from keyless.services.login.wiring import okta_api

    secrets = compose.secret_store()
    with okta_api(settings, secrets=secrets) as okta:
        assert isinstance(okta, OktaClient)
        # Behind nobody's screen: expired tokens raise LoginRequiredError, no device code.
        pages = DeviceFlowPages(OktaOAuthClient(okta), secrets, person_reads_output=False)
        prompter = NonInteractivePrompter(mode="credential-process", profile=settings.profile)
        return read_unverified_assertion(pages(settings, prompter, LoginInputs()).first)[1]


def _read_role_max(credentials: AwsCredentials, role_name: str, settings: Settings) -> int:
    from keyless.adapters.probe import role_max_session_duration

    return role_max_session_duration(
        credentials,
        role_name,
        region=settings.region or "us-east-1",
        endpoint_url=settings.aws_endpoint_url,
        ca_bundle=settings.ca_bundle,
    )


__all__ = ["NOT_EVALUATED", "DoctorPorts", "DoctorReport", "default_ports", "diagnose"]
