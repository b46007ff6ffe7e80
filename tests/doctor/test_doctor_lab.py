"""``keyless doctor`` as a person runs it, against a lab of its own.

The lab's IdP asks for 7200 s sessions (the AWS app's SessionDuration); in
acme-dev, OktaAdminRole allows 3600 s (its MaxSessionDuration) and Developer
14400 s. The lab starts without its spec, so profiles know no role limits and
the doctor reads them with IAM GetRole, as it would against real AWS.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import certifi
import pytest
import yaml

from lab_fixtures import ACME
from login_support import LabUser, add_lab_user, configure, keyless, sign_in

pytestmark = pytest.mark.slow

SESSION_DURATION = 7200
DEV = "333333333333"


@pytest.fixture(scope="module")
def doctor_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A provisioned lab (acme-dev) whose IdP asks for 7200 s sessions."""
    from keyless.services.provision.federation import apply_federation, open_federation
    from keyless.spec import load_spec
    from keyless_lab.runtime import Lab

    document = yaml.safe_load(ACME.read_text())
    document["session"]["duration"] = SESSION_DURATION
    path = tmp_path_factory.mktemp("doctor-spec") / "acme-7200.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    spec = load_spec(path)
    instance = Lab(spec, state_dir=tmp_path_factory.mktemp("doctor-lab"))
    info = instance.start()
    try:
        result = apply_federation(open_federation(spec, info.composition()), accounts=["acme-dev"])
        assert result.ok, result.as_dict()
        yield info
    finally:
        instance.stop()


def _signed_in(lab: Any, profile: str, *extra: str) -> LabUser:
    """A user with OktaAdminRole and Developer, logged in to OktaAdminRole in acme-dev."""
    user = add_lab_user(lab, ("aws-admins", "developers"), ("totp",))
    configure(lab, profile, user, "--mfa-factor", "totp", *extra, role="OktaAdminRole", account=DEV)
    done = sign_in(profile, user)
    assert done.returncode == 0, done.stderr
    return user


def _line(output: str, start: str) -> str:
    """The one line of the report that begins (after indentation) with ``start``."""
    found = [line.strip() for line in output.splitlines() if line.strip().startswith(start)]
    assert len(found) == 1, (start, output)
    return found[0]


def _fix_after(output: str, start: str) -> str:
    lines = [line.strip() for line in output.splitlines()]
    index = lines.index(_line(output, start))
    assert lines[index + 1].startswith("fix: "), output
    return lines[index + 1]


def test_a_healthy_profile_names_the_deciding_limit_of_each_role(
    doctor_lab: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _signed_in(doctor_lab, "doc")
    # An admin token lets the doctor read the AWS app's settings as Okta reports them.
    monkeypatch.setenv("KEYLESS_OKTA_API_TOKEN", doctor_lab.okta_api_token)
    done = keyless("doctor", "--profile", "doc")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for check in ("okta.tls", "okta.clock", "okta.engine", "aws.tls", "aws.clock", "aws.cli-ca"):
        assert _line(out, f"ok            {check}: ")
    assert "Classic (pipeline v1); profile auth_flow auto signs in with the classic flow" in out
    assert "sessionDuration=7200" in _line(out, "ok            okta.app: ")
    # The role's MaxSessionDuration (3600) is below the app's SessionDuration (7200): it decides.
    admin = _line(out, f"ok            session.{DEV}.OktaAdminRole: ")
    assert "3600 s (1h00m), decided by MaxSessionDuration" in admin
    assert "SessionDuration 7200 s (2h00m)" in admin
    assert "MaxSessionDuration 3600 s (1h00m) (iam:GetRole)" in admin
    # The opposite: Developer allows 14400, so the app's SessionDuration decides.
    developer = _line(out, f"ok            session.{DEV}.Developer: ")
    assert "7200 s (2h00m), decided by SessionDuration" in developer
    assert "MaxSessionDuration 14400 s (4h00m) (iam:GetRole)" in developer
    # acme-prod's role cannot be read with acme-dev's credentials: said, not guessed.
    prod = _line(out, "ok            session.222222222222.OktaAdminRole: ")
    assert "MaxSessionDuration unknown" in prod
    assert "the role may cap it lower" in prod
    assert out.splitlines()[-1] == "0 problems, 0 warnings, 0 not evaluated"


def test_twelve_hours_asked_against_a_one_hour_role_says_why_and_the_fix(
    doctor_lab: Any,
) -> None:
    _signed_in(doctor_lab, "long", "--duration", "43200")
    done = keyless("doctor", "--profile", "long")
    assert done.returncode == 0, done.stdout + done.stderr  # a warning, not a problem
    out = done.stdout
    start = f"warning       session.{DEV}.OktaAdminRole: "
    admin = _line(out, start)
    assert "3600 s (1h00m), decided by MaxSessionDuration" in admin
    assert "requested 43200 s (12h00m)" in admin
    assert "MaxSessionDuration 3600 s (1h00m) (iam:GetRole)" in admin
    assert "keyless asks 7200 s first, STS refuses it" in admin
    fix = _fix_after(out, start)
    assert "raise max_session_duration of role OktaAdminRole in the federation spec" in fix
    assert "above 7200 s (2h00m) the SessionDuration decides" in fix
    # No admin token here: the app's settings are not evaluated, and why is said.
    app = _line(out, "not evaluated okta.app: ")
    assert "needs an Okta admin API token" in app


def test_a_wrong_ca_bundle_is_a_problem_with_its_fix(
    doctor_lab: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _signed_in(doctor_lab, "ca")
    # A corporate shell's AWS_CA_BUNDLE wins over the profile's for the AWS CLI.
    monkeypatch.setenv("AWS_CA_BUNDLE", certifi.where())
    done = keyless("doctor", "--profile", "ca")
    assert done.returncode == 1, done.stdout + done.stderr
    start = "problem       aws.cli-ca: "
    line = _line(done.stdout, start)
    assert f"does not verify with {certifi.where()} (AWS_CA_BUNDLE)" in line
    assert _fix_after(done.stdout, start).startswith("fix: unset AWS_CA_BUNDLE, or point it at")
    assert doctor_lab.ca_bundle in _fix_after(done.stdout, start)
    # keyless's own calls still verify with the profile's CA.
    assert _line(done.stdout, "ok            aws.tls: ")
    monkeypatch.delenv("AWS_CA_BUNDLE")

    # A profile whose own CA bundle is wrong: keyless cannot reach Okta at all. A --lab
    # profile takes its CA from the lab's connection file, so this one names its
    # endpoints itself, as a profile for a real org does.
    user = add_lab_user(doctor_lab, ("developers",), ("totp",))
    endpoints = doctor_lab.profile_defaults()
    configured = keyless(
        "configure",
        "--profile",
        "wrongca",
        "--org-url",
        endpoints["org_url"],
        "--app-url",
        endpoints["app_url"],
        "--aws-endpoint-url",
        endpoints["aws_endpoint_url"],
        "--username",
        user.login,
        "--ca-bundle",
        certifi.where(),
    )
    assert configured.returncode == 0, configured.stderr
    done = keyless("doctor", "--profile", "wrongca")
    assert done.returncode == 1, done.stdout + done.stderr
    start = "problem       okta.tls: "
    assert f"does not verify with {certifi.where()} (the profile's ca_bundle)" in _line(
        done.stdout, start
    )
    assert "keyless configure --profile wrongca --ca-bundle FILE" in _fix_after(done.stdout, start)
    assert _line(done.stdout, "not evaluated okta.clock: ")
    assert _line(done.stdout, "not evaluated session.roles: ")


def test_a_chained_profile_is_capped_at_one_hour(doctor_lab: Any) -> None:
    _signed_in(doctor_lab, "chain")
    config = Path(os.environ["AWS_CONFIG_FILE"])
    with config.open("a") as handle:
        handle.write(
            "\n[profile chained]\nsource_profile = chain\n"
            f"role_arn = arn:aws:iam::{DEV}:role/ReadOnly\nduration_seconds = 7200\n"
        )
    done = keyless("doctor", "--profile", "chain")
    assert done.returncode == 1, done.stdout + done.stderr
    start = "problem       chained.chained: "
    line = _line(done.stdout, start)
    assert "role chaining, 3600 s (1h00m) at most" in line
    assert "duration_seconds = 7200 is refused by AWS" in line
    assert "set duration_seconds to 3600 or less in [profile chained]" in _fix_after(
        done.stdout, start
    )
    document = json.loads(keyless("doctor", "--profile", "chain", "--json").stdout)
    (chained,) = document["chained"]
    assert chained == {
        "profile": "chained",
        "source_profile": "chain",
        "role_arn": f"arn:aws:iam::{DEV}:role/ReadOnly",
        "duration_seconds": 7200,
        "seconds": 3600,
        "deciding": "role chaining",
        "status": "problem",
    }


def test_json_has_a_stable_shape(doctor_lab: Any) -> None:
    _signed_in(doctor_lab, "machine")
    done = keyless("doctor", "--profile", "machine", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads(done.stdout)
    assert set(document) == {"profile", "ok", "checks", "roles", "chained"}
    assert document["chained"] == []
    assert (document["profile"], document["ok"]) == ("machine", True)
    ids = [check["id"] for check in document["checks"]]
    assert ids[:7] == [
        "okta.tls",
        "okta.clock",
        "okta.engine",
        "aws.tls",
        "aws.clock",
        "aws.cli-ca",
        "okta.app",
    ]
    for check in document["checks"]:
        assert set(check) == {"id", "status", "summary", "fix", "details"}
        assert check["status"] in ("ok", "warning", "problem", "not evaluated")
    assert document["checks"][1]["details"]["limit_seconds"] == 300
    roles = {role["role_arn"]: role for role in document["roles"]}
    admin = roles[f"arn:aws:iam::{DEV}:role/OktaAdminRole"]
    assert set(admin) == {
        "label",
        "status",
        "role_arn",
        "account_id",
        "seconds",
        "deciding",
        "also",
        "requested",
        "session_duration",
        "max_session_duration",
        "max_session_duration_source",
        "asked_first",
        "retried_with",
    }
    assert (admin["seconds"], admin["deciding"], admin["max_session_duration"]) == (
        3600,
        "MaxSessionDuration",
        3600,
    )
    developer = roles[f"arn:aws:iam::{DEV}:role/Developer"]
    assert (developer["seconds"], developer["deciding"]) == (7200, "SessionDuration")


def test_before_a_login_the_roles_are_not_evaluated_and_login_is_named(doctor_lab: Any) -> None:
    user = add_lab_user(doctor_lab, ("developers",), ("totp",))
    configure(doctor_lab, "fresh", user)
    done = keyless("doctor", "--profile", "fresh")
    assert done.returncode == 0, done.stdout + done.stderr
    start = "not evaluated session.roles: "
    assert "doctor never signs in: no live Okta session" in _line(done.stdout, start)
    assert _fix_after(done.stdout, start) == "fix: run `keyless login --profile fresh`"
    assert _line(done.stdout, "ok            okta.engine: ")
