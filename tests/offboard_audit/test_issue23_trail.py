"""Issue 23, the evidence: with an organization trail, offboard reads the person's sessions
from the trail's log files in S3 with the management account's credentials, as CloudTrail
files them (the lab delivers them so); without one, each account's event history.

A module with a lab of its own: the trail changes where every later offboarding reads.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

from keyless.core.credentials import AwsCredentials
from offboard_support import (
    add_person,
    aws_client,
    offboard_json,
    session_works,
    sessions_by_alias,
    sign_in,
)

PROD = "222222222222"
BUCKET = "acme-org-trail"
# CloudTrail User Guide, "Finding your CloudTrail log files" / "CloudTrail log file examples".
LOG_FILE = re.compile(
    r"^audit/AWSLogs/o-\w+/(\d{12})/CloudTrail/([\w-]+)/\d{4}/\d{2}/\d{2}/"
    r"\1_CloudTrail_\2_\d{8}T\d{4}Z_[A-Za-z0-9]{16}\.json\.gz$"
)


def _chain(lab: Any, session: AwsCredentials, role: str) -> tuple[AwsCredentials, str]:
    """``session`` makes a role it may assume and assumes it: the chained session."""
    iam = aws_client(lab, "iam", session)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{PROD}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    iam.attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    chained = aws_client(lab, "sts", session).assume_role(
        RoleArn=f"arn:aws:iam::{PROD}:role/{role}", RoleSessionName="quiet"
    )
    creds = chained["Credentials"]
    return (
        AwsCredentials(
            access_key_id=creds["AccessKeyId"],
            secret_access_key=creds["SecretAccessKey"],
            session_token=creds["SessionToken"],
            expiration=creds["Expiration"],
        ),
        str(chained["AssumedRoleUser"]["AssumedRoleId"]),
    )


def test_without_a_trail_the_event_history_of_each_account_is_read(
    org_lab: Any, tmp_path: Path
) -> None:
    password, secret = add_person(org_lab, "kim@acme.example", ["aws-admins"])
    kim = sessions_by_alias(
        sign_in(org_lab, "kim@acme.example", tmp_path, password=password, secret=secret)
    )
    report = offboard_json(org_lab, "kim@acme.example")
    assert not session_works(org_lab, kim["acme-prod"])
    notes = {a["alias"]: a["sessions_note"] for a in report["accounts"]}
    assert all("event history" in note for note in notes.values()), notes
    assert not any("organization trail" in note for note in notes.values())
    seen = [s for a in report["accounts"] for s in a["sessions_cleared"]]
    assert {s["session"].split(":")[1] for s in seen} == {"kim@acme.example"}


def test_an_organization_trail_is_read_from_s3(org_lab: Any, tmp_path: Path) -> None:
    s3 = aws_client(org_lab, "s3")
    s3.create_bucket(Bucket=BUCKET)
    cloudtrail = aws_client(org_lab, "cloudtrail")
    cloudtrail.create_trail(
        Name="org-trail",
        S3BucketName=BUCKET,
        S3KeyPrefix="audit",
        IsOrganizationTrail=True,
        IsMultiRegionTrail=True,
    )
    cloudtrail.start_logging(Name="org-trail")
    password, secret = add_person(org_lab, "lou@acme.example", ["aws-admins"])
    lou = sessions_by_alias(
        sign_in(org_lab, "lou@acme.example", tmp_path, password=password, secret=secret)
    )
    hideout, chained_id = _chain(org_lab, lou["acme-prod"], "LouHideout")

    # The lab delivers as CloudTrail does: a gzipped {"Records": [...]} per file, filed
    # by organization, account, Region and day.
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys
    assert all(LOG_FILE.match(k) for k in keys), keys
    records = [
        record
        for key in keys
        if f"/{PROD}/" in key
        for record in json.loads(
            gzip.decompress(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        )["Records"]
    ]
    assert {"AssumeRoleWithSAML", "AssumeRole"} <= {r["eventName"] for r in records}

    report = offboard_json(org_lab, "lou@acme.example")
    assert not session_works(org_lab, lou["acme-prod"])
    assert not session_works(org_lab, hideout)
    notes = {a["alias"]: a["sessions_note"] for a in report["accounts"]}
    assert all(
        "organization trail org-trail (s3://acme-org-trail/audit/" in n for n in notes.values()
    )
    assert not any("event history" in note for note in notes.values()), notes
    seen = [s for a in report["accounts"] for s in a["sessions_cleared"]]
    assert {s["session"].split(":")[1] for s in seen if not s["chained"]} == {"lou@acme.example"}
    assert [s["session"] for s in seen if s["chained"]] == [chained_id]
    assert chained_id in report["keys"]["lou@acme.example"]["chained_sessions"]
    assert "last few minutes" in report["evidence_note"]
