"""keyless profiles: where they live, how flags, ``KEYLESS_*`` and the file combine.

Profiles live in ``$XDG_CONFIG_HOME/keyless/config.toml`` (read with the
standard library's :mod:`tomllib`; written by :func:`save_profile` with a
tiny serializer, atomically, under a lock)::

    [profiles.dev]
    org_url = "https://acme.okta.com"
    app_url = "https://acme.okta.com/home/amazon_aws/0oa.../272"
    username = "bob@acme.example"
    role = "Developer"
    account = "acme-dev"
    duration = 3600
    mfa_factor = "totp"
    auth_flow = "auto"          # or classic, device (Identity Engine's device flow)
    oidc_client_id = "0oa..."   # the native OIDC app, for the device flow
    exchange = "auto"           # or web_sso_token, interclient_token (Native to Web SSO)
    profile_name_template = "{alias}-{role}"   # the AWS profiles `login --all-roles` writes

Precedence for every setting: a command-line flag, then ``KEYLESS_<NAME>``
(e.g. ``KEYLESS_ORG_URL``), then the profile in the file. ``AWS_ENDPOINT_URL``
is honoured for STS when the profile names no endpoint.

A profile made with ``configure --lab`` also holds ``lab_dir``: the directory of
the connection file (``lab.json``) it follows. Each time the profile is read,
that file's endpoints (org and app URLs, CA bundle, AWS endpoint, OIDC client)
take the place of the ones stored, so the profile keeps working when the lab
restarts on other ports or is reset; flags and ``KEYLESS_*`` still win. While
nothing serves the file, the stored values stay and :meth:`Settings.check_reachable`
says to start the lab. ``lab_dir`` comes from the file or a flag only, never from
the environment: a ``KEYLESS_LAB_DIR`` would turn every profile into a lab's.
"""

from __future__ import annotations

import json
import os
import string
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from keyless.adapters.credentials_file import check_profile_name
from keyless.adapters.locks import FileLock, lock_path_for
from keyless.core import paths
from keyless.core.aws import (
    DEFAULT_SESSION_SECONDS,
    MAX_SESSION_SECONDS,
    MIN_SESSION_SECONDS,
    SESSION_LIMITS_TEXT,
)
from keyless.errors import ConfigError, InputError, LabError, UnreachableError
from keyless.files import write_atomic

MFA_FACTORS = ("push", "totp", "sms")
AUTH_FLOWS = ("auto", "classic", "device")
EXCHANGES = ("auto", "web_sso_token", "interclient_token")
# The settings that take one of a few words: the words, and the fix for any other.
_CHOICES: dict[str, tuple[tuple[str, ...], str]] = {
    "mfa_factor": (MFA_FACTORS, "pick push, totp or sms"),
    "auth_flow": (
        AUTH_FLOWS,
        "auto picks the device flow on Identity Engine orgs with an OIDC client id",
    ),
    "exchange": (EXCHANGES, "auto uses Native to Web SSO where the AWS app trusts the OIDC app"),
}


# `login --all-roles` writes an AWS profile per role, named like `aws configure sso`'s:
# the account's alias (its id when the spec gives none) and the role.
DEFAULT_PROFILE_NAME_TEMPLATE = "{alias}-{role}"
PROFILE_NAME_FIELDS = ("alias", "account", "role", "profile")


def check_profile_name_template(template: str, where: str) -> None:
    """InputError unless ``template`` names ``{role}`` and only :data:`PROFILE_NAME_FIELDS`."""
    fix = (
        "use the placeholders {alias}, {account}, {role} and {profile}, e.g. "
        f"{DEFAULT_PROFILE_NAME_TEMPLATE!r}"
    )
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise InputError(f"{where}: profile_name_template {template!r}: {exc}", fix=fix) from exc
    named = set()
    for _, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in PROFILE_NAME_FIELDS or spec or conversion:
            raise InputError(
                f"{where}: profile_name_template {template!r} has an unknown placeholder "
                f"{{{field}}}",
                fix=fix,
            )
        named.add(field)
    if "role" not in named:
        # Without the role, every role of an account would get the same profile.
        raise InputError(
            f"{where}: profile_name_template {template!r} does not name {{role}}", fix=fix
        )


@dataclass(frozen=True)
class Settings:
    """Everything a login needs to know about one profile (after precedence is applied)."""

    profile: str
    org_url: str | None = None
    app_url: str | None = None
    username: str | None = None
    role: str | None = None
    account: str | None = None
    duration: int | None = None
    mfa_factor: str | None = None
    spec: str | None = None
    ca_bundle: str | None = None
    aws_endpoint_url: str | None = None
    region: str | None = None
    write_profile: str | None = None
    # How to sign in to Okta (keyless.services.login.okta_flows): auto, classic or device;
    # the native OIDC app's client id and the AWS app's id for the device flow.
    auth_flow: str | None = None
    oidc_client_id: str | None = None
    aws_app_id: str | None = None
    # Which single-use token the device flow's tokens become for the AWS app
    # (keyless.services.login.okta_flows.exchange_kind): auto, web_sso_token or
    # interclient_token (Okta's Native to Web SSO).
    exchange: str | None = None
    # Ask Okta to remember this device after MFA (rememberDevice on factor verify).
    remember_device: bool | None = None
    # How `login --all-roles` names the AWS profile of each role (PROFILE_NAME_FIELDS).
    profile_name_template: str | None = None

    # The connection file's directory this profile takes its endpoints from (configure --lab).
    lab_dir: str | None = None

    @property
    def credentials_profile(self) -> str:
        """The credentials-file profile ``keyless login`` writes (not the credential_process)."""
        return self.write_profile or f"{self.profile}-creds"

    def require_org(self) -> tuple[str, str]:
        """The org URL and app URL, or a ConfigError saying how to set them."""
        missing = [name for name in ("org_url", "app_url") if not getattr(self, name)]
        if missing:
            flags = " ".join(f"--{name.replace('_', '-')} URL" for name in missing)
            configure = f"`keyless configure --profile {self.profile} {flags}` (or `--lab`)"
            # Only on the error path: tell a typo in --profile from a half-set profile.
            path = config_path()
            known = sorted(load_profiles(path))
            if self.profile not in known:
                others = f"pass --profile with one of: {', '.join(known)}, or " if known else ""
                raise ConfigError(
                    f"no keyless profile {self.profile!r} in {path}",
                    fix=f"{others}run {configure}",
                )
            raise ConfigError(
                f"profile {self.profile!r} in {path} has no {' and no '.join(missing)}",
                fix=f"run {configure}",
            )
        assert self.org_url is not None
        assert self.app_url is not None
        return self.org_url, self.app_url

    def check_reachable(self) -> None:
        """For a profile that follows a connection file: :class:`UnreachableError` naming
        the command that starts the lab when nothing serves the file, before any
        password goes to a port the lab no longer holds."""
        if not self.lab_dir:
            return
        from keyless.adapters.connection_file import load_connection

        try:
            load_connection(Path(self.lab_dir))
        except LabError as exc:
            raise UnreachableError(exc.message, fix=exc.fix) from exc

    @property
    def unreachable_fix(self) -> str | None:
        """The fix for a connection error: for a lab's profile, start the lab (a network
        or VPN is not the problem on loopback); None lets the client name its own."""
        if not self.lab_dir:
            return None
        from keyless.adapters.connection_file import start_fix

        status = f"is the lab running? `keyless lab status --lab-dir {self.lab_dir}`"
        return f"{status}; {start_fix(Path(self.lab_dir), self.spec)}"


SETTING_NAMES = tuple(f.name for f in fields(Settings) if f.name != "profile")
# Endpoint settings a profile takes from the connection file it follows (``lab_dir``).
FOLLOWED = ("org_url", "app_url", "ca_bundle", "aws_endpoint_url", "oidc_client_id")
_NOT_FROM_ENV = ("lab_dir",)


def normalize_org_url(text: str) -> str:
    """An org URL as people type it (``acme.okta.com``, ``https://acme.okta.com/``) as
    keyless keeps it: ``https://`` added when no scheme was given, no trailing ``/``.

    An explicit ``http://`` stays as typed, for the check that refuses it to name it.
    """
    value = text.strip().rstrip("/")
    if value and "://" not in value:
        value = "https://" + value
    return value


def config_path() -> Path:
    """``$XDG_CONFIG_HOME/keyless/config.toml`` (or ``~/.config/keyless/config.toml``)."""
    return Path(paths.config_dir()) / "config.toml"


def load_profiles(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """Every profile in the config file (empty when there is no file)."""
    path = path or config_path()
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path}: {exc}", fix=f"correct {path}, or remove it and run `keyless configure`"
        ) from exc
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigError(f"{path}: [profiles] is not a table", fix=f"correct {path}")
    return {str(name): dict(value) for name, value in profiles.items() if isinstance(value, dict)}


def _validate(name: str, values: Mapping[str, Any], where: str) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in values.items():
        if value is None or value == "":
            continue
        if key not in SETTING_NAMES:
            raise ConfigError(
                f"{where}: unknown setting {key!r} in profile {name!r}",
                fix=f"use one of: {', '.join(SETTING_NAMES)}",
            )
        if key == "duration":
            try:
                value = int(value)
            except (TypeError, ValueError) as exc:
                raise InputError(
                    f"{where}: duration must be a number of seconds, got {value!r}",
                    fix=f"use e.g. {DEFAULT_SESSION_SECONDS}",
                ) from exc
            if not MIN_SESSION_SECONDS <= value <= MAX_SESSION_SECONDS:
                raise InputError(
                    f"{where}: duration must be {MIN_SESSION_SECONDS} to {MAX_SESSION_SECONDS} "
                    f"seconds, got {value}",
                    fix=f"AWS allows {SESSION_LIMITS_TEXT}",
                )
        elif key in _CHOICES:
            choices, fix = _CHOICES[key]
            value = str(value).lower()
            if value not in choices:
                raise InputError(
                    f"{where}: {key} must be one of {', '.join(choices)}, got {value!r}",
                    fix=fix,
                )
        elif key == "remember_device":
            text = str(value).lower()
            if text not in ("true", "false", "1", "0", "yes", "no"):
                raise InputError(
                    f"{where}: remember_device must be true or false, got {value!r}",
                    fix="use remember_device = true",
                )
            value = text in ("true", "1", "yes")
        elif key in ("oidc_client_id", "aws_app_id"):
            value = str(value)
            if not value.isalnum():
                raise InputError(
                    f"{where}: {key} must be an Okta id (letters and digits), got {value!r}",
                    fix="copy the id from the app's page in the Okta admin console (0oa...)",
                )
        elif key in ("org_url", "app_url"):
            value = normalize_org_url(str(value)) if key == "org_url" else str(value)
            if not value.startswith("https://"):
                raise InputError(
                    f"{where}: {key} must start with https://, got {value!r}",
                    fix="Okta is only reachable over HTTPS",
                )
        else:
            value = str(value)
        if isinstance(value, str) and not value.isprintable():
            # These end up as lines in ~/.aws/config and credentials.
            raise InputError(
                f"{where}: {key} of profile {name!r} holds a line break or control character",
                fix=f"give {key} on one line",
            )
        if key == "write_profile":
            check_profile_name(value)
        if key == "profile_name_template":
            check_profile_name_template(value, where)
        clean[key] = value
    return clean


def env_settings(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``KEYLESS_*`` settings present in the environment."""
    environ = os.environ if environ is None else environ
    found = {}
    for name in SETTING_NAMES:
        if name in _NOT_FROM_ENV:
            continue
        value = environ.get(f"KEYLESS_{name.upper()}")
        if value:
            found[name] = value
    return found


def default_profile_name(environ: Mapping[str, str] | None = None) -> str:
    """``KEYLESS_PROFILE``, else ``default``."""
    environ = os.environ if environ is None else environ
    return environ.get("KEYLESS_PROFILE") or "default"


def resolve_settings(
    profile: str | None,
    flags: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    path: Path | None = None,
) -> Settings:
    """The settings of ``profile``: flags over ``KEYLESS_*`` over the config file."""
    environ = os.environ if environ is None else environ
    name = profile or default_profile_name(environ)
    check_profile_name(name)
    path = path or config_path()
    stored = _validate(name, load_profiles(path).get(name, {}), str(path))
    from_env = _validate(name, env_settings(environ), "environment")
    from_flags = _validate(name, flags or {}, "command line")
    lab_dir = from_flags.get("lab_dir") or stored.get("lab_dir")
    followed = _followed(name, Path(lab_dir)) if lab_dir else {}
    merged = {**stored, **followed, **from_env, **from_flags}
    if "aws_endpoint_url" not in merged and environ.get("AWS_ENDPOINT_URL"):
        merged["aws_endpoint_url"] = environ["AWS_ENDPOINT_URL"]
    return Settings(profile=name, **merged)


def _followed(name: str, lab_dir: Path) -> dict[str, Any]:
    """The endpoint settings the connection file in ``lab_dir`` gives now ({} while nothing
    serves it: the stored ones stay, and a sign-in says to start the lab)."""
    from keyless.adapters.connection_file import load_connection

    try:
        connection = load_connection(lab_dir)
    except LabError:
        return {}
    defaults = connection.profile_defaults()
    return _validate(name, {key: defaults.get(key) for key in FOLLOWED}, str(connection.path))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    # A JSON string is a valid TOML basic string for everything we store
    # (TOML accepts the same escapes; json.dumps escapes control characters).
    return json.dumps(str(value), ensure_ascii=False)


def _toml_key(key: str) -> str:
    return key if key.replace("-", "").replace("_", "").isalnum() else json.dumps(key)


def render_profiles(profiles: Mapping[str, Mapping[str, Any]]) -> str:
    """The config file text for ``profiles``."""
    lines = ["# keyless profiles: written by `keyless configure`; edit freely.\n"]
    for name in sorted(profiles):
        lines.append(f"\n[profiles.{_toml_key(name)}]\n")
        for key in SETTING_NAMES:
            value = profiles[name].get(key)
            if value is not None and value != "":
                lines.append(f"{key} = {_toml_value(value)}\n")
    return "".join(lines)


def remember_role(profile: str, *, role: str, account: str, path: Path | None = None) -> bool:
    """Record ``role`` in ``account`` as the role of ``profile``, changing nothing else.

    Later logins and ``credential-process`` refreshes take it without asking.
    True when the file changed.
    """
    path = path or config_path()
    _validate(profile, {"role": role, "account": account}, "login")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with FileLock(lock_path_for(path)):
        profiles = load_profiles(path)
        values = profiles.setdefault(profile, {})
        if (values.get("role"), values.get("account")) == (role, account):
            return False
        values.update(role=role, account=account)
        write_atomic(path, render_profiles(profiles).encode("utf-8"))
    return True


def save_profile(settings: Settings, *, path: Path | None = None) -> Path:
    """Write ``settings`` as its profile (replacing it), keeping the other profiles."""
    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    values = {key: value for key, value in asdict(settings).items() if key != "profile"}
    _validate(settings.profile, values, "configure")
    with FileLock(lock_path_for(path)):
        profiles = load_profiles(path)
        profiles[settings.profile] = values
        write_atomic(path, render_profiles(profiles).encode("utf-8"))
    return path
