"""A spec user of the lab as ``lab.json`` lists them: how to sign in as them.

Its own module, standard library only, so that the lab IdP's directory (which
creates these users) and ``lab.json`` (:mod:`keyless_lab.info`, which lists
them) share the type without the IdP importing what drives keyless.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LabUser:
    """One spec user of the lab and how to sign in as them (their secrets: lab-only)."""

    login: str
    password: str = field(repr=False)
    totp_secret: str | None = field(repr=False)
    factors: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabUser:
        secret = data.get("totp_secret")
        return cls(
            login=str(data["login"]),
            password=str(data["password"]),
            totp_secret=None if secret is None else str(secret),
            factors=tuple(str(name) for name in data.get("factors") or ()),
        )
