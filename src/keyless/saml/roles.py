"""The AWS ``Role`` SAML attribute: one strict reading, used by everyone who reads it.

A value names one role and the SAML provider AWS should trust for it, as two
IAM ARNs joined by a comma, in either order (Okta writes ``provider,role``,
others ``role,provider``). AWS STS refuses a pair whose provider sits in another
account or partition than the role, so this parser refuses it too: the
verifier (``keyless saml verify`` and the lab STS), the login (which must not
offer a role AWS will refuse) and the lab's sign-in page all read Role values
here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from keyless.saml.model import ARN_RE, RolePair


def parse_role_value(value: str) -> tuple[RolePair | None, str | None]:
    """Read one Role attribute value; return the pair, or why it is malformed.

    The reason completes the sentence "the Role value '...' <reason>".
    """
    parts = [part.strip() for part in value.split(",")]
    if len(parts) != 2:
        return None, f"has {len(parts)} comma-separated parts, not two ARNs"
    matches = [ARN_RE.match(part) for part in parts]
    for part, match in zip(parts, matches, strict=True):
        if match is None:
            return None, f"contains {part!r}, which is not an IAM role or SAML provider ARN"
    kinds = sorted(m["kind"] for m in matches if m)
    if kinds != ["role", "saml-provider"]:
        return None, "does not hold one role ARN and one SAML provider ARN"
    role_first = matches[0] is not None and matches[0]["kind"] == "role"
    role, provider = (parts[0], parts[1]) if role_first else (parts[1], parts[0])
    role_match, provider_match = ARN_RE.match(role), ARN_RE.match(provider)
    assert role_match is not None
    assert provider_match is not None
    if role_match["partition"] != provider_match["partition"]:
        return None, (
            f"pairs a role in partition {role_match['partition']} with a provider in partition "
            f"{provider_match['partition']}; the provider must be in the role's partition"
        )
    if role_match["account"] != provider_match["account"]:
        return None, (
            f"pairs a role in account {role_match['account']} with a provider in account "
            f"{provider_match['account']}; the provider must be in the role's account"
        )
    return RolePair(role_arn=role, principal_arn=provider), None


@dataclass(frozen=True)
class MalformedRole:
    """A Role value that names no role AWS would accept, and why."""

    value: str
    problem: str

    def note(self) -> str:
        """One line for a person: the value and what is wrong with it."""
        return f"the Role value {self.value!r} {self.problem}"


@dataclass(frozen=True)
class RoleValues:
    """Every Role value of an assertion, read: the pairs (first of each kept) and the rest."""

    pairs: tuple[RolePair, ...]
    malformed: tuple[MalformedRole, ...]

    @property
    def partitions(self) -> frozenset[str]:
        """The AWS partitions the pairs' roles are in (AWS wants exactly one)."""
        found = (ARN_RE.match(pair.role_arn) for pair in self.pairs)
        return frozenset(match["partition"] for match in found if match)


def read_role_values(values: Iterable[str]) -> RoleValues:
    """Read each Role attribute value; duplicates are kept once, in first-seen order."""
    pairs: list[RolePair] = []
    malformed: list[MalformedRole] = []
    for value in values:
        pair, problem = parse_role_value(value)
        if pair is None:
            malformed.append(MalformedRole(value, problem or "is malformed"))
        elif pair not in pairs:
            pairs.append(pair)
    return RoleValues(pairs=tuple(pairs), malformed=tuple(malformed))


__all__ = ["MalformedRole", "RoleValues", "parse_role_value", "read_role_values"]
