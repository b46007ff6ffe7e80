"""A `configure --lab` profile follows the lab's connection file, and a stopped lab says
`keyless lab up`, not "check your VPN" (issue 24, item 3).

The connection file is the lab's lab.json copied into a directory of the test's own, so
it can be made to say what a stopped lab, or one that stopped answering, leaves behind
while the session's lab keeps running for the other tests.
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from login_support import LabUser, keyless, sign_in


def _login(profile: str, user: LabUser) -> Any:
    return sign_in(profile, user)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_lab_profile_follows_lab_json_and_a_stopped_lab_says_lab_up(
    provisioned_lab: Any, make_user: Callable[..., LabUser], tmp_path: Path
) -> None:
    lab_dir = tmp_path / "lab"
    lab_dir.mkdir(mode=0o700)
    # Served (no lock to check): the running lab's endpoints.
    dataclasses.replace(provisioned_lab, state_dir=lab_dir, lock_file=None).save()
    user = make_user()
    made = keyless(
        "configure", "--profile", "p", "--lab", "--lab-dir", str(lab_dir), "--username", user.login
    )
    assert made.returncode == 0, made.stderr
    signed_in = _login("p", user)
    assert signed_in.returncode == 0, signed_in.stderr

    # What a stopped lab leaves: lab.json naming a lock nobody holds.
    dataclasses.replace(provisioned_lab, state_dir=lab_dir).save()
    assert keyless("logout", "--profile", "p").returncode == 0
    for attempt in (_login("p", user), keyless("credential-process", "--profile", "p")):
        assert attempt.returncode == 5, attempt.stdout + attempt.stderr
        assert f"no lab is running in {lab_dir}" in attempt.stderr
        assert f"keyless lab up --spec {provisioned_lab.spec_path} --lab-dir {lab_dir}" in (
            attempt.stderr
        )
        assert "VPN" not in attempt.stderr

    # A lab that moved and does not answer there: the profile tries the URL lab.json
    # names now (not the one stored at configure), and the fix is the lab's, not a VPN.
    port = _closed_port()
    moved = f"https://127.0.0.1:{port}"
    dataclasses.replace(
        provisioned_lab,
        state_dir=lab_dir,
        lock_file=None,
        idp_url=moved,
        app_url=provisioned_lab.app_url.replace(provisioned_lab.idp_url, moved),
    ).save()
    refused = _login("p", user)
    assert refused.returncode == 5, refused.stdout + refused.stderr
    assert f"cannot reach the Okta org at {moved}" in refused.stderr
    assert f"keyless lab status --lab-dir {lab_dir}" in refused.stderr
    assert f"keyless lab up --spec {provisioned_lab.spec_path} --lab-dir {lab_dir}" in (
        refused.stderr
    )
    assert "VPN" not in refused.stderr


def test_lab_dir_is_not_taken_from_the_environment(tmp_path: Path) -> None:
    """KEYLESS_LAB_DIR would make every profile a lab's: only configure --lab sets it."""
    from keyless.services.login.profiles import env_settings

    assert env_settings({"KEYLESS_LAB_DIR": str(tmp_path), "KEYLESS_ROLE": "Developer"}) == {
        "role": "Developer"
    }


def test_configure_lab_refuses_an_endpoint_it_would_replace(tmp_path: Path) -> None:
    # A --lab profile reads its CA and endpoints from the lab at every run: a --ca-bundle
    # given with --lab would be silently replaced, so it is refused, and nothing written.
    done = keyless(
        "configure", "--profile", "pin", "--lab", "--lab-dir", str(tmp_path), "--ca-bundle", "x.pem"
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--ca-bundle with --lab" in done.stderr
    assert "configure the profile without --lab" in done.stderr
    assert not (Path.home() / ".aws" / "config").exists()
