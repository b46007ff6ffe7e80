"""A full `keyless login` against the lab (password + TOTP, no human wait), beside its parts.

    .venv/bin/python benchmarks/bench_login.py [--runs 10]

Starts a lab for examples/acme.yaml in a temporary state dir, provisions it,
and for each run creates a fresh lab user (TOTP codes are single-use) and
measures:

- the in-process login (``keyless.services.login.wiring.login_and_cache``): Okta authn, TOTP
  verify, session, the AWS app's SAML page, AssumeRoleWithSAML, files written;
- a second login within the Okta session (nothing asked);
- the ``keyless login`` command end to end (a new process, imports included).

Target: a full login under 1 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from keyless_lab.info import LabInfo

REPO = Path(__file__).resolve().parent.parent
KEYLESS = str(Path(sys.executable).parent / "keyless")


def provision(lab: LabInfo) -> None:
    from keyless.services.provision.federation import apply_federation, open_federation
    from keyless.spec import load_spec

    spec = load_spec(REPO / "examples" / "acme.yaml")
    result = apply_federation(open_federation(spec, lab.composition()))
    assert result.ok, result.as_dict()


def configure_command(profile: str, state_dir: object, user: str) -> list[str]:
    """``keyless configure`` of ``profile`` for a lab user, as Developer in acme-dev."""
    return [
        KEYLESS,
        "configure",
        "--profile",
        profile,
        "--lab",
        "--lab-state-dir",
        str(state_dir),
        "--username",
        user,
        "--role",
        "Developer",
        "--account",
        "acme-dev",
    ]


def home_environment(home: Path) -> dict[str, str]:
    """Where keyless and the AWS CLI keep their files, all under ``home`` (a throwaway)."""
    return {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".state"),
        "AWS_CONFIG_FILE": str(home / ".aws" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials"),
    }


def main() -> None:
    """Run the login benchmark and print medians beside the 1 s target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        os.environ.update(home_environment(home))
        os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
        for name in [n for n in os.environ if n.startswith(("AWS_PROFILE", "KEYLESS_"))]:
            del os.environ[name]

        import pyotp

        from keyless.errors import KeylessError
        from keyless.services.login.okta_signin import LoginInputs
        from keyless.services.login.profiles import resolve_settings
        from keyless.services.login.wiring import login_and_cache
        from keyless.spec import load_spec
        from keyless_lab.idp.directory import Directory
        from keyless_lab.runtime import Lab

        spec_path = REPO / "examples" / "acme.yaml"
        with Lab(load_spec(spec_path), state_dir=Path(tmp) / "lab", spec_path=spec_path) as lab:
            provision(lab)
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

                def notify(self, message: str) -> None:
                    pass

                def ask(self, label: str, **_: object) -> str:
                    raise AssertionError(label)

                def choose(self, title: str, options: list[str], **_: object) -> int:
                    raise AssertionError(title)

                def missing_input(self, what: str, *, flag: str | None = None) -> KeylessError:
                    raise AssertionError(what)

            def new_user() -> tuple[str, str, str]:
                login_name = f"bench{uuid.uuid4().hex[:8]}@acme.example"
                _, password = directory.add_user(login_name, groups=["developers"])
                secret = directory.enroll(login_name, "totp").secret
                assert secret is not None
                return login_name, password, secret

            full, reuse, command = [], [], []
            for run in range(args.runs):
                user, password, secret = new_user()
                settings = resolve_settings(f"b{run}", {**flags, "username": user})
                start = time.perf_counter()
                login_and_cache(
                    settings,
                    prompter=Quiet(),
                    inputs=LoginInputs(password=password, mfa_code=pyotp.TOTP(secret).now()),
                )
                full.append((time.perf_counter() - start) * 1000)
                start = time.perf_counter()
                result = login_and_cache(settings, prompter=Quiet())
                reuse.append((time.perf_counter() - start) * 1000)
                assert result.session_reused

                user, password, secret = new_user()
                subprocess.run(
                    [
                        KEYLESS,
                        "configure",
                        "--profile",
                        f"c{run}",
                        "--lab",
                        "--lab-dir",
                        str(lab.state_dir),
                        "--username",
                        user,
                        "--role",
                        "Developer",
                        "--account",
                        "acme-dev",
                    ],
                    check=True,
                    capture_output=True,
                    stdin=subprocess.DEVNULL,
                )
                start = time.perf_counter()
                subprocess.run(
                    [
                        KEYLESS,
                        "login",
                        "--profile",
                        f"c{run}",
                        "--password-stdin",
                        "--mfa-code",
                        pyotp.TOTP(secret).now(),
                    ],
                    input=password + "\n",
                    text=True,
                    check=True,
                    capture_output=True,
                    start_new_session=True,
                )
                command.append((time.perf_counter() - start) * 1000)

    print(f"{'login (password + TOTP, lab over HTTPS)':<52} {'median ms':>10} {'max ms':>8}")
    for name, values in (
        ("login_and_cache(): full sign-in, role, files", full),
        ("login_and_cache(): within the Okta session (nothing asked)", reuse),
        ("`keyless login` command, new process", command),
    ):
        print(f"{name:<52} {statistics.median(values):>10.1f} {max(values):>8.1f}")
    median = statistics.median(full)
    print(f"\ntarget full login < 1 s: {'met' if median < 1000 else 'NOT met'} ({median:.0f} ms)")


if __name__ == "__main__":
    main()
