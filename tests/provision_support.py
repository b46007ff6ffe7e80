"""Helpers the provisioning tests share (imported by conftest and tests)."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
ACME = REPO / "examples" / "acme.yaml"
# The console script installed beside the interpreter running the tests (any venv).
KEYLESS = str(Path(sys.executable).parent / "keyless")


def iam_backend(account_id: str) -> Any:
    """moto's IAM state of one account (the server runs in this process)."""
    from moto.iam.models import iam_backends

    return iam_backends[account_id]["global"]


@dataclass
class Federation:
    """A spec file for fresh accounts, with bootstrap credentials for its management account."""

    spec_path: Path
    management_id: str
    member_ids: list[str]
    endpoint_url: str
    access_key_id: str
    secret_access_key: str
    metadata_path: Path

    def env(self) -> dict[str, str]:
        """Environment for a `keyless` child process: the standard AWS chain, pointed at moto."""
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def spec_data(self) -> dict[str, Any]:
        data: dict[str, Any] = yaml.safe_load(self.spec_path.read_text())
        return data

    def write_spec(self, data: dict[str, Any]) -> None:
        self.spec_path.write_text(yaml.safe_dump(data, sort_keys=False))

    def delete_access_role(self, account_id: str) -> None:
        iam_backend(account_id).delete_role("OrganizationAccountAccessRole")

    def restore_access_role(self, account_id: str) -> None:
        create_access_role(account_id, self.management_id)


def create_access_role(account_id: str, management_id: str) -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{management_id}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam_backend(account_id).create_role(
        "OrganizationAccountAccessRole", json.dumps(trust), "/", None, "", [], None
    )
