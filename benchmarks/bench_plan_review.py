"""How long `keyless plan` is to read: lines of output for a first plan (everything to create).

For examples/acme.yaml (3 accounts, the README's quick start) and for a
federation of 25 accounts with acme's roles, on fresh accounts in moto's server
(in this process, over loopback HTTP), runs the CLI as a person would and
prints the number of lines of ``keyless plan`` (the default review: summary
table, then details with repeated documents shown once), of ``keyless plan
--compact`` (summary plus one line per change), and of ``--json`` for scale,
beside the number of changes the JSON counts.

Nothing is asserted about the figures; ``--keyless PATH`` runs another
keyless (an older checkout's venv) to compare against (a keyless without
``--compact`` gets "-" in that column).

    .venv/bin/python benchmarks/bench_plan_review.py [--sizes 3 25] [--keyless PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
ACME = ROOT / "examples" / "acme.yaml"
KEYLESS = str(Path(sys.executable).parent / "keyless")
BASE = 700000000000


@contextmanager
def moto_endpoint() -> Iterator[str]:
    """moto's server on a free loopback port, for the life of the block."""
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log(self, type: str, message: str, *args: Any) -> None:
            pass

    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def _iam(account_id: str) -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[account_id]["global"]


def _metadata() -> bytes:
    from keyless_lab.saml.keys import SigningKey
    from keyless_lab.saml.metadata import build_idp_metadata

    key = SigningKey.generate("keyless bench idp")
    return build_idp_metadata(
        entity_id="http://www.okta.com/exkbench",
        certificates=[key.certificate],
        sso_url="https://127.0.0.1/sso",
    )


def federation(size: int, base: int, work: Path, metadata: bytes) -> dict[str, Any]:
    """acme.yaml on ``size`` fresh accounts: acme's own three, or ``size`` generated ones."""
    data: dict[str, Any] = yaml.safe_load(ACME.read_text())
    if size == 3:
        names = ["acme-management", "acme-prod", "acme-dev"]
    else:
        names = ["acme-management"] + [f"acme-team{i:02d}" for i in range(1, size)]
        for role in data["roles"]:
            role["accounts"] = "all" if role["name"] == "ReadOnly" else names[1:]
        for mapping in data["group_mappings"]:
            mapping["accounts"] = "all" if mapping["role"] == "ReadOnly" else names[1:]
    data["accounts"] = [
        {"id": str(base + i), "alias": alias, **({"management": True} if i == 0 else {})}
        for i, alias in enumerate(names)
    ]
    (work / "idp-metadata.xml").write_bytes(metadata)
    data["identity_provider"]["metadata"] = {"file": "idp-metadata.xml"}
    return data


def prepare_accounts(base: int, size: int) -> dict[str, str]:
    """A bootstrap key in the management account, the access role in every member."""
    management = _iam(str(base))
    management.create_user("us-east-1", "bootstrap")
    key = management.create_access_key("bootstrap")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{base}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    for i in range(1, size):
        _iam(str(base + i)).create_role(
            "OrganizationAccountAccessRole", json.dumps(trust), "/", None, "", [], None
        )
    return {"AWS_ACCESS_KEY_ID": key.access_key_id, "AWS_SECRET_ACCESS_KEY": key.secret_access_key}


def run_plan(keyless: str, spec: Path, env: dict[str, str], *extra: str) -> str | None:
    """The plan's stdout, or None when this keyless does not know an option."""
    result = subprocess.run(
        [keyless, "plan", "--spec", str(spec), *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode == 2:
        return None
    if result.returncode != 0:
        raise RuntimeError(f"keyless plan {' '.join(extra)} failed: {result.stderr}")
    return result.stdout


def lines(text: str | None) -> str:
    return "-" if text is None else str(len(text.splitlines()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[3, 25])
    parser.add_argument("--keyless", default=KEYLESS, help="the keyless executable to run")
    args = parser.parse_args()
    metadata = _metadata()
    print("lines of a first `keyless plan` (every resource to create), stdout not a terminal")
    print(f"{'accounts':>8} {'changes':>7} {'plan':>6} {'--compact':>9} {'--json':>7}", flush=True)
    with moto_endpoint() as url, tempfile.TemporaryDirectory(prefix="keyless-bench-") as tmp:
        for n, size in enumerate(args.sizes):
            base = BASE + n * 1000
            work = Path(tmp) / str(size)
            work.mkdir()
            spec = work / "federation.yaml"
            spec.write_text(yaml.safe_dump(federation(size, base, work, metadata)))
            env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KEYLESS_"))}
            env.update(prepare_accounts(base, size))
            env.update(AWS_ENDPOINT_URL=url, AWS_DEFAULT_REGION="us-east-1", COLUMNS="100")
            as_json = run_plan(args.keyless, spec, env, "--json")
            changes = sum(
                len(account["changes"]) for account in json.loads(as_json or "{}")["accounts"]
            )
            default = run_plan(args.keyless, spec, env)
            compact = run_plan(args.keyless, spec, env, "--compact")
            print(
                f"{size:>8} {changes:>7} {lines(default):>6} {lines(compact):>9} "
                f"{lines(as_json):>7}",
                flush=True,
            )


if __name__ == "__main__":
    main()
