"""One strict reader of the AWS Role attribute, used by the verifier, the login and
the lab's sign-in page (issue 10, item 5).

Regression: login used to offer a pair whose provider sat in another account or
partition than its role; the verifier (and AWS) refuse it, so the user picked a
role only to be refused by STS. Now every reader agrees, and login says which
value it dropped.
"""

from __future__ import annotations

import base64
import html

import pytest

from keyless.saml.metadata import IdpMetadata
from keyless.saml.model import RolePair
from keyless.saml.roles import parse_role_value, read_role_values
from keyless.saml.verify import verify_response
from keyless.services.login.assertion import read_unverified_assertion
from keyless_lab.saml.build import build_response, encode_response
from keyless_lab.saml.keys import SigningKey
from keyless_lab.signin import read_roles
from saml_data import ISSUER, NOW, PROD

CROSS_ACCOUNT = RolePair(
    role_arn="arn:aws:iam::222222222222:role/ProdAdmin",
    principal_arn="arn:aws:iam::999999999999:saml-provider/okta",
)
CROSS_PARTITION = RolePair(
    role_arn="arn:aws-us-gov:iam::222222222222:role/ProdAdmin",
    principal_arn="arn:aws:iam::222222222222:saml-provider/okta",
)
GOV = RolePair(
    role_arn="arn:aws-us-gov:iam::444444444444:role/GovAdmin",
    principal_arn="arn:aws-us-gov:iam::444444444444:saml-provider/okta",
)
CHINA = RolePair(
    role_arn="arn:aws-cn:iam::555555555555:role/path/to/CnAdmin",
    principal_arn="arn:aws-cn:iam::555555555555:saml-provider/okta",
)


@pytest.mark.parametrize("pair", [PROD, GOV, CHINA])
@pytest.mark.parametrize("provider_first", [True, False])
def test_same_account_pairs_in_any_partition_and_either_order(
    pair: RolePair, provider_first: bool
) -> None:
    assert parse_role_value(pair.attribute_value(provider_first=provider_first)) == (pair, None)


@pytest.mark.parametrize(
    ("value", "named"),
    [
        (CROSS_ACCOUNT.attribute_value(), "account 999999999999"),
        (CROSS_ACCOUNT.attribute_value(provider_first=False), "account 999999999999"),
        (CROSS_PARTITION.attribute_value(), "partition aws"),
        (CROSS_PARTITION.attribute_value(provider_first=False), "partition aws-us-gov"),
        (f"{PROD.role_arn},{PROD.role_arn}", "one role ARN and one SAML provider ARN"),
        (f"{PROD.principal_arn},{PROD.principal_arn}", "one role ARN and one SAML provider"),
        (PROD.role_arn, "1 comma-separated parts"),
        (f"{PROD.attribute_value()},{PROD.role_arn}", "3 comma-separated parts"),
        (f"{PROD.principal_arn},arn:aws:iam::222222222222:user/alice", "not an IAM role"),
        (f"{PROD.principal_arn},arn:aws:iam::22222222222:role/Short", "not an IAM role"),
    ],
)
def test_malformed_pairs_say_what_is_wrong(value: str, named: str) -> None:
    pair, problem = parse_role_value(value)
    assert pair is None
    assert problem is not None
    assert named in problem


def test_read_role_values_keeps_good_pairs_once_and_names_the_rest() -> None:
    read = read_role_values(
        [
            PROD.attribute_value(),
            CROSS_ACCOUNT.attribute_value(),
            PROD.attribute_value(provider_first=False),
        ]
    )
    assert read.pairs == (PROD,)
    assert [m.value for m in read.malformed] == [CROSS_ACCOUNT.attribute_value()]
    assert CROSS_ACCOUNT.attribute_value() in read.malformed[0].note()


def _response(idp_key: SigningKey, roles: list[RolePair]) -> bytes:
    return build_response(
        key=idp_key,
        issuer=ISSUER,
        subject="alice@example.com",
        roles=roles,
        session_name="alice@example.com",
        now=NOW,
    )


@pytest.mark.parametrize("bad", [CROSS_ACCOUNT, CROSS_PARTITION])
def test_verifier_refuses_what_the_parser_refuses(
    idp_key: SigningKey, metadata: IdpMetadata, bad: RolePair
) -> None:
    result = verify_response(_response(idp_key, [PROD, bad]), metadata=metadata, now=NOW)
    assert "role_value_malformed" in result.codes
    assert any(bad.attribute_value() in r.message for r in result.reasons)


@pytest.mark.parametrize("bad", [CROSS_ACCOUNT, CROSS_PARTITION])
def test_login_drops_the_pair_aws_would_refuse_with_a_note(
    idp_key: SigningKey, bad: RolePair
) -> None:
    encoded = encode_response(_response(idp_key, [bad, PROD]))
    page = f'<form><input name="SAMLResponse" value="{html.escape(encoded)}"></form>'
    _, unverified = read_unverified_assertion(page)
    assert unverified.roles == (PROD,)
    assert len(unverified.notes) == 1
    assert bad.attribute_value() in unverified.notes[0]


@pytest.mark.parametrize("bad", [CROSS_ACCOUNT, CROSS_PARTITION])
def test_lab_signin_page_offers_only_pairs_aws_accepts(idp_key: SigningKey, bad: RolePair) -> None:
    encoded = base64.b64encode(_response(idp_key, [bad, PROD])).decode()
    choices, _ = read_roles(encoded)
    assert [(c.role_arn, c.provider_arn) for c in choices] == [(PROD.role_arn, PROD.principal_arn)]
