"""What both exports share: the desired state they render, names, the README frame.

Both generators render :func:`keyless.plan.desired.desired_state` — the very
state ``keyless plan`` diffs against — so an export cannot describe a
different federation than ``apply`` would build.
"""

from __future__ import annotations

import re
from pathlib import Path

from keyless.files import PUBLIC, write_atomic
from keyless.plan.desired import DesiredAccount, desired_state
from keyless.spec.model import FederationSpec


def accounts_to_export(spec: FederationSpec) -> list[DesiredAccount]:
    """Every account's desired state; the provider's metadata is an input of the export."""
    return desired_state(spec, None)


def identifier(text: str, *, prefix: str = "a") -> str:
    """A Terraform identifier from an alias: ``acme-prod`` -> ``acme_prod``."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return name if re.match(r"[A-Za-z_]", name) else f"{prefix}_{name}"


def logical_id(text: str) -> str:
    """A CloudFormation logical id: alphanumerics only (``Okta-Idp-x`` -> ``OktaIdpx``)."""
    return re.sub(r"[^A-Za-z0-9]", "", text)


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` atomically (temp file in the same dir, then rename)."""
    # Configuration, not a secret: readable like any source file.
    write_atomic(path, text.encode("utf-8"), mode=PUBLIC, make_parents=True)
    return path
