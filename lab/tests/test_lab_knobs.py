"""The lab IdP's issue-22 knobs reach IdpSettings from the spec's ``lab:`` section, and a
`keyless lab up` flag wins over the spec."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from keyless.errors import InputError
from keyless.spec import load_spec_text
from keyless.spec.model import FederationSpec
from keyless_lab.runtime import settings_for_spec

ACME = Path(__file__).resolve().parents[2] / "examples" / "acme.yaml"


def _spec(**lab: object) -> FederationSpec:
    data = yaml.safe_load(ACME.read_text())
    data["lab"] = {**data["lab"], **lab}
    return load_spec_text(yaml.safe_dump(data))


def test_the_lab_section_sets_the_knobs_and_a_flag_overrides_it() -> None:
    spec = _spec(
        app_device="managed",
        step_up_style="redirect",
        native_to_web_sso=True,
        rate_limits={"authn": 5, "token": 7},
    )
    settings = settings_for_spec(spec)
    assert settings.app_device == "managed"
    assert settings.step_up_style == "redirect"
    assert settings.native_to_web_sso is True
    assert (settings.rate_limit_authn, settings.rate_limit_token) == (5, 7)
    assert settings.rate_limit_other == 2400  # Okta's default, untouched
    flagged = settings_for_spec(spec, app_device="any", rate_limit_token=None)
    assert flagged.app_device == "any"
    assert flagged.rate_limit_token == 7


def test_an_unknown_device_condition_is_refused_naming_the_path() -> None:
    with pytest.raises(InputError, match=r"lab\.app_device"):
        settings_for_spec(_spec(app_device="trusted"))
