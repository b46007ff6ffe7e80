"""What every verification stage shares: the fixes it suggests and how it names things."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from lxml import etree

from keyless.saml.model import AWS_SIGNIN_URL

# "{region}" matches an AWS region name; everything else matches literally.
DEFAULT_RECIPIENTS: tuple[str, ...] = (
    AWS_SIGNIN_URL,
    "https://{region}.signin.aws.amazon.com/saml",
    "https://signin.amazonaws-us-gov.com/saml",
    "https://{region}.signin.amazonaws-us-gov.com/saml",
    "https://signin.amazonaws.cn/saml",
    "https://{region}.signin.amazonaws.cn/saml",
)
_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}"

FIX_IDP = "check that the input is the SAMLResponse your IdP posted, unmodified"
FIX_FORGED = (
    "do not trust this response: it was altered or built by someone other than the IdP. "
    "If it came straight from the IdP, report it as an IdP bug"
)


def path_of(element: etree._Element) -> str:
    """``Response/Assertion/Subject``: where an element sits, by local names."""
    names = [etree.QName(node).localname for node in (element, *element.iterancestors())]
    return "/".join(reversed(names))


def matches(value: str, patterns: Iterable[str]) -> bool:
    """True if ``value`` is one of ``patterns`` (``{region}`` stands for any region)."""
    for pattern in patterns:
        if "{region}" in pattern:
            regex = re.escape(pattern).replace(re.escape("{region}"), _REGION)
            if re.fullmatch(regex, value):
                return True
        elif value == pattern:
            return True
    return False


def shown(patterns: Sequence[str]) -> str:
    """The patterns as a person reads them."""
    return ", ".join(p.replace("{region}", "<region>") for p in patterns)


def iso(moment: datetime) -> str:
    """``2024-05-01T12:00:00Z``."""
    return moment.isoformat().replace("+00:00", "Z")


def ago(delta: timedelta) -> str:
    """A duration, short: ``42s``, ``3m05s``, ``2h10m``."""
    seconds = int(abs(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
