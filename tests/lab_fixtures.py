"""Shared fixtures that run the embedded lab, for every test area (registered in conftest.py).

- ``lab``: a started :class:`keyless.lab.runtime.Lab` for ``examples/acme.yaml`` in a
  temporary state dir, for the whole session; yields its :class:`LabInfo`.
- ``provisioned_lab``: the same lab with the SAML provider and the spec's roles
  created in every account (by ``keyless.services.provision.apply_spec`` when it is
  there, else with boto3 as apply would), so logins can take roles.

Both are session-scoped: one lab (two servers, one child process) serves every
test that asks, and is stopped at the end leaving nothing running.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest

from keyless.spec import FederationSpec, load_spec

REPO = Path(__file__).resolve().parent.parent
ACME = REPO / "examples" / "acme.yaml"


def lab_session(
    endpoint_url: str,
    credentials: Mapping[str, str],
    *,
    region: str = "us-east-1",
) -> boto3.Session:
    """A boto3 session with ``credentials`` (bootstrap keys or an STS answer's Credentials)."""
    if "AccessKeyId" in credentials:
        return boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials.get("SessionToken"),
            region_name=region,
        )
    return boto3.Session(
        aws_access_key_id=credentials["aws_access_key_id"],
        aws_secret_access_key=credentials["aws_secret_access_key"],
        region_name=region,
    )


def trust_policy(provider_arn: str, audiences: list[str]) -> dict[str, Any]:
    """The trust policy apply writes for a federated role (Okta's, with SAML:aud)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession"],
                "Condition": {"StringEquals": {"SAML:aud": audiences}},
            }
        ],
    }


def provision_with_boto3(
    spec: FederationSpec,
    *,
    endpoint_url: str,
    ca_bundle: str | bool,
    bootstrap: Mapping[str, str],
    metadata_xml: bytes,
) -> None:
    """Create the SAML provider and the spec's roles in every account, as apply does.

    Member accounts are reached through their access role from the management
    account's bootstrap key, exactly as provisioning reaches them in an organization.
    """
    management = spec.management_account or spec.accounts[0]
    root = lab_session(endpoint_url, bootstrap)
    sts = root.client("sts", endpoint_url=endpoint_url, verify=ca_bundle)
    for account in spec.accounts:
        if account.id == management.id:
            session = root
        else:
            answer = sts.assume_role(
                RoleArn=f"arn:aws:iam::{account.id}:role/{account.access_role}",
                RoleSessionName="keyless-lab-provision",
            )
            session = lab_session(endpoint_url, answer["Credentials"])
        iam = session.client("iam", endpoint_url=endpoint_url, verify=ca_bundle)
        name = spec.identity_provider.saml_provider_name
        provider_arn = f"arn:aws:iam::{account.id}:saml-provider/{name}"
        existing = {p["Arn"] for p in iam.list_saml_providers()["SAMLProviderList"]}
        if provider_arn not in existing:
            iam.create_saml_provider(Name=name, SAMLMetadataDocument=metadata_xml.decode())
        for role in spec.roles:
            if account not in spec.role_accounts(role):
                continue
            iam.create_role(
                RoleName=role.name,
                Path=role.path,
                AssumeRolePolicyDocument=json.dumps(
                    trust_policy(provider_arn, list(spec.identity_provider.signin_urls))
                ),
                MaxSessionDuration=role.max_session_duration,
                Description=role.description,
            )
            for arn in role.managed_policies:
                iam.attach_role_policy(RoleName=role.name, PolicyArn=arn)
            for policy_name, document in role.inline_policies.items():
                iam.put_role_policy(
                    RoleName=role.name, PolicyName=policy_name, PolicyDocument=json.dumps(document)
                )


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A running lab for examples/acme.yaml (IdP + AWS), for the whole session; its LabInfo."""
    from keyless.lab.runtime import Lab

    state_dir = tmp_path_factory.mktemp("lab-state")
    spec = load_spec(ACME)
    instance = Lab(spec, state_dir=state_dir, spec_path=ACME)
    info = instance.start()
    _RUNNING.append(instance)
    try:
        yield info
    finally:
        _RUNNING.clear()
        instance.stop()


_RUNNING: list[Any] = []


@pytest.fixture
def lab_idp_settings(lab: Any) -> Iterator[Callable[..., None]]:
    """Change the session lab IdP's settings (engine, app policy...) for one test; the
    original settings come back after it. The IdP runs in this process."""
    from dataclasses import replace

    idp = _RUNNING[0].idp.idp
    original = idp.settings

    def change(**changes: Any) -> None:
        idp.settings = replace(idp.settings, **changes)

    try:
        yield change
    finally:
        idp.settings = original


@pytest.fixture(scope="session")
def provisioned_lab(lab: Any) -> Any:
    """The session's lab with the SAML provider and the spec's roles in every account."""
    import ssl

    import httpx

    spec = load_spec(ACME)
    trust = ssl.create_default_context(cafile=lab.ca_bundle)
    try:
        from keyless.services.provision import apply_spec, connect, load_metadata
    except ImportError:
        metadata = httpx.get(lab.metadata_url, verify=trust).content
        provision_with_boto3(
            spec,
            endpoint_url=lab.aws_endpoint_url,
            ca_bundle=lab.ca_bundle,
            bootstrap=lab.bootstrap_credentials,
            metadata_xml=metadata,
        )
        return lab
    # httpx deprecates verify=<path>; hand load_metadata a client that trusts the lab CA.
    with httpx.Client(verify=trust) as http:
        metadata = load_metadata(spec, lab=lab, http=http)
    report = apply_spec(spec, connect(lab=lab), metadata)
    assert report.ok, report
    return lab
