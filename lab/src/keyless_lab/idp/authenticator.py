"""The lab users' authenticator app: the TOTP code a phone would show, never one used before.

Okta (and the lab IdP) accept a TOTP code once: after a sign-in with the code of
one 30-second step, that step's code (and any earlier one) is refused. A person
with a phone simply waits for the next code. ``keyless lab mfa code`` does the
same: :func:`fresh_code` hands out the current step's code unless it was
already handed out or used (the IdP records used steps in the directory; handed
out ones are recorded beside them), and otherwise waits for the next step,
saying so.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import pyotp

from keyless_lab.idp.directory import Directory, Factor

# Past the step boundary by this much, so the clock has surely entered the new step.
_MARGIN = 0.05


def fresh_code(
    directory: Directory,
    factor: Factor,
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    say: Callable[[str], None] = lambda message: None,
) -> str:
    """The code of the current time step for ``factor`` (a TOTP factor), recorded as
    handed out; when this step's code was handed out or used, wait for the next step
    first (``say`` tells how long)."""
    if factor.secret is None:
        raise ValueError(f"factor {factor.id} has no TOTP secret")
    totp = pyotp.TOTP(factor.secret)
    while True:
        now = clock()
        step = int(now) // totp.interval
        taken = directory.hand_out_totp_step(factor.id, step)
        if taken is None:
            return str(totp.at(step * totp.interval))
        wait = (taken + 1) * totp.interval - now + _MARGIN
        say(
            f"the code for this {totp.interval} s step was already handed out or used: "
            f"waiting {math.ceil(wait)} s for a fresh code"
        )
        sleep(wait)
