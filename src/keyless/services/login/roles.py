"""Which role: the spec's hints (account aliases, role limits), the flags, or the person."""

from __future__ import annotations

import hashlib
import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from keyless.adapters.credentials_file import check_profile_name
from keyless.core import paths
from keyless.core.ports import Prompter
from keyless.errors import ConfigError, InputError
from keyless.files import private_dir, read_private, write_atomic
from keyless.saml.model import RolePair
from keyless.services.login.profiles import DEFAULT_PROFILE_NAME_TEMPLATE, Settings


@dataclass(frozen=True)
class SpecHints:
    """What the federation spec tells a client: account aliases and role session limits."""

    aliases: dict[str, str] = field(default_factory=dict)  # account id -> alias
    max_durations: dict[tuple[str, str], int] = field(default_factory=dict)  # (id, role) -> s

    @classmethod
    def load(cls, path: str | None) -> SpecHints:
        """Hints from the spec at ``path`` (empty when no spec is configured).

        Validating a spec costs a sign-in about a quarter of a second (YAML,
        the pydantic model, the expansion), for two small tables. They are
        kept in the cache directory under the hash of the spec's bytes, so a
        changed spec is read again and an unchanged one is not.
        """
        if not path:
            return cls()
        try:
            digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            digest = None  # load_spec below says what is wrong with the file
        kept = _kept_hints(digest) if digest else None
        if kept is not None:
            return kept
        from keyless.spec import expand_accounts, load_spec

        spec = load_spec(Path(path))
        aliases = {account.id: account.alias for account in spec.accounts}
        limits: dict[tuple[str, str], int] = {}
        for account_roles in expand_accounts(spec):
            for role, _arn, _groups in account_roles.roles:
                limits[(account_roles.account.id, role.name)] = role.max_session_duration
        hints = cls(aliases=aliases, max_durations=limits)
        if digest:
            _keep_hints(digest, hints)
        return hints

    def label(self, pair: RolePair) -> str:
        """``acme-dev (333333333333) / Developer``."""
        alias = self.aliases.get(pair.account_id)
        account = f"{alias} ({pair.account_id})" if alias else pair.account_id
        return f"{account} / {pair.role_name}"


def _hints_file(digest: str) -> Path:
    return Path(paths.cache_dir()) / "spec-hints" / f"{digest}.json"


def _kept_hints(digest: str) -> SpecHints | None:
    data = read_private(_hints_file(digest))
    if data is None:
        return None
    try:
        document = json.loads(data)
        return SpecHints(
            aliases={str(k): str(v) for k, v in document["aliases"].items()},
            max_durations={(str(a), str(r)): int(s) for a, r, s in document["max_durations"]},
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # unreadable: read the spec again


def _keep_hints(digest: str, hints: SpecHints) -> None:
    document = {
        "aliases": hints.aliases,
        "max_durations": [[a, r, s] for (a, r), s in sorted(hints.max_durations.items())],
    }
    path = _hints_file(digest)
    try:
        private_dir(path.parent)
        write_atomic(path, json.dumps(document).encode("utf-8"))
    except (OSError, ConfigError):
        pass  # a cache that cannot be written only costs the next sign-in time


@dataclass(frozen=True)
class RoleChoice:
    """The role taken, and whether the person picked it (and may want it remembered)."""

    pair: RolePair
    picked: bool = False


def select_roles(
    roles: tuple[RolePair, ...],
    *,
    role: str | None,
    account: str | None,
    hints: SpecHints,
    prompter: Prompter,
    profile: str,
) -> RoleChoice:
    """The one role the flags (or the person) pick from ``roles``."""
    candidates = list(roles)
    if role:
        candidates = [
            pair
            for pair in candidates
            if role in (pair.role_arn, pair.role_name) or pair.role_arn.endswith(f":role/{role}")
        ]
    if account:
        candidates = [
            pair
            for pair in candidates
            if account in (pair.account_id, hints.aliases.get(pair.account_id))
        ]
    available = ", ".join(hints.label(pair) for pair in roles)
    if not candidates:
        wanted = " in ".join(
            f"{kind} {value!r}" for kind, value in (("role", role), ("account", account)) if value
        )
        raise InputError(
            f"the assertion offers no {wanted}; it offers: {available}",
            fix="pick one of those with --role and --account (or fix the profile's role/account)",
        )
    if len(candidates) == 1:
        return RoleChoice(candidates[0])
    labels = [hints.label(pair) for pair in candidates]
    title = "Select a role"
    if not prompter.interactive:
        # The prompter decides what kind of error this is (exit 2 for login, 4 for
        # credential-process); the way out is the same for both: name the role once.
        error = prompter.missing_input(
            f"{title} ({len(labels)} choices: {'; '.join(labels)})", flag="--role and --account"
        )
        configure = (
            f"`keyless configure --profile {shlex.quote(profile)} --role ROLE --account ACCOUNT`"
        )
        also = f"; or {error.fix}" if error.fix else ""
        error.fix = (
            f"name the role in the profile once, with one of those: {configure} "
            f"(later logins and credential-process take it without asking){also}"
        )
        raise error
    index = prompter.choose(title, labels, flag="--role and --account")
    return RoleChoice(candidates[index], picked=True)


def role_setting(pair: RolePair, hints: SpecHints) -> tuple[str, str]:
    """The profile's ``role`` and ``account`` that name ``pair`` (the alias when known)."""
    return pair.role_name, hints.aliases.get(pair.account_id, pair.account_id)


def written_profile_name(
    settings: Settings, pair: RolePair, hints: SpecHints, *, all_roles: bool
) -> str:
    """The profile a login writes ``pair`` to: the credentials-file profile, or with
    --all-roles the role's own ``~/.aws/config`` profile (``profile_name_template``)."""
    if not all_roles:
        return settings.credentials_profile
    template = settings.profile_name_template or DEFAULT_PROFILE_NAME_TEMPLATE
    name = template.format(
        alias=hints.aliases.get(pair.account_id, pair.account_id),
        account=pair.account_id,
        role=pair.role_name,
        profile=settings.profile,
    )
    check_profile_name(name)
    return name


def cached_role(
    taken: list[RolePair], settings: Settings, hints: SpecHints, *, all_roles: bool
) -> RolePair | None:
    """The role whose credentials the profile's credential_process answers with, if any.

    Without --all-roles, the one role taken. With it, the role the profile
    prefers (its role/account), or the only one; None when that is ambiguous.
    """
    if not all_roles:
        return taken[0]
    if settings.role or settings.account:
        for pair in taken:
            role_ok = settings.role in (None, pair.role_name, pair.role_arn)
            alias = hints.aliases.get(pair.account_id)
            account_ok = settings.account in (None, pair.account_id, alias)
            if role_ok and account_ok:
                return pair
    return taken[0] if len(taken) == 1 else None
