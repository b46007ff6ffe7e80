"""`keyless spec validate` refuses an example's placeholders left in (issue 24, item 9).

The rule (keyless.spec.load.placeholder_problems): a string value holding
REPLACE, CHANGEME/CHANGE_ME or TODO in upper case, or an angle-bracketed
`<...>`. Keys are not values, AWS's mixed-case action names pass, and a
plausible real id passes. Other commands still load such a spec (the tests and
exports that start from examples/okta.yaml do); `validate` is the gate.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from keyless.errors import SpecError
from keyless.spec import load_spec

REPO = Path(__file__).resolve().parents[2]
KEYLESS = str(Path(sys.executable).parent / "keyless")
ACME = REPO / "examples" / "acme.yaml"


def validate(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KEYLESS, "spec", "validate", "--spec", str(path), *extra],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )


def test_the_shipped_okta_example_is_refused_naming_the_app_id() -> None:
    okta = REPO / "examples" / "okta.yaml"
    result = validate(okta, "--json")
    assert result.returncode == 2, result.stdout
    problems = json.loads(result.stdout)["problems"]
    paths = {p["path"] for p in problems}
    assert paths == {"identity_provider.app_id", "identity_provider.metadata.url"}
    line = okta.read_text().splitlines().index("  app_id: 0oaREPLACEWITHAPPID") + 1
    assert {"path": "identity_provider.app_id", "line": line}.items() <= next(
        p for p in problems if p["path"] == "identity_provider.app_id"
    ).items()


def test_the_filled_in_example_validates(tmp_path: Path) -> None:
    text = (REPO / "examples" / "okta.yaml").read_text()
    filled = tmp_path / "okta.yaml"
    filled.write_text(text.replace("0oaREPLACEWITHAPPID", "0oa1b2c3d4e5f6g7h8i9"))
    result = validate(filled)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("edit", "path"),
    [
        (
            lambda d: d["group_mappings"][1].__setitem__("group", "CHANGEME"),
            "group_mappings[1].group",
        ),
        (
            lambda d: d["group_mappings"][0].__setitem__("group", "<your admins group>"),
            "group_mappings[0].group",
        ),
        (
            lambda d: d["roles"][0].__setitem__("description", "TODO: say who this is for"),
            "roles[0].description",
        ),
        (
            lambda d: d["roles"][1].__setitem__(
                "managed_policies", ["arn:aws:iam::aws:policy/CHANGE_ME"]
            ),
            "roles[1].managed_policies[0]",
        ),
    ],
    ids=["changeme", "angle-brackets", "todo", "change_me-in-a-list"],
)
def test_each_kind_of_placeholder_is_named_by_its_path(
    tmp_path: Path, edit: object, path: str
) -> None:
    data = yaml.safe_load(ACME.read_text())
    edit(data)  # type: ignore[operator]
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    result = validate(spec)
    assert result.returncode == 2
    assert f": {path}: placeholder" in result.stderr, result.stderr


def test_real_values_that_look_alike_pass(tmp_path: Path) -> None:
    data = yaml.safe_load(ACME.read_text())
    # A mixed-case AWS action, a word containing "todo", a plausible real id.
    data["roles"][0]["description"] = "may call ec2:ReplaceRoute; reads the todos table"
    data["accounts"][1]["id"] = "123456789012"
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    result = validate(spec)
    assert result.returncode == 0, result.stderr


def test_other_readers_still_load_the_example() -> None:
    """plan, export and the tests built on examples/okta.yaml read it as before."""
    assert load_spec(REPO / "examples" / "okta.yaml").identity_provider.app_id
    with pytest.raises(SpecError) as refused:
        load_spec(REPO / "examples" / "okta.yaml", refuse_placeholders=True)
    assert "identity_provider.app_id" in str(refused.value)
