"""`keyless audit` in the lab: the issue's done-when, through the CLI, boto3 and Chromium.

A clean lab audits clean apart from the lab's own bootstrap key, which the spec lists
under expected_access_keys.
After alice and bob sign in, a person's static key is planted in acme-dev and a
trust policy's audience is changed by hand to a regional sign-in URL:
`keyless audit --fail-on high` exits 1 naming both with their fixes, and the
HTML report (opened in Chromium) shows them and alice's and bob's sign-ins
from the lab's CloudTrail, renders with no request leaving the file, and its
links lead somewhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from browser_support import chromium
from offboard_support import keyless, member_client, sign_in

DEV = "333333333333"
REGIONAL = "https://us-east-2.signin.aws.amazon.com/saml"


def test_a_clean_lab_audits_clean_apart_from_its_bootstrap_key(own_lab: Any) -> None:
    result = keyless(own_lab, "audit", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    findings = report["findings"]
    assert [f["severity"] for f in findings] == ["info"], findings
    (bootstrap,) = findings
    assert bootstrap["resource"].endswith(":user/lab-admin")
    assert bootstrap["check"] == "expected-access-key"
    assert "the lab's bootstrap administrator" in bootstrap["title"]
    # Failing on high passes too.
    assert keyless(own_lab, "audit", "--fail-on", "high").returncode == 0


def test_group_mapping_holds_no_long_lived_key_but_the_labs_bootstrap_admin(
    own_lab: Any,
) -> None:
    # Issue 22: acme maps groups and names no provisioning principal, so `apply` made no
    # role-listing user and the federation holds no static key in any account.
    result = keyless(own_lab, "audit", "--lab", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    accounts = report["accounts"]
    assert {a["alias"] for a in accounts} == {"acme-management", "acme-prod", "acme-dev"}
    assert all(a["error"] is None for a in accounts)
    assert [a["federation_long_lived_keys"] for a in accounts] == [0, 0, 0]
    holders = [
        (a["alias"], u["user"])
        for a in accounts
        for u in a["users"]
        if any(k.get("status", "Active") == "Active" for k in u.get("access_keys", []))
    ]
    assert holders == [("acme-management", "lab-admin")], holders
    assert not any(u.get("kind") == "provisioning" for a in accounts for u in a["users"])


@pytest.fixture(scope="module")
def tampered(own_lab: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """alice and bob signed in; then a person's key and a regional audience planted by hand."""
    tmp = tmp_path_factory.mktemp("audit")
    sign_in(own_lab, "alice@acme.example", tmp)
    sign_in(own_lab, "bob@acme.example", tmp)
    iam = member_client(own_lab, DEV, "iam")
    iam.create_user(UserName="dave")
    iam.create_access_key(UserName="dave")
    role = iam.get_role(RoleName="Developer")["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust["Statement"][0]["Condition"]["StringEquals"]["SAML:aud"] = REGIONAL
    iam.update_assume_role_policy(RoleName="Developer", PolicyDocument=json.dumps(trust))
    return tmp


def test_audit_fails_on_high_naming_the_key_and_the_audience_with_fixes(
    own_lab: Any, tampered: Path
) -> None:
    result = keyless(own_lab, "audit", "--fail-on", "high", "--json")
    assert result.returncode == 1, result.stderr
    findings = json.loads(result.stdout)["findings"]
    high = {
        (f["check"], f["account_alias"], f["resource"]) for f in findings if f["severity"] == "high"
    }
    assert ("person-access-key", "acme-dev", f"arn:aws:iam::{DEV}:user/dave") in high
    assert ("saml-audience", "acme-dev", f"arn:aws:iam::{DEV}:role/Developer") in high
    by_check = {f["check"]: f for f in findings if f["severity"] == "high"}
    assert "delete" in by_check["person-access-key"]["fix"]
    assert "keyless apply" in by_check["saml-audience"]["fix"]
    assert REGIONAL in by_check["saml-audience"]["title"]
    # The exit names both on stderr for a CI log.
    assert "user/dave" in result.stderr
    assert "role/Developer" in result.stderr
    assert "fix:" in result.stderr


def test_the_html_report_in_chromium(own_lab: Any, tampered: Path) -> None:
    html = tampered / "audit.html"
    result = keyless(own_lab, "audit", "--format", "html", "--output", str(html))
    assert result.returncode == 0, result.stderr
    requests: list[str] = []
    with chromium() as browser:
        page = browser.new_page()
        page.on("request", lambda request: requests.append(request.url))
        page.goto(html.as_uri())
        assert page.title() == "keyless audit: acme"
        findings = page.locator("#findings tbody tr")
        text = findings.all_inner_texts()
        assert any("dave" in row and "Fix:" in row for row in text)
        assert any(REGIONAL in row for row in text)
        rows = page.locator("#timeline .sign-in-row").all_inner_texts()
        assert any("alice@acme.example" in row for row in rows)
        assert any("bob@acme.example" in row for row in rows)
        assert page.locator("#timeline svg circle.sign-in").count() >= 2
        # Every in-page link leads to an element that exists, and following one works.
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
        assert hrefs
        for href in set(hrefs):
            assert href.startswith("#"), href
            assert page.locator(href).count() == 1, href
        page.click("nav a[href='#controls']")
        assert page.evaluate("location.hash") == "#controls"
        assert page.locator("#control-person-access-key").inner_text().count("CC6.1") == 1
    # Nothing but the file itself was requested: no script, font, image or stylesheet.
    assert requests == [html.as_uri()]
