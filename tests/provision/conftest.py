"""Fixtures for plan/apply tests: moto's server over real HTTP, and federations to provision.

moto's own ``AssumeRole`` succeeds for roles that do not exist; real STS does
not, and the "missing access role" scenario depends on that. The server here
wraps moto's WSGI app with that one check (the lab's gate does much more; these
tests only need this). Each test gets its own account ids, so tests share one
server without sharing state.
"""

from __future__ import annotations

import io
import itertools
import os
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from provision_support import ACME, Federation, create_access_role, iam_backend

_DENIED = """<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{message}</Message></Error>
<RequestId>keyless-test</RequestId></ErrorResponse>"""


def _strict_assume_role(app: Callable[..., Any]) -> Callable[..., Any]:
    """WSGI middleware: AssumeRole into a role that does not exist is AccessDenied, as in AWS."""

    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        params = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        if params.get("Action") == ["AssumeRole"]:
            arn = params.get("RoleArn", [""])[0]
            account_id, _, name = arn.split(":", 5)[4], None, arn.rsplit("/", 1)[-1]
            try:
                iam_backend(account_id).get_role(name)
            except Exception:
                message = f"User is not authorized to perform: sts:AssumeRole on resource: {arn}"
                payload = _DENIED.format(message=message).encode()
                start_response(
                    "403 Forbidden",
                    [("Content-Type", "text/xml"), ("Content-Length", str(len(payload)))],
                )
                return [payload]
        return app(environ, start_response)

    return middleware


@dataclass
class MotoServer:
    endpoint_url: str


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """moto's server on a free loopback port, with a strict AssumeRole, for the whole session."""
    # AWS managed policies (ReadOnlyAccess...) exist in every account; moto loads them on request.
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log(self, type: str, message: str, *args: Any) -> None:
            pass  # one line per request would drown test output

    app = DomainDispatcherApplication(create_backend_app)
    # Port 0: the server binds a free port itself and keeps it (no pick, close, rebind race).
    server = make_server(
        "127.0.0.1", 0, _strict_assume_role(app), threaded=True, request_handler=QuietHandler
    )
    port = server.server_port
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield MotoServer(endpoint_url=f"http://127.0.0.1:{port}")
    finally:
        server.shutdown()
        thread.join(timeout=10)


_account_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def metadata_xml() -> bytes:
    """IdP metadata with a fresh signing certificate (generated at run time, never committed)."""
    from keyless_lab.saml.keys import SigningKey
    from keyless_lab.saml.metadata import build_idp_metadata

    key = SigningKey.generate("keyless test idp")
    return build_idp_metadata(
        entity_id="http://www.okta.com/exk-test",
        certificates=[key.certificate],
        sso_url="https://127.0.0.1/app/amazon_aws/0oatest/sso/saml",
    )


@pytest.fixture
def make_federation(
    moto_server: MotoServer, metadata_xml: bytes, tmp_path: Path
) -> Callable[..., Federation]:
    """Build a federation like examples/acme.yaml on accounts no other test uses."""

    def build(*, members: int = 2, name: str = "acme", role_import: bool = False) -> Federation:
        """``role_import``: Okta lists roles with a key (the provisioning principal); acme
        itself uses group mapping, which holds no key."""
        data: dict[str, Any] = yaml.safe_load(ACME.read_text())
        if role_import:
            data["mapping_mode"] = "role_import"
            data["group_convention"] = {"enabled": False}
            data["provisioning_principal"] = {"kind": "user", "name": "OktaProvisioningUser"}
        base = 500000000000 + next(_account_numbers) * 1000
        management_id = str(base)
        member_ids = [str(base + i + 1) for i in range(members)]
        accounts = [
            {
                "id": management_id,
                "alias": f"m{base}",
                "environment": "management",
                "management": True,
            }
        ]
        environments = ["prod", "dev"] + [f"env{i}" for i in range(members)]
        for i, account_id in enumerate(member_ids):
            accounts.append(
                {"id": account_id, "alias": f"a{account_id}", "environment": environments[i]}
            )
        # Keep acme's roles, pointed at the new aliases (prod = first member, dev = second).
        alias = {
            "acme-prod": str(accounts[1]["alias"]),
            "acme-dev": str(accounts[min(2, members)]["alias"]),
        }
        data["name"] = name
        data["accounts"] = accounts
        for role in data["roles"]:
            if role["accounts"] != "all":
                role["accounts"] = sorted({alias[a] for a in role["accounts"]})
        for mapping in data["group_mappings"]:
            if mapping["accounts"] != "all":
                mapping["accounts"] = sorted({alias[a] for a in mapping["accounts"]})
        # acme's expected keys name acme-management: the new management account here.
        for expected in data.get("expected_access_keys") or ():
            expected["account"] = alias.get(expected["account"], str(accounts[0]["alias"]))
        metadata_path = tmp_path / "idp-metadata.xml"
        metadata_path.write_bytes(metadata_xml)
        data["identity_provider"]["metadata"] = {"file": metadata_path.name}
        spec_path = tmp_path / "federation.yaml"
        spec_path.write_text(yaml.safe_dump(data, sort_keys=False))
        backend = iam_backend(management_id)
        backend.create_user("us-east-1", "bootstrap")
        key = backend.create_access_key("bootstrap")
        for account_id in member_ids:
            create_access_role(account_id, management_id)
        return Federation(
            spec_path=spec_path,
            management_id=management_id,
            member_ids=member_ids,
            endpoint_url=moto_server.endpoint_url,
            access_key_id=key.access_key_id,
            secret_access_key=key.secret_access_key,
            metadata_path=metadata_path,
        )

    return build
