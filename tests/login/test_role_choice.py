"""Issue 24: a role choice that sticks, and a self-refreshing profile per role.

A person with several roles used to lose their choice: `login --role` did not
record it, so an hour later `credential-process` (an IDE, no terminal) failed
with "Select a role... no terminal" (exit 4), and `--all-roles` wrote static
keys that never refreshed. Everything here runs the CLI and the AWS CLI as
subprocesses without a terminal, against the lab.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

import pytest

from keyless.adapters.credential_cache import CredentialCache
from keyless.services.login.profiles import config_path
from login_support import AWS, LabUser, configure, keyless, run, sign_in

pytestmark = [
    pytest.mark.slow,
    # tests/lab_fixtures.py's boto3 fallback calls httpx.get(verify=<path>) (see test_login_lab).
    pytest.mark.filterwarnings("ignore:`verify=<str>` is deprecated:DeprecationWarning"),
]

ADMIN_PROD = "arn:aws:sts::222222222222:assumed-role/OktaAdminRole/"
ADMIN_DEV = "arn:aws:sts::333333333333:assumed-role/OktaAdminRole/"
DEVELOPER = "arn:aws:sts::333333333333:assumed-role/Developer/"


def _multi_role_user(make_user: Any) -> LabUser:
    # OktaAdminRole in acme-prod and acme-dev, Developer in acme-dev: three roles.
    user: LabUser = make_user("aws-admins", more_groups=("developers",))
    return user


def _caller_arn(profile: str) -> str:
    """``aws sts get-caller-identity --profile PROFILE``: the AWS CLI runs credential_process."""
    result = run([AWS, "sts", "get-caller-identity", "--output", "json", "--profile", profile])
    assert result.returncode == 0, result.stderr
    return str(json.loads(result.stdout)["Arn"])


def _stored_profile(name: str) -> dict[str, Any]:
    with open(config_path(), "rb") as handle:
        return dict(tomllib.load(handle)["profiles"][name])


def _an_hour_later(*profiles: str) -> None:
    """The cached credentials are gone, as they are once they expire."""
    cache = CredentialCache()
    for name in cache.profiles():
        if name.split("[")[0] in profiles:
            assert cache.forget(name)


def _login(profile: str, user: LabUser, *args: str) -> Any:
    return sign_in(profile, user, *args)


def test_login_role_is_recorded_so_credential_process_refreshes_without_a_terminal(
    provisioned_lab: Any, make_user: Any
) -> None:
    user = _multi_role_user(make_user)
    configure(provisioned_lab, "ide", user, "--mfa-factor", "totp", role=None, account=None)
    first = _login("ide", user, "--role", "OktaAdminRole", "--account", "acme-prod", "--json")
    assert first.returncode == 0, first.stderr

    # An hour later, the IDE's AWS SDK runs credential_process with no terminal:
    # before issue 24 this was "Select a role (3 choices...)... no terminal", exit 4.
    _an_hour_later("ide")
    assert _caller_arn("ide").startswith(ADMIN_PROD)
    # And credential-process itself, stdin not a terminal, answers with that role.
    _an_hour_later("ide")
    answer = keyless("credential-process", "--profile", "ide")
    assert answer.returncode == 0, answer.stderr
    assert json.loads(answer.stdout)["Version"] == 1

    # The login said what it recorded, and recorded only that.
    assert json.loads(first.stdout)["recorded_role"] == {
        "role": "OktaAdminRole",
        "account": "acme-prod",
    }
    stored = _stored_profile("ide")
    assert (stored["role"], stored["account"]) == ("OktaAdminRole", "acme-prod")
    assert stored["username"] == user.login  # the rest of the profile is kept


def test_an_ambiguous_profile_names_configure_role_account_which_fixes_it(
    provisioned_lab: Any, make_user: Any
) -> None:
    user = _multi_role_user(make_user)
    configure(provisioned_lab, "vague", user, "--mfa-factor", "totp", role=None, account=None)
    # Without a terminal, a login that must ask which role fails at once, naming the way out
    # (the Okta session it started is kept).
    refused = _login("vague", user)
    assert refused.returncode == 2, refused.stderr
    fix = "keyless configure --profile vague --role ROLE --account ACCOUNT"
    assert fix in refused.stderr
    assert "pass --role and --account" in refused.stderr
    # credential-process from an IDE: exit 4, the same fix beside `keyless login`.
    process = keyless("credential-process", "--profile", "vague")
    assert process.returncode == 4, process.stderr
    assert "Select a role (3 choices:" in process.stderr
    assert fix in process.stderr
    assert "keyless login --profile vague" in process.stderr
    assert process.stdout == ""

    # The fix as printed, with one of the roles listed: the profile now answers on its own.
    fixed = keyless(
        "configure", "--profile", "vague", "--role", "Developer", "--account", "acme-dev"
    )
    assert fixed.returncode == 0, fixed.stderr
    assert _caller_arn("vague").startswith(DEVELOPER)


def test_all_roles_writes_a_self_refreshing_profile_per_role_and_logout_removes_them(
    provisioned_lab: Any, make_user: Any
) -> None:
    user = _multi_role_user(make_user)
    configure(provisioned_lab, "every", user, "--mfa-factor", "totp", role=None, account=None)
    config_file = Path(os.environ["AWS_CONFIG_FILE"])
    credentials_file = Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"])
    # A person's own profiles, comments and all, and one whose name a role profile would take.
    own_config = (
        "# my own settings\n[profile mine]\nregion = eu-west-1  ; keep me\n\n"
        "[profile acme-dev-Developer]\nregion = eu-west-1\n"
    )
    config_file.write_text(config_file.read_text() + own_config)
    own_credentials = "# keys of my own\n[mine]\naws_access_key_id = AKIAOWNEXAMPLE\n"
    credentials_file.write_text(own_credentials)
    config_before = config_file.read_text()

    # A role profile would take a person's own profile: refused, and nothing written.
    clash = _login("every", user, "--all-roles")
    assert clash.returncode == 2, clash.stderr
    assert "[profile acme-dev-Developer]" in clash.stderr
    assert "keyless will not overwrite it" in clash.stderr
    assert config_file.read_text() == config_before
    assert credentials_file.read_text() == own_credentials

    config_file.write_text(
        config_before.replace("[profile acme-dev-Developer]\n", "[profile mine-2]\n")
    )
    config_before = config_file.read_text()
    # Within the Okta session: no password or code needed this time.
    result = keyless("login", "--profile", "every", "--all-roles", "--json")
    assert result.returncode == 0, result.stderr
    written = {
        item["written_profile"]: item["role_arn"] for item in json.loads(result.stdout)["roles"]
    }
    expected = {
        "acme-prod-OktaAdminRole": ADMIN_PROD,
        "acme-dev-OktaAdminRole": ADMIN_DEV,
        "acme-dev-Developer": DEVELOPER,
    }
    assert set(written) == set(expected)

    # Everything that was in the config file is still there, byte for byte, before the
    # new profiles; the credentials file holds no key from this login.
    config_text = config_file.read_text()
    assert config_text.startswith(config_before)
    assert credentials_file.read_text() == own_credentials
    for name in expected:
        assert f"[profile {name}]" in config_text
    assert "--role Developer --account 333333333333" in config_text

    # Each profile, through the real AWS CLI: its own role, from the cache login filled...
    for name, arn in expected.items():
        assert _caller_arn(name).startswith(arn), name
    # ...and an hour later, refreshed on its own through the kept Okta session, no terminal.
    _an_hour_later("every")
    for name, arn in expected.items():
        assert _caller_arn(name).startswith(arn), name
    assert credentials_file.read_text() == own_credentials

    # A template names them differently; the previous names go.
    renamed = keyless(
        "login", "--profile", "every", "--all-roles", "--profile-name-template", "{account}.{role}"
    )
    assert renamed.returncode == 0, renamed.stderr
    config_text = config_file.read_text()
    assert "[profile 333333333333.Developer]" in config_text
    assert "[profile acme-dev-Developer]" not in config_text
    assert _caller_arn("222222222222.OktaAdminRole").startswith(ADMIN_PROD)

    # whoami shows each role profile's cached identity beside the profile's own.
    who = keyless("whoami", "--json")
    assert who.returncode == 0, who.stderr
    shown = {entry["profile"]: entry["role_arn"] for entry in json.loads(who.stdout)}
    assert shown["every[333333333333/Developer]"].endswith(":role/Developer")

    out = keyless("logout", "--all", "--json")
    assert out.returncode == 0, out.stderr
    assert sorted(json.loads(out.stdout)["role_profiles_removed"]) == sorted(
        ["222222222222.OktaAdminRole", "333333333333.OktaAdminRole", "333333333333.Developer"]
    )
    # Only what keyless wrote went: the person's own profiles and comments stay (the blank
    # line that separated the first role profile from them may stay too).
    assert config_file.read_text().rstrip("\n") == config_before.rstrip("\n")
    assert credentials_file.read_text() == own_credentials
    assert not [name for name in CredentialCache().profiles() if name.startswith("every[")]


def test_a_profile_name_template_without_the_role_is_refused() -> None:
    result = keyless(
        "login", "--profile", "x", "--all-roles", "--profile-name-template", "{alias}-admin"
    )
    assert result.returncode == 2
    assert "does not name {role}" in result.stderr
    typo = keyless("login", "--profile", "x", "--all-roles", "--profile-name-template", "{rol}")
    assert typo.returncode == 2
    assert "unknown placeholder {rol}" in typo.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--role"],
        ["--profile", "a", "--profile", "b"],
        ["--profile", "a", "--role=R", "--role", "S"],
        ["--profile", "a", "--region", "us-east-1"],
    ],
)
def test_credential_process_refuses_options_it_does_not_take(args: list[str]) -> None:
    result = keyless("credential-process", *args)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: keyless credential-process --profile NAME [--role")
    assert result.stdout == ""
