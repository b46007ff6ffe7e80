"""Labs whose Okta org keyless has not configured yet: one per test module, or one per test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from keyless.services.provision.federation import apply_federation, open_federation
from keyless.spec import load_spec
from keyless_lab.runtime import Lab
from okta_support import OktaLab, acme_with_okta


@contextmanager
def _unconfigured_lab(root: Path) -> Iterator[OktaLab]:
    """A started lab for acme.yaml + `okta:` under ``root``, its AWS app blank and no spec
    group yet; stopped on exit."""
    spec_path = root / "federation.yaml"
    spec_path.write_text(yaml.safe_dump(acme_with_okta(), sort_keys=False))
    lab = Lab(
        load_spec(spec_path),
        state_dir=root / "state",
        spec_path=spec_path,
        okta_app_configured=False,
    )
    info = lab.start()
    try:
        yield OktaLab(lab=lab, info=info, spec_path=spec_path)
    finally:
        lab.stop()


@pytest.fixture(scope="module")
def okta_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OktaLab]:
    """The lab for acme.yaml + `okta:`, its AWS app blank and no spec group yet, shared
    by the module (its tests may configure it)."""
    with _unconfigured_lab(tmp_path_factory.mktemp("okta-lab")) as lab:
        yield lab


@pytest.fixture
def blank_okta_lab(tmp_path: Path) -> Iterator[OktaLab]:
    """A lab of the test's own that nothing has configured yet, whatever ran before."""
    with _unconfigured_lab(tmp_path) as lab:
        yield lab


@pytest.fixture(scope="module")
def configured(okta_lab: OktaLab) -> OktaLab:
    """The lab's Okta side applied in-process (the AWS side is not needed here)."""
    spec = load_spec(okta_lab.spec_path)
    federation = open_federation(spec, okta_lab.info.composition(), target="okta")
    result = apply_federation(federation)
    assert result.okta is not None
    assert result.okta.status == "applied", result.okta.error
    assert result.aws.results == ()  # --target okta touches no account
    return okta_lab
