"""`keyless saml inspect|verify`, run as a user runs them: the installed console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from keyless.saml.model import RolePair
from keyless_lab.saml.build import build_response, encode_response
from keyless_lab.saml.keys import SigningKey
from keyless_lab.saml.metadata import build_idp_metadata

ISSUER = "http://www.okta.com/exk1clitest"
NOW = "2024-05-01T12:01:00Z"
PROD = RolePair(
    role_arn="arn:aws:iam::222222222222:role/ProdAdmin",
    principal_arn="arn:aws:iam::222222222222:saml-provider/okta",
)
EAST2 = "https://us-east-2.signin.aws.amazon.com/saml"
SIGNIN = "https://signin.aws.amazon.com/saml"


def _keyless() -> list[str]:
    script = Path(sys.executable).parent / "keyless"
    return [str(script)] if script.exists() else [sys.executable, "-m", "keyless"]


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_keyless(), *args],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("saml-cli")
    key = SigningKey.generate("cli-idp")
    xml = build_response(
        key=key,
        issuer=ISSUER,
        subject="alice@example.com",
        roles=[PROD],
        session_name="alice@example.com",
        now=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        session_duration=3600,
    )
    paths = {
        "xml": directory / "response.xml",
        "b64": directory / "response.b64",
        "metadata": directory / "metadata.xml",
        "trust_east2": directory / "trust-east2.json",
        "trust_ok": directory / "trust-ok.json",
        "garbage": directory / "garbage.txt",
    }
    paths["xml"].write_bytes(xml)
    paths["b64"].write_text(encode_response(xml))
    paths["metadata"].write_bytes(
        build_idp_metadata(entity_id=ISSUER, certificates=[key.certificate], sso_url="https://x")
    )
    for name, aud in (("trust_east2", EAST2), ("trust_ok", SIGNIN)):
        paths[name].write_text(
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Federated": PROD.principal_arn},
                            "Action": "sts:AssumeRoleWithSAML",
                            "Condition": {"StringEquals": {"SAML:aud": aud}},
                        }
                    ],
                }
            )
        )
    paths["garbage"].write_text("this is not a SAML response")
    return paths


def verify_args(files: dict[str, Path], source: str, *extra: str) -> list[str]:
    return ["saml", "verify", source, "--metadata", str(files["metadata"]), "--now", NOW, *extra]


def test_trust_policy_audience_mismatch_exits_1_and_explains(files: dict[str, Path]) -> None:
    """The issue's done-when, end to end."""
    result = run(
        *verify_args(
            files,
            str(files["xml"]),
            "--role-arn",
            PROD.role_arn,
            "--principal-arn",
            PROD.principal_arn,
            "--trust-policy",
            str(files["trust_east2"]),
        )
    )
    assert result.returncode == 1, result.stderr
    text = " ".join(result.stdout.split())
    assert "trust_policy_denied" in text
    assert "the trust policy's audience does not match the Recipient" in text
    assert EAST2 in text
    assert SIGNIN in text
    assert "change the trust policy's SAML:aud" in text
    assert "AccessDenied: Not authorized to perform sts:AssumeRoleWithSAML" in text


def test_accepted_exits_0(files: dict[str, Path]) -> None:
    result = run(
        *verify_args(
            files,
            str(files["b64"]),
            "--role-arn",
            PROD.role_arn,
            "--principal-arn",
            PROD.principal_arn,
            "--trust-policy",
            str(files["trust_ok"]),
        )
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "accepted" in result.stdout
    assert "alice@example.com" in result.stdout
    assert "ProdAdmin" in result.stdout


def test_json_shape(files: dict[str, Path]) -> None:
    result = run(
        *verify_args(files, "-", "--json", "--recipient", EAST2), stdin=files["xml"].read_bytes()
    )
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert set(document) >= {
        "accepted",
        "reasons",
        "issuer",
        "subject",
        "roles",
        "session_duration",
        "not_on_or_after",
    }
    assert document["accepted"] is False
    assert [r["code"] for r in document["reasons"]] == ["recipient_mismatch"]
    assert set(document["reasons"][0]) == {
        "code",
        "message",
        "fix",
        "aws_error_code",
        "aws_message",
    }
    assert document["roles"] == [{"role_arn": PROD.role_arn, "principal_arn": PROD.principal_arn}]
    assert document["session_duration"] == 3600
    assert document["not_on_or_after"] == "2024-05-01T12:05:00Z"


def test_unreadable_input_exits_2(files: dict[str, Path]) -> None:
    result = run(*verify_args(files, str(files["garbage"])))
    assert result.returncode == 2
    assert "error:" in result.stderr
    assert "fix:" in result.stderr


def test_unreadable_metadata_exits_2(files: dict[str, Path]) -> None:
    result = run("saml", "verify", str(files["xml"]), "--metadata", str(files["garbage"]))
    assert result.returncode == 2
    assert "metadata" in result.stderr


def test_missing_file_exits_2(files: dict[str, Path]) -> None:
    result = run(*verify_args(files, str(files["xml"]) + ".missing"))
    assert result.returncode == 2


def test_inspect(files: dict[str, Path]) -> None:
    result = run("saml", "inspect", str(files["b64"]), "--now", NOW)
    assert result.returncode == 0, result.stderr
    for expected in (
        ISSUER,
        "alice@example.com",
        "222222222222",
        "ProdAdmin",
        "okta",
        "rsa-sha256",
    ):
        assert expected in result.stdout
    as_json = json.loads(
        run("saml", "inspect", "-", "--json", stdin=files["xml"].read_bytes()).stdout
    )
    assert as_json["verified"] is False
    assert [s["element"] for s in as_json["signatures"]] == ["response", "assertion"]


def test_reasons_print_bracketed_values_verbatim(files: dict[str, Path]) -> None:
    """Regression: reasons were printed as rich markup, so a value holding `[bold]`
    (from the assertion or an option) lost that text."""
    role = "arn:aws:iam::222222222222:role/[bold]Admin"
    result = run(*verify_args(files, str(files["xml"]), "--role-arn", role))
    assert result.returncode == 1
    assert f"the role {role} is not among the assertion's roles" in result.stdout
