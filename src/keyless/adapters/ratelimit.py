"""How long to wait after Okta answers ``429 Too Many Requests``.

Okta rate-limits every endpoint, the sign-in ones too: ``/api/v1/authn``,
``/oauth2/v1/token`` and ``/oauth2/v1/device/authorize`` have limits of their
own beside the management API's (Okta, "Rate limits": "Authentication/End-user
rate limits"). A 429 carries ``X-Rate-Limit-Reset`` (epoch seconds when the
window resets; Okta, "Rate limit headers") and may carry ``Retry-After``
(RFC 9110 §10.2.3: seconds, or an HTTP date). A 429 means the request was not
processed, so sending it again after the wait is safe, POSTs included.

Callers wait out 429s within a stated budget (seconds in total per call) and
then report the rate limit with the time it resets.
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import httpx

# Per call, in total: a sign-in waits at most a minute before saying Okta is busy.
SIGNIN_BUDGET = 60.0
# A little past the reset so the first call of the new window lands in it.
_MARGIN = 0.05


def rate_limit_wait(response: httpx.Response, now: float) -> float:
    """Seconds to wait before sending again, from ``Retry-After`` or ``X-Rate-Limit-Reset``.

    ``now`` is epoch seconds. Without either header, one second.
    """
    retry_after = response.headers.get("retry-after", "").strip()
    if retry_after:
        if retry_after.isdigit():
            return float(retry_after) + _MARGIN
        try:
            when = parsedate_to_datetime(retry_after)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            return max(when.timestamp() - now, 0.0) + _MARGIN
    reset = response.headers.get("x-rate-limit-reset", "").strip()
    try:
        return max(float(reset) - now, 0.0) + _MARGIN
    except ValueError:
        return 1.0
