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

Precedence for every setting: a command-line flag, then ``KEYLESS_<NAME>``
(e.g. ``KEYLESS_ORG_URL``), then the profile in the file. ``AWS_ENDPOINT_URL``
is honoured for STS when the profile names no endpoint.
"""

from __future__ import annotations

import json
import os
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
from keyless.errors import ConfigError, InputError
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


SETTING_NAMES = tuple(f.name for f in fields(Settings) if f.name != "profile")


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
        clean[key] = value
    return clean


def env_settings(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``KEYLESS_*`` settings present in the environment."""
    environ = os.environ if environ is None else environ
    found = {}
    for name in SETTING_NAMES:
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
    merged = {**stored, **from_env, **from_flags}
    if "aws_endpoint_url" not in merged and environ.get("AWS_ENDPOINT_URL"):
        merged["aws_endpoint_url"] = environ["AWS_ENDPOINT_URL"]
    return Settings(profile=name, **merged)


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
