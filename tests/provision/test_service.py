"""The federation use case in-process (AWS side only), as `keyless demo` calls it, against moto."""

from __future__ import annotations

from collections.abc import Callable

import boto3
import pytest

from keyless.adapters.aws import AwsConnector, AwsEndpoint
from keyless.errors import InputError
from keyless.services.provision.accounts import Provisioner, load_metadata
from keyless.services.provision.federation import Federation, apply_federation, plan_federation
from keyless.spec import load_spec
from provision_support import Federation as Fed


def _connector(fed: Fed) -> AwsConnector:
    session = boto3.Session(
        aws_access_key_id=fed.access_key_id,
        aws_secret_access_key=fed.secret_access_key,
        region_name="us-east-1",
    )
    return AwsConnector(session, endpoint=AwsEndpoint(endpoint_url=fed.endpoint_url))


def test_apply_converges_and_creates_the_provisioning_key_once(
    make_federation: Callable[..., Fed],
) -> None:
    fed = make_federation(role_import=True)
    spec = load_spec(fed.spec_path)
    metadata = load_metadata(spec, spec_dir=fed.spec_path.parent)
    result = apply_federation(
        Federation(spec, _connector(fed), metadata), create_provisioning_key=True
    )
    assert result.ok, result.aws.failed_accounts()
    assert result.okta is None  # the spec has no `okta:` section
    assert {r.status for r in result.aws.results} == {"applied"}
    key = result.provisioning_key
    assert key is not None
    assert key.user_name == "OktaProvisioningUser"
    assert not result.key_sent_to_okta
    assert key.secret_access_key not in repr(key)  # never in logs or tracebacks
    assert key.secret_access_key not in repr(result)
    assert "secret_access_key" not in str(result.aws.as_dict())
    # The one document that holds the secret: a key created and not sent to Okta.
    assert result.as_dict()["provisioning_key"]["secret_access_key"] == key.secret_access_key

    again = plan_federation(Federation(spec, _connector(fed), metadata))
    assert not again.has_changes, again.as_dict()
    provisioner = Provisioner(spec, _connector(fed), metadata)
    with pytest.raises(InputError, match="already has an access key"):
        provisioner.create_provisioning_key()


def test_failures_are_isolated_per_account(make_federation: Callable[..., Fed]) -> None:
    fed = make_federation()
    spec = load_spec(fed.spec_path)
    metadata = load_metadata(spec, spec_dir=fed.spec_path.parent)
    fed.delete_access_role(fed.member_ids[0])
    result = apply_federation(Federation(spec, _connector(fed), metadata, parallel=1))
    assert not result.ok
    statuses = {r.account.id: r.status for r in result.aws.results}
    assert statuses == {
        fed.management_id: "applied",
        fed.member_ids[0]: "failed",
        fed.member_ids[1]: "applied",
    }
    (failed,) = result.aws.failed_accounts()
    assert failed.error is not None
    assert "AccessDenied" in failed.error
    assert failed.fix is not None
    assert "OrganizationAccountAccessRole" in failed.fix
