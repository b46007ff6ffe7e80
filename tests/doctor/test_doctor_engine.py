"""``keyless doctor``: the org's engine against the profile's flow, through the CLI.

The session lab's IdP plays Classic or Identity Engine (``lab_idp_settings``);
``/.well-known/okta-organization`` says which, as Okta's does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from login_support import LabUser, configure, keyless

pytestmark = pytest.mark.slow

NOBODY = LabUser("nobody@acme.example", "unused", None)


def _engine_line(profile: str) -> tuple[int, list[str]]:
    done = keyless("doctor", "--profile", profile)
    lines = [line.strip() for line in done.stdout.splitlines()]
    index = next(i for i, line in enumerate(lines) if " okta.engine: " in line)
    return done.returncode, lines[index : index + 2]


def test_classic_flow_on_identity_engine_is_a_warning_naming_the_device_flow(
    lab: Any, lab_idp_settings: Callable[..., None]
) -> None:
    lab_idp_settings(engine="oie")
    configure(lab, "oie-classic", NOBODY, "--auth-flow", "classic", role=None, account=None)
    code, (line, fix) = _engine_line("oie-classic")
    assert code == 0  # a warning: it works until the AWS app gets a policy of its own
    assert line.startswith("warning       okta.engine: the org runs Identity Engine (pipeline idx)")
    assert "profile auth_flow classic signs in with the classic flow" in line
    assert fix == "fix: `keyless configure --profile oie-classic --auth-flow device`"


def test_device_flow_on_classic_is_a_problem(
    lab: Any, lab_idp_settings: Callable[..., None]
) -> None:
    lab_idp_settings(engine="classic")
    configure(lab, "classic-device", NOBODY, "--auth-flow", "device", role=None, account=None)
    code, (line, fix) = _engine_line("classic-device")
    assert code == 1
    assert line.startswith("problem       okta.engine: the org runs Classic (pipeline v1)")
    assert fix == "fix: `keyless configure --profile classic-device --auth-flow classic`"
