"""The lab enforces session revocations as AWS does, and keeps a CloudTrail per account.

- A Deny on ``aws:userid`` + ``aws:TokenIssueTime`` attached to a role *after* a
  session was issued stops that session at its next call; another person's
  session on the same role keeps working; the same person's new session
  (issued after the cut-off) works.
- ``AssumeRoleWithSAML``, ``AssumeRole`` and denied calls are recorded in
  CloudTrail's record format and answered by ``cloudtrail:LookupEvents``
  (boto3 as the client), per account.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from keyless.plan.revocations import cutoff, policy_name, revocation_policy
from lab_aws_support import DEV, MANAGEMENT, PROD, Assertion, AwsLab, assume, role_pair


def _session(
    aws_lab: AwsLab, assertion: Assertion, account: str, role: str, name: str
) -> dict[str, Any]:
    answer = assume(
        aws_lab,
        assertion(roles=[role_pair(account, role)], session_name=name),
        role=role,
        account=account,
    )
    credentials: dict[str, Any] = answer["Credentials"]
    return credentials


def _admin(aws_lab: AwsLab, account: str) -> dict[str, Any]:
    """Credentials of the account's access role, as provisioning reaches it."""
    answer = aws_lab.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
        RoleSessionName="revocation-test",
    )
    credentials: dict[str, Any] = answer["Credentials"]
    return credentials


def _code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


def test_a_deny_on_one_persons_sessions_stops_them_and_only_them(
    aws_lab: AwsLab, assertion: Assertion
) -> None:
    role = "ReadOnly"
    mine = _session(aws_lab, assertion, DEV, role, "dora@acme.example")
    theirs = _session(aws_lab, assertion, DEV, role, "erin@acme.example")
    assert aws_lab.client("iam", mine).list_roles()["Roles"]
    admin = aws_lab.client("iam", _admin(aws_lab, DEV))
    cut = cutoff(datetime.now(UTC))
    name = policy_name("dora@acme.example")
    admin.put_role_policy(
        RoleName=role,
        PolicyName=name,
        PolicyDocument=json.dumps(revocation_policy("dora@acme.example", cut)),
    )
    try:
        with pytest.raises(ClientError) as caught:
            aws_lab.client("iam", mine).list_roles()
        assert _code(caught) == "AccessDenied"
        assert "explicit deny" in caught.value.response["Error"]["Message"]
        # Someone else's session on the same role is untouched.
        assert aws_lab.client("iam", theirs).list_roles()["Roles"]
        # A session issued after the cut-off is not covered by it.
        time.sleep(max(0.0, (cut - datetime.now(UTC)).total_seconds()) + 0.05)
        fresh = _session(aws_lab, assertion, DEV, role, "dora@acme.example")
        assert aws_lab.client("iam", fresh).list_roles()["Roles"]
    finally:
        admin.delete_role_policy(RoleName=role, PolicyName=name)
    # Removing the Deny gives the old session back: policies are read per request.
    assert aws_lab.client("iam", mine).list_roles()["Roles"]


def test_revoke_older_sessions_stops_every_session_of_the_role(
    aws_lab: AwsLab, assertion: Assertion
) -> None:
    role = "Developer"
    one = _session(aws_lab, assertion, DEV, role, "fay@acme.example")
    two = _session(aws_lab, assertion, DEV, role, "gus@acme.example")
    admin = aws_lab.client("iam", _admin(aws_lab, DEV))
    name = policy_name(None)
    admin.put_role_policy(
        RoleName=role,
        PolicyName=name,
        PolicyDocument=json.dumps(revocation_policy(None, cutoff(datetime.now(UTC)))),
    )
    try:
        for credentials in (one, two):
            with pytest.raises(ClientError) as caught:
                aws_lab.client("iam", credentials).list_roles()
            assert _code(caught) == "AccessDenied"
    finally:
        admin.delete_role_policy(RoleName=role, PolicyName=name)


def _events(aws_lab: AwsLab, account: str, **request: Any) -> list[dict[str, Any]]:
    # The management account is read with the bootstrap key; members through their access role.
    credentials = None if account == MANAGEMENT else _admin(aws_lab, account)
    trail = aws_lab.client("cloudtrail", credentials)
    events: list[dict[str, Any]] = []
    for page in trail.get_paginator("lookup_events").paginate(**request):
        events.extend(page["Events"])
    return events


def test_assume_role_with_saml_is_recorded_as_cloudtrail_records_it(
    aws_lab: AwsLab, assertion: Assertion
) -> None:
    started = datetime.now(UTC) - timedelta(seconds=1)
    credentials = _session(aws_lab, assertion, PROD, "ReadOnly", "alice@acme.example")
    events = _events(
        aws_lab,
        PROD,
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "AssumeRoleWithSAML"}],
        StartTime=started,
    )
    mine = [
        e
        for e in events
        if json.loads(e["CloudTrailEvent"])["responseElements"]["credentials"]["accessKeyId"]
        == credentials["AccessKeyId"]
    ]
    assert len(mine) == 1
    event = mine[0]
    assert event["EventSource"] == "sts.amazonaws.com"
    assert event["Username"] == "alice@acme.example"
    assert event["ReadOnly"] == "false"
    record = json.loads(event["CloudTrailEvent"])
    identity = record["userIdentity"]
    assert identity["type"] == "SAMLUser"
    assert identity["userName"] == "alice@acme.example"
    assert identity["principalId"] == f"{identity['identityProvider']}:alice@acme.example"
    assert identity["identityProvider"]  # the SAML:namequalifier
    assert record["requestParameters"]["roleArn"] == f"arn:aws:iam::{PROD}:role/ReadOnly"
    assert record["requestParameters"]["principalArn"] == f"arn:aws:iam::{PROD}:saml-provider/Okta"
    assert record["recipientAccountId"] == PROD
    assert record["eventVersion"]
    assert record["eventID"] == event["EventId"]
    # The secret and the session token are never logged.
    assert credentials["SecretAccessKey"] not in event["CloudTrailEvent"]
    assert credentials["SessionToken"] not in event["CloudTrailEvent"]
    assert "errorCode" not in record


def test_a_refused_assertion_and_a_denied_call_are_recorded_with_their_error(
    aws_lab: AwsLab, assertion: Assertion
) -> None:
    started = datetime.now(UTC) - timedelta(seconds=1)
    with pytest.raises(ClientError):
        # The assertion names prod's role; asking for dev's with it is refused.
        assume(
            aws_lab, assertion(roles=[role_pair(PROD, "ReadOnly")]), role="ReadOnly", account=DEV
        )
    credentials = _session(aws_lab, assertion, DEV, "ReadOnly", "alice@acme.example")
    with pytest.raises(ClientError):
        aws_lab.client("iam", credentials).create_user(UserName="not-allowed")
    events = _events(aws_lab, DEV, StartTime=started)
    failed_saml = [
        json.loads(e["CloudTrailEvent"])
        for e in events
        if e["EventName"] == "AssumeRoleWithSAML"
        and "errorCode" in json.loads(e["CloudTrailEvent"])
    ]
    assert failed_saml
    assert failed_saml[0]["userIdentity"] == {"type": "SAMLUser"}
    denied = [json.loads(e["CloudTrailEvent"]) for e in events if e["EventName"] == "CreateUser"]
    assert len(denied) == 1
    assert denied[0]["errorCode"] == "AccessDenied"
    assert denied[0]["eventSource"] == "iam.amazonaws.com"
    assert denied[0]["userIdentity"]["type"] == "AssumedRole"
    assert denied[0]["userIdentity"]["principalId"].endswith(":alice@acme.example")
    assert denied[0]["userIdentity"]["accessKeyId"] == credentials["AccessKeyId"]


def test_assume_role_is_recorded_in_the_roles_account_and_the_callers(aws_lab: AwsLab) -> None:
    started = datetime.now(UTC) - timedelta(seconds=1)
    credentials = _admin(aws_lab, PROD)
    found: dict[str, list[dict[str, Any]]] = {}
    for account in (PROD, MANAGEMENT):
        events = _events(
            aws_lab,
            account,
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "AssumeRole"}],
            StartTime=started,
        )
        records = [json.loads(e["CloudTrailEvent"]) for e in events]
        found[account] = [
            r
            for r in records
            if (r["responseElements"] or {}).get("credentials", {}).get("accessKeyId")
            == credentials["AccessKeyId"]
        ]
    assert len(found[PROD]) == 1
    assert len(found[MANAGEMENT]) == 1
    assert found[PROD][0]["userIdentity"]["type"] == "IAMUser"
    assert found[PROD][0]["userIdentity"]["userName"] == "lab-admin"


def test_lookup_events_pages_and_rejects_what_cloudtrail_rejects(aws_lab: AwsLab) -> None:
    for _ in range(3):
        _admin(aws_lab, DEV)
    trail = aws_lab.client("cloudtrail", _admin(aws_lab, DEV))
    first = trail.lookup_events(MaxResults=1)
    assert len(first["Events"]) == 1
    assert first["NextToken"]
    second = trail.lookup_events(MaxResults=1, NextToken=first["NextToken"])
    assert second["Events"][0]["EventId"] != first["Events"][0]["EventId"]
    # Most recent first.
    assert first["Events"][0]["EventTime"] >= second["Events"][0]["EventTime"]
    with pytest.raises(ClientError) as caught:
        trail.lookup_events(
            LookupAttributes=[
                {"AttributeKey": "EventName", "AttributeValue": "AssumeRole"},
                {"AttributeKey": "Username", "AttributeValue": "lab-admin"},
            ]
        )
    assert _code(caught) == "InvalidLookupAttributesException"
    with pytest.raises(ClientError) as caught:
        trail.lookup_events(MaxResults=1, NextToken="bm90IGEgdG9rZW4=")
    assert _code(caught) == "InvalidNextTokenException"
    with pytest.raises(ClientError) as caught:
        trail.lookup_events(StartTime=datetime.now(UTC), EndTime=datetime.now(UTC) - timedelta(1))
    assert _code(caught) == "InvalidTimeRangeException"


def test_each_account_sees_only_its_own_events(aws_lab: AwsLab, assertion: Assertion) -> None:
    credentials = _session(aws_lab, assertion, PROD, "ReadOnly", "alice@acme.example")
    events = _events(
        aws_lab,
        DEV,
        LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": "x"}],
    )
    assert events == []
    in_dev = _events(aws_lab, DEV)
    assert all(json.loads(e["CloudTrailEvent"])["recipientAccountId"] == DEV for e in in_dev)
    assert credentials["AccessKeyId"] not in json.dumps(in_dev, default=str)


def test_a_sessions_writes_are_recorded_with_its_source_identity(aws_lab: AwsLab) -> None:
    """What a session did, as CloudTrail shows it (issue 23): its successful writes carry
    its userIdentity, sessionContext.sourceIdentity included, and the request's parameters
    with secrets hidden; its reads are not management writes and are not recorded here."""
    admin = _admin(aws_lab, DEV)
    iam = aws_lab.client("iam", admin)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{DEV}:root"},
                "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
            }
        ],
    }
    iam.create_role(RoleName="TrailWitness", AssumeRolePolicyDocument=json.dumps(trust))
    iam.attach_role_policy(
        RoleName="TrailWitness", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"
    )
    session = aws_lab.client("sts", admin).assume_role(
        RoleArn=f"arn:aws:iam::{DEV}:role/TrailWitness",
        RoleSessionName="witness",
        SourceIdentity="nora",
    )["Credentials"]
    theirs = aws_lab.client("iam", session)
    theirs.create_user(UserName="nora-made")
    theirs.create_login_profile(UserName="nora-made", Password="Sup3r-secret-pw!")
    theirs.list_users()
    events = _events(
        aws_lab,
        DEV,
        LookupAttributes=[
            {"AttributeKey": "AccessKeyId", "AttributeValue": session["AccessKeyId"]}
        ],
    )
    records = {json.loads(e["CloudTrailEvent"])["eventName"]: e for e in events}
    assert set(records) == {"CreateUser", "CreateLoginProfile"}
    created = json.loads(records["CreateUser"]["CloudTrailEvent"])
    assert created["eventSource"] == "iam.amazonaws.com"
    assert created["userIdentity"]["sessionContext"]["sourceIdentity"] == "nora"
    assert created["requestParameters"] == {"userName": "nora-made"}
    profile = records["CreateLoginProfile"]["CloudTrailEvent"]
    assert "Sup3r-secret-pw!" not in profile
    assert json.loads(profile)["requestParameters"]["password"] == "HIDDEN_DUE_TO_SECURITY_REASONS"
