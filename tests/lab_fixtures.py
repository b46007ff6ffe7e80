"""Shared fixtures that run the embedded lab, for every test area (registered in conftest.py).

- ``lab``: a started :class:`keyless_lab.runtime.Lab` for ``examples/acme.yaml`` in a
  temporary state dir, for the whole session; yields its :class:`LabInfo`.
- ``provisioned_lab``: the same lab with the SAML provider and the spec's roles
  created in every account by ``keyless.services.provision.federation.apply_federation`` (what
  ``keyless apply --lab --yes`` runs), so logins can take roles.

Both are session-scoped: one lab (two servers, one child process) serves every
test that asks, and is stopped at the end leaving nothing running.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest

from keyless.spec import load_spec
from keyless_lab.info import LabInfo

REPO = Path(__file__).resolve().parent.parent
ACME = REPO / "examples" / "acme.yaml"


_LAST_STEP: dict[str, int] = {}


def fresh_totp(secret: str) -> str:
    """A TOTP code for ``secret`` that this test run has not used yet.

    Okta (and the lab) accept each step's code once, and only a step later than the
    last one used, but they accept the next step's code too (clock drift): two
    sign-ins of one user within a 30-second step take the current step's code, then
    the next one's, without waiting. Only a third within the same step waits for a
    new step, as a person would. (The previous step, accepted as well, is not used:
    a request arriving after the step ends would find it outside the window.)
    """
    import time

    import pyotp

    totp = pyotp.TOTP(secret)
    now = int(time.time()) // totp.interval
    step = max(now, _LAST_STEP.get(secret, now - 1) + 1)
    if step > now + 1:
        # The window reaches ``step`` once the step before it has begun.
        time.sleep((step - 1) * totp.interval - time.time() + 0.05)
    _LAST_STEP[secret] = step
    return str(totp.at(step * totp.interval))


def lab_session(
    endpoint_url: str,
    credentials: Mapping[str, Any],
    *,
    region: str = "us-east-1",
) -> boto3.Session:
    """A boto3 session with ``credentials`` (bootstrap keys or an STS answer's Credentials)."""
    if "AccessKeyId" in credentials:
        return boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials.get("SessionToken"),
            region_name=region,
        )
    return boto3.Session(
        aws_access_key_id=credentials["aws_access_key_id"],
        aws_secret_access_key=credentials["aws_secret_access_key"],
        region_name=region,
    )


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabInfo]:
    """A running lab for examples/acme.yaml (IdP + AWS), for the whole session; its LabInfo."""
    from keyless_lab.runtime import Lab

    state_dir = tmp_path_factory.mktemp("lab-state")
    spec = load_spec(ACME)
    instance = Lab(spec, state_dir=state_dir, spec_path=ACME)
    info = instance.start()
    _RUNNING.append(instance)
    try:
        yield info
    finally:
        _RUNNING.clear()
        instance.stop()


_RUNNING: list[Any] = []


@pytest.fixture
def lab_idp_settings(lab: LabInfo) -> Iterator[Callable[..., None]]:
    """Change the session lab IdP's settings (engine, app policy...) for one test; the
    original settings come back after it. The IdP runs in this process."""
    from dataclasses import replace

    idp = _RUNNING[0].idp.idp
    original = idp.settings

    def change(**changes: Any) -> None:
        idp.settings = replace(idp.settings, **changes)

    try:
        yield change
    finally:
        idp.settings = original


@pytest.fixture(scope="session")
def provisioned_lab(lab: LabInfo) -> LabInfo:
    """The session's lab with the SAML provider and the spec's roles in every account."""
    from keyless.services.provision.federation import apply_federation, open_federation

    spec = load_spec(ACME)
    result = apply_federation(open_federation(spec, lab.composition()))
    assert result.ok, result.as_dict()
    return lab
