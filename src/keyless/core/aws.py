"""Rules of AWS that keyless applies in more than one place, written once.

Sources: the IAM and STS API references (``DurationSeconds`` of
``AssumeRoleWithSAML``, ``MaxSessionDuration`` of ``CreateRole``: 900 to
43200 seconds, 3600 when not given) and the ARN format
(``arn:PARTITION:SERVICE:REGION:ACCOUNT:...``). Every other module names these
constants rather than the numbers, so that a test pinning them here pins them
everywhere.
"""

from __future__ import annotations

# AssumeRoleWithSAML's DurationSeconds and a role's MaxSessionDuration.
MIN_SESSION_SECONDS = 900
MAX_SESSION_SECONDS = 43200
# What AWS takes when nothing is said: DurationSeconds' default, and the
# MaxSessionDuration of a role created without one.
DEFAULT_SESSION_SECONDS = 3600
# The limits in words, for messages ("15 minutes to 12 hours").
SESSION_LIMITS_TEXT = (
    f"{MIN_SESSION_SECONDS // 60} minutes to {MAX_SESSION_SECONDS // 60 // 60} hours"
)

# Each partition's STS region when nothing else names one (AWS's global
# endpoints live in these regions).
PARTITION_REGION = {"aws": "us-east-1", "aws-us-gov": "us-gov-west-1", "aws-cn": "cn-north-1"}


def partition_of(arn: str) -> str:
    """The partition of ``arn`` (``aws``, ``aws-cn``, ``aws-us-gov``); ``aws`` when unreadable."""
    parts = arn.split(":", 2)
    if len(parts) >= 2 and parts[0] == "arn" and parts[1]:
        return parts[1]
    return "aws"


def ca_bundle_for(endpoint_url: str | None, ca_bundle: str | None) -> str | None:
    """The CA bundle to trust for ``endpoint_url``: the configured one, for HTTPS only.

    A private CA (the lab's) signs only the configured endpoint; a plain-HTTP
    endpoint has nothing to verify, and real AWS (no endpoint) is trusted
    through the system's CAs.
    """
    if endpoint_url and endpoint_url.startswith("https://") and ca_bundle:
        return ca_bundle
    return None
