"""Verification of well-formed responses: what AWS accepts, and every refusal it explains."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest

from keyless.core.aws import MAX_SESSION_SECONDS, MIN_SESSION_SECONDS
from keyless.saml.metadata import IdpMetadata, parse_metadata
from keyless.saml.model import ATTR_ROLE, ATTR_SESSION_NAME, RolePair
from keyless.saml.verify import MemoryReplayCache, verify_response
from keyless_lab.saml.build import encode_response
from keyless_lab.saml.keys import SigningKey
from keyless_lab.saml.metadata import build_idp_metadata
from saml_data import DEV, ISSUER, NOW, PROD, Build
from saml_forge import SAMLP, assertion_of, dump, parse, set_attribute_values, sign

AUD_EAST2 = "https://us-east-2.signin.aws.amazon.com/saml"


def codes(xml: bytes | str, metadata: IdpMetadata, **options: object) -> list[str]:
    result = verify_response(xml, metadata=metadata, now=NOW, **options)  # type: ignore[arg-type]
    return result.codes


# --- accepted -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sign_assertion", "sign_response", "signed"),
    [(True, False, "assertion"), (False, True, "response"), (True, True, "both")],
)
@pytest.mark.parametrize("provider_first", [True, False])
def test_valid_responses_are_accepted(
    build: Build,
    metadata: IdpMetadata,
    sign_assertion: bool,
    sign_response: bool,
    signed: str,
    provider_first: bool,
) -> None:
    xml = build(
        sign_assertion=sign_assertion, sign_response=sign_response, provider_first=provider_first
    )
    result = verify_response(
        xml, metadata=metadata, now=NOW, role_arn=PROD.role_arn, principal_arn=PROD.principal_arn
    )
    assert result.accepted, result.reasons
    assertion = result.assertion
    assert assertion is not None
    assert assertion.signed_element == signed
    assert assertion.signature_algorithm == "rsa-sha256"
    assert assertion.roles == (PROD, DEV)
    assert assertion.subject == "alice@example.com"
    assert assertion.session_name == "alice@example.com"
    assert assertion.session_duration == 3600
    assert assertion.issuer == ISSUER
    assert assertion.not_on_or_after == NOW + timedelta(minutes=5)
    assert result.as_dict()["roles"] == [
        {"role_arn": PROD.role_arn, "principal_arn": PROD.principal_arn},
        {"role_arn": DEV.role_arn, "principal_arn": DEV.principal_arn},
    ]


def test_accepts_base64_and_html_form(build: Build, metadata: IdpMetadata) -> None:
    encoded = encode_response(build())
    assert verify_response(encoded, metadata=metadata, now=NOW).accepted
    # Okta escapes '+' and '=' in the page as character references.
    escaped = encoded.replace("+", "&#x2b;").replace("=", "&#x3d;")
    page = (
        '<html><body onload="document.forms[0].submit()"><form method="POST" '
        'action="https://signin.aws.amazon.com/saml"><input name="SAMLResponse" type="hidden" '
        f'value="{escaped}"/><input name="RelayState" value=""/></form></body></html>'
    )
    assert verify_response(page, metadata=metadata, now=NOW).accepted


@pytest.mark.parametrize(
    "recipient",
    [
        "https://signin.aws.amazon.com/saml",
        "https://us-east-2.signin.aws.amazon.com/saml",
        "https://signin.amazonaws-us-gov.com/saml",
        "https://signin.amazonaws.cn/saml",
    ],
)
def test_default_recipients(build: Build, metadata: IdpMetadata, recipient: str) -> None:
    assert codes(build(recipient=recipient), metadata) == []


def test_rotation_accepts_either_metadata_certificate(
    build: Build, idp_key: SigningKey, other_idp_key: SigningKey
) -> None:
    rotating = parse_metadata(
        build_idp_metadata(
            entity_id=ISSUER,
            certificates=[other_idp_key.certificate, idp_key.certificate],
            sso_url="https://idp.test/sso",
        )
    )
    assert codes(build(), rotating) == []
    assert codes(build(key=other_idp_key), rotating) == []


def test_tags_and_source_identity_are_read(build: Build, metadata: IdpMetadata) -> None:
    xml = build(
        principal_tags={"team": "platform", "cost-center": "42"},
        transitive_tag_keys=["team"],
        source_identity="alice",
    )
    result = verify_response(xml, metadata=metadata, now=NOW)
    assert result.accepted
    assert result.assertion is not None
    assert result.assertion.principal_tags == {"team": "platform", "cost-center": "42"}
    assert result.assertion.transitive_tag_keys == ("team",)
    assert result.assertion.source_identity == "alice"


# --- refusals on signed content -------------------------------------------------------


def test_expired(build: Build, metadata: IdpMetadata) -> None:
    result = verify_response(build(), metadata=metadata, now=NOW + timedelta(minutes=11))
    assert result.codes[0] == "expired"
    assert result.reasons[0].aws_error_code == "ExpiredTokenException"
    assert "2024-05-01T12:05:00Z" in result.reasons[0].message


def test_not_yet_valid(build: Build, metadata: IdpMetadata) -> None:
    result = verify_response(build(), metadata=metadata, now=NOW - timedelta(minutes=10))
    assert result.codes == ["not_yet_valid"]


def test_within_clock_skew_is_accepted(build: Build, metadata: IdpMetadata) -> None:
    assert verify_response(build(), metadata=metadata, now=NOW - timedelta(minutes=4)).accepted


def test_too_old(build: Build, metadata: IdpMetadata) -> None:
    xml = build(lifetime=timedelta(hours=1))
    result = verify_response(xml, metadata=metadata, now=NOW + timedelta(minutes=6))
    assert result.codes == ["too_old"]
    assert "within 5 minutes" in result.reasons[0].aws_message


def test_wrong_recipient(build: Build, metadata: IdpMetadata) -> None:
    result = verify_response(
        build(recipient="https://sp.example.com/acs"), metadata=metadata, now=NOW
    )
    assert result.codes == ["recipient_mismatch"]
    assert "https://sp.example.com/acs" in result.reasons[0].message


def test_explicit_recipient_option(build: Build, metadata: IdpMetadata) -> None:
    xml = build(recipient="https://sp.example.com/acs")
    assert codes(xml, metadata, recipients=["https://sp.example.com/acs"]) == []
    assert codes(build(), metadata, recipients=["https://sp.example.com/acs"]) == [
        "recipient_mismatch"
    ]


def test_wrong_audience(build: Build, metadata: IdpMetadata) -> None:
    result = verify_response(build(audience="urn:example:sp"), metadata=metadata, now=NOW)
    assert result.codes == ["audience_mismatch"]
    assert result.reasons[0].aws_error_code == "AccessDenied"
    assert result.reasons[0].aws_message == "Not authorized to perform sts:AssumeRoleWithSAML"


def test_issuer_mismatch(build: Build, metadata: IdpMetadata) -> None:
    assert codes(build(issuer="http://www.okta.com/exkOTHER"), metadata) == ["issuer_mismatch"]


def test_status_not_success(build: Build, metadata: IdpMetadata) -> None:
    root = parse(build(sign_response=False))
    status = root.find(f"{SAMLP}Status/{SAMLP}StatusCode")
    assert status is not None
    status.set("Value", "urn:oasis:names:tc:SAML:2.0:status:Responder")
    assert codes(dump(root), metadata) == ["status_not_success"]


def test_collects_every_reason(build: Build, metadata: IdpMetadata) -> None:
    xml = build(recipient="https://sp.example.com/acs", audience="urn:x", session_name="x")
    result = verify_response(xml, metadata=metadata, now=NOW + timedelta(minutes=11))
    assert set(result.codes) == {
        "recipient_mismatch",
        "audience_mismatch",
        "expired",
        "too_old",
        "session_name_invalid",
    }
    assert result.assertion is not None  # the signed content is still reported


@pytest.mark.parametrize(
    "value",
    [
        "arn:aws:iam::222222222222:role/ProdAdmin",
        "arn:aws:iam::222222222222:role/A,arn:aws:iam::222222222222:role/B",
        "arn:aws:iam::222222222222:saml-provider/okta,arn:aws:iam::222222222222:role/A,x",
        "arn:aws:iam::222222222222:saml-provider/okta,arn:aws:iam::333333333333:role/A",
        "arn:aws-cn:iam::222222222222:saml-provider/okta,arn:aws:iam::222222222222:role/A",
        "arn:aws:iam::2222:saml-provider/okta,arn:aws:iam::2222:role/A",
        "arn:aws:s3:::bucket,arn:aws:iam::222222222222:role/A",
        "",
    ],
)
def test_role_value_malformed(
    build: Build, metadata: IdpMetadata, idp_key: SigningKey, value: str
) -> None:
    root = parse(build(sign_response=False))
    set_attribute_values(assertion_of(root), ATTR_ROLE, [value])
    sign(assertion_of(root), idp_key)
    assert codes(dump(root), metadata) == ["role_value_malformed"]


def test_role_not_in_assertion(build: Build, metadata: IdpMetadata) -> None:
    result = verify_response(
        build(),
        metadata=metadata,
        now=NOW,
        role_arn="arn:aws:iam::222222222222:role/Other",
        principal_arn=PROD.principal_arn,
    )
    assert result.codes == ["role_not_in_assertion"]
    assert PROD.role_arn in result.reasons[0].message  # lists what the assertion holds


def test_role_with_wrong_provider(build: Build, metadata: IdpMetadata) -> None:
    result = verify_response(
        build(),
        metadata=metadata,
        now=NOW,
        role_arn=PROD.role_arn,
        principal_arn="arn:aws:iam::222222222222:saml-provider/other",
    )
    assert result.codes == ["role_not_in_assertion"]
    assert "pairs role" in result.reasons[0].message


def test_role_and_provider_swapped(build: Build, metadata: IdpMetadata) -> None:
    result = verify_response(
        build(),
        metadata=metadata,
        now=NOW,
        role_arn=PROD.principal_arn,
        principal_arn=PROD.role_arn,
    )
    assert result.codes == ["role_not_in_assertion"]
    assert "wrong way round" in result.reasons[0].message


def test_no_role_attribute(build: Build, metadata: IdpMetadata) -> None:
    assert codes(build(roles=[]), metadata) == ["role_not_in_assertion"]


@pytest.mark.parametrize("name", ["a", "has space", "x" * 65, "émile", "a/b"])
def test_session_name_invalid(build: Build, metadata: IdpMetadata, name: str) -> None:
    assert codes(build(session_name=name), metadata) == ["session_name_invalid"]


def test_session_name_missing(build: Build, metadata: IdpMetadata, idp_key: SigningKey) -> None:
    root = parse(build(sign_response=False))
    for attribute in assertion_of(root).iter("{*}Attribute"):
        if attribute.get("Name") == ATTR_SESSION_NAME:
            parent = attribute.getparent()
            assert parent is not None
            parent.remove(attribute)
    sign(assertion_of(root), idp_key)
    assert codes(dump(root), metadata) == ["session_name_invalid"]


@pytest.mark.parametrize("duration", [MIN_SESSION_SECONDS - 1, MAX_SESSION_SECONDS + 1])
def test_session_duration_out_of_range(build: Build, metadata: IdpMetadata, duration: int) -> None:
    assert codes(build(session_duration=duration), metadata) == ["session_duration_invalid"]


@pytest.mark.parametrize("duration", [MIN_SESSION_SECONDS, MAX_SESSION_SECONDS])
def test_session_duration_at_the_limits(build: Build, metadata: IdpMetadata, duration: int) -> None:
    # The limits are keyless.core.aws's, not a copy (issue 20).
    assert codes(build(session_duration=duration), metadata) == []


def test_duration_exceeds_role_max(build: Build, metadata: IdpMetadata) -> None:
    result = verify_response(
        build(), metadata=metadata, now=NOW, duration_seconds=7200, role_max_session_duration=3600
    )
    assert result.codes == ["duration_exceeds_max"]
    assert result.reasons[0].aws_error_code == "ValidationError"
    assert result.reasons[0].aws_message == (
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    )


def test_replay_refused(build: Build, metadata: IdpMetadata) -> None:
    cache = MemoryReplayCache()
    xml = build()
    assert verify_response(xml, metadata=metadata, now=NOW, replay_cache=cache).accepted
    assert codes(xml, metadata, replay_cache=cache) == ["replayed"]
    assert verify_response(build(), metadata=metadata, now=NOW, replay_cache=cache).accepted


def test_replay_refused_through_the_clock_skew_after_not_on_or_after(
    build: Build, metadata: IdpMetadata
) -> None:
    """Bug: the replay cache kept an assertion ID only until NotOnOrAfter, but the verifier
    accepts the assertion until NotOnOrAfter plus the clock skew; once the cache pruned
    expired IDs, a short-lived assertion could be replayed inside that skew window."""
    clock = [NOW]
    cache = MemoryReplayCache(clock=lambda: clock[0])
    xml = build(lifetime=timedelta(minutes=1))
    assert verify_response(xml, metadata=metadata, now=NOW, replay_cache=cache).accepted
    later = NOW + timedelta(minutes=2)  # past NotOnOrAfter, within the 5-minute skew
    clock[0] = later
    for n in range(1024):  # enough other IDs that the cache prunes what it thinks expired
        cache.seen(f"id-{n}", later + timedelta(minutes=5))
    result = verify_response(xml, metadata=metadata, now=later, replay_cache=cache)
    assert [r.code for r in result.reasons] == ["replayed"]


def test_refused_response_does_not_burn_its_id(build: Build, metadata: IdpMetadata) -> None:
    cache = MemoryReplayCache()
    xml = build()
    assert codes(xml, metadata, replay_cache=cache, role_arn="arn:aws:iam::222222222222:role/X")
    assert verify_response(xml, metadata=metadata, now=NOW, replay_cache=cache).accepted


def test_too_large_for_sts(build: Build, metadata: IdpMetadata) -> None:
    many = [
        RolePair(f"arn:aws:iam::222222222222:role/R{i:04d}", PROD.principal_arn)
        for i in range(1200)
    ]
    assert "too_large" in codes(build(roles=many), metadata)


# --- trust policy ---------------------------------------------------------------------


def _trust(aud: str | list[str], principal: str = PROD.principal_arn) -> dict[str, object]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OktaFederation",
                "Effect": "Allow",
                "Principal": {"Federated": principal},
                "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession"],
                "Condition": {"StringEquals": {"SAML:aud": aud}},
            }
        ],
    }


def test_trust_policy_allows(build: Build, metadata: IdpMetadata) -> None:
    result = verify_response(
        build(),
        metadata=metadata,
        now=NOW,
        role_arn=PROD.role_arn,
        principal_arn=PROD.principal_arn,
        trust_policy=_trust("https://signin.aws.amazon.com/saml"),
    )
    assert result.accepted, result.reasons


def test_trust_policy_audience_does_not_match_recipient(
    build: Build, metadata: IdpMetadata
) -> None:
    """The issue's done-when: Recipient https://signin.aws.amazon.com/saml against a trust
    policy whose SAML:aud is the us-east-2 sign-in URL."""
    result = verify_response(
        build(),
        metadata=metadata,
        now=NOW,
        role_arn=PROD.role_arn,
        principal_arn=PROD.principal_arn,
        trust_policy=_trust(AUD_EAST2),
    )
    assert result.codes == ["trust_policy_denied"]
    reason = result.reasons[0]
    assert "trust policy's audience does not match the Recipient" in reason.message
    assert AUD_EAST2 in reason.message
    assert "https://signin.aws.amazon.com/saml" in reason.message
    assert "change the trust policy's SAML:aud" in reason.fix
    assert AUD_EAST2 in reason.fix
    assert "https://signin.aws.amazon.com/saml" in reason.fix
    assert reason.aws_error_code == "AccessDenied"


def test_trust_policy_other_provider(build: Build, metadata: IdpMetadata) -> None:
    result = verify_response(
        build(),
        metadata=metadata,
        now=NOW,
        role_arn=PROD.role_arn,
        principal_arn=PROD.principal_arn,
        trust_policy=_trust(
            "https://signin.aws.amazon.com/saml",
            principal="arn:aws:iam::222222222222:saml-provider/other",
        ),
    )
    assert result.codes == ["trust_policy_denied"]
    assert "saml-provider/other" in result.reasons[0].message


def test_tags_need_tag_session(build: Build, metadata: IdpMetadata) -> None:
    policy = _trust("https://signin.aws.amazon.com/saml")
    statement = policy["Statement"][0]  # type: ignore[index]
    statement["Action"] = "sts:AssumeRoleWithSAML"
    result = verify_response(
        build(principal_tags={"team": "platform"}),
        metadata=metadata,
        now=NOW,
        role_arn=PROD.role_arn,
        principal_arn=PROD.principal_arn,
        trust_policy=policy,
    )
    assert result.codes == ["trust_policy_denied"]
    assert "sts:TagSession" in result.reasons[0].message


def test_saml_context_keys(build: Build, metadata: IdpMetadata) -> None:
    result = verify_response(
        build(subject_format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"),
        metadata=metadata,
        now=NOW,
    )
    assert result.assertion is not None
    context = result.assertion.saml_context(PROD.principal_arn)
    assert context["SAML:aud"] == ["https://signin.aws.amazon.com/saml"]
    assert context["SAML:iss"] == [ISSUER]
    assert context["SAML:sub_type"] == ["persistent"]
    assert context["SAML:doc"] == ["222222222222/okta"]
    expected = base64.b64encode(
        __import__("hashlib").sha1(f"{ISSUER}222222222222/okta".encode()).digest()
    ).decode()
    assert context["SAML:namequalifier"] == [expected]


def test_replay_cache_forgets_expired_ids() -> None:
    clock = [NOW]
    cache = MemoryReplayCache(clock=lambda: clock[0])
    for index in range(1024):
        assert not cache.seen(f"id{index}", NOW + timedelta(minutes=5))
    assert cache.seen("id0", NOW + timedelta(minutes=5))
    clock[0] = NOW + timedelta(minutes=6)
    assert not cache.seen("fresh", NOW + timedelta(minutes=11))
    assert len(cache) == 1
