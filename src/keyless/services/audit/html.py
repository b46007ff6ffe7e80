"""`keyless audit --format html`: one self-contained page an auditor can open anywhere.

Inline CSS and inline SVG only: no script, no font, no image, no link to
anything outside the file, and a Content-Security-Policy that forbids the
browser to fetch anything (``default-src 'none'``). Everything from AWS or the
IdP (role names, session names, messages) is escaped by Jinja2's autoescape.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from jinja2 import Environment

from keyless.services.audit import SEVERITIES, AuditReport, SignIn

COLOURS = {
    "critical": "#7f1d1d",
    "high": "#dc2626",
    "medium": "#d97706",
    "low": "#2563eb",
    "info": "#6b7280",
}

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>keyless audit: {{ report.spec }}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #111827; background: #f9fafb; }
header, main { max-width: 1100px; margin: 0 auto; padding: 0 1.5rem; }
header { padding-top: 1.5rem; }
nav a { margin-right: 1rem; }
.not-evaluated { color: #b45309; }
section { background: #fff; border: 1px solid #e5e7eb; border-radius: 6px;
  padding: 1rem 1.25rem; margin: 1rem 0; }
h1 { margin: 0 0 .25rem; font-size: 1.5rem; }
h2 { margin-top: 0; font-size: 1.2rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; }
th, td { text-align: left; vertical-align: top; padding: .35rem .5rem;
  border-bottom: 1px solid #e5e7eb; }
th { background: #f3f4f6; font-weight: 600; }
.sev { display: inline-block; color: #fff; border-radius: 3px; padding: 0 .4rem;
  font-size: 12px; text-transform: uppercase; }
{% for name, colour in colours.items() %}.sev-{{ name }} { background: {{ colour }}; }
{% endfor %}
.muted { color: #6b7280; }
code { font-size: 12px; }
.fix { color: #065f46; }
</style>
</head>
<body>
<header>
<h1>keyless audit: {{ report.spec }}</h1>
<p class="muted">Generated {{ report.finished_at or report.started_at }}; sign-ins from
{{ report.period.start }} to {{ report.period.end }}.</p>
<nav>
<a href="#summary">Summary</a><a href="#findings">Findings</a><a href="#accounts">Accounts</a>
<a href="#timeline">Sign-ins</a><a href="#controls">Controls</a>
</nav>
</header>
<main>
<section id="summary">
<h2>Summary</h2>
<p>{{ report.findings | length }} finding(s) across {{ report.accounts | length }} account(s).</p>
{% if not_evaluated %}
<p class="not-evaluated">Not evaluated (no finding here means nothing was looked at):</p>
<ul class="not-evaluated">
{% for id in not_evaluated %}
<li>{{ report.controls[id].title }}: {{ report.checks[id].reason }}</li>
{% endfor %}
</ul>
{% endif %}
<svg role="img" aria-label="findings by severity" width="520" height="{{ 30 * bars | length + 10 }}"
 xmlns="http://www.w3.org/2000/svg">
{% for bar in bars %}
<text x="0" y="{{ 30 * loop.index0 + 22 }}" font-size="13">{{ bar.name }}</text>
<rect x="90" y="{{ 30 * loop.index0 + 8 }}" width="{{ bar.width }}" height="20"
 fill="{{ bar.colour }}"></rect>
<text x="{{ 96 + bar.width }}" y="{{ 30 * loop.index0 + 22 }}"
 font-size="13">{{ bar.count }}</text>
{% endfor %}
</svg>
</section>

<section id="findings">
<h2>Findings by severity</h2>
{% if not report.findings %}<p>No findings.</p>{% else %}
<table>
<thead><tr><th>Severity</th><th>Account</th><th>Resource</th><th>Finding</th>
<th>Controls</th></tr></thead>
<tbody>
{% for f in report.findings %}
<tr id="finding-{{ loop.index }}" data-check="{{ f.check }}">
<td><span class="sev sev-{{ f.severity }}">{{ f.severity }}</span></td>
<td><a href="#account-{{ f.account_id or 'okta' }}">{{ f.account_alias }}</a></td>
<td><code>{{ f.resource }}</code></td>
<td><strong>{{ f.title }}</strong><br><span class="muted">Why: {{ f.why }}</span><br>
<span class="fix">Fix: {{ f.fix }}</span></td>
<td>{% for c in f.controls %}<a href="#control-{{ f.check }}">{{ c }}</a>
{%- if not loop.last %}, {% endif %}{% endfor %}</td>
</tr>
{% endfor %}
</tbody>
</table>
{% endif %}
</section>

<section id="accounts">
<h2>Accounts</h2>
{% for a in report.accounts %}
<h3 id="account-{{ a.account_id }}">{{ a.alias }}
 <span class="muted">({{ a.account_id }})</span></h3>
{% if a.error %}<p><strong>Not read completely:</strong> {{ a.error }}</p>{% endif %}
<table>
<thead><tr><th>IAM user</th><th>Kind</th><th>Access keys (age, last used)</th>
<th>Console password</th><th>MFA</th></tr></thead>
<tbody>
{% for u in a.users %}
<tr><td><code>{{ u.user }}</code></td><td>{{ kinds.get(u.kind, u.kind) }}</td>
<td>{% for k in u.access_keys %}{{ k.age_days }} day(s), last used
 {{ k.last_used or 'never' }}{% if not loop.last %}; {% endif %}{% else %}none{% endfor %}</td>
<td>{{ 'yes' if u.password else 'no' }}</td><td>{{ 'yes' if u.mfa else 'no' }}</td></tr>
{% else %}<tr><td colspan="5" class="muted">No IAM users.</td></tr>{% endfor %}
</tbody>
</table>
<table>
<thead><tr><th>Federated role</th><th>Managed</th><th>Max session</th><th>SAML:aud</th>
<th>Revocations</th></tr></thead>
<tbody>
{% for r in a.roles %}
<tr><td><code>{{ r.role }}</code></td><td>{{ 'keyless' if r.managed else 'no' }}</td>
<td>{{ r.max_session_duration }} s</td><td>{{ r.audiences | join(', ') }}</td>
<td>{{ r.revocations | join(', ') or '-' }}</td></tr>
{% else %}<tr><td colspan="5" class="muted">No federated roles.</td></tr>{% endfor %}
</tbody>
</table>
{% endfor %}
{% if report.okta_findings_count %}
<h3 id="account-okta">Okta</h3><p>See the findings above.</p>
{% endif %}
</section>

<section id="timeline">
<h2>Sign-ins (AssumeRoleWithSAML, from CloudTrail)</h2>
{% if not timeline.dots %}<p>No sign-ins in the period.</p>{% else %}
<svg role="img" aria-label="sign-in timeline" width="{{ timeline.width }}"
 height="{{ timeline.height }}" xmlns="http://www.w3.org/2000/svg">
{% for row in timeline.rows %}
<text x="0" y="{{ row.y + 4 }}" font-size="12">{{ row.person }}</text>
<line x1="{{ timeline.left }}" x2="{{ timeline.width - 10 }}" y1="{{ row.y }}" y2="{{ row.y }}"
 stroke="#e5e7eb"></line>
{% endfor %}
{% for dot in timeline.dots %}
<circle class="sign-in" cx="{{ dot.x }}" cy="{{ dot.y }}" r="5" fill="{{ dot.colour }}">
<title>{{ dot.label }}</title></circle>
{% endfor %}
<text x="{{ timeline.left }}" y="{{ timeline.height - 4 }}"
 font-size="11">{{ timeline.start }}</text>
<text x="{{ timeline.width - 10 }}" y="{{ timeline.height - 4 }}" font-size="11"
 text-anchor="end">{{ timeline.end }}</text>
</svg>
<table>
<thead><tr><th>Time (UTC)</th><th>Person</th><th>Account</th><th>Role</th><th>From</th>
<th>Outcome</th></tr></thead>
<tbody>
{% for s in report.sign_ins %}
<tr class="sign-in-row"><td>{{ s.at }}</td><td>{{ s.person or '(unverified)' }}</td>
<td><a href="#account-{{ s.account_id }}">{{ s.account_alias }}</a></td><td>{{ s.role }}</td>
<td>{{ s.source_ip }}</td><td>{{ s.error or 'signed in' }}</td></tr>
{% endfor %}
</tbody>
</table>
{% endif %}
</section>

<section id="controls">
<h2>Controls each check evidences</h2>
<table>
<thead><tr><th>Check</th><th>SOC 2</th><th>NIST 800-53</th><th>Findings</th></tr></thead>
<tbody>
{% for id, c in report.controls.items() %}
<tr id="control-{{ id }}"><td>{{ c.title }}</td><td>{{ c.soc2 | join(', ') }}</td>
<td>{{ c.nist | join(', ') }}</td>
{% set status = report.checks[id] %}
{% if status.status == 'not evaluated' %}
<td class="not-evaluated">not evaluated: {{ status.reason }}</td></tr>
{% else %}
<td>{{ per_check.get(id, 0) }}
{%- for alias, why in status.not_evaluated_in.items() %}
<br><span class="not-evaluated">not evaluated in {{ alias }}: {{ why }}</span>
{%- endfor %}</td></tr>
{% endif %}
{% endfor %}
</tbody>
</table>
</section>
</main>
</body>
</html>
"""

KINDS = {
    "person": "person",
    "provisioning": "IdP provisioning principal (expected)",
    "expected": "a key the spec expects (expected_access_keys)",
}


def _bars(counts: dict[str, int]) -> list[dict[str, Any]]:
    most = max(counts.values(), default=0) or 1
    return [
        {
            "name": name,
            "count": counts.get(name, 0),
            "width": round(380 * counts.get(name, 0) / most),
            "colour": COLOURS[name],
        }
        for name in SEVERITIES
    ]


def _timeline(sign_ins: Sequence[SignIn], start: datetime, end: datetime) -> dict[str, Any]:
    people = sorted({s.person or "(unverified)" for s in sign_ins})
    left, width, row_height = 180, 900, 26
    span = max((end - start).total_seconds(), 1.0)
    rows = [{"person": p, "y": 20 + i * row_height} for i, p in enumerate(people)]
    y_of = {r["person"]: r["y"] for r in rows}
    dots = []
    for s in sign_ins:
        person = s.person or "(unverified)"
        fraction = min(max((s.at - start).total_seconds() / span, 0.0), 1.0)
        dots.append(
            {
                "x": round(left + fraction * (width - left - 20), 1),
                "y": y_of[person],
                "colour": COLOURS["high"] if s.error else "#059669",
                "label": f"{s.at:%Y-%m-%d %H:%M:%S}Z {person} -> {s.role_arn}"
                + (f" ({s.error})" if s.error else ""),
            }
        )
    return {
        "rows": rows,
        "dots": dots,
        "left": left,
        "width": width,
        "height": 40 + len(rows) * row_height,
        "start": f"{start:%Y-%m-%d %H:%M}",
        "end": f"{end:%Y-%m-%d %H:%M}",
    }


def render_html(report: AuditReport) -> str:
    """The report as one self-contained HTML document."""
    environment = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    template = environment.from_string(TEMPLATE)
    document = report.as_dict()
    per_check: dict[str, int] = {}
    for finding in report.findings:
        per_check[finding.check] = per_check.get(finding.check, 0) + 1
    document["okta_findings_count"] = len(report.okta_findings)
    return template.render(
        report=document,
        colours=COLOURS,
        bars=_bars(report.counts()),
        timeline=_timeline(report.sign_ins, report.period_start, report.period_end),
        kinds=KINDS,
        per_check=per_check,
        not_evaluated=[
            check_id
            for check_id, status in document["checks"].items()
            if status["status"] == "not evaluated"
        ],
    )
