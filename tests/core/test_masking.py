"""Access keys are masked by one function, keyless.core.credentials.mask (issue 20)."""

from __future__ import annotations

import pytest

from keyless.core.credentials import mask
from keyless.services.offboard.model import SessionSeen


def test_a_full_length_key_shows_only_its_ends() -> None:
    assert mask("ASIAABCDEFGHIJKLWXYZ") == "ASIA****WXYZ"


@pytest.mark.parametrize("key", ["A", "ASIA", "ASIAWXYZ", "ASIA1WXYZ", "ASIAEXAMPLE", "A" * 15])
def test_a_short_key_is_never_shown_whole_or_mostly(key: str) -> None:
    """Bug: mask showed 8 of a 9-character key, and offboard's own copy showed a key of
    8 characters or fewer whole (its two ends overlapped)."""
    assert mask(key) == "****"


def test_no_key_is_shown_as_nothing() -> None:
    assert mask("") == ""


@pytest.mark.parametrize("key", ["", "ASIAWXYZ", "ASIAABCDEFGHIJKLWXYZ"])
def test_offboard_reports_keys_through_mask(key: str) -> None:
    seen = SessionSeen(role_arn="arn:aws:iam::111111111111:role/R", access_key_id=key, issued_at="")
    assert seen.as_dict()["access_key_id"] == mask(key)
