"""How long a federated session lasts, and which limit decides it: one rule, two users.

``keyless login`` asks STS for :func:`session_length`'s seconds and explains
the caps in its notes; ``keyless doctor`` runs the same function on what it can
read (the assertion, the role, the profile) to say which limit a person meets.

AWS's rules, from the STS API reference, ``AssumeRoleWithSAML``
(https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithSAML.html):
credentials last one hour by default; ``DurationSeconds`` asks for 900 seconds
up to the role's maximum session duration (1 to 12 hours) and a value above the
role's setting fails; ``AssumeRole``'s ``DurationSeconds``: "Role chaining limits
your AWS CLI or AWS API role session to a maximum of one hour", and a chained
call asking for more than an hour fails.

Okta's AWS app sends ``https://aws.amazon.com/SAML/Attributes/SessionDuration``;
keyless asks for it when the profile names no duration and never asks for more
(what the IdP grants is the organisation's decision, as with gimme-aws-creds).
"""

from __future__ import annotations

from dataclasses import dataclass

from keyless.core.aws import DEFAULT_SESSION_SECONDS

# AssumeRole's DurationSeconds when the caller's credentials are a role's (chaining).
CHAINED_SESSION_SECONDS = 3600

# The limits that can decide, in the order they are applied.
REQUESTED = "requested duration"
SESSION_DURATION = "SessionDuration"
AWS_DEFAULT = "AWS default"
MAX_SESSION_DURATION = "MaxSessionDuration"
ROLE_CHAINING = "role chaining"


@dataclass(frozen=True)
class SessionLength:
    """The seconds a session gets and the limit that decided them.

    ``wanted`` is what the person would get without caps (the requested
    duration, else the assertion's SessionDuration, else AWS's default), and
    ``wanted_from`` which of those it is. ``also`` names other limits equal to
    ``seconds``: raising only the deciding one would not lengthen the session.
    """

    seconds: int
    deciding: str
    wanted: int
    wanted_from: str
    requested: int | None
    session_duration: int | None
    max_session_duration: int | None
    chained: bool = False
    also: tuple[str, ...] = ()

    @property
    def capped(self) -> bool:
        """Whether a limit cut the session below what was wanted."""
        return self.seconds < self.wanted


def session_length(
    *,
    requested: int | None,
    session_duration: int | None,
    max_session_duration: int | None,
    chained: bool = False,
) -> SessionLength:
    """The session's seconds: ``min(requested or SessionDuration or 3600, SessionDuration,
    MaxSessionDuration)``, and at most an hour when ``chained``; and which limit decided.

    ``max_session_duration`` None means unknown (not read, not in the spec).
    """
    if requested:
        wanted, source = requested, REQUESTED
    elif session_duration:
        wanted, source = session_duration, SESSION_DURATION
    else:
        wanted, source = DEFAULT_SESSION_SECONDS, AWS_DEFAULT
    seconds, deciding = wanted, source
    caps = [
        (SESSION_DURATION, session_duration),
        (MAX_SESSION_DURATION, max_session_duration),
        (ROLE_CHAINING, CHAINED_SESSION_SECONDS if chained else None),
    ]
    for name, cap in caps:
        if cap and seconds > cap:
            seconds, deciding = cap, name
    also = tuple(name for name, cap in caps if cap == seconds and name != deciding)
    return SessionLength(
        seconds=seconds,
        deciding=deciding,
        wanted=wanted,
        wanted_from=source,
        requested=requested,
        session_duration=session_duration,
        max_session_duration=max_session_duration,
        chained=chained,
        also=also,
    )


def retry_after_refusal(asked: int, known_limit: int | None) -> int | None:
    """What to ask for after STS refused ``asked`` seconds as above the role's
    MaxSessionDuration: the known limit when it is lower, else AWS's default;
    None when that would not be shorter (nothing left to try)."""
    retry = known_limit if known_limit is not None and known_limit < asked else None
    retry = retry if retry is not None else DEFAULT_SESSION_SECONDS
    return retry if retry < asked else None
