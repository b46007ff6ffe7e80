"""The AWS app's own sign-on policy, and what each engine does when a session falls short.

``IdpSettings.app_policy`` is one of:

- ``none``: the org's session is enough (the only case keyless handled before);
- ``mfa``: the app wants a session whose sign-in verified a factor;
- ``mfa_every_time``: the app wants a factor at every sign-on to it.

What a session that falls short gets, per engine:

- **Classic** answers the app link with its *Extra Verification* page, whose
  JavaScript holds a ``stateToken`` of a ``SESSION_STEP_UP`` transaction;
  ``/api/v1/authn`` continues it (``MFA_REQUIRED`` → factor → ``SUCCESS``
  with ``_links.next`` to ``/login/step-up/redirect``), as in Okta's
  Authentication API reference ("SP-initiated step-up authentication") and
  as gimme-aws-creds' ``stepup_auth`` drives it.
- **Identity Engine** evaluates app policies only in its own pipeline: a
  session made through the Classic ``/api/v1/authn`` opens the app to the
  sign-in widget page, whose ``stateHandle`` the Classic API refuses with
  ``401 E0000011`` (gimme-aws-creds: "Passing the stateToken to the
  Authentication API for step-up auth doesn't work in OIE"). A CLI goes
  through the device authorization grant and the web SSO token exchange
  instead, where the policy is checked against the subject token: Okta
  answers ``invalid_grant`` "The application's assurance requirements are
  not met by the 'subject_token'." when it is not met — always so for a
  policy that re-authenticates at every sign-on (okta/okta-aws-cli#31).
"""

from __future__ import annotations

from typing import Literal

from keyless_lab.idp.core import Idp, Session

Decision = Literal["allow", "step_up", "widget"]


def app_sign_on(idp: Idp, session: Session) -> Decision:
    """What the AWS app link answers this session under the app's policy and the engine."""
    policy = idp.settings.app_policy
    if policy == "none":
        return "allow"
    if idp.settings.engine == "oie":
        # Only sessions of the org's own pipeline (the web sign-in) meet app policies.
        if session.via != "web" or policy == "mfa_every_time" or session.factor_at is None:
            return "widget"
        return "allow"
    if policy == "mfa" and (session.factor_at is not None or session.step_up_at is not None):
        return "allow"
    if policy == "mfa_every_time" and session.step_up_at is not None:
        return "allow"
    return "step_up"


def signed_on(idp: Idp, session: Session) -> None:
    """An assertion went out for this session: a step-up for "every time" is used up."""
    if idp.settings.app_policy == "mfa_every_time":
        session.step_up_at = None


def subject_meets_policy(idp: Idp, amr: tuple[str, ...]) -> bool:
    """Does a subject token with these methods meet the app's policy (web SSO exchange)?

    A rule asking for a registered or managed device never is: the exchange is a
    back-channel call that carries no device context (okta/okta-aws-cli README,
    "Authentication policy": Device State "must be set to Any for using Okta AWS
    CLI. Other options are not supported at this time.").
    """
    if idp.settings.app_device != "any":
        return False
    policy = idp.settings.app_policy
    if policy == "none":
        return True
    if policy == "mfa":
        return "mfa" in amr
    return False
