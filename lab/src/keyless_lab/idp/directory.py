"""The lab IdP's user directory: users, groups, MFA enrolments, in SQLite.

One file, ``state_dir/idp.sqlite`` (mode 0600), shared by the running IdP and
the ``keyless lab user|group|mfa|push`` commands, which edit it while the
server runs: WAL mode and a busy timeout let several processes use it, and
every check-and-set the server relies on (a TOTP step not used before, a push
challenge still waiting) is one conditional UPDATE, atomic in SQLite.

Passwords are hashed with argon2. The passwords of the spec's lab users are
also kept in clear in this 0600 file, because ``lab.json`` lists them for
scripts and tests: these are throw-away users of an offline lab, never people.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import string
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from keyless.errors import InputError
from keyless.spec.model import FederationSpec
from keyless_lab.config import lab_section
from keyless_lab.users import LabUser

# Okta's user statuses the lab models (Users API: user status).
UserStatus = Literal["ACTIVE", "LOCKED_OUT", "SUSPENDED", "DEPROVISIONED"]
FactorType = Literal["token:software:totp", "push", "sms"]

# The factor names people type (and the spec uses), and what Okta calls them.
FACTOR_TYPES: dict[str, FactorType] = {
    "totp": "token:software:totp",
    "push": "push",
    "sms": "sms",
}
# Okta's factor id prefixes, so ids look like the real ones.
_FACTOR_PREFIX = {"token:software:totp": "uft", "push": "opf", "sms": "mbl"}

_ID_ALPHABET = string.ascii_letters + string.digits

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    login TEXT NOT NULL UNIQUE COLLATE NOCASE,
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'ACTIVE',
    password_hash TEXT NOT NULL,
    lab_password TEXT,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    phone TEXT,
    attributes TEXT NOT NULL DEFAULT '{}',
    created TEXT NOT NULL,
    password_changed TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS memberships (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);
CREATE TABLE IF NOT EXISTS factors (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    factor_type TEXT NOT NULL,
    provider TEXT NOT NULL,
    secret TEXT,
    last_step INTEGER,
    created TEXT NOT NULL,
    UNIQUE (user_id, factor_type)
);
-- The TOTP step whose code `keyless lab mfa code` last handed out, per factor, so
-- that it never hands out one code twice (a code is good for one sign-in).
CREATE TABLE IF NOT EXISTS totp_handouts (
    factor_id TEXT PRIMARY KEY REFERENCES factors(id) ON DELETE CASCADE,
    step INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS push_challenges (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    factor_id TEXT NOT NULL,
    correct_answer INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'WAITING',
    created REAL NOT NULL
);
"""


def okta_id(prefix: str) -> str:
    """A 20-character id in Okta's style: a 3-letter type prefix and 17 random characters."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(17))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def generate_password() -> str:
    """A password for a lab user: 16 characters, letters and digits with a symbol."""
    return secrets.token_urlsafe(12) + "!9a"


@dataclass(frozen=True)
class User:
    """A directory user as the IdP reads it."""

    id: str
    login: str
    first_name: str
    last_name: str
    status: UserStatus
    failed_attempts: int
    phone: str | None
    attributes: dict[str, str]
    created: str
    password_changed: str

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.login


@dataclass(frozen=True)
class Factor:
    """An MFA enrolment: TOTP (``GOOGLE`` or ``OKTA`` provider), Okta Verify push, or SMS."""

    id: str
    user_id: str
    factor_type: FactorType
    provider: str
    secret: str | None = field(repr=False)

    def otpauth_uri(self, login: str, issuer: str = "keyless lab") -> str:
        """The ``otpauth://`` URI an authenticator app scans (TOTP factors only)."""
        if self.secret is None:
            raise InputError(f"the {self.factor_type} factor has no TOTP secret")
        return pyotp.TOTP(self.secret).provisioning_uri(name=login, issuer_name=issuer)


def _user(row: sqlite3.Row) -> User:
    return User(
        id=row["id"],
        login=row["login"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        status=row["status"],
        failed_attempts=row["failed_attempts"],
        phone=row["phone"],
        attributes=json.loads(row["attributes"]),
        created=row["created"],
        password_changed=row["password_changed"],
    )


def _factor(row: sqlite3.Row) -> Factor:
    return Factor(
        id=row["id"],
        user_id=row["user_id"],
        factor_type=row["factor_type"],
        provider=row["provider"],
        secret=row["secret"],
    )


class Directory:
    """The lab's users, groups and MFA enrolments in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            # Created 0600 before SQLite opens it; SQLite gives its -wal and
            # -shm files the database file's mode.
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, timeout=10.0, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            # WAL with synchronous=NORMAL: a commit survives the process dying, and
            # sign-ins (each commits its TOTP step) do not wait for an fsync each.
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.execute("PRAGMA busy_timeout=10000")
            self._conn.executescript(_SCHEMA)
        # argon2id with OWASP's recommended minimum (19 MiB, 2 passes, 1 lane):
        # a lab signs many people in at once on a laptop or a 2-core CI box,
        # where argon2-cffi's 64 MiB x 4 lanes default queues sign-ins for seconds.
        self._hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, tuple(params)).fetchall()

    # -- meta -------------------------------------------------------------------

    def meta(self, key: str, default: str | None = None) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0]["value"] if rows else default

    def meta_setdefault(self, key: str, value: str) -> str:
        """Store ``value`` under ``key`` unless one is there; return the stored one."""
        with self._tx() as conn:
            conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row["value"])

    def meta_set(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``, replacing what was there."""
        with self._tx() as conn:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- users ------------------------------------------------------------------

    def add_user(
        self,
        login: str,
        *,
        password: str | None = None,
        first_name: str = "",
        last_name: str = "",
        groups: Iterable[str] = (),
        phone: str | None = None,
        attributes: dict[str, str] | None = None,
        keep_password: bool = False,
    ) -> tuple[User, str]:
        """Create a user (and any missing groups); return it and its password.

        A password is generated when none is given. ``keep_password`` stores it
        in clear too (spec users only, so that ``lab.json`` can list it).
        Raises :class:`InputError` when the login is taken.
        """
        password = password or generate_password()
        hashed = self._hasher.hash(password)
        now = _iso(datetime.now(UTC))
        user_id = okta_id("00u")
        with self._tx() as conn:
            if conn.execute("SELECT 1 FROM users WHERE login = ?", (login,)).fetchone():
                raise InputError(
                    f"a user {login!r} already exists in the lab directory",
                    fix=f"pick another login, or `keyless lab user remove {login}` first",
                )
            conn.execute(
                "INSERT INTO users (id, login, first_name, last_name, password_hash, lab_password,"
                " phone, attributes, created, password_changed) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    user_id,
                    login,
                    first_name,
                    last_name,
                    hashed,
                    password if keep_password else None,
                    phone,
                    json.dumps(attributes or {}),
                    now,
                    now,
                ),
            )
            for group in groups:
                group_id = self._ensure_group(conn, group)
                conn.execute(
                    "INSERT OR IGNORE INTO memberships (user_id, group_id) VALUES (?, ?)",
                    (user_id, group_id),
                )
        user = self.get_user(login)
        assert user is not None
        return user, password

    def get_user(self, login: str) -> User | None:
        rows = self._query("SELECT * FROM users WHERE login = ?", (login,))
        return _user(rows[0]) if rows else None

    def get_user_by_id(self, user_id: str) -> User | None:
        rows = self._query("SELECT * FROM users WHERE id = ?", (user_id,))
        return _user(rows[0]) if rows else None

    def require_user(self, login: str) -> User:
        user = self.get_user(login)
        if user is None:
            raise InputError(
                f"no user {login!r} in the lab directory",
                fix="`keyless lab user list` shows the users",
            )
        return user

    def list_users(self) -> list[User]:
        return [_user(row) for row in self._query("SELECT * FROM users ORDER BY login")]

    def remove_user(self, login: str) -> None:
        user = self.require_user(login)
        with self._tx() as conn:
            conn.execute("DELETE FROM users WHERE id = ?", (user.id,))

    def set_status(self, login: str, status: UserStatus) -> User:
        """Set a user's status; unlocking also clears the failed-password count."""
        user = self.require_user(login)
        with self._tx() as conn:
            conn.execute(
                "UPDATE users SET status = ?, failed_attempts = CASE WHEN ? = 'ACTIVE'"
                " THEN 0 ELSE failed_attempts END WHERE id = ?",
                (status, status, user.id),
            )
        return self.require_user(login)

    def lab_password(self, login: str) -> str | None:
        rows = self._query("SELECT lab_password FROM users WHERE login = ?", (login,))
        return rows[0]["lab_password"] if rows else None

    def verify_password(self, user: User, password: str) -> bool:
        """Whether ``password`` is the user's (argon2; constant work whatever the answer)."""
        rows = self._query("SELECT password_hash FROM users WHERE id = ?", (user.id,))
        if not rows:
            return False
        try:
            return self._hasher.verify(rows[0]["password_hash"], password)
        except (VerificationError, InvalidHashError):
            return False

    def burn_password_check(self, password: str) -> None:
        """Spend the time of a password check for an unknown login (no user enumeration)."""
        with suppress(VerificationError, InvalidHashError):
            self._hasher.verify(self._dummy_hash, password)

    @property
    def _dummy_hash(self) -> str:
        cached: str | None = getattr(self, "_dummy", None)
        if cached is None:
            cached = self._hasher.hash(secrets.token_hex(16))
            self._dummy = cached
        return cached

    def record_failure(self, user: User, threshold: int) -> User:
        """Count a failed password; lock the user out at ``threshold`` failures."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE users SET failed_attempts = failed_attempts + 1,"
                " status = CASE WHEN failed_attempts + 1 >= ? AND status = 'ACTIVE'"
                " THEN 'LOCKED_OUT' ELSE status END WHERE id = ?",
                (threshold, user.id),
            )
        refreshed = self.get_user_by_id(user.id)
        return refreshed if refreshed is not None else user

    def reset_failures(self, user: User) -> None:
        if user.failed_attempts:
            with self._tx() as conn:
                conn.execute("UPDATE users SET failed_attempts = 0 WHERE id = ?", (user.id,))

    # -- groups -----------------------------------------------------------------

    @staticmethod
    def _ensure_group(conn: sqlite3.Connection, name: str, description: str = "") -> str:
        row = conn.execute("SELECT id FROM groups WHERE name = ?", (name,)).fetchone()
        if row:
            return str(row["id"])
        group_id = okta_id("00g")
        conn.execute(
            "INSERT INTO groups (id, name, description) VALUES (?, ?, ?)",
            (group_id, name, description),
        )
        return group_id

    def add_group(self, name: str, description: str = "") -> bool:
        """Create a group; False when it already existed."""
        with self._tx() as conn:
            existed = conn.execute("SELECT 1 FROM groups WHERE name = ?", (name,)).fetchone()
            self._ensure_group(conn, name, description)
        return existed is None

    def add_member(self, login: str, group: str) -> None:
        user = self.require_user(login)
        with self._tx() as conn:
            group_id = self._ensure_group(conn, group)
            conn.execute(
                "INSERT OR IGNORE INTO memberships (user_id, group_id) VALUES (?, ?)",
                (user.id, group_id),
            )

    def remove_member(self, login: str, group: str) -> None:
        user = self.require_user(login)
        with self._tx() as conn:
            conn.execute(
                "DELETE FROM memberships WHERE user_id = ? AND group_id ="
                " (SELECT id FROM groups WHERE name = ?)",
                (user.id, group),
            )

    def group_members(self, group: str) -> list[str]:
        if not self._query("SELECT 1 FROM groups WHERE name = ?", (group,)):
            raise InputError(
                f"no group {group!r} in the lab directory",
                fix=f"`keyless lab group add {group}` creates it",
            )
        rows = self._query(
            "SELECT u.login FROM users u JOIN memberships m ON m.user_id = u.id"
            " JOIN groups g ON g.id = m.group_id WHERE g.name = ? ORDER BY u.login",
            (group,),
        )
        return [row["login"] for row in rows]

    def user_group_ids(self, user_id: str) -> dict[str, str]:
        """The user's groups, id -> name."""
        rows = self._query(
            "SELECT g.id, g.name FROM groups g JOIN memberships m ON m.group_id = g.id"
            " WHERE m.user_id = ?",
            (user_id,),
        )
        return {row["id"]: row["name"] for row in rows}

    def user_groups(self, user_id: str) -> list[str]:
        rows = self._query(
            "SELECT g.name FROM groups g JOIN memberships m ON m.group_id = g.id"
            " WHERE m.user_id = ? ORDER BY g.name",
            (user_id,),
        )
        return [row["name"] for row in rows]

    # -- factors ----------------------------------------------------------------

    def enroll(self, login: str, factor: str, *, provider: str | None = None) -> Factor:
        """Enrol ``factor`` (totp, push or sms) for a user; re-enrolling TOTP makes a new secret."""
        factor_type: str = FACTOR_TYPES.get(factor, factor)
        if factor_type not in _FACTOR_PREFIX:
            raise InputError(
                f"unknown factor {factor!r}", fix="use one of: " + ", ".join(FACTOR_TYPES)
            )
        user = self.require_user(login)
        if provider is None:
            provider = "GOOGLE" if factor_type == "token:software:totp" else "OKTA"
        secret = pyotp.random_base32() if factor_type == "token:software:totp" else None
        with self._tx() as conn:
            conn.execute(
                "DELETE FROM factors WHERE user_id = ? AND factor_type = ?", (user.id, factor_type)
            )
            conn.execute(
                "INSERT INTO factors (id, user_id, factor_type, provider, secret, created)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    okta_id(_FACTOR_PREFIX[factor_type]),
                    user.id,
                    factor_type,
                    provider,
                    secret,
                    _iso(datetime.now(UTC)),
                ),
            )
        found = self.user_factor(user.id, factor_type)
        assert found is not None
        return found

    def factors(self, user_id: str) -> list[Factor]:
        rows = self._query(
            "SELECT * FROM factors WHERE user_id = ? ORDER BY created, id", (user_id,)
        )
        return [_factor(row) for row in rows]

    def user_factor(self, user_id: str, factor_type: str) -> Factor | None:
        rows = self._query(
            "SELECT * FROM factors WHERE user_id = ? AND factor_type = ?", (user_id, factor_type)
        )
        return _factor(rows[0]) if rows else None

    def get_factor(self, factor_id: str) -> Factor | None:
        rows = self._query("SELECT * FROM factors WHERE id = ?", (factor_id,))
        return _factor(rows[0]) if rows else None

    def claim_totp_step(self, factor_id: str, step: int) -> bool:
        """Record that the code of time step ``step`` was used; False if it (or a later one) was.

        One conditional UPDATE, so two requests racing with the same code
        cannot both pass.
        """
        with self._tx() as conn:
            cursor = conn.execute(
                "UPDATE factors SET last_step = ? WHERE id = ?"
                " AND (last_step IS NULL OR last_step < ?)",
                (step, factor_id, step),
            )
            return cursor.rowcount == 1

    def hand_out_totp_step(self, factor_id: str, step: int) -> int | None:
        """Record that the code of time step ``step`` is handed out (None), unless that
        step's code or a later one was handed out already or used at the IdP: then the
        latest such step, and nothing is recorded.

        One transaction, so two `keyless lab mfa code` racing cannot both get a step.
        """
        with self._tx() as conn:
            used = conn.execute("SELECT last_step FROM factors WHERE id = ?", (factor_id,))
            handed = conn.execute(
                "SELECT step FROM totp_handouts WHERE factor_id = ?", (factor_id,)
            )
            steps = [row[0] for row in (used.fetchone(), handed.fetchone()) if row]
            taken = max((value for value in steps if value is not None), default=None)
            if taken is not None and taken >= step:
                return int(taken)
            conn.execute(
                "INSERT OR REPLACE INTO totp_handouts (factor_id, step) VALUES (?, ?)",
                (factor_id, step),
            )
        return None

    # -- Okta Verify push (approved from the CLI) ---------------------------------

    def start_push(self, user_id: str, factor_id: str) -> tuple[str, int]:
        """Open a push challenge; return its id and the number the user must pick."""
        challenge_id = secrets.token_urlsafe(12)
        answer = secrets.randbelow(90) + 10
        with self._tx() as conn:
            # A new push replaces the user's earlier unanswered ones.
            conn.execute(
                "UPDATE push_challenges SET status = 'TIMEOUT'"
                " WHERE user_id = ? AND status = 'WAITING'",
                (user_id,),
            )
            conn.execute(
                "INSERT INTO push_challenges (id, user_id, factor_id, correct_answer, created)"
                " VALUES (?, ?, ?, ?, ?)",
                (challenge_id, user_id, factor_id, answer, time.time()),
            )
        return challenge_id, answer

    def push_status(self, challenge_id: str, timeout: float) -> tuple[str, int | None]:
        """The challenge's state (WAITING, APPROVED, REJECTED, or TIMEOUT once ``timeout``
        seconds have passed) and the number the user must pick."""
        rows = self._query(
            "SELECT status, created, correct_answer FROM push_challenges WHERE id = ?",
            (challenge_id,),
        )
        if not rows:
            return "TIMEOUT", None
        status, created = str(rows[0]["status"]), float(rows[0]["created"])
        if status == "WAITING" and time.time() - created > timeout:
            status = "TIMEOUT"
        return status, int(rows[0]["correct_answer"])

    def answer_push(self, login: str, *, approve: bool) -> tuple[str, int] | None:
        """Approve or reject the user's waiting push; return (challenge id, number) or None."""
        user = self.require_user(login)
        with self._tx() as conn:
            row = conn.execute(
                "SELECT id, correct_answer FROM push_challenges WHERE user_id = ?"
                " AND status = 'WAITING' ORDER BY created DESC LIMIT 1",
                (user.id,),
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE push_challenges SET status = ? WHERE id = ?",
                ("APPROVED" if approve else "REJECTED", row["id"]),
            )
        return str(row["id"]), int(row["correct_answer"])

    # -- the spec's users ---------------------------------------------------------

    def ensure_spec_users(self, spec: FederationSpec, *, groups: bool = True) -> list[LabUser]:
        """Create the spec's lab users and groups once; return every spec user's credentials.

        Idempotent: users that exist keep their password and enrolments (a
        restarted lab keeps working with the authenticator already set up).
        ``groups=False`` (an org keyless has not configured yet) creates no
        group: users join their spec groups when someone creates them (see
        :mod:`keyless_lab.idp.management`, which models Okta's group rules).
        """
        if groups:
            for mapping in spec.group_mappings:
                self.add_group(mapping.group)
            for group in lab_section(spec).extra_groups:
                self.add_group(group)
        credentials: list[LabUser] = []
        for spec_user in lab_section(spec).users:
            user = self.get_user(spec_user.login)
            if user is None:
                user, _ = self.add_user(
                    spec_user.login,
                    first_name=spec_user.first_name,
                    last_name=spec_user.last_name,
                    groups=spec_user.groups if groups else (),
                    phone=spec_user.phone,
                    attributes=dict(spec_user.attributes),
                    keep_password=True,
                )
                for factor in spec_user.factors:
                    self.enroll(spec_user.login, factor)
            totp = self.user_factor(user.id, "token:software:totp")
            credentials.append(
                LabUser(
                    login=user.login,
                    password=self.lab_password(user.login) or "",
                    totp_secret=totp.secret if totp else None,
                    factors=tuple(
                        name
                        for name, okta_type in FACTOR_TYPES.items()
                        if self.user_factor(user.id, okta_type) is not None
                    ),
                )
            )
        return credentials
