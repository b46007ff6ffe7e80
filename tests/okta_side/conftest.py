"""A lab whose Okta org keyless has not configured yet, per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml
from okta_support import OktaLab, acme_with_okta

from keyless.lab.runtime import Lab
from keyless.spec import load_spec


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
