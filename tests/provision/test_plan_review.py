"""`keyless plan` as a reviewer reads it, through the CLI against moto's server (issue 24 item 6).

A first plan of a few accounts was hundreds of lines: every account repeated
the same trust policy in full, values printed as Python reprs (``None``,
``['…']``), and a certificate fingerprint's ``:AB:`` printed as an emoji. The
plan now opens with a summary table whose counts are the ``--json`` plan's,
shows a document once ("same as in …"), and ``--compact`` is one line per change.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from typing import Any

from provision_support import KEYLESS, REPO, Federation

SYMBOL = {"create": "+", "update": "~", "replace": "-/+", "delete": "-"}


def keyless(fed: Federation, *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [KEYLESS, *args, "--spec", str(fed.spec_path)],
        env={**fed.env(), "COLUMNS": "80"},
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        check=False,
    )
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return result.stdout


ACCOUNT_HEADER = re.compile(r"^\S+ \(\d{12}\)")


def _split(text: str) -> tuple[list[str], list[str]]:
    """(the summary's lines, the lines from the first account's on), trailing spaces cut."""
    lines = [line.rstrip() for line in text.splitlines()]
    first = next((i for i, line in enumerate(lines) if ACCOUNT_HEADER.match(line)), len(lines))
    return lines[:first], lines[first:]


def summary_rows(text: str) -> dict[str, list[int]]:
    """The summary table's rows: alias -> [create, update, delete, unchanged, left alone]."""
    rows: dict[str, list[int]] = {}
    for line in _split(text)[0]:
        cells = line.split()
        if len(cells) >= 6 and all(cell.isdigit() for cell in cells[-5:]):
            rows[cells[0]] = [int(cell) for cell in cells[-5:]]
    return rows


def expected_rows(plan: dict[str, Any]) -> dict[str, list[int]]:
    """The same counts computed from `plan --json` (unchanged is not in the JSON: -1)."""
    rows = {}
    for account in plan["accounts"]:
        actions = [change["action"] for change in account["changes"]]
        rows[account["alias"]] = [
            actions.count("create"),
            actions.count("update") + actions.count("replace"),
            actions.count("delete"),
            -1,
            actions.count("conflict") + actions.count("orphan"),
        ]
    return rows


def test_the_plan_opens_with_a_summary_whose_counts_are_the_json_plans(
    make_federation: Callable[..., Federation],
) -> None:
    fed = make_federation(members=3)
    plan = json.loads(keyless(fed, "plan", "--json"))
    text = keyless(fed, "plan")
    assert text.splitlines()[0] == "Plan summary", text
    rows = summary_rows(text)
    expected = expected_rows(plan)
    assert {alias: row[:3] + row[4:] for alias, row in rows.items() if alias != "total"} == {
        alias: row[:3] + row[4:] for alias, row in expected.items()
    }
    totals = plan["totals"]
    assert rows["total"][:3] == [
        totals["create"],
        totals["update"] + totals["replace"],
        totals["delete"],
    ]
    assert all(row[3] == 0 for row in rows.values())  # fresh accounts: nothing is right yet

    # Applied, the same resources are all "unchanged" and nothing is left to do.
    keyless(fed, "apply", "--yes")
    after = summary_rows(keyless(fed, "plan"))
    assert {alias: row[3] for alias, row in after.items() if alias != "total"} == {
        alias: row[0] for alias, row in expected.items()
    }
    assert [row[:3] for row in after.values()] == [[0, 0, 0]] * len(after)


def test_a_document_repeated_across_accounts_is_shown_once(
    make_federation: Callable[..., Federation],
) -> None:
    fed = make_federation(members=3)
    plan = json.loads(keyless(fed, "plan", "--json"))
    text = keyless(fed, "plan")
    # Every role's trust policy names its own account's provider: one is shown in full,
    # the others say whose they are the same as, naming the substitution.
    assert text.count('"Federated"') == 1, text
    first = plan["accounts"][0]
    for account in plan["accounts"][1:]:
        said = re.search(
            rf"^  \+ create role ReadOnly: same as in {first['alias']} "
            rf"\(with this account's id, {account['account_id']}, for {first['account_id']}\)$",
            text,
            re.MULTILINE,
        )
        assert said, text
    # Values and documents are JSON, never Python reprs.
    assert "None" not in text
    assert "['" not in text
    assert "{'" not in text
    # The SAML provider's certificate fingerprint is printed as it is (":AB:" was an emoji).
    metadata = first["changes"][0]["fields"][0]["after"]
    assert metadata["certificates"][0]["sha256"] in text


def test_compact_lists_every_change_on_one_line(
    make_federation: Callable[..., Federation],
) -> None:
    fed = make_federation(members=3)
    plan = json.loads(keyless(fed, "plan", "--json"))
    compact = keyless(fed, "plan", "--compact").splitlines()
    changes = [(a, c) for a in plan["accounts"] for c in a["changes"]]
    # The summary (title, header, rule, a row per account, a blank and the total), a
    # header per account, one line per change, and the closing "Plan:" line.
    bounded = 6 + len(plan["accounts"]) * 2 + len(changes) + 3
    assert len(compact) <= bounded, "\n".join(compact)
    for account, change in changes:
        section = compact.index(f"{account['alias']} ({account['account_id']})")
        line = f"  {SYMBOL[change['action']]} {change['action']} {change['resource']} "
        line += change["name"]
        assert line in compact[section:], "\n".join(compact)
    assert not any("trust_policy" in line for line in compact)


def test_apply_shows_the_summary_before_asking(
    make_federation: Callable[..., Federation],
) -> None:
    fed = make_federation()
    shown = keyless(fed, "apply", "--compact", stdin="n\n")
    assert shown.startswith("Plan summary"), shown
    assert "+ create role ReadOnly" in shown
    assert "trust_policy" not in shown


def test_the_readmes_compact_plan_is_what_keyless_prints(
    make_federation: Callable[..., Federation],
) -> None:
    """README.md shows a first compact plan of examples/acme.yaml: it must stay true."""
    readme = (REPO / "README.md").read_text()
    shown = re.search(r"--compact`\):\n\n```text\n(?P<block>.*?)```", readme, re.DOTALL)
    assert shown, "no compact plan example in the README"
    fed = make_federation(members=2)  # acme's roles on management, prod and dev
    prod, dev = fed.member_ids
    names = {
        fed.management_id: ("acme-management", "111111111111"),
        prod: ("acme-prod", "222222222222"),
        dev: ("acme-dev", "333333333333"),
    }
    printed = keyless(fed, "plan", "--compact").split("\nPlan:")[0]
    for account_id, (alias, acme_id) in names.items():
        own_alias = f"m{account_id}" if account_id == fed.management_id else f"a{account_id}"
        printed = printed.replace(own_alias, alias).replace(account_id, acme_id)
    # The table's column widths follow the names; its rows and everything after are the same.
    assert summary_rows(printed) == summary_rows(shown["block"])
    assert _split(printed)[1] == _split(shown["block"])[1]
