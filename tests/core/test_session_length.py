"""The session-length rule (keyless.core.session_length): which limit decides, with numbers.

AWS, AssumeRoleWithSAML: DurationSeconds defaults to one hour and may not exceed
the role's MaxSessionDuration; AssumeRole: role chaining caps a session at one
hour. Okta's SessionDuration is what keyless asks for by default and never exceeds.
"""

from __future__ import annotations

import pytest

from keyless.core.session_length import (
    AWS_DEFAULT,
    MAX_SESSION_DURATION,
    REQUESTED,
    ROLE_CHAINING,
    SESSION_DURATION,
    retry_after_refusal,
    session_length,
)


@pytest.mark.parametrize(
    ("requested", "session_duration", "max_session_duration", "chained", "seconds", "deciding"),
    [
        # Nothing said anywhere: AWS's default hour.
        (None, None, None, False, 3600, AWS_DEFAULT),
        # The app's SessionDuration is asked for when the profile names no duration.
        (None, 7200, 14400, False, 7200, SESSION_DURATION),
        # The role's MaxSessionDuration below the app's SessionDuration.
        (None, 7200, 3600, False, 3600, MAX_SESSION_DURATION),
        # Twelve hours asked, the app allows two: SessionDuration decides.
        (43200, 7200, 14400, False, 7200, SESSION_DURATION),
        # Twelve hours asked and allowed by the app, the role allows one.
        (43200, 43200, 3600, False, 3600, MAX_SESSION_DURATION),
        # Asked for less than everything allows: the request decides.
        (1800, 7200, 14400, False, 1800, REQUESTED),
        # The role's limit unknown: nothing to cap with.
        (43200, 43200, None, False, 43200, REQUESTED),
        # Chained: one hour whatever the rest allows.
        (43200, 43200, 43200, True, 3600, ROLE_CHAINING),
        (None, 7200, None, True, 3600, ROLE_CHAINING),
    ],
)
def test_which_limit_decides(
    requested: int | None,
    session_duration: int | None,
    max_session_duration: int | None,
    chained: bool,
    seconds: int,
    deciding: str,
) -> None:
    length = session_length(
        requested=requested,
        session_duration=session_duration,
        max_session_duration=max_session_duration,
        chained=chained,
    )
    assert (length.seconds, length.deciding) == (seconds, deciding)
    assert length.capped == (seconds < length.wanted)


def test_a_tie_names_the_other_limit_too() -> None:
    # Raising MaxSessionDuration alone would not help: SessionDuration is also 3600.
    length = session_length(requested=43200, session_duration=3600, max_session_duration=3600)
    assert (length.seconds, length.deciding, length.also) == (
        3600,
        SESSION_DURATION,
        (MAX_SESSION_DURATION,),
    )
    assert (length.wanted, length.wanted_from) == (43200, REQUESTED)


def test_what_is_wanted_before_the_caps() -> None:
    capped = session_length(requested=None, session_duration=7200, max_session_duration=3600)
    assert (capped.wanted, capped.seconds) == (7200, 3600)
    silent = session_length(requested=None, session_duration=None, max_session_duration=900)
    assert (silent.wanted, silent.seconds, silent.deciding) == (3600, 900, MAX_SESSION_DURATION)


@pytest.mark.parametrize(
    ("asked", "known", "retry"),
    [
        (7200, None, 3600),  # the role's limit unknown: AWS's default
        (7200, 5400, 5400),  # known and lower: the limit
        (3600, None, None),  # the default was refused: nothing shorter to try
        (7200, 7200, 3600),  # the known limit was what was refused
    ],
)
def test_retry_after_a_max_session_duration_refusal(
    asked: int, known: int | None, retry: int | None
) -> None:
    assert retry_after_refusal(asked, known) == retry
