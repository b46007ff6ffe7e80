"""Fixtures for login tests against the running lab (helpers: :mod:`login_support`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from login_support import LabUser, add_lab_user


@pytest.fixture
def make_user(provisioned_lab: Any) -> Callable[..., LabUser]:
    """Create a lab user in ``group`` with ``factors`` (default: developers, TOTP)."""

    def make(
        group: str = "developers",
        factors: tuple[str, ...] = ("totp",),
        *,
        more_groups: tuple[str, ...] = (),
    ) -> LabUser:
        return add_lab_user(provisioned_lab, (group, *more_groups), factors)

    return make
