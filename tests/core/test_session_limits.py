"""STS session limits live in keyless.core.aws only (issue 20, "each rule once").

Each place that checks a duration is driven through its edges here, so a
second copy of a limit that drifted from the constants fails a test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from keyless.core.aws import (
    DEFAULT_SESSION_SECONDS,
    MAX_SESSION_SECONDS,
    MIN_SESSION_SECONDS,
    SESSION_LIMITS_TEXT,
)
from keyless.errors import InputError
from keyless.services.login.profiles import resolve_settings
from keyless.spec.model import FederatedRole, Session

EDGES = [
    (MIN_SESSION_SECONDS - 1, False),
    (MIN_SESSION_SECONDS, True),
    (MAX_SESSION_SECONDS, True),
    (MAX_SESSION_SECONDS + 1, False),
]


def test_the_constants_are_aws_documented_values() -> None:
    # AssumeRoleWithSAML DurationSeconds and CreateRole MaxSessionDuration.
    assert (MIN_SESSION_SECONDS, MAX_SESSION_SECONDS, DEFAULT_SESSION_SECONDS) == (900, 43200, 3600)
    assert SESSION_LIMITS_TEXT == "15 minutes to 12 hours"


@pytest.mark.parametrize(("seconds", "allowed"), EDGES)
def test_spec_role_max_session_duration_uses_the_limits(seconds: int, allowed: bool) -> None:
    if allowed:
        assert FederatedRole(name="Admin", max_session_duration=seconds).max_session_duration
    else:
        with pytest.raises(ValidationError, match=f"between {MIN_SESSION_SECONDS} and"):
            FederatedRole(name="Admin", max_session_duration=seconds)


@pytest.mark.parametrize(("seconds", "allowed"), EDGES)
def test_spec_session_duration_uses_the_limits(seconds: int, allowed: bool) -> None:
    if allowed:
        assert Session(duration=seconds).duration == seconds
    else:
        with pytest.raises(ValidationError, match=SESSION_LIMITS_TEXT):
            Session(duration=seconds)


def test_spec_defaults_are_aws_default() -> None:
    assert FederatedRole(name="Admin").max_session_duration == DEFAULT_SESSION_SECONDS
    assert Session().duration == DEFAULT_SESSION_SECONDS


@pytest.mark.parametrize(("seconds", "allowed"), EDGES)
def test_profile_duration_uses_the_limits(tmp_path: Path, seconds: int, allowed: bool) -> None:
    def resolve() -> int | None:
        flags = {"duration": seconds}
        return resolve_settings("dev", flags, environ={}, path=tmp_path / "none.toml").duration

    if allowed:
        assert resolve() == seconds
    else:
        with pytest.raises(InputError, match=f"{MIN_SESSION_SECONDS} to {MAX_SESSION_SECONDS}"):
            resolve()
