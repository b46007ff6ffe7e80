"""The spec's ``lab:`` section: who and what the lab plays, validated by the lab itself.

keyless's spec model carries ``lab:`` as an opaque extension section and
ignores it; only the lab reads it. Its shape::

    lab:
      engine: classic | oie           # the Okta engine the lab IdP plays
      app_policy: none | mfa | mfa_every_time
      app_device: any | registered | managed  # the AWS app policy's device condition (OIE)
      step_up_style: page | redirect  # how Classic asks for the app's step-up
      native_to_web_sso: false        # the org offers interclient tokens (Native to Web SSO)
      rate_limits: {authn: 1200, token: 2000, other: 2400}  # requests a minute per bucket
      extra_groups: [name, ...]       # Okta groups to create besides the spec's
      users:
        - login: alice@acme.example   # an Okta login (an email address)
          first_name: Alice
          last_name: Admin
          groups: [aws-admins]
          factors: [totp, push, sms]
          phone: "+15555550100"
          attributes: {team: platform} # Okta profile attributes
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from keyless.errors import InputError
from keyless.spec.model import FederationSpec

Factor = Literal["totp", "push", "sms"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SpecUser(_Model):
    """A person the lab IdP creates at `lab up` (lab only; never a real person)."""

    login: str
    first_name: str = ""
    last_name: str = ""
    groups: list[str] = Field(default_factory=list)
    factors: list[Factor] = Field(default_factory=list)
    phone: str | None = None
    attributes: dict[str, str] = Field(
        default_factory=dict, description="Sent as PrincipalTag:<key> attributes."
    )

    @field_validator("login")
    @classmethod
    def _login(cls, value: str) -> str:
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            raise ValueError(f"logins are email addresses, got {value!r}")
        return value


class RateLimits(_Model):
    """Okta's per-minute rate limits per bucket (:class:`keyless_lab.idp.core.IdpSettings`)."""

    authn: int | None = Field(default=None, ge=1)
    token: int | None = Field(default=None, ge=1)
    other: int | None = Field(default=None, ge=1)


class LabSection(_Model):
    """Everything the spec's ``lab:`` section says."""

    users: list[SpecUser] = Field(default_factory=list)
    extra_groups: list[str] = Field(default_factory=list)
    engine: Literal["classic", "oie"] | None = None
    app_policy: Literal["none", "mfa", "mfa_every_time"] | None = None
    app_device: Literal["any", "registered", "managed"] | None = None
    step_up_style: Literal["page", "redirect"] | None = None
    native_to_web_sso: bool | None = None
    rate_limits: RateLimits = Field(default_factory=RateLimits)

    def idp_overrides(self) -> dict[str, object]:
        """The :class:`~keyless_lab.idp.core.IdpSettings` fields this section sets."""
        chosen: dict[str, object] = {
            "engine": self.engine,
            "app_policy": self.app_policy,
            "app_device": self.app_device,
            "step_up_style": self.step_up_style,
            "native_to_web_sso": self.native_to_web_sso,
            "rate_limit_authn": self.rate_limits.authn,
            "rate_limit_token": self.rate_limits.token,
            "rate_limit_other": self.rate_limits.other,
        }
        return {key: value for key, value in chosen.items() if value is not None}


def lab_section(spec: FederationSpec) -> LabSection:
    """The spec's ``lab:`` section, validated; :class:`InputError` naming the path otherwise."""
    try:
        return LabSection.model_validate(spec.lab)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in ("lab", *first["loc"]))
        raise InputError(
            f"spec {spec.name!r}: {where}: {first['msg']}",
            fix="see the lab's README (lab/README.md) for the `lab:` section",
        ) from exc
