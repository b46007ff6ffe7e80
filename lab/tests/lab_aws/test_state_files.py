"""Issue 21, item 7: nothing in a lab directory runs code, and the directory must be the user's.

A planted ``aws-state.pickle`` ran its payload as the invoking user when
``keyless lab up --lab-dir D`` started. Now the state is JSON that builds only
moto's own classes without calling them, the directory is checked as keyless
checks its secrets directory, and an old pickle is never loaded.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from keyless.errors import LabError
from keyless.spec import load_spec
from keyless_lab.aws import LabAwsProcess
from keyless_lab.aws.state import check_state_dir, legacy_note
from keyless_lab.runtime import lab_accounts
from lab_fixtures import ACME

KEYLESS = str(Path(sys.executable).parent / "keyless")


class _Payload:
    """Unpickling this creates ``marker``: proof that loading ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


def _plant(directory: Path, marker: Path) -> None:
    (directory / "aws-state.pickle").write_bytes(pickle.dumps(_Payload(marker)))


def test_lab_up_refuses_a_world_writable_lab_dir_before_reading_anything(tmp_path: Path) -> None:
    """Regression (issue 21, item 7): the planted pickle ran before any check."""
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)  # noqa: S103 - the shared directory under test
    marker = tmp_path / "pwned"
    _plant(shared, marker)
    up = subprocess.run(
        [KEYLESS, "lab", "up", "--spec", str(ACME), "--lab-dir", str(shared)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert up.returncode == 2, up.stderr
    assert str(shared) in up.stderr
    assert "writable by other users" in up.stderr
    assert "chmod go-w" in up.stderr  # the fix
    assert not marker.exists()
    assert sorted(p.name for p in shared.iterdir()) == ["aws-state.pickle"]


def test_a_lab_dir_of_someone_elses_is_refused(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    if os.geteuid() == 0:
        os.chown(theirs, 54321, -1)
    else:
        theirs = Path("/")
    with pytest.raises(LabError) as caught:
        check_state_dir(theirs)
    assert "not by you" in str(caught.value)
    assert str(theirs) in str(caught.value)


def test_an_old_pickle_is_never_loaded_and_the_lab_says_so(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    state = tmp_path / "lab"
    state.mkdir(mode=0o700)
    _plant(state, marker)
    assert legacy_note(state) is not None
    with LabAwsProcess(accounts=lab_accounts(load_spec(ACME)), state_dir=state) as process:
        assert process.bootstrap_credentials["aws_access_key_id"]
    assert not marker.exists()
    assert "ignoring" in (state / "aws.log").read_text()
    assert (state / "aws-state.json").exists()


@pytest.mark.parametrize(
    "node",
    [
        # Not moto's at all.
        {"object": "subprocess:Popen", "id": 0, "attrs": {}},
        # Reached through a moto module that imported it: still not moto's class.
        {"object": "moto.core.utils:datetime", "id": 0, "attrs": {}},
        # Something that is not a node of the format.
        {"__reduce__": ["os:system", "touch pwned"]},
    ],
)
def test_a_snapshot_naming_anything_but_motos_classes_is_refused(
    tmp_path: Path, node: dict[str, Any]
) -> None:
    state = tmp_path / "lab"
    state.mkdir(mode=0o700)
    snapshot = state / "aws-state.json"
    fd = os.open(snapshot, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"format": 2, "state": node}, handle)
    with pytest.raises(LabError) as caught:
        LabAwsProcess(accounts=lab_accounts(load_spec(ACME)), state_dir=state).start()
    assert "cannot be read" in str(caught.value)


def test_a_snapshot_others_may_write_is_refused(tmp_path: Path) -> None:
    accounts = lab_accounts(load_spec(ACME))
    state = tmp_path / "lab"
    state.mkdir(mode=0o700)
    with LabAwsProcess(accounts=accounts, state_dir=state):
        pass
    os.chmod(state / "aws-state.json", 0o666)  # noqa: S103 - the planted file under test
    with pytest.raises(LabError) as caught:
        LabAwsProcess(accounts=accounts, state_dir=state).start()
    assert "only you can change" in str(caught.value)
