"""`keyless audit` says which checks it did not run (issue 24, item 9).

A check that could not look (the Okta org unreadable, an account that cannot be
entered, CloudTrail refused) has no findings because it looked at nothing: the
JSON gives every check a status, "evaluated" or "not evaluated" with the reason,
and the table and the HTML report say "not evaluated" rather than a silent 0.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from offboard_support import ACME, KEYLESS, REPO


def audit(lab: Any, *args: str, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [KEYLESS, "audit", "--spec", str(ACME), "--lab-dir", str(lab.state_dir), *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )


def test_every_check_is_evaluated_in_a_readable_lab(own_lab: Any) -> None:
    result = audit(own_lab, "--json")
    assert result.returncode == 0, result.stderr
    checks = json.loads(result.stdout)["checks"]
    assert {status["status"] for status in checks.values()} == {"evaluated"}, checks
    assert checks["expected-access-key"]["findings"] == 1  # the lab's bootstrap key
    assert all(not status["not_evaluated_in"] for status in checks.values())


def test_okta_checks_are_not_evaluated_without_okta_credentials(
    own_lab: Any, tmp_path: Path
) -> None:
    # A token the org does not know: the IdP side cannot be read.
    env = {"KEYLESS_OKTA_API_TOKEN": "00" + "x" * 40}
    result = audit(own_lab, "--json", env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    okta = report["checks"]["okta"]
    assert okta["status"] == "not evaluated"
    assert okta["reason"].startswith("the Okta org could not be read")
    assert okta["findings"] == 0
    # The AWS side's checks ran regardless.
    assert report["checks"]["person-access-key"]["status"] == "evaluated"

    table = audit(own_lab, env=env)
    assert table.returncode == 0, table.stderr
    assert "not evaluated: The IdP side (Okta) — the Okta org could not be read" in table.stdout

    html = tmp_path / "audit.html"
    written = audit(own_lab, "--format", "html", "--output", str(html), env=env)
    assert written.returncode == 0, written.stderr
    page = html.read_text()
    assert "Not evaluated (no finding here means nothing was looked at)" in page
    assert '<td class="not-evaluated">not evaluated: the Okta org could not be read' in page


def test_checks_are_not_evaluated_in_accounts_they_could_not_enter(own_lab: Any) -> None:
    # Every account is read through --role (the lab has no such role): none can be entered.
    result = audit(own_lab, "--json", "--role", "NoSuchAuditRole")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    person_keys = report["checks"]["person-access-key"]
    assert person_keys["status"] == "not evaluated"
    assert person_keys["findings"] == 0
    assert set(person_keys["not_evaluated_in"]) == {"acme-management", "acme-prod", "acme-dev"}
    assert "account acme-dev could not be read" in person_keys["reason"]
    dev = next(a for a in report["accounts"] if a["alias"] == "acme-dev")
    assert dev["not_evaluated"]["sign-ins"] == "account acme-dev could not be read"
    # The unreadable accounts are findings themselves, and the Okta side still ran.
    assert report["checks"]["unreadable"]["findings"] == 3
    assert report["checks"]["okta"]["status"] == "evaluated"
