"""AWS error responses as real AWS sends them, so boto3 and the AWS CLI raise the same errors.

STS and IAM speak the *query* protocol: an XML ``ErrorResponse`` with
``Type``/``Code``/``Message`` and the HTTP status AWS uses for that code.
Organizations speaks JSON 1.1: ``{"__type": ..., "message": ...}``, where the
codes are spelled differently (``AccessDeniedException``).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Literal
from xml.sax.saxutils import escape

Protocol = Literal["query", "json", "rest-xml"]

# HTTP status AWS answers with, per error code.
STATUS: dict[str, int] = {
    "AccessDenied": 403,
    "IDPRejectedClaim": 403,
    "InvalidClientTokenId": 403,
    "SignatureDoesNotMatch": 403,
    "MissingAuthenticationToken": 403,
    "RegionDisabledException": 403,
    "InvalidIdentityToken": 400,
    "ExpiredTokenException": 400,
    "ExpiredToken": 400,
    "ValidationError": 400,
    "MalformedPolicyDocument": 400,
    "PackedPolicyTooLarge": 400,
    "IncompleteSignature": 400,
    "InvalidAction": 400,
    "NotImplemented": 501,
    "XAmzContentSHA256Mismatch": 400,
    "AuthorizationHeaderMalformed": 400,
    # IAM answers its quotas with 409 Conflict (seen in AWS SDK errors: "Service: Iam,
    # Status Code: 409 ... Error Code: LimitExceeded").
    "LimitExceeded": 409,
}

# The JSON protocol's spelling of the same errors.
_JSON_CODES = {
    "AccessDenied": "AccessDeniedException",
    "InvalidClientTokenId": "UnrecognizedClientException",
    "SignatureDoesNotMatch": "InvalidSignatureException",
    "ExpiredToken": "ExpiredTokenException",
    "ValidationError": "ValidationException",
}

NAMESPACES = {
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
}


@dataclass
class AwsError(Exception):
    """An error to answer with exactly as AWS would: code, message, HTTP status."""

    code: str
    message: str
    status: int = 0
    # Members a JSON-protocol error carries beside the message (Organizations'
    # ConstraintViolationException has a ``Reason``).
    fields: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(f"{self.code}: {self.message}")
        if not self.status:
            self.status = STATUS.get(self.code, 400)


# Characters XML 1.0 cannot carry (C0 controls other than tab/newline/CR, surrogates):
# an error that echoes a request's bytes must still be a document clients can parse.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return escape(_NOT_XML.sub("?", text))


def render_error(
    error: AwsError, *, protocol: Protocol, service: str | None
) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) of the error response for ``protocol``."""
    request_id = str(uuid.uuid4())
    if protocol == "json":
        code = _JSON_CODES.get(error.code, error.code)
        body = json.dumps({"__type": code, "message": error.message, **error.fields}).encode()
        headers = [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", code),
        ]
        # JSON services answer client errors with 400, access denied included.
        return 400 if error.status < 500 else error.status, headers, body
    kind = "Receiver" if error.status >= 500 else "Sender"
    if protocol == "rest-xml":
        text = (
            "<?xml version='1.0' encoding='UTF-8'?>\n"
            f"<Error><Code>{_xml_text(error.code)}</Code><Message>{_xml_text(error.message)}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        )
    else:
        namespace = NAMESPACES.get(service or "", NAMESPACES["sts"])
        text = (
            f'<ErrorResponse xmlns="{namespace}">\n'
            f"  <Error>\n    <Type>{kind}</Type>\n    <Code>{_xml_text(error.code)}</Code>\n"
            f"    <Message>{_xml_text(error.message)}</Message>\n  </Error>\n"
            f"  <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n"
        )
    headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    return error.status, headers, text.encode()
