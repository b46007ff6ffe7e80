"""A plan for people to review: the rules for what ``keyless plan`` prints, without I/O.

The CLI draws what this module decides (:mod:`keyless.cli.provision`); ``plan
--json`` is the plans' own ``as_dict`` and is not shaped here.

- **A summary first**: per account (alias and id) and for the Okta org, how
  many resources would be created, updated (replacements count as updates),
  deleted, are already right, and are left alone (conflicts, and resources
  that left the spec without ``--prune``); then a total.
- **Each thing once**: a change whose details are the same as a change already
  shown (same action, resource and name) says "same as in acme-dev" instead of
  repeating them, and a policy document already shown says which one it is
  the same as. Sameness is of the text a reviewer would read, with one
  substitution only, and said aloud: the account's own id in place of the
  other account's (a trust policy names its own account's SAML provider).
  A document that names any other account differently is shown in full.
- **Values as JSON**: ``14400``, ``"acme-dev"``, ``["arn:..."]``; an absent
  value is ``(none)``. Never a Python repr.
- **Documents as JSON**: a new document pretty-printed (short lists and
  objects kept on one line); a changed one as a unified diff of the
  indented JSON, one value per line, so a reviewer sees the exact value that
  goes or comes.
- **Compact**: the summary, then one line per change (action, resource, name,
  and why, if there is a why), under the name of its account.

A line is a tuple of (text, style) spans; styles are rich's names ("green",
"bold", "dim") and the CLI turns spans into text without reading markup, so
names from the spec and from AWS are never taken for markup.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from keyless.plan.diff import AccountPlan, Change, FieldChange
from keyless.plan.documents import json_diff
from keyless.plan.okta import OktaPlan

Span = tuple[str, str | None]
Line = tuple[Span, ...]

ACTION_STYLE = {
    "create": ("+", "green"),
    "update": ("~", "yellow"),
    "replace": ("-/+", "magenta"),
    "delete": ("-", "red"),
    "conflict": ("!", "bold red"),
    "orphan": ("?", "dim"),
}
_SHOWN = frozenset({"create", "update", "replace"})  # actions whose details are shown
_INDENT = "      "  # details under a change
_WIDTH = 100  # a document's nested list or object stays on one line up to here
# Stands for the account's own id while comparing; no JSON text or name contains NUL.
_OWN_ID = "\x00own account id\x00"


def text_of(line: Line) -> str:
    """The line as plain text."""
    return "".join(text for text, _ in line)


def _plain(text: str, style: str | None = None) -> Line:
    return ((text, style),)


# -- values and documents -------------------------------------------------------------------


def show_value(value: Any) -> str:
    """One value as a reviewer reads it: JSON, or ``(none)`` when absent."""
    if value is None:
        return "(none)"
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def pretty_json(document: Any, *, start: int = 0) -> list[str]:
    """``document`` as indented JSON whose lists and objects stay on one line while they fit.

    ``start``: the column the first line is printed at (the width counts from there).
    """
    return _pretty(document, indent=0, margin=start, column=start)


def _pretty(value: Any, *, indent: int, margin: int, column: int) -> list[str]:
    """``value`` printed from ``column``, its closing line ``indent`` past ``margin``."""
    flat = json.dumps(value, sort_keys=True, ensure_ascii=False)
    if column + len(flat) <= _WIDTH or not isinstance(value, dict | list) or not value:
        return [flat]
    pad = " " * (indent + 2)
    items: list[tuple[str, Any]] = (
        [(json.dumps(k, ensure_ascii=False) + ": ", v) for k, v in sorted(value.items())]
        if isinstance(value, dict)
        else [("", v) for v in value]
    )
    lines = ["{" if isinstance(value, dict) else "["]
    for position, (prefix, item) in enumerate(items):
        inner = _pretty(
            item, indent=indent + 2, margin=margin, column=margin + len(pad) + len(prefix)
        )
        if position < len(items) - 1:
            inner[-1] += ","
        lines.append(pad + prefix + inner[0])
        lines.extend(inner[1:])
    lines.append(" " * indent + ("}" if isinstance(value, dict) else "]"))
    return lines


def _diff_line(text: str) -> Line:
    style = "green" if text.startswith("+") else "red" if text.startswith("-") else None
    return _plain(_INDENT + "  " + text, style)


def _document_lines(change: FieldChange) -> list[Line]:
    if change.before is None:
        margin = _INDENT + "  "
        return [_plain(margin + text) for text in pretty_json(change.after, start=len(margin))]
    diff = json_diff(change.before, change.after, name=change.field)
    # The ---/+++ header names the field, already said on the line above.
    return [_diff_line(text) for text in diff if not text.startswith(("---", "+++"))]


def _metadata_lines(change: FieldChange) -> list[Line]:
    if change.before is None and change.after:
        summary = change.after
        lines = [_plain(f"{_INDENT}  issuer {show_value(summary.get('entity_id'))}")]
        for cert in summary.get("certificates", []):
            lines.append(
                _plain(
                    f"{_INDENT}  certificate sha256 {cert['sha256']}, expires {cert['not_after']}"
                )
            )
        if "unreadable" in summary:
            lines.append(_plain(f"{_INDENT}  unreadable: {summary['unreadable']}", "red"))
        return lines
    return [_plain(_INDENT + "  " + text) for text in change.diff_lines()]


def _value_lines(change: FieldChange) -> list[Line]:
    before, after = change.before, change.after
    head = f"{_INDENT}{change.field}:"
    if isinstance(before, list) and isinstance(after, list):
        gone = [item for item in before if item not in after]
        added = [item for item in after if item not in before]
        if gone or added:
            return [
                _plain(head),
                *(_plain(f"{_INDENT}  - {show_value(item)}", "red") for item in gone),
                *(_plain(f"{_INDENT}  + {show_value(item)}", "green") for item in added),
            ]
    if isinstance(before, dict) and isinstance(after, dict):
        lines = [_plain(head)]
        for key in sorted(set(before) | set(after)):
            if before.get(key) == after.get(key):
                continue
            if key in before:
                lines.append(_plain(f"{_INDENT}  - {key}: {show_value(before[key])}", "red"))
            if key in after:
                lines.append(_plain(f"{_INDENT}  + {key}: {show_value(after[key])}", "green"))
        return lines
    if before is None:
        return [_plain(f"{head} {show_value(after)}")]
    return [_plain(f"{head} {show_value(before)} -> {show_value(after)}")]


def _field_body(change: FieldChange) -> tuple[list[Line], list[Line]]:
    """(the field's first line, the lines under it): documents may be deduplicated."""
    if change.kind == "document":
        if change.after is None:
            return [_plain(f"{_INDENT}{change.field}: removed", "red")], _document_lines(change)
        return [_plain(f"{_INDENT}{change.field}:")], _document_lines(change)
    if change.kind == "metadata":
        return [_plain(f"{_INDENT}{change.field}:")], _metadata_lines(change)
    return _value_lines(change), []


# -- sameness --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Place:
    """Where a text was first shown in full."""

    where: str  # the account's alias, or "Okta"
    own_id: str | None  # the account's id (None for the Okta org)
    resource: str
    name: str
    field: str = ""


def _normalized(lines: Sequence[Line], own_id: str | None) -> tuple[str, bool]:
    """The lines' text with the account's own id replaced, and whether it appeared."""
    text = "\n".join(text_of(line) for line in lines)
    if own_id is None:
        return text, False
    replaced, count = re.subn(rf"(?<!\d){re.escape(own_id)}(?!\d)", _OWN_ID, text)
    return replaced, count > 0


def _same_as(first: _Place, here: _Place, *, with_id: bool) -> str:
    if (first.resource, first.name, first.field) == (here.resource, here.name, here.field):
        said = f"same as in {first.where}"
    else:
        # A field's name is said only when it differs: "same as role ReadOnly's in acme-dev".
        whose = f"{first.resource} {first.name}'s"
        said = f"same as {whose}" if first.field == here.field else f"same as {whose} {first.field}"
        said += " above" if first.where == here.where else f" in {first.where}"
    if with_id and first.own_id != here.own_id:
        said += f" (with this account's id, {here.own_id}, for {first.own_id})"
    return said


@dataclass
class _Seen:
    """Texts already shown in full, by their normalised form."""

    changes: dict[tuple[str, str, str, str], _Place] = field(default_factory=dict)
    documents: dict[str, _Place] = field(default_factory=dict)


# -- the review ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SummaryRow:
    """One line of the summary table: an account, the Okta org, or the total."""

    where: str
    ident: str
    create: int = 0
    update: int = 0
    delete: int = 0
    unchanged: int = 0
    left_alone: int = 0
    error: bool = False

    def cells(self) -> tuple[str, ...]:
        """The row's cells: where, id, then the counts ("-" for a side that was not read)."""
        counts = (self.create, self.update, self.delete, self.unchanged, self.left_alone)
        shown = ("-",) * len(counts) if self.error else tuple(str(n) for n in counts)
        return (self.where, self.ident, *shown)


SUMMARY_HEADERS = ("account", "id", "create", "update", "delete", "unchanged", "left alone")


@dataclass(frozen=True)
class _Side:
    """An account's or the Okta org's plan, as the review needs it."""

    where: str
    ident: str
    own_id: str | None
    header: Line
    changes: tuple[Change, ...]
    error: str | None
    fix: str | None
    notes: tuple[str, ...]
    unchanged: int

    def row(self) -> SummaryRow:
        count = {action: 0 for action in ACTION_STYLE}
        for change in self.changes:
            count[change.action] += 1
        return SummaryRow(
            where=self.where,
            ident=self.ident,
            create=count["create"],
            update=count["update"] + count["replace"],
            delete=count["delete"],
            unchanged=self.unchanged,
            left_alone=count["conflict"] + count["orphan"],
            error=self.error is not None,
        )


def _sides(accounts: Sequence[AccountPlan], okta: OktaPlan | None) -> list[_Side]:
    sides = [
        _Side(
            where=plan.account.alias,
            ident=plan.account.id,
            own_id=plan.account.id,
            header=((plan.account.alias, "bold"), (f" ({plan.account.id})", None)),
            changes=plan.changes,
            error=plan.error,
            fix=plan.fix,
            notes=plan.notes,
            unchanged=plan.unchanged,
        )
        for plan in accounts
    ]
    if okta is not None:
        sides.append(
            _Side(
                where="Okta",
                ident=okta.org_url,
                own_id=None,
                header=(("Okta", "bold"), (f" {okta.org_url} (app {okta.app_id})", None)),
                changes=okta.changes,
                error=okta.error,
                fix=okta.fix,
                notes=okta.notes,
                unchanged=okta.unchanged,
            )
        )
    return sides


def summary(accounts: Sequence[AccountPlan], okta: OktaPlan | None) -> list[SummaryRow]:
    """One row per account and for the Okta org, then the total row."""
    rows = [side.row() for side in _sides(accounts, okta)]
    total = SummaryRow(
        where="total",
        ident="",
        create=sum(r.create for r in rows),
        update=sum(r.update for r in rows),
        delete=sum(r.delete for r in rows),
        unchanged=sum(r.unchanged for r in rows if not r.error),
        left_alone=sum(r.left_alone for r in rows),
    )
    return [*rows, total]


def change_header(change: Change) -> Line:
    """``  + create role ReadOnly — why``: the one line a change always gets."""
    symbol, style = ACTION_STYLE[change.action]
    spans: list[Span] = [
        ("  ", None),
        (f"{symbol} {change.action}", style),
        (f" {change.resource} ", None),
        (change.name, "bold"),
    ]
    if change.reason:
        spans.append((f" — {change.reason}", "dim"))
    return tuple(spans)


def _change_lines(change: Change, place: _Place, seen: _Seen) -> list[Line]:
    header = change_header(change)
    if change.action not in _SHOWN:
        return [header]
    fields = [(f, *_field_body(f)) for f in change.fields]
    body = [line for _, head, rest in fields for line in (*head, *rest)]
    normalized, had_id = _normalized(body, place.own_id)
    key = (change.action, change.resource, change.name, normalized)
    first = seen.changes.get(key)
    if first is not None and len(body) > 1:
        said = _same_as(first, place, with_id=had_id)
        return [(*header, (f": {said}", "dim"))]
    seen.changes.setdefault(key, place)
    lines = [header]
    for field_change, head, rest in fields:
        lines.extend(head)
        if field_change.kind != "document" or len(rest) <= 1:
            lines.extend(rest)
            continue
        document, doc_had_id = _normalized(rest, place.own_id)
        here = _Place(place.where, place.own_id, change.resource, change.name, field_change.field)
        earlier = seen.documents.get(document)
        if earlier is None:
            seen.documents[document] = here
            lines.extend(rest)
            continue
        said = _same_as(earlier, here, with_id=doc_had_id)
        last = lines.pop()
        lines.append((*last, (f" {said}", "dim")))
    return lines


@dataclass(frozen=True)
class Review:
    """What ``keyless plan`` prints before its closing "Plan:" line."""

    summary: tuple[SummaryRow, ...]
    details: tuple[Line, ...]
    compact: tuple[Line, ...]


def review(accounts: Sequence[AccountPlan], okta: OktaPlan | None = None) -> Review:
    """The summary, the details (each thing once) and the compact listing of a plan."""
    seen = _Seen()
    details: list[Line] = []
    compact: list[Line] = []
    for side in _sides(accounts, okta):
        if side.error is not None:
            error_lines = [
                (*side.header, (": ", None), ("error", "bold red"), (f" {side.error}", None))
            ]
            if side.fix:
                error_lines.append(_plain(f"  fix: {side.fix}"))
            details.extend(error_lines)
            compact.extend(error_lines)
            continue
        if not side.changes and not side.notes:
            continue  # the summary says it: nothing to change
        if side.changes:
            details.append(side.header)
            compact.append(side.header)
        else:
            details.append((*side.header, (": ", None), ("no changes", "green")))
        for change in side.changes:
            place = _Place(side.where, side.own_id, change.resource, change.name)
            details.extend(_change_lines(change, place, seen))
            compact.append(change_header(change))
        details.extend(_plain(f"  note: {note}", "dim") for note in side.notes)
    return Review(
        summary=tuple(summary(accounts, okta)), details=tuple(details), compact=tuple(compact)
    )
