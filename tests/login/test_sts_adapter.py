"""The unsigned AssumeRoleWithSAML client: STS's query protocol read with the safe XML parser.

The lab's strict STS exercises it end to end (``test_login_lab.py``,
``test_login_durations.py``); these pin the shapes AWS documents (the STS API
reference's AssumeRoleWithSAML response and the query protocol's
``ErrorResponse``) and the failure paths a lab cannot produce on demand,
through httpx's own in-memory transport.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import parse_qs

import httpx
import pytest

from keyless.adapters.sts import StsClients, UnsignedSts, default_endpoint
from keyless.core.ports import StsError
from keyless.errors import RemoteError

NS = "https://sts.amazonaws.com/doc/2011-06-15/"
ENDPOINT = "https://sts.us-east-1.amazonaws.com"
GRANTED = f"""<AssumeRoleWithSAMLResponse xmlns="{NS}">
  <AssumeRoleWithSAMLResult>
    <Credentials>
      <AccessKeyId>ASIAEXAMPLE000000001</AccessKeyId>
      <SecretAccessKey>secret/key+value</SecretAccessKey>
      <SessionToken>token</SessionToken>
      <Expiration>2026-03-01T13:00:00Z</Expiration>
    </Credentials>
    <Audience>https://signin.aws.amazon.com/saml</Audience>
  </AssumeRoleWithSAMLResult>
  <ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>
</AssumeRoleWithSAMLResponse>"""
REFUSED = f"""<ErrorResponse xmlns="{NS}">
  <Error><Type>Sender</Type><Code>AccessDenied</Code>
  <Message>Not authorized to perform sts:AssumeRoleWithSAML</Message></Error>
  <RequestId>2</RequestId>
</ErrorResponse>"""


def client(handler: Callable[[httpx.Request], httpx.Response]) -> UnsignedSts:
    return UnsignedSts(ENDPOINT, http=httpx.Client(transport=httpx.MockTransport(handler)))


def assume(sts: UnsignedSts) -> object:
    return sts.assume_role_with_saml(
        role_arn="arn:aws:iam::111111111111:role/Dev",
        principal_arn="arn:aws:iam::111111111111:saml-provider/okta",
        saml_assertion="PHNhbWw+",
        duration_seconds=3600,
    )


def test_the_request_is_an_unsigned_form_post_and_the_answer_is_read() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text=GRANTED)

    credentials = client(handler).assume_role_with_saml(
        role_arn="arn:aws:iam::111111111111:role/Dev",
        principal_arn="arn:aws:iam::111111111111:saml-provider/okta",
        saml_assertion="PHNhbWw+",
        duration_seconds=900,
    )
    assert credentials.access_key_id == "ASIAEXAMPLE000000001"
    assert credentials.secret_access_key == "secret/key+value"
    assert credentials.expiration == datetime(2026, 3, 1, 13, 0, tzinfo=UTC)
    [request] = seen
    assert request.method == "POST"
    assert "authorization" not in request.headers  # unsigned: the assertion is the proof
    form = parse_qs(request.content.decode())
    assert form["Action"] == ["AssumeRoleWithSAML"]
    assert form["Version"] == ["2011-06-15"]
    assert form["DurationSeconds"] == ["900"]
    assert form["SAMLAssertion"] == ["PHNhbWw+"]


def test_an_error_response_keeps_aws_code_and_message() -> None:
    with pytest.raises(StsError) as refused:
        assume(client(lambda _: httpx.Response(403, text=REFUSED)))
    assert refused.value.code == "AccessDenied"
    assert "sts:AssumeRoleWithSAML" in refused.value.message


@pytest.mark.parametrize(
    "body",
    [
        "<html>Bad Gateway</html",  # not XML
        '<!DOCTYPE r [<!ENTITY x "y">]><ErrorResponse/>',  # a DTD: refused unread
    ],
)
def test_an_unreadable_answer_is_a_remote_error(body: str) -> None:
    with pytest.raises(RemoteError, match="no readable XML"):
        assume(client(lambda _: httpx.Response(502, text=body)))


def test_a_connection_refused_once_is_tried_again_a_timeout_is_not() -> None:
    attempts: list[str] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        attempts.append("connect")
        if len(attempts) == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, text=GRANTED)

    assume(client(flaky))
    assert len(attempts) == 2

    def slow(request: httpx.Request) -> httpx.Response:
        attempts.append("read")
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(RemoteError, match="cannot reach AWS STS"):
        assume(client(slow))
    # The request may have reached STS: sending the assertion again could be a replay.
    assert attempts.count("read") == 1


def test_endpoints_and_trust() -> None:
    assert default_endpoint("us-east-1") == "https://sts.us-east-1.amazonaws.com"
    assert default_endpoint("cn-north-1") == "https://sts.cn-north-1.amazonaws.com.cn"
    clients = StsClients(ca_bundle=None)
    try:
        aws = clients("eu-west-1", None)
        assert isinstance(aws, UnsignedSts)
        assert aws.endpoint_url == "https://sts.eu-west-1.amazonaws.com"
        lab = clients("us-east-1", "http://127.0.0.1:9")
        assert isinstance(lab, UnsignedSts)
        assert lab.endpoint_url == "http://127.0.0.1:9"
    finally:
        clients.close()
