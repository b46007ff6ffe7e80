"""Session durations against a real lab: the SessionDuration cap and the MaxSessionDuration retry.

A lab of its own (module-scoped), from examples/acme.yaml with the IdP asking
for 7200 s sessions: OktaAdminRole allows 3600 s (its MaxSessionDuration),
Developer 14400 s. The lab's strict STS refuses a DurationSeconds above the
role's MaxSessionDuration with AWS's ValidationError, as real STS does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from configparser import ConfigParser
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from keyless.services.login.profiles import resolve_settings
from keyless.services.login.wiring import fetch_assertion_with_kept_session
from lab_fixtures import ACME
from login_support import LabUser, add_lab_user, audit_events, configure, sign_in

pytestmark = pytest.mark.slow

SESSION_DURATION = 7200  # what the IdP asks for
ADMIN_MAX = 3600  # OktaAdminRole's MaxSessionDuration in acme.yaml
DEVELOPER_MAX = 14400


def _derived_spec(directory: Path) -> Path:
    document = yaml.safe_load(ACME.read_text())
    document["session"]["duration"] = SESSION_DURATION
    roles = {role["name"]: role for role in document["roles"]}
    assert roles["OktaAdminRole"]["max_session_duration"] == ADMIN_MAX
    assert roles["Developer"]["max_session_duration"] == DEVELOPER_MAX
    path = directory / "acme-7200.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def derived_spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/acme.yaml with the IdP asking for 7200 s sessions."""
    return _derived_spec(tmp_path_factory.mktemp("long-session-spec"))


@pytest.fixture(scope="module")
def long_session_lab(tmp_path_factory: pytest.TempPathFactory, derived_spec: Path) -> Iterator[Any]:
    """A provisioned lab whose IdP asks for 7200 s sessions (acme-dev only).

    Started without its spec path, so profiles configured with ``--lab`` know
    no role limits: the client asks STS for what the IdP allows and learns the
    role's limit from STS's refusal, as it does with real Okta and AWS.
    """
    from keyless.services.provision.federation import apply_federation, open_federation
    from keyless.spec import load_spec
    from keyless_lab.runtime import Lab

    spec = load_spec(derived_spec)
    instance = Lab(spec, state_dir=tmp_path_factory.mktemp("long-session-lab"))
    info = instance.start()
    try:
        federation = open_federation(spec, info.composition())
        result = apply_federation(federation, accounts=["acme-dev"])
        assert result.ok, result.as_dict()
        yield info
    finally:
        instance.stop()


def _user(lab: Any) -> LabUser:
    return add_lab_user(lab, ("aws-admins", "developers"), ("totp",))


def _login(user: LabUser, profile: str, *args: str) -> Any:
    return sign_in(profile, user, *args)


def _assertions(lab: Any, login: str) -> int:
    return len(
        [e for e in audit_events(lab) if e.get("login") == login and e["event"] == "assertion"]
    )


def _seconds_left(expiration: str) -> float:
    return (
        datetime.fromisoformat(expiration.replace("Z", "+00:00")) - datetime.now(UTC)
    ).total_seconds()


def test_max_session_duration_refusal_is_retried_at_the_role_limit(long_session_lab: Any) -> None:
    lab = long_session_lab
    user = _user(lab)
    # No spec, so no aliases either: the account by id.
    configure(
        lab, "admin", user, "--mfa-factor", "totp", role="OktaAdminRole", account="333333333333"
    )
    # Above the IdP's SessionDuration too: capped to 7200 first, then refused by STS.
    done = _login(user, "admin", "--duration", "10800", "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    notes = document["notes"]
    assert notes[0] == f"asked for 10800 s; the IdP's SessionDuration allows {SESSION_DURATION} s"
    assert notes[1] == (
        f"333333333333 / OktaAdminRole refused {SESSION_DURATION} s "
        f"(its MaxSessionDuration is lower); retried with {ADMIN_MAX} s"
    )
    (role,) = document["roles"]
    assert role["role_arn"] == "arn:aws:iam::333333333333:role/OktaAdminRole"
    assert role["duration"] == ADMIN_MAX
    # About an hour from now (not two, not three).
    assert ADMIN_MAX - 600 < _seconds_left(role["expiration"]) <= ADMIN_MAX + 60
    # The refused first attempt spent an assertion: the retry needed a fresh one.
    assert _assertions(lab, user.login) == 2
    written = ConfigParser()
    written.read(os.environ["AWS_SHARED_CREDENTIALS_FILE"])
    assert written["admin-creds"]["x_security_token_expires"] == role["expiration"]

    # The lab's STS itself refuses what the first attempt asked for, and takes the limit.
    settings = resolve_settings("admin")
    sts = boto3.client(
        "sts",
        region_name="us-east-1",
        endpoint_url=lab.aws_endpoint_url,
        verify=lab.ca_bundle,
        config=Config(signature_version=UNSIGNED),
    )
    arguments = {
        "RoleArn": role["role_arn"],
        "PrincipalArn": role["principal_arn"],
    }
    saml, _ = fetch_assertion_with_kept_session(settings)
    with pytest.raises(ClientError) as refused:
        sts.assume_role_with_saml(SAMLAssertion=saml, DurationSeconds=SESSION_DURATION, **arguments)
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    assert "MaxSessionDuration" in refused.value.response["Error"]["Message"]
    saml, _ = fetch_assertion_with_kept_session(settings)
    taken = sts.assume_role_with_saml(SAMLAssertion=saml, DurationSeconds=ADMIN_MAX, **arguments)
    assert taken["AssumedRoleUser"]["Arn"].startswith(
        "arn:aws:sts::333333333333:assumed-role/OktaAdminRole/"
    )


def test_duration_above_the_session_duration_is_capped(long_session_lab: Any) -> None:
    lab = long_session_lab
    user = _user(lab)
    configure(
        lab, "dev", user, "--mfa-factor", "totp", "--duration", "10800", account="333333333333"
    )
    done = _login(user, "dev")
    assert done.returncode == 0, done.stderr
    assert (
        f"note: asked for 10800 s; the IdP's SessionDuration allows {SESSION_DURATION} s"
        in done.stderr
    )
    assert "retried" not in done.stderr
    # (this lab's app sends no SourceIdentity: nobody applied the okta: side)
    assert "Developer in 333333333333, 2h00m, no source identity -> profile dev-creds" in (
        done.stderr
    )
    written = ConfigParser()
    written.read(os.environ["AWS_SHARED_CREDENTIALS_FILE"])
    left = _seconds_left(written["dev-creds"]["x_security_token_expires"])
    assert SESSION_DURATION - 600 < left <= SESSION_DURATION + 60
    assert _assertions(lab, user.login) == 1


def test_a_spec_that_knows_the_role_limit_asks_for_it_first(
    long_session_lab: Any, derived_spec: Path
) -> None:
    lab = long_session_lab
    user = _user(lab)
    configure(
        lab,
        "known",
        user,
        "--mfa-factor",
        "totp",
        "--spec",
        str(derived_spec),
        role="OktaAdminRole",
    )
    done = _login(user, "known", "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["notes"] == [
        f"acme-dev (333333333333) / OktaAdminRole allows at most {ADMIN_MAX} s; asked for that"
    ]
    assert document["roles"][0]["duration"] == ADMIN_MAX
    # STS was asked once, for what the role allows: nothing refused, one assertion.
    assert _assertions(lab, user.login) == 1
