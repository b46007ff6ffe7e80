"""The doctor's decisions as pure functions (keyless.services.doctor.checks): no I/O."""

from __future__ import annotations

from datetime import timedelta

import pytest

from keyless.services.doctor.checks import (
    PROBLEM,
    SIGV4_SKEW,
    RoleLimits,
    chained_check,
    clock_check,
    engine_check,
    role_check,
)
from keyless.services.login.profiles import Settings

DEV = "333333333333"


def _clock(seconds: float) -> str:
    return clock_check(
        "aws.clock", "AWS", timedelta(seconds=seconds), limit=SIGV4_SKEW, limit_reason="SigV4"
    ).status


@pytest.mark.parametrize(
    ("skew", "status"),
    [
        (0, "ok"),
        (-29, "ok"),
        (31, "warning"),
        (-299, "warning"),
        (300, "problem"),
        (-301, "problem"),
    ],
)
def test_the_clock_is_judged_against_the_limit_that_matters(skew: float, status: str) -> None:
    assert _clock(skew) == status


def test_a_skewed_clock_says_which_way_and_the_limit() -> None:
    check = clock_check(
        "okta.clock", "Okta", timedelta(minutes=-7), limit=SIGV4_SKEW, limit_reason="SAML"
    )
    assert check.summary == "this computer's clock is 7 min behind Okta's (limit 5 min: SAML)"
    assert check.fix is not None
    assert "timedatectl" in check.fix
    assert check.details == {"skew_seconds": -420.0, "limit_seconds": 300, "limit": "SAML"}


@pytest.mark.parametrize(
    ("pipeline", "auth_flow", "client", "status"),
    [
        ("v1", None, None, "ok"),  # auto on Classic: classic
        ("idx", None, "0oaCLI", "ok"),  # auto on Identity Engine with a client: device
        ("idx", "classic", None, "warning"),  # classic on Identity Engine: app policies fail
        ("v1", "device", "0oaCLI", "problem"),  # device on Classic: no such flow
        ("idx", "device", None, "problem"),  # device without its OIDC client
        (None, None, None, "warning"),  # the org did not say
    ],
)
def test_the_engine_and_the_flow_fit_or_not(
    pipeline: str | None, auth_flow: str | None, client: str | None, status: str
) -> None:
    settings = Settings(profile="p", auth_flow=auth_flow, oidc_client_id=client)
    assert engine_check(settings, pipeline, answered=True).status == status


def _role(max_seconds: int | None, spec_limit: int | None = None) -> RoleLimits:
    return RoleLimits(
        role_arn=f"arn:aws:iam::{DEV}:role/Admin",
        account_id=DEV,
        label=f"{DEV} / Admin",
        max_session_duration=max_seconds,
        max_source="iam:GetRole" if max_seconds else "unknown",
        spec_limit=spec_limit,
    )


def test_a_role_limit_unknown_to_the_login_costs_a_retry_at_the_default() -> None:
    # The role allows 2 h, the app 4 h; keyless knows no limit: it asks 4 h, is
    # refused, and retries at AWS's default hour, not at the role's two.
    check, length = role_check(
        Settings(profile="p"), _role(7200), session_duration=14400, spec_known=False
    )
    assert (length.seconds, length.deciding) == (7200, "MaxSessionDuration")
    assert (check.status, check.details["seconds"], check.details["retried_with"]) == (
        "warning",
        3600,
        3600,
    )
    assert check.fix is not None
    assert "--spec FILE" in check.fix
    # The spec names the limit: asked for first, nothing refused.
    check, _ = role_check(
        Settings(profile="p"), _role(7200, 7200), session_duration=14400, spec_known=True
    )
    assert (check.status, check.details["asked_first"], check.details["retried_with"]) == (
        "ok",
        7200,
        None,
    )


def test_twelve_hours_asked_against_one_names_max_session_duration_and_its_fix() -> None:
    check, length = role_check(
        Settings(profile="p", duration=43200),
        _role(3600, 3600),
        session_duration=43200,
        spec_known=True,
    )
    assert (check.status, length.deciding, length.seconds) == (
        "warning",
        "MaxSessionDuration",
        3600,
    )
    assert check.fix is not None
    assert check.fix.startswith("raise max_session_duration of role Admin in the spec")


def test_a_chained_profile_asking_more_than_an_hour_is_refused() -> None:
    check, length = chained_check("dev", "deep", f"arn:aws:iam::{DEV}:role/Admin", 7200)
    assert (check.status, length.seconds, length.deciding) == (PROBLEM, 3600, "role chaining")
    check, _ = chained_check("dev", "deep", f"arn:aws:iam::{DEV}:role/Admin", None)
    assert check.status == "ok"
