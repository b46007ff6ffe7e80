"""Benchmark the Okta side of `keyless plan` / `apply`: management API calls, 10/100 accounts.

Runs the lab IdP alone (the Okta side needs no AWS) for a spec of N accounts
with three roles in every account, Okta's naming convention on and three
explicit mappings, its AWS app blank (as before any apply). Prints, per size:
the API calls (HTTP requests, pages included) of the first plan, of the apply
that configures the org, and of the no-change plan after it, with wall times,
beside the budget:

- plan: 1 call for the app + one per page of groups + one per page of the
  app's group assignments (200 per page): ``1 + 2 * ceil(groups / 200)``;
- apply: the plan's reads + 1 (the app's settings) + 2 per new group (create it,
  assign it to the app).

    .venv/bin/python benchmarks/bench_okta.py [--sizes 10 100]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

from keyless.adapters.okta_admin import ApiToken, OktaAdminClient, make_admin_http
from keyless.plan.okta import desired_okta
from keyless.services.okta.side import OktaSide, OktaTarget
from keyless.spec import load_spec_text
from keyless.spec.model import FederationSpec
from keyless_lab.idp.appstate import ALL_SCOPES
from keyless_lab.idp.server import IdpServer

PAGE = 200


def _spec(size: int) -> FederationSpec:
    base = 100000000000
    accounts = [f'  - {{id: "{base}", alias: m{base}, management: true}}']
    accounts += [f'  - {{id: "{base + i}", alias: a{base + i}}}' for i in range(1, size)]
    text = f"""
version: 1
name: bench
identity_provider: {{kind: lab}}
accounts:
{chr(10).join(accounts)}
roles:
  - {{name: ReadOnly, managed_policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]}}
  - {{name: Developer, managed_policies: [arn:aws:iam::aws:policy/PowerUserAccess]}}
  - {{name: OktaAdminRole, managed_policies: [arn:aws:iam::aws:policy/AdministratorAccess]}}
group_mappings:
  - {{group: auditors, role: ReadOnly}}
  - {{group: developers, role: Developer}}
  - {{group: aws-admins, role: OktaAdminRole}}
okta: {{auth: api_token}}
"""
    return load_spec_text(text)


def run(size: int) -> None:
    spec = _spec(size)
    groups = len(desired_okta(spec).groups)
    plan_budget = 1 + 2 * math.ceil(groups / PAGE)
    apply_budget = plan_budget + 1 + 2 * groups
    with tempfile.TemporaryDirectory() as tmp:
        server = IdpServer(spec=spec, state_dir=Path(tmp), okta_app_configured=False)
        server.start()
        http = make_admin_http(ca_bundle=str(server.tls.ca_cert))
        try:
            token = server.idp.appstate.create_token("bench", ALL_SCOPES)
            target = OktaTarget(
                org_url=server.url, app_id=server.app_id, app_label=None, auth=ApiToken(token)
            )
            client = OktaAdminClient(server.url, target.auth, http=http)
            side = OktaSide(spec, target, client)

            start, calls = time.perf_counter(), client.calls
            plan = side.plan()
            first_plan = (client.calls - calls, time.perf_counter() - start)
            start, calls = time.perf_counter(), client.calls
            result = side.apply(plan)
            applied = (client.calls - calls, time.perf_counter() - start)
            assert result.status == "applied", result.error
            start, calls = time.perf_counter(), client.calls
            again = side.plan()
            settled = (client.calls - calls, time.perf_counter() - start)
            assert not again.pending, "a plan after apply must have nothing to do"
        finally:
            http.close()
            server.stop()
    print(f"{size} accounts, {groups} groups:")
    calls, seconds = first_plan
    print(f"  first plan:      {calls:5d} calls  (budget {plan_budget:5d})  {seconds:.2f} s")
    print(
        f"  apply:           {first_plan[0] + applied[0]:5d} calls  (budget {apply_budget:5d})  "
        f"{applied[1]:.2f} s   (plan + {applied[0]} writes)"
    )
    print(
        f"  no-change plan:  {settled[0]:5d} calls  (budget {plan_budget:5d})  {settled[1]:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100])
    for size in parser.parse_args().sizes:
        run(size)


if __name__ == "__main__":
    main()
