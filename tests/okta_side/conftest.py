"""A lab whose Okta org keyless has not configured yet, per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml

from keyless.services.federation import apply_federation, open_federation
from keyless.spec import load_spec
from keyless_lab.runtime import Lab
from okta_support import OktaLab, acme_with_okta


@pytest.fixture(scope="module")
def okta_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OktaLab]:
    """The lab for acme.yaml + `okta:`, its AWS app blank and no spec group yet."""
    root = tmp_path_factory.mktemp("okta-lab")
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
def configured(okta_lab: OktaLab) -> OktaLab:
    """The lab's Okta side applied in-process (the AWS side is not needed here)."""
    spec = load_spec(okta_lab.spec_path)
    federation = open_federation(spec, okta_lab.info.composition(), target="okta")
    result = apply_federation(federation)
    assert result.okta is not None
    assert result.okta.status == "applied", result.okta.error
    assert result.aws.results == ()  # --target okta touches no account
    return okta_lab
