"""`keyless.services.provision` in-process, as `keyless demo` calls it, against moto's server."""

from __future__ import annotations

from collections.abc import Callable

import boto3
import pytest

from keyless.adapters.aws import AwsConnector, AwsEndpoint
from keyless.errors import InputError
from keyless.services.provision import Provisioner, apply_spec, load_metadata, plan_spec
from keyless.spec import load_spec
from provision_support import Federation


def _connector(fed: Federation) -> AwsConnector:
    session = boto3.Session(
        aws_access_key_id=fed.access_key_id,
        aws_secret_access_key=fed.secret_access_key,
        region_name="us-east-1",
    )
    return AwsConnector(session, endpoint=AwsEndpoint(endpoint_url=fed.endpoint_url))


def test_apply_spec_converges_and_creates_the_provisioning_key_once(
    make_federation: Callable[..., Federation],
) -> None:
    fed = make_federation()
    spec = load_spec(fed.spec_path)
    metadata = load_metadata(spec, spec_dir=fed.spec_path.parent)
    report = apply_spec(spec, _connector(fed), metadata, create_provisioning_key=True)
    assert report.ok, report.failed_accounts()
    assert {r.status for r in report.results} == {"applied"}
    key = report.provisioning_key
    assert key is not None
    assert key.user_name == "OktaProvisioningUser"
    assert key.secret_access_key not in repr(key)  # never in logs or tracebacks
    assert "secret_access_key" not in str(report.as_dict())

    again = plan_spec(spec, _connector(fed), metadata)
    assert not again.has_changes, again.as_dict()
    provisioner = Provisioner(spec, _connector(fed), metadata)
    with pytest.raises(InputError, match="already has an access key"):
        provisioner.create_provisioning_key()


def test_failures_are_isolated_per_account(make_federation: Callable[..., Federation]) -> None:
    fed = make_federation()
    spec = load_spec(fed.spec_path)
    metadata = load_metadata(spec, spec_dir=fed.spec_path.parent)
    fed.delete_access_role(fed.member_ids[0])
    report = apply_spec(spec, _connector(fed), metadata, parallel=1)
    statuses = {r.account.id: r.status for r in report.results}
    assert statuses == {
        fed.management_id: "applied",
        fed.member_ids[0]: "failed",
        fed.member_ids[1]: "applied",
    }
    (failed,) = report.failed_accounts()
    assert failed.error is not None
    assert "AccessDenied" in failed.error
    assert failed.fix is not None
    assert "OrganizationAccountAccessRole" in failed.fix
