"""The decisions of ``keyless doctor``, as pure functions of what was read.

Each returns a :class:`Check`: ``ok``, ``warning``, ``problem`` (the command
exits 1 when any check is one) or ``not evaluated`` (with why), a summary for
people, the fix, and ``details`` for ``--json``. Nothing here does I/O; the
service (:mod:`keyless.services.doctor.service`) reads and hands the answers in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from keyless.core.aws import MAX_SESSION_SECONDS
from keyless.core.session_length import (
    AWS_DEFAULT,
    CHAINED_SESSION_SECONDS,
    MAX_SESSION_DURATION,
    REQUESTED,
    ROLE_CHAINING,
    SESSION_DURATION,
    SessionLength,
    retry_after_refusal,
    session_length,
)
from keyless.errors import KeylessError
from keyless.services.login.okta_flows import DEVICE_SETUP, choose_flow
from keyless.services.login.profiles import Settings

Status = Literal["ok", "warning", "problem", "not evaluated"]
OK: Status = "ok"
WARNING: Status = "warning"
PROBLEM: Status = "problem"
NOT_EVALUATED: Status = "not evaluated"

# Below this a clock is as right as a Date header (whole seconds) and a round trip can tell.
CLOCK_TOLERANCE = timedelta(seconds=30)
# AWS's Signature Version 4: "In most cases, a request must reach AWS within five minutes
# of the time stamp in the request" (IAM User Guide, "AWS Signature Version 4 for API
# requests", https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_aws-signing.html).
SIGV4_SKEW = timedelta(minutes=5)
CLOCK_FIX = "set the clock right and keep it synchronised (e.g. `sudo timedatectl set-ntp true`)"


@dataclass(frozen=True)
class Check:
    """One finding of the doctor."""

    id: str
    status: Status
    summary: str
    fix: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The ``--json`` shape: the same keys for every check."""
        return {
            "id": self.id,
            "status": self.status,
            "summary": self.summary,
            "fix": self.fix,
            "details": self.details,
        }


def not_evaluated(check_id: str, why: str, fix: str | None = None) -> Check:
    """A check that could not run, and why."""
    return Check(check_id, NOT_EVALUATED, why, fix)


def _duration(seconds: float) -> str:
    seconds = abs(round(seconds))
    if seconds < 120:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def hours(seconds: int) -> str:
    """``3600 s (1h00m)``: the exact number and the reading."""
    minutes = seconds // 60
    return f"{seconds} s ({minutes // 60}h{minutes % 60:02d}m)"


# -- clock ---------------------------------------------------------------------------------


def clock_check(
    check_id: str,
    service: str,
    skew: timedelta | None,
    *,
    limit: timedelta,
    limit_reason: str,
    unreachable: str | None = None,
) -> Check:
    """This computer's clock against ``service``'s (``skew`` = ours minus theirs).

    A problem at ``limit`` (the service refuses), a warning beyond
    :data:`CLOCK_TOLERANCE` (synchronised clocks agree within seconds).
    """
    if unreachable is not None:
        return not_evaluated(check_id, f"{service} gave no answer ({unreachable})")
    if skew is None:
        return not_evaluated(check_id, f"{service} sent no Date header")
    seconds = skew.total_seconds()
    direction = "ahead of" if seconds > 0 else "behind"
    details = {
        "skew_seconds": round(seconds, 1),
        "limit_seconds": int(limit.total_seconds()),
        "limit": limit_reason,
    }
    where = f"this computer's clock is {_duration(seconds)} {direction} {service}'s"
    limit_text = f"limit {_duration(limit.total_seconds())}: {limit_reason}"
    if abs(skew) >= limit:
        return Check(check_id, PROBLEM, f"{where} ({limit_text})", CLOCK_FIX, details)
    if abs(skew) > CLOCK_TOLERANCE:
        return Check(check_id, WARNING, f"{where} ({limit_text})", CLOCK_FIX, details)
    return Check(
        check_id, OK, f"within {_duration(seconds)} of {service}'s ({limit_text})", None, details
    )


# -- TLS -----------------------------------------------------------------------------------


def tls_check(
    check_id: str,
    service: str,
    url: str,
    *,
    bundle: str | None,
    bundle_source: str,
    error: str | None,
    tls_error: bool,
    fix: str,
) -> Check:
    """Whether TLS to ``url`` verifies with ``bundle`` (None: the CAs keyless ships)."""
    used = f"{bundle} ({bundle_source})" if bundle else f"the bundled public CAs ({bundle_source})"
    details = {"url": url, "ca_bundle": bundle, "ca_bundle_source": bundle_source}
    if error is None:
        return Check(check_id, OK, f"TLS to {service} verifies with {used}", None, details)
    if tls_error:
        return Check(
            check_id,
            PROBLEM,
            f"TLS to {service} ({url}) does not verify with {used}: {error}",
            fix,
            details,
        )
    return Check(
        check_id,
        PROBLEM,
        f"{service} ({url}) cannot be reached: {error}",
        "check the URL, the network and VPN",
        details,
    )


# -- the org's engine and the profile's flow -----------------------------------------------

ENGINES = {"v1": "Classic", "idx": "Identity Engine"}


def engine_check(settings: Settings, pipeline: str | None, *, answered: bool) -> Check:
    """The org's engine (``pipeline`` of ``/.well-known/okta-organization``) against the
    flow the profile's ``auth_flow`` picks there (the login's own choice, reused)."""
    check_id = "okta.engine"
    wanted = settings.auth_flow or "auto"
    if not answered:
        return not_evaluated(check_id, "the Okta org gave no answer (see okta.tls)")
    try:
        flow = choose_flow(settings, lambda: pipeline)
    except KeylessError as exc:
        return Check(check_id, PROBLEM, exc.message, exc.fix, {"auth_flow": wanted})
    engine = ENGINES.get(pipeline or "")
    details = {"pipeline": pipeline, "engine": engine, "auth_flow": wanted, "flow": flow}
    named = f"{engine} (pipeline {pipeline})" if engine else "an engine it does not name"
    said = f"the org runs {named}; profile auth_flow {wanted} signs in with the {flow} flow"
    if engine is None:
        return Check(
            check_id,
            WARNING,
            f"{said}: /.well-known/okta-organization did not say which engine",
            "check the org URL (`keyless configure --org-url`)",
            details,
        )
    if flow == "device" and pipeline == "v1":
        return Check(
            check_id,
            PROBLEM,
            f"{said}, which needs Identity Engine: a Classic org has no device flow for apps",
            f"`keyless configure --profile {settings.profile} --auth-flow classic`",
            details,
        )
    if flow == "classic" and pipeline == "idx":
        fix = (
            f"`keyless configure --profile {settings.profile} --auth-flow device`"
            if settings.oidc_client_id
            else DEVICE_SETUP
        )
        return Check(
            check_id,
            WARNING,
            f"{said}: that works only while the AWS app has no authentication policy of its "
            "own (Identity Engine meets app policies only in its own sign-in)",
            fix,
            details,
        )
    return Check(check_id, OK, f"{said}: they fit", None, details)


# -- the AWS app as Okta reports it --------------------------------------------------------

APP_SETTINGS = (
    "sessionDuration",
    "identityProviderArn",
    "awsEnvironmentType",
    "loginURL",
    "joinAllRoles",
    "useGroupMapping",
    "webSSOAllowedClient",
)


def app_check(
    settings: Settings,
    app_settings: dict[str, Any],
    *,
    providers_in_assertion: tuple[str, ...],
    flow: str | None,
) -> Check:
    """The AWS app's ``settings.app`` as Okta's Apps API reports them."""
    shown = {key: app_settings.get(key) for key in APP_SETTINGS if key in app_settings}
    summary = ", ".join(f"{key}={value}" for key, value in shown.items()) or "no settings"
    listed = {arn.strip() for arn in str(app_settings.get("identityProviderArn") or "").split(",")}
    missing = sorted(arn for arn in providers_in_assertion if arn not in listed)
    if missing and app_settings.get("identityProviderArn"):
        return Check(
            "okta.app",
            WARNING,
            f"the app's identityProviderArn does not list {', '.join(missing)}, which the "
            f"assertion names ({summary})",
            "run `keyless apply` (it writes every account's provider), or add them in the "
            "app's Sign On settings",
            shown,
        )
    allowed = app_settings.get("webSSOAllowedClient")
    if (
        flow == "device"
        and settings.exchange != "interclient_token"
        and settings.oidc_client_id
        and allowed != settings.oidc_client_id
    ):
        return Check(
            "okta.app",
            PROBLEM,
            f"the app's Allowed Web SSO Client is {allowed or 'unset'}, not the profile's OIDC "
            f"app {settings.oidc_client_id}: the device flow's token exchange is refused",
            "set the AWS app's webSSOAllowedClient to the OIDC app's client id "
            "(`keyless apply` with okta.cli_client_id, or the app's Sign On settings)",
            shown,
        )
    return Check("okta.app", OK, summary, None, shown)


# -- how long each role's session lasts, and why -------------------------------------------


@dataclass(frozen=True)
class RoleLimits:
    """What is known about one role the assertion offers."""

    role_arn: str
    account_id: str
    label: str
    max_session_duration: int | None
    max_source: str  # "iam:GetRole", "spec", or why unknown
    spec_limit: int | None  # what keyless login knows before asking STS


def role_check(
    settings: Settings,
    role: RoleLimits,
    *,
    session_duration: int | None,
    spec_known: bool,
) -> tuple[Check, SessionLength]:
    """The session ``keyless login`` gets for ``role``, and which limit decides it.

    ``keyless login`` asks STS for :func:`session_length` under the limit it knows
    (the spec's); when the role's real MaxSessionDuration is lower, STS refuses and
    the login retries (:func:`retry_after_refusal`): the doctor follows the same steps.
    """
    length = session_length(
        requested=settings.duration,
        session_duration=session_duration,
        max_session_duration=role.max_session_duration,
    )
    asked = session_length(
        requested=settings.duration,
        session_duration=session_duration,
        max_session_duration=role.spec_limit,
    ).seconds
    retried: int | None = None
    if role.max_session_duration is not None and asked > role.max_session_duration:
        retried = retry_after_refusal(asked, role.spec_limit)
    details: dict[str, Any] = {
        "role_arn": role.role_arn,
        "account_id": role.account_id,
        "seconds": length.seconds,
        "deciding": length.deciding,
        "also": list(length.also),
        "requested": settings.duration,
        "session_duration": session_duration,
        "max_session_duration": role.max_session_duration,
        "max_session_duration_source": role.max_source,
        "asked_first": asked,
        "retried_with": retried,
    }
    limits = [f"requested {hours(settings.duration) if settings.duration else 'nothing'}"]
    limits.append(f"SessionDuration {hours(session_duration) if session_duration else 'not sent'}")
    limits.append(
        f"MaxSessionDuration {hours(role.max_session_duration)} ({role.max_source})"
        if role.max_session_duration is not None
        else f"MaxSessionDuration unknown ({role.max_source})"
    )
    check_id = f"session.{role.account_id}.{role.role_arn.rsplit('/', 1)[-1]}"
    seconds = length.seconds
    if retried is not None and retried != length.seconds:
        # keyless does not know the role's limit: it is refused, then takes AWS's default.
        seconds = retried
        details["seconds"] = retried
    text = f"{role.label}: {hours(seconds)}, decided by {length.deciding}"
    if length.also:
        text += f" (also {', '.join(length.also)})"
    text += "; " + ", ".join(limits)
    if retried is not None:
        text += (
            f"; keyless asks {asked} s first, STS refuses it (above MaxSessionDuration) and "
            f"the login retries with {retried} s"
        )
    if length.max_session_duration is None:
        text += "; the role may cap it lower"
    fix = _length_fix(settings, role, length, spec_known=spec_known)
    if fix and length.deciding == MAX_SESSION_DURATION:
        # Raising the role's limit helps only up to the next limit: name it.
        after = session_length(
            requested=settings.duration,
            session_duration=session_duration,
            max_session_duration=None,
        )
        if after.deciding != REQUESTED:
            fix += f"; above {hours(after.seconds)} the {after.deciding} decides"
    if retried is not None and retried != length.seconds:
        return (
            Check(
                check_id,
                WARNING,
                text,
                f"name the spec in the profile (`keyless configure --profile {settings.profile} "
                f"--spec FILE`) or ask for {length.seconds} s (`--duration {length.seconds}`)",
                details,
            ),
            length,
        )
    if settings.duration and seconds < settings.duration:
        # The person asked for more than they get: say which limit to raise.
        return Check(check_id, WARNING, text, fix, details), length
    return Check(check_id, OK, text, None, details), length


def _length_fix(
    settings: Settings, role: RoleLimits, length: SessionLength, *, spec_known: bool
) -> str | None:
    name = role.role_arn.rsplit("/", 1)[-1]
    if length.deciding == MAX_SESSION_DURATION:
        where = "in the spec" if spec_known else "in the federation spec"
        return (
            f"raise max_session_duration of role {name} {where} (up to {MAX_SESSION_SECONDS}) "
            "and run `keyless apply` (or `aws iam update-role --max-session-duration`)"
        )
    if length.deciding == SESSION_DURATION:
        return (
            "raise session.duration in the spec and run `keyless apply` (the Okta AWS app's "
            "Session Duration)"
        )
    if length.deciding in (REQUESTED, AWS_DEFAULT):
        return f"`keyless configure --profile {settings.profile} --duration SECONDS`"
    if length.deciding == ROLE_CHAINING:
        return "take the role directly with a keyless profile of its own instead of chaining"
    return None


def chained_check(
    source_profile: str, profile: str, role_arn: str, duration_seconds: int | None
) -> tuple[Check, SessionLength]:
    """An AWS CLI profile that assumes ``role_arn`` with a keyless profile's credentials:
    role chaining, one hour at most (a longer DurationSeconds is refused)."""
    length = session_length(
        requested=duration_seconds,
        session_duration=None,
        max_session_duration=None,
        chained=True,
    )
    check_id = f"chained.{profile}"
    details = {
        "profile": profile,
        "source_profile": source_profile,
        "role_arn": role_arn,
        "duration_seconds": duration_seconds,
        "seconds": length.seconds,
        "deciding": ROLE_CHAINING,
    }
    text = (
        f"AWS profile {profile} assumes {role_arn} with {source_profile}'s credentials: "
        f"role chaining, {hours(length.seconds)} at most"
    )
    if duration_seconds is not None and duration_seconds > CHAINED_SESSION_SECONDS:
        return (
            Check(
                check_id,
                PROBLEM,
                f"{text}; its duration_seconds = {duration_seconds} is refused by AWS "
                "(a chained session may last one hour)",
                f"set duration_seconds to {CHAINED_SESSION_SECONDS} or less in [profile "
                f"{profile}], or take the role directly with a keyless profile of its own",
                details,
            ),
            length,
        )
    return Check(check_id, OK, text, None, details), length


def exit_status(checks: list[Check]) -> bool:
    """Whether the doctor found no problem."""
    return all(check.status != PROBLEM for check in checks)
