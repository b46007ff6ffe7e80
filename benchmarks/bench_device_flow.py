"""Identity Engine's device flow beside Classic's sign-in: from approval to credentials.

    .venv/bin/python benchmarks/bench_device_flow.py [--runs 5] [--interval 5]

Starts a lab for examples/acme.yaml (provisioned), then per run, with a fresh
lab user:

- **device flow, approval → credentials**: ``login()`` runs the device flow in
  a thread; a "person" (an HTTPS client on the lab's pages) signs in with
  password and TOTP and clicks Allow; the figure is the time from that click
  to ``login()`` returning credentials (polling at the org's ``interval``,
  token exchange, ``/login/token/sso``, AssumeRoleWithSAML, files). The wait
  for the next poll dominates: this scripted person approves within the
  first interval, so nearly a whole interval (Okta's is 5 s) passes; a person
  who takes longer waits half an interval on average.
- **device flow, kept tokens**: a second login exchanging the kept tokens
  (nothing asked, no browser).
- **classic, full sign-in**: ``login()`` with password and TOTP through the
  Authentication API on the same lab playing Classic (the baseline: no
  human wait either).
- **classic, within the Okta session**: a second classic login.
"""

from __future__ import annotations

import argparse
import os
import re
import ssl
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_login import home_environment, provision  # noqa: E402

_FIELD = r'name="{}" value="([^"]*)"'


def _field(page: str, name: str) -> str:
    match = re.search(_FIELD.format(name), page)
    assert match, name
    return match.group(1)


def approve_in_pages(lab: Any, url: str, login: str, password: str, code: str) -> float:
    """Sign in on the lab's pages and click Allow; the moment of the click (perf_counter)."""
    import httpx

    context = ssl.create_default_context(cafile=lab.ca_bundle)
    path = url[url.index("/activate") :]
    with httpx.Client(base_url=lab.idp_url, verify=context) as browser:
        page = browser.get(f"/login/login.htm?fromURI={path}").text
        mfa = browser.post(
            "/login/login.htm",
            data={
                "username": login,
                "password": password,
                "csrf": _field(page, "csrf"),
                "fromURI": path,
            },
        ).text
        confirm = browser.post(
            "/signin/verify",
            data={
                "csrf": _field(mfa, "csrf"),
                "stateToken": _field(mfa, "stateToken"),
                "fromURI": path,
                "factorId": _field(mfa, "factorId"),
                "passCode": code,
            },
            follow_redirects=True,
        ).text
        clicked = time.perf_counter()
        browser.post(
            "/activate",
            data={
                "csrf": _field(confirm, "csrf"),
                "user_code": _field(confirm, "user_code"),
                "decision": "allow",
            },
        )
    return clicked


def main() -> None:
    """Run both flows and print medians side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--interval", type=int, default=5, help="the org's polling interval")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        os.environ.update(home_environment(home))
        os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"

        import pyotp

        from keyless.errors import KeylessError
        from keyless.services.login.okta_signin import LoginInputs
        from keyless.services.login.profiles import resolve_settings
        from keyless.services.login.wiring import login_and_cache as login
        from keyless.spec import load_spec
        from keyless_lab.idp.directory import Directory
        from keyless_lab.runtime import Lab

        spec_path = REPO / "examples" / "acme.yaml"
        instance = Lab(load_spec(spec_path), state_dir=Path(tmp) / "lab", spec_path=spec_path)
        with instance as lab:
            provision(lab)
            idp = instance.idp.idp
            classic = replace(idp.settings, engine="classic", app_policy="none")
            oie = replace(
                idp.settings, engine="oie", app_policy="mfa", device_poll_interval=args.interval
            )
            directory = Directory(Path(lab.state_dir) / "idp.sqlite")
            flags = {
                "org_url": lab.idp_url,
                "app_url": lab.app_url,
                "ca_bundle": lab.ca_bundle,
                "aws_endpoint_url": lab.aws_endpoint_url,
                "spec": str(spec_path),
                "role": "Developer",
                "account": "acme-dev",
                "mfa_factor": "totp",
            }

            class Quiet:
                interactive = False

                def __init__(self) -> None:
                    self.url = ""
                    self.shown = threading.Event()

                def notify(self, message: str) -> None:
                    found = re.search(r"https://\S+/activate\?user_code=\w+", message)
                    if found:
                        self.url = found.group(0)
                        self.shown.set()

                def ask(self, label: str, **_: object) -> str:
                    raise AssertionError(label)

                def choose(self, title: str, options: list[str], **_: object) -> int:
                    raise AssertionError(title)

                def missing_input(self, what: str, **_: object) -> KeylessError:
                    raise AssertionError(what)

            def new_user() -> tuple[str, str, str]:
                name = f"bench{uuid.uuid4().hex[:8]}@acme.example"
                _, password = directory.add_user(name, groups=["developers"])
                secret = directory.enroll(name, "totp").secret
                assert secret is not None
                return name, password, secret

            device, device_kept, full, reuse = [], [], [], []
            for run in range(args.runs):
                idp.settings = oie
                user, password, secret = new_user()
                settings = resolve_settings(
                    f"d{run}",
                    {**flags, "username": user, "oidc_client_id": lab.oidc_client_id},
                )
                person = Quiet()
                done: list[float] = []

                def device_login(settings: Any, person: Quiet, done: list[float]) -> None:
                    login(settings, prompter=person)
                    done.append(time.perf_counter())

                worker = threading.Thread(target=device_login, args=(settings, person, done))
                worker.start()
                assert person.shown.wait(30)
                clicked = approve_in_pages(
                    lab, person.url, user, password, pyotp.TOTP(secret).now()
                )
                worker.join(60)
                assert done, "the device login did not finish"
                device.append((done[0] - clicked) * 1000)
                start = time.perf_counter()
                assert login(settings, prompter=Quiet()).session_reused
                device_kept.append((time.perf_counter() - start) * 1000)

                idp.settings = classic
                user, password, secret = new_user()
                settings = resolve_settings(f"c{run}", {**flags, "username": user})
                start = time.perf_counter()
                login(
                    settings,
                    prompter=Quiet(),
                    inputs=LoginInputs(password=password, mfa_code=pyotp.TOTP(secret).now()),
                )
                full.append((time.perf_counter() - start) * 1000)
                start = time.perf_counter()
                assert login(settings, prompter=Quiet()).session_reused
                reuse.append((time.perf_counter() - start) * 1000)
            directory.close()

    print(f"{'to credentials (lab over HTTPS)':<58} {'median ms':>10} {'max ms':>8}")
    for name, values in (
        (f"device flow: approval -> credentials (interval {args.interval} s)", device),
        ("device flow: kept tokens (exchange, nothing asked)", device_kept),
        ("classic: full sign-in, password + TOTP (baseline)", full),
        ("classic: within the Okta session (baseline)", reuse),
    ):
        print(f"{name:<58} {statistics.median(values):>10.1f} {max(values):>8.1f}")


if __name__ == "__main__":
    main()
