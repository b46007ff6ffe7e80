"""A lab of its own for each offboard and audit test module (they change IAM and who may
sign in), so nothing they do leaks into the session-wide lab the other areas share."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from keyless.services.provision.federation import apply_federation, open_federation
from keyless.spec import load_spec
from offboard_support import ACME, aws_client


@pytest.fixture(scope="module")
def own_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A started, applied lab for this module only; its LabInfo."""
    from keyless_lab.runtime import Lab

    spec = load_spec(ACME)
    instance = Lab(spec, state_dir=tmp_path_factory.mktemp("lab"), spec_path=ACME)
    info = instance.start()
    try:
        result = apply_federation(open_federation(spec, info.composition()))
        assert result.ok, result.as_dict()
        yield info
    finally:
        instance.stop()


@pytest.fixture(scope="module")
def org_lab(own_lab: Any) -> Any:
    """The module's lab with SCPs enabled in the organization's root."""
    organizations = aws_client(own_lab, "organizations")
    root = organizations.list_roots()["Roots"][0]["Id"]
    organizations.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
    return own_lab
