"""``keyless doctor``: what a profile meets, checked — the clocks, the CAs, Okta's
engine and the profile's flow, the AWS app's settings, and for each role the
session length the person gets and which limit decides it.

:mod:`.checks` decides (pure functions); :mod:`.service` reads (ports).
"""
