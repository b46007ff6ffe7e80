"""Constants the SAML tests share (a uniquely named module, so a full-suite run
never confuses it with another directory's conftest)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from keyless.saml.model import RolePair

ISSUER = "http://www.okta.com/exk1keylesstest"
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
PROD = RolePair(
    role_arn="arn:aws:iam::222222222222:role/ProdAdmin",
    principal_arn="arn:aws:iam::222222222222:saml-provider/okta",
)
DEV = RolePair(
    role_arn="arn:aws:iam::333333333333:role/DevReadOnly",
    principal_arn="arn:aws:iam::333333333333:saml-provider/okta",
)

Build = Callable[..., bytes]
