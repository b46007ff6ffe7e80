"""A lab of its own for each offboard and audit test module (they change IAM and who may
sign in), so nothing they do leaks into the session-wide lab the other areas share."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from keyless.services.provision import apply_spec
from keyless.spec import load_spec
from offboard_support import ACME


@pytest.fixture(scope="module")
def own_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A started, applied lab for this module only; its LabInfo."""
    from keyless_lab.runtime import Lab

    spec = load_spec(ACME)
    instance = Lab(spec, state_dir=tmp_path_factory.mktemp("lab"), spec_path=ACME)
    info = instance.start()
    try:
        trust = ssl.create_default_context(cafile=info.ca_bundle)
        with httpx.Client(verify=trust) as http:
            metadata = info.idp_metadata(spec, http=http)
        report = apply_spec(spec, info.connector(), metadata)
        assert report.ok, report
        yield info
    finally:
        instance.stop()
