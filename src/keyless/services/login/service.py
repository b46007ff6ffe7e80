"""``keyless login``, orchestrated: SAML page, role, AssumeRoleWithSAML, credentials files.

Every piece of I/O is a port handed in (:mod:`keyless.core.ports`); the
defaults are built in :mod:`keyless.services.login.wiring`, which is also the only
writer of the credential_process cache. The flow:

1. a :class:`~keyless.services.login.okta_session.SamlPageSource` gives the AWS
   app's SAML form page — through a kept Okta session (nothing asked), or
   after a sign-in (:mod:`keyless.services.login.okta_signin`), or through
   Identity Engine's device flow (:mod:`keyless.services.login.okta_device`);
2. the page's roles are read, unverified (:mod:`keyless.services.login.assertion`);
   an assertion issued more than five minutes away from this clock is refused
   here with a fix, before AWS refuses it with a puzzle;
3. a role is picked (:mod:`keyless.services.login.roles`) by ``--role``/``--account``
   (alias from the spec, or id) or by the person;
4. ``AssumeRoleWithSAML`` through the :class:`~keyless.core.ports.StsApi` for
   the role's partition (or the configured endpoint), the duration capped by
   the assertion's ``SessionDuration`` and the spec's limit
   (:func:`keyless.core.session_length.session_length`, the rule ``keyless doctor``
   explains), and retried at the role's limit on AWS's MaxSessionDuration error;
5. the credentials go to a credentials-file profile that is never the
   credential_process profile (static keys there would shadow it); with
   ``--all-roles``, each role gets a ``credential_process`` profile of its own
   in ``~/.aws/config`` instead, which refreshes itself;
6. a role named by ``--role``/``--account``, or picked by the person who
   says to remember it, is recorded in the keyless profile.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta

from keyless.adapters.credentials_file import (
    aws_config_path,
    aws_credentials_path,
    read_ini,
    write_credentials_profile,
)
from keyless.core.aws import PARTITION_REGION, partition_of
from keyless.core.credentials import AwsCredentials, Clock, utcnow
from keyless.core.ports import Prompter, StsApi, StsError, StsFactory
from keyless.core.session_length import (
    MAX_SESSION_DURATION,
    retry_after_refusal,
    session_length,
)
from keyless.errors import DeniedError, KeylessError, RemoteError
from keyless.saml.model import RolePair
from keyless.services.login.access import RoleProfile, check_role_profiles, write_role_profiles
from keyless.services.login.assertion import UnverifiedAssertion, read_unverified_assertion
from keyless.services.login.okta_session import SamlPageSource
from keyless.services.login.okta_signin import LoginInputs
from keyless.services.login.profiles import Settings, config_path, remember_role
from keyless.services.login.roles import (
    SpecHints,
    cached_role,
    role_setting,
    select_roles,
    written_profile_name,
)

# AWS accepts an assertion within its NotBefore/NotOnOrAfter window with a
# few minutes' leeway; beyond this, this computer's clock is the problem.
MAX_CLOCK_SKEW = timedelta(minutes=5)

_SIGNIN_REGION = re.compile(r"^https://(?P<region>[a-z]{2}(-[a-z]+)+-\d)\.signin\.")


@dataclass(frozen=True)
class RoleLogin:
    """One role's credentials from one login."""

    role: RolePair
    account_alias: str | None
    credentials: AwsCredentials
    duration: int
    written_profile: str | None


@dataclass
class LoginResult:
    """What :func:`login` did: the roles taken, where credentials went, what it reused."""

    profile: str
    logins: list[RoleLogin]
    session_reused: bool
    okta_login: str | None
    notes: list[str] = field(default_factory=list)
    cached: RoleLogin | None = None  # the role the profile's credential_process answers with
    recorded_role: tuple[str, str] | None = None  # (role, account) now in the keyless profile

    @property
    def credentials(self) -> AwsCredentials:
        """The (first) role's credentials."""
        return self.logins[0].credentials

    def as_dict(self) -> dict[str, object]:
        """The ``--json`` document (no secrets)."""
        return {
            "profile": self.profile,
            "okta_session_reused": self.session_reused,
            "okta_login": self.okta_login,
            "notes": self.notes,
            "recorded_role": (
                None
                if self.recorded_role is None
                else {"role": self.recorded_role[0], "account": self.recorded_role[1]}
            ),
            "roles": [
                {
                    "role_arn": item.role.role_arn,
                    "principal_arn": item.role.principal_arn,
                    "account_id": item.role.account_id,
                    "account_alias": item.account_alias,
                    "duration": item.duration,
                    "expiration": item.credentials.expiration_text,
                    "source_identity": item.credentials.source_identity,
                    "written_profile": item.written_profile,
                }
                for item in self.logins
            ],
        }


def sts_target(role: RolePair, signin_url: str, settings: Settings) -> tuple[str, str | None]:
    """The region and endpoint for the STS call: configured, or from the ARN and sign-in URL."""
    region = settings.region
    if region is None:
        found = _SIGNIN_REGION.match(signin_url)
        partition = partition_of(role.role_arn)
        region = found["region"] if found else PARTITION_REGION.get(partition, "us-east-1")
    return region, settings.aws_endpoint_url


def _assume(
    sts: StsApi, role: RolePair, saml_b64: str, duration: int, hints: SpecHints
) -> AwsCredentials:
    try:
        credentials = sts.assume_role_with_saml(
            role_arn=role.role_arn,
            principal_arn=role.principal_arn,
            saml_assertion=saml_b64,
            duration_seconds=duration,
        )
    except StsError as exc:
        raise _sts_error(exc.code, exc.message, role, hints) from exc
    return replace(
        credentials,
        role_arn=role.role_arn,
        account_id=role.account_id,
        account_alias=hints.aliases.get(role.account_id),
    )


class _DurationTooLongError(DeniedError):
    pass


def _sts_error(code: str, message: str, role: RolePair, hints: SpecHints) -> KeylessError:
    name = hints.label(role)
    if code == "ValidationError" and "MaxSessionDuration" in message:
        return _DurationTooLongError(f"AWS: {message}", fix="use a shorter --duration")
    if code == "ExpiredTokenException":
        return DeniedError(
            f"AWS refused the assertion for {name} as expired ({code}: {message})",
            fix="check this computer's clock (e.g. `timedatectl set-ntp true`) and log in again",
        )
    if code == "AccessDenied":
        return DeniedError(
            f"AWS refused role {name} ({code}: {message})",
            fix=f"check that {role.role_arn} trusts {role.principal_arn} for "
            "sts:AssumeRoleWithSAML with this sign-in URL, and for sts:SetSourceIdentity when "
            "Okta sends a SourceIdentity (`keyless apply` writes both; `keyless saml verify` "
            "explains why)",
        )
    if code in ("InvalidIdentityToken", "IDPRejectedClaim"):
        return DeniedError(
            f"AWS refused the assertion for {name} ({code}: {message})",
            fix="check that the account's SAML provider holds the IdP's current metadata "
            "(`keyless apply` updates it)",
        )
    return RemoteError(f"AWS STS failed for {name} ({code}: {message})", fix="retry")


def login(
    settings: Settings,
    *,
    pages: SamlPageSource,
    sts: StsFactory,
    prompter: Prompter,
    inputs: LoginInputs | None = None,
    all_roles: bool = False,
    write_files: bool = True,
    record_role: bool = False,
    clock: Clock = utcnow,
) -> LoginResult:
    """Get the SAML page, take the role(s), write the credentials files.

    ``write_files`` writes the credentials-file profile, or with ``all_roles``
    a ``credential_process`` profile per role in ``~/.aws/config``
    (:func:`~keyless.services.login.access.write_role_profiles`).
    ``record_role`` (``--role``/``--account`` were given) records the role
    taken in the keyless profile; a role the person picks is recorded if they
    say so. Either way later logins and ``credential-process`` take it without
    asking. The result names
    the role whose credentials the profile's cache should hold
    (:attr:`LoginResult.cached`); storing them is the caller's
    (:func:`keyless.services.login.wiring.login_and_cache`). Raises KeylessError
    subclasses with a fix.
    """
    settings.require_org()
    inputs = inputs or LoginInputs()
    hints = SpecHints.load(settings.spec)
    if write_files:
        # A corrupt credentials or config file is reported before anyone signs in.
        read_ini(aws_credentials_path())
        read_ini(aws_config_path())
    notes: list[str] = []
    got = pages(settings, prompter, inputs)
    saml_b64, unverified = read_unverified_assertion(got.first)
    notes.extend(unverified.notes)
    _check_clock(unverified, clock)
    if not unverified.roles:
        raise DeniedError(
            f"Okta's assertion for {got.login or 'this user'} names no AWS role",
            fix="ask your Okta administrator to map one of your groups to an AWS role",
        )
    remember = False
    if all_roles:
        chosen = list(unverified.roles)
    else:
        choice = select_roles(
            unverified.roles,
            role=settings.role,
            account=settings.account,
            hints=hints,
            prompter=prompter,
            profile=settings.profile,
        )
        chosen = [choice.pair]
        # Asked right after the pick, recorded only once AWS has given the role.
        remember = record_role or (
            choice.picked and _wants_it_remembered(prompter, settings, hints.label(choice.pair))
        )
    role_profiles: list[RoleProfile] = []
    if all_roles and write_files:
        # Names that clash with a person's own profiles are refused before AWS is asked.
        check_role_profiles(
            settings.profile,
            [written_profile_name(settings, pair, hints, all_roles=True) for pair in chosen],
        )
    logins: list[RoleLogin] = []
    for index, pair in enumerate(chosen):
        if index > 0:
            # A fresh assertion per role: an STS that refuses replays (the
            # lab's does) must not see the same assertion twice.
            saml_b64, unverified = read_unverified_assertion(got.fetch())
        credentials, duration = _assume_with_limit(
            settings,
            pair,
            saml_b64,
            unverified,
            hints,
            sts,
            notes,
            refetch=lambda: read_unverified_assertion(got.fetch())[0],
        )
        written = None
        region, endpoint = sts_target(pair, unverified.signin_url, settings)
        if write_files:
            written = written_profile_name(settings, pair, hints, all_roles=all_roles)
            if all_roles:
                role_profiles.append(RoleProfile(written, pair, region, endpoint))
            else:
                write_credentials_profile(
                    written,
                    credentials,
                    keyless_profile=settings.profile,
                    region=region,
                    endpoint_url=endpoint,
                    ca_bundle=settings.ca_bundle,
                )
        logins.append(
            RoleLogin(pair, hints.aliases.get(pair.account_id), credentials, duration, written)
        )
    if role_profiles:
        write_role_profiles(settings, role_profiles)
    to_cache = cached_role([item.role for item in logins], settings, hints, all_roles=all_roles)
    recorded = None
    if (remember or (record_role and all_roles)) and to_cache is not None:
        role, account = role_setting(to_cache, hints)
        remember_role(settings.profile, role=role, account=account)
        recorded = (role, account)
        notes.append(
            f"profile {settings.profile} now takes {role} in {account} without asking "
            f"(recorded in {config_path()})"
        )
    return LoginResult(
        profile=settings.profile,
        logins=logins,
        session_reused=got.reused,
        okta_login=got.login,
        notes=notes,
        cached=next((item for item in logins if item.role == to_cache), None),
        recorded_role=recorded,
    )


def _wants_it_remembered(prompter: Prompter, settings: Settings, label: str) -> bool:
    """Ask whether the role just picked should be the profile's from now on (default yes)."""
    question = (
        f"Remember {label} for profile {settings.profile}, so later logins and "
        "credential-process take it without asking? [Y/n]"
    )
    while True:
        answer = prompter.ask(question).strip().lower()
        if answer in ("", "y", "yes"):
            return True
        if answer in ("n", "no"):
            return False
        prompter.notify("  answer y or n")


def _check_clock(unverified: UnverifiedAssertion, clock: Clock) -> None:
    if unverified.issue_instant is None:
        return
    skew = clock() - unverified.issue_instant
    if abs(skew) > MAX_CLOCK_SKEW:
        minutes = abs(skew).total_seconds() / 60
        direction = "ahead of" if skew.total_seconds() > 0 else "behind"
        raise DeniedError(
            f"this computer's clock is {minutes:.0f} minutes {direction} Okta's; "
            "AWS would refuse the assertion as expired or not yet valid",
            fix="set the clock right (e.g. `sudo timedatectl set-ntp true`) and log in again",
        )


def _assume_with_limit(
    settings: Settings,
    pair: RolePair,
    saml_b64: str,
    unverified: UnverifiedAssertion,
    hints: SpecHints,
    sts_factory: StsFactory,
    notes: list[str],
    *,
    refetch: Callable[[], str],
) -> tuple[AwsCredentials, int]:
    limit = hints.max_durations.get((pair.account_id, pair.role_name))
    length = session_length(
        requested=settings.duration,
        session_duration=unverified.session_duration,
        max_session_duration=limit,
    )
    duration = length.seconds
    if length.session_duration and length.wanted > length.session_duration:
        notes.append(
            f"asked for {length.wanted} s; the IdP's SessionDuration allows "
            f"{length.session_duration} s"
        )
    if length.deciding == MAX_SESSION_DURATION:
        notes.append(f"{hints.label(pair)} allows at most {limit} s; asked for that")
    region, endpoint = sts_target(pair, unverified.signin_url, settings)
    sts = sts_factory(region, endpoint)
    try:
        return _assume(sts, pair, saml_b64, duration, hints), duration
    except _DurationTooLongError:
        # Without the spec's word on the role, retry at AWS's default MaxSessionDuration.
        retry_at = retry_after_refusal(duration, limit)
        if retry_at is None:
            raise
        notes.append(
            f"{hints.label(pair)} refused {duration} s (its MaxSessionDuration is lower); "
            f"retried with {retry_at} s"
        )
        return _assume(sts, pair, refetch(), retry_at, hints), retry_at
