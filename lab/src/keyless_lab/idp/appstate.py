"""What the lab's Okta org stores through the management API: the AWS app's settings,
its group assignments, admin API tokens and OAuth service apps, in the directory's SQLite.

Tables of their own (created if missing), so a lab state dir from before they
existed keeps working. The signing path reads the app's settings and
assignments through :meth:`AppState.snapshot`, cached per version: the server
process is the only writer of these tables, and bumps the version on each write.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from keyless_lab.idp.directory import Directory, okta_id

_SCHEMA = """
CREATE TABLE IF NOT EXISTS app_settings (
    app_id TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    settings TEXT NOT NULL DEFAULT '{}',
    admin_note TEXT,
    last_updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS app_groups (
    app_id TEXT NOT NULL,
    group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    priority INTEGER NOT NULL,
    profile TEXT NOT NULL DEFAULT '{}',
    last_updated TEXT NOT NULL,
    PRIMARY KEY (app_id, group_id)
);
CREATE TABLE IF NOT EXISTS api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    token_sha256 TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS service_apps (
    client_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    public_key_pem TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS group_rules (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    source_ids TEXT NOT NULL,
    target_ids TEXT NOT NULL,
    created TEXT NOT NULL,
    last_updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS group_times (
    group_id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    last_updated TEXT NOT NULL,
    last_membership_updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS interclient_trust (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL
);
"""
# Added after the table first shipped: the admin roles assigned to a service app.
_SERVICE_APP_ROLES = "ALTER TABLE service_apps ADD COLUMN admin_roles TEXT NOT NULL DEFAULT ''"

# ``settings.app`` of a brand-new AWS Account Federation app as Okta's Apps API returns it,
# before an admin touches it: a recorded GET /api/v1/apps answer in okta/terraform-provider-okta,
# test/fixtures/vcr/idaas/TestAccResourceOktaAppSignOnPolicyRule_AUTH_METHOD_CHAIN/oie-00.yaml
# (the ``amazon_aws`` app). The catalogue's own Group Filter and Role Value Pattern are set, the
# API integration (``accessKey``/``secretKey``), the Identity Provider ARN and the Allowed Web
# SSO Client are not; ``secretKey`` always reads null (``secretKeyEnc`` holds it, encrypted).
CATALOGUE_SETTINGS: dict[str, Any] = {
    "appFilter": "okta",
    "groupFilter": r"aws_(?{{accountid}}\d+)_(?{{role}}[a-zA-Z0-9+=,.@\-_]+)",
    "secretKey": None,
    "webSSOAllowedClient": None,
    "useGroupMapping": False,
    "joinAllRoles": False,
    "identityProviderArn": None,
    "overrideAcsURL": None,
    "sessionDuration": 3600,
    "roleValuePattern": (
        "arn:aws:iam::${accountid}:saml-provider/OKTA,arn:aws:iam::${accountid}:role/${role}"
    ),
    "accountID": None,
    "awsEnvironmentType": "aws.amazon",
    "accessKey": None,
    "loginURL": "https://console.aws.amazon.com/ec2/home",
    "secretKeyEnc": None,
}

# Every scope the lab's management API knows: Okta's names for the apps, groups and
# users APIs (Okta, "OAuth 2.0 scopes for Okta APIs",
# https://developer.okta.com/docs/api/oauth2/), read and manage for each.
ALL_SCOPES = (
    "okta.apps.read",
    "okta.apps.manage",
    "okta.groups.read",
    "okta.groups.manage",
    "okta.users.read",
    "okta.users.manage",
    # Native to Web SSO's trust mappings (https://developer.okta.com/docs/guides/native-to-web-sso/main/).
    "okta.apps.interclientTrust.read",
    "okta.apps.interclientTrust.manage",
)
READ_SCOPES = tuple(s for s in ALL_SCOPES if s.endswith(".read"))


def now_iso() -> str:
    moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class AppSnapshot:
    """The AWS app as assertions are built from it."""

    settings: dict[str, Any]
    # (group id, samlRoles or None) by priority, lowest first.
    assignments: tuple[tuple[str, tuple[str, ...] | None], ...]
    # credentials.userNameTemplate and settings.signOn.attributeStatements.
    username_template: dict[str, Any] = field(
        default_factory=lambda: {"template": "${source.login}", "type": "BUILT_IN"}
    )
    attribute_statements: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class ServiceApp:
    """An OAuth service app for the management API: its key, granted scopes, admin roles."""

    name: str
    public_key_pem: str = field(repr=False)
    scopes: frozenset[str]
    admin_roles: frozenset[str]


@dataclass(frozen=True)
class Caller:
    """Who called the management API: an API token or an OAuth access token, and its scopes."""

    kind: str  # "SSWS" or "Bearer"
    name: str
    scopes: frozenset[str]
    # Whether an admin role backs the caller: an API token carries its admin's; a
    # service app only the roles assigned to it (none by default).
    admin: bool = True


@dataclass
class _AccessToken:
    caller: Caller
    expires: float


@dataclass
class AppState:
    """The AWS app's stored configuration, tokens and service apps of one lab org."""

    directory: Directory
    app_id: str
    version: int = 0
    # A "429 storm": every Nth management call is refused with 429 (0: never).
    storm_every: int = 0
    _storm_calls: int = 0
    _cache: tuple[int, AppSnapshot] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _access_tokens: dict[str, _AccessToken] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The store shares the directory's connection and lock (one SQLite file, one writer).
        with self.directory._lock:
            self.directory._conn.executescript(_SCHEMA)
        with self.directory._tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO app_settings (app_id, label, settings, last_updated)"
                " VALUES (?, ?, ?, ?)",
                (self.app_id, "Amazon Web Services", json.dumps(CATALOGUE_SETTINGS), now_iso()),
            )
            columns = {row[1] for row in conn.execute("PRAGMA table_info(service_apps)")}
            if "admin_roles" not in columns:
                conn.execute(_SERVICE_APP_ROLES)

    def storm_hit(self) -> bool:
        """Count one management call; whether the storm refuses it."""
        if self.storm_every <= 0:
            return False
        with self._lock:
            self._storm_calls += 1
            return self._storm_calls % self.storm_every == 0

    def _bump(self) -> None:
        with self._lock:
            self.version += 1
            self._cache = None

    # -- the app -----------------------------------------------------------------

    def app_row(self) -> dict[str, Any]:
        rows = self.directory._query("SELECT * FROM app_settings WHERE app_id = ?", (self.app_id,))
        row = rows[0]
        return {
            "label": row["label"],
            "settings": json.loads(row["settings"]),
            "admin_note": row["admin_note"],
            "last_updated": row["last_updated"],
            "created": self.directory.meta_setdefault("app_created", row["last_updated"]),
        }

    def set_app(self, *, label: str, settings: dict[str, Any], admin_note: str | None) -> None:
        with self.directory._tx() as conn:
            conn.execute(
                "UPDATE app_settings SET label = ?, settings = ?, admin_note = ?, last_updated = ?"
                " WHERE app_id = ?",
                (label, json.dumps(settings), admin_note, now_iso(), self.app_id),
            )
        self._bump()

    def username_template(self) -> dict[str, Any]:
        """``credentials.userNameTemplate`` (Okta's default until an admin changes it)."""
        stored = self.directory.meta("app_username_template")
        if stored is None:
            return {"template": "${source.login}", "type": "BUILT_IN"}
        value: dict[str, Any] = json.loads(stored)
        return value

    def set_username_template(self, template: dict[str, Any]) -> None:
        self.directory.meta_set("app_username_template", json.dumps(template))
        self._bump()

    def attribute_statements(self) -> list[dict[str, Any]]:
        """``settings.signOn.attributeStatements`` (none on a new app)."""
        value: list[dict[str, Any]] = json.loads(
            self.directory.meta("app_attribute_statements") or "[]"
        )
        return value

    def set_attribute_statements(self, statements: list[dict[str, Any]]) -> None:
        self.directory.meta_set("app_attribute_statements", json.dumps(statements))
        self._bump()

    # -- groups and assignments ----------------------------------------------------

    def group_rows(self) -> list[dict[str, Any]]:
        rows = self.directory._query("SELECT id, name, description FROM groups ORDER BY name")
        return [dict(row) for row in rows]

    def group_row(self, group_id: str) -> dict[str, Any] | None:
        rows = self.directory._query(
            "SELECT id, name, description FROM groups WHERE id = ?", (group_id,)
        )
        return dict(rows[0]) if rows else None

    def group_times(self, group_id: str) -> dict[str, str]:
        """A group's ``created``, ``lastUpdated``, ``lastMembershipUpdated`` (Okta's Group
        object); a group the directory made before they were kept gets them when first read."""
        moment = now_iso()
        with self.directory._tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO group_times VALUES (?, ?, ?, ?)",
                (group_id, moment, moment, moment),
            )
            row = conn.execute(
                "SELECT created, last_updated, last_membership_updated FROM group_times"
                " WHERE group_id = ?",
                (group_id,),
            ).fetchone()
        return {
            "created": row["created"],
            "lastUpdated": row["last_updated"],
            "lastMembershipUpdated": row["last_membership_updated"],
        }

    def create_group(self, name: str, description: str) -> dict[str, Any] | None:
        """A new group; None when the name is taken (Okta: names are unique among OKTA_GROUPs)."""
        group_id = okta_id("00g")
        with self.directory._tx() as conn:
            if conn.execute("SELECT 1 FROM groups WHERE name = ?", (name,)).fetchone():
                return None
            conn.execute(
                "INSERT INTO groups (id, name, description) VALUES (?, ?, ?)",
                (group_id, name, description),
            )
        return self.group_row(group_id)

    def update_group(self, group_id: str, name: str, description: str) -> dict[str, Any] | None:
        with self.directory._tx() as conn:
            conn.execute(
                "UPDATE groups SET name = ?, description = ? WHERE id = ?",
                (name, description, group_id),
            )
        self._bump()
        return self.group_row(group_id)

    def delete_group(self, group_id: str) -> bool:
        with self.directory._tx() as conn:
            gone = conn.execute("DELETE FROM groups WHERE id = ?", (group_id,)).rowcount == 1
        self._bump()
        return gone

    def add_members(self, group_id: str, user_ids: list[str]) -> None:
        with self.directory._tx() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO memberships (user_id, group_id) VALUES (?, ?)",
                [(user_id, group_id) for user_id in user_ids],
            )

    def group_user_ids(self, group_id: str) -> list[str]:
        rows = self.directory._query(
            "SELECT user_id FROM memberships m JOIN users u ON u.id = m.user_id"
            " WHERE group_id = ? ORDER BY u.id",
            (group_id,),
        )
        return [row["user_id"] for row in rows]

    def user_group_ids(self, user_id: str) -> list[str]:
        rows = self.directory._query(
            "SELECT group_id FROM memberships WHERE user_id = ? ORDER BY group_id", (user_id,)
        )
        return [row["group_id"] for row in rows]

    def assignments(self) -> list[dict[str, Any]]:
        rows = self.directory._query(
            "SELECT group_id, priority, profile, last_updated FROM app_groups WHERE app_id = ?"
            " ORDER BY priority, group_id",
            (self.app_id,),
        )
        return [{**dict(row), "profile": json.loads(row["profile"])} for row in rows]

    def assignment(self, group_id: str) -> dict[str, Any] | None:
        return next((a for a in self.assignments() if a["group_id"] == group_id), None)

    def assign(self, group_id: str, profile: dict[str, Any], priority: int | None) -> None:
        with self.directory._tx() as conn:
            existing = conn.execute(
                "SELECT priority FROM app_groups WHERE app_id = ? AND group_id = ?",
                (self.app_id, group_id),
            ).fetchone()
            if priority is None:
                if existing is not None:
                    priority = int(existing["priority"])
                else:
                    top = conn.execute(
                        "SELECT MAX(priority) AS p FROM app_groups WHERE app_id = ?",
                        (self.app_id,),
                    ).fetchone()
                    priority = 0 if top["p"] is None else int(top["p"]) + 1
            conn.execute(
                "INSERT INTO app_groups (app_id, group_id, priority, profile, last_updated)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (app_id, group_id) DO UPDATE SET"
                " priority = excluded.priority, profile = excluded.profile,"
                " last_updated = excluded.last_updated",
                (self.app_id, group_id, priority, json.dumps(profile), now_iso()),
            )
        self._bump()

    def unassign(self, group_id: str) -> bool:
        with self.directory._tx() as conn:
            gone = (
                conn.execute(
                    "DELETE FROM app_groups WHERE app_id = ? AND group_id = ?",
                    (self.app_id, group_id),
                ).rowcount
                == 1
            )
        self._bump()
        return gone

    def snapshot(self) -> AppSnapshot:
        """The settings and assignments assertions follow (cached until the next write)."""
        with self._lock:
            cached = self._cache
            version = self.version
        if cached is not None and cached[0] == version:
            return cached[1]
        settings = self.app_row()["settings"]
        assignments = tuple(
            (
                str(a["group_id"]),
                tuple(a["profile"]["samlRoles"])
                if isinstance(a["profile"].get("samlRoles"), list)
                else None,
            )
            for a in self.assignments()
        )
        snapshot = AppSnapshot(
            settings=settings,
            assignments=assignments,
            username_template=self.username_template(),
            attribute_statements=tuple(self.attribute_statements()),
        )
        with self._lock:
            if self.version == version:
                self._cache = (version, snapshot)
        return snapshot

    # -- API tokens ------------------------------------------------------------------

    def create_token(self, name: str, scopes: tuple[str, ...]) -> str:
        """A new admin API token (``SSWS``); only its SHA-256 is stored."""
        token = "00" + secrets.token_urlsafe(30)[:40]
        with self.directory._tx() as conn:
            conn.execute(
                "INSERT INTO api_tokens (id, name, token_sha256, scopes, created)"
                " VALUES (?, ?, ?, ?, ?)",
                (okta_id("00T"), name, _sha256(token), " ".join(scopes), now_iso()),
            )
        return token

    def token_caller(self, token: str) -> Caller | None:
        rows = self.directory._query(
            "SELECT name, scopes FROM api_tokens WHERE token_sha256 = ?", (_sha256(token),)
        )
        if not rows:
            return None
        return Caller("SSWS", rows[0]["name"], frozenset(rows[0]["scopes"].split()))

    # -- OAuth service apps ----------------------------------------------------------

    def create_service_app(
        self,
        name: str,
        public_key_pem: str,
        scopes: tuple[str, ...],
        admin_roles: tuple[str, ...] = (),
    ) -> str:
        """A service app (client credentials, ``private_key_jwt``) granted ``scopes``.

        ``admin_roles`` are the admin roles assigned to the app (``SUPER_ADMIN``,
        ``APP_ADMIN``...): Okta assigns none by itself, and an app without one is
        refused by every management endpoint whatever its scopes (Okta, "Roles in
        Okta": "you must assign an admin role to your app since admin roles aren't
        automatically assigned to apps", https://developer.okta.com/docs/reference/api/roles).
        """
        client_id = okta_id("0oa")
        with self.directory._tx() as conn:
            conn.execute(
                "INSERT INTO service_apps (client_id, name, public_key_pem, scopes, created,"
                " admin_roles) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    client_id,
                    name,
                    public_key_pem,
                    " ".join(scopes),
                    now_iso(),
                    " ".join(admin_roles),
                ),
            )
        return client_id

    def service_app(self, client_id: str) -> ServiceApp | None:
        rows = self.directory._query(
            "SELECT name, public_key_pem, scopes, admin_roles FROM service_apps"
            " WHERE client_id = ?",
            (client_id,),
        )
        if not rows:
            return None
        row = rows[0]
        return ServiceApp(
            name=row["name"],
            public_key_pem=row["public_key_pem"],
            scopes=frozenset(row["scopes"].split()),
            admin_roles=frozenset(row["admin_roles"].split()),
        )

    # -- group rules -------------------------------------------------------------------

    def create_rule(self, name: str, sources: list[str], targets: list[str]) -> dict[str, Any]:
        """A group rule, INACTIVE as Okta creates it: members of any of ``sources`` join
        ``targets`` once it is activated."""
        rule_id = okta_id("0pr")
        moment = now_iso()
        with self.directory._tx() as conn:
            conn.execute(
                "INSERT INTO group_rules (id, name, status, source_ids, target_ids, created,"
                " last_updated) VALUES (?, ?, 'INACTIVE', ?, ?, ?, ?)",
                (rule_id, name, " ".join(sources), " ".join(targets), moment, moment),
            )
        rule = self.rule(rule_id)
        assert rule is not None
        return rule

    def rules(self) -> list[dict[str, Any]]:
        rows = self.directory._query("SELECT * FROM group_rules ORDER BY created, id")
        return [
            {
                **dict(row),
                "source_ids": row["source_ids"].split(),
                "target_ids": row["target_ids"].split(),
            }
            for row in rows
        ]

    def rule(self, rule_id: str) -> dict[str, Any] | None:
        return next((r for r in self.rules() if r["id"] == rule_id), None)

    def update_rule(self, rule_id: str, name: str, sources: list[str], targets: list[str]) -> None:
        with self.directory._tx() as conn:
            conn.execute(
                "UPDATE group_rules SET name = ?, source_ids = ?, target_ids = ?, last_updated = ?"
                " WHERE id = ?",
                (name, " ".join(sources), " ".join(targets), now_iso(), rule_id),
            )
        self._bump()

    def set_rule_status(self, rule_id: str, status: str) -> None:
        with self.directory._tx() as conn:
            conn.execute(
                "UPDATE group_rules SET status = ?, last_updated = ? WHERE id = ?",
                (status, now_iso(), rule_id),
            )
        self._bump()

    def delete_rule(self, rule_id: str) -> None:
        with self.directory._tx() as conn:
            conn.execute("DELETE FROM group_rules WHERE id = ?", (rule_id,))
        self._bump()

    def with_rules(self, member_of: dict[str, str]) -> dict[str, str]:
        """A user's groups (id -> name) with those their ACTIVE group rules add.

        Okta evaluates a rule for current and future members alike; the lab does
        it when membership is read, so users the CLI adds later are covered too.
        """
        added = {
            target
            for rule in self.rules()
            if rule["status"] == "ACTIVE" and set(rule["source_ids"]) & member_of.keys()
            for target in rule["target_ids"]
            if target not in member_of
        }
        if not added:
            return member_of
        names = {row["id"]: row["name"] for row in self.group_rows()}
        return {**member_of, **{gid: names[gid] for gid in sorted(added) if gid in names}}

    def member_ids_with_rules(self, group_id: str) -> list[str]:
        """The ids of ``group_id``'s members, with those its ACTIVE group rules put there.

        Okta's rule-assigned members are the group's members like any other: the
        Groups API lists them (Okta, "Group rules": "users who meet the rule's
        conditions are added to the groups"), as :meth:`with_rules` reads them for a user.
        """
        ids = list(self.group_user_ids(group_id))
        for rule in self.rules():
            if rule["status"] != "ACTIVE" or group_id not in rule["target_ids"]:
                continue
            for source in rule["source_ids"]:
                ids += [uid for uid in self.group_user_ids(source) if uid not in ids]
        return ids

    # -- Native to Web SSO trust mappings ----------------------------------------------

    def trust(self, client_id: str) -> dict[str, Any]:
        """Allow ``client_id`` to request interclient tokens for the AWS app (idempotent)."""
        with self.directory._tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO interclient_trust (id, client_id, created) VALUES (?, ?, ?)",
                (okta_id("itm"), client_id, now_iso()),
            )
        return next(t for t in self.trusted() if t["client_id"] == client_id)

    def trusted(self) -> list[dict[str, Any]]:
        rows = self.directory._query(
            "SELECT id, client_id, created FROM interclient_trust ORDER BY created, id"
        )
        return [dict(row) for row in rows]

    def mint_access_token(self, caller: Caller, lifetime: float, now: float) -> str:
        token = secrets.token_urlsafe(48)
        with self._lock:
            self._access_tokens = {k: v for k, v in self._access_tokens.items() if v.expires > now}
            self._access_tokens[token] = _AccessToken(caller, now + lifetime)
        return token

    def bearer_caller(self, token: str, now: float) -> Caller | None:
        with self._lock:
            found = self._access_tokens.get(token)
        if found is None or found.expires <= now:
            return None
        return found.caller
