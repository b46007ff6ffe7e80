"""A failed step is explained by one function: adapters.aws.explain_error_and_fix for AWS,
in front of errors.explain for everything else (issue 20: services.provision and
services.okta_side kept their own copies)."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from keyless.adapters.aws import AwsConnector, explain_error, explain_error_and_fix
from keyless.errors import RemoteError, explain
from keyless.services.provision.accounts import Provisioner
from keyless.spec import Account, load_spec

ACME = Path(__file__).resolve().parents[2] / "examples" / "acme.yaml"

DENIED = ClientError({"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "GetRole")
UNREACHABLE = EndpointConnectionError(endpoint_url="https://iam.example")
OWN = RemoteError("the lab is not running", fix="run `keyless lab up`")
BUG = RuntimeError("oops")


@pytest.mark.parametrize(
    ("error", "message", "fix"),
    [
        (DENIED, "GetRole failed: AccessDenied: not allowed", None),
        (
            UNREACHABLE,
            f"AWS could not be reached: {UNREACHABLE}",
            "check the network or the endpoint",
        ),
        (OWN, "the lab is not running", "run `keyless lab up`"),
        (BUG, "unexpected RuntimeError: oops", None),
    ],
)
def test_each_kind_of_failure(error: Exception, message: str, fix: str | None) -> None:
    assert explain_error_and_fix(error) == (message, fix)
    assert explain_error(error) == message


@pytest.mark.parametrize("error", [OWN, BUG])
def test_errors_that_are_not_aws_are_explained_as_everywhere_else(error: Exception) -> None:
    assert explain_error_and_fix(error) == explain(error)


class _Unreachable:
    """A connector whose management credentials work and whose accounts cannot be reached."""

    def caller_account(self) -> str:
        return "111111111111"

    def iam(self, account: Account) -> None:
        raise UNREACHABLE


def test_plan_reports_a_failed_account_with_the_one_explanation() -> None:
    spec = load_spec(ACME)
    provisioner = Provisioner(spec, cast(AwsConnector, _Unreachable()), b"<metadata/>", parallel=1)
    plan = provisioner.plan()
    message, fix = explain_error_and_fix(UNREACHABLE)
    assert {(a.error, a.fix) for a in plan.accounts} == {(message, fix)}
