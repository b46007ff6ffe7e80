"""Everything around a login: configure, the environment for exec/env, console, whoami, logout."""

from __future__ import annotations

import json
import shlex
import shutil
import sys
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keyless.adapters.cache_file import base_profile, role_key
from keyless.adapters.credential_cache import CredentialCache
from keyless.adapters.credentials_file import (
    KEYLESS_MARKER,
    IniDocument,
    aws_config_path,
    aws_credentials_path,
    config_section,
    endpoint_settings,
    read_ini,
    update_ini,
)
from keyless.adapters.secrets import open_secret_store
from keyless.core.aws import ca_bundle_for, partition_of
from keyless.core.credentials import AwsCredentials, Clock, utcnow
from keyless.core.ports import SecretStore
from keyless.errors import InputError, RemoteError
from keyless.saml.model import RolePair
from keyless.services.login.okta_flows import tokens_key
from keyless.services.login.okta_session import jar_key, load_session, session_key
from keyless.services.login.okta_signin import password_key
from keyless.services.login.profiles import Settings, load_profiles, resolve_settings, save_profile

EXEC_MARKER = "KEYLESS_EXEC_PROFILE"
ENV_FORMATS = ("sh", "fish", "powershell", "dotenv")


# --- configure ---------------------------------------------------------------------------


def keyless_command() -> str:
    """The command line that starts keyless, with an absolute path.

    AWS SDKs run ``credential_process`` without a shell, with the PATH of
    whatever started them — an IDE, cron, a GUI app — where a virtualenv's
    ``bin`` usually is not. An absolute path works from all of them; the
    price is re-running ``keyless configure`` if keyless moves.
    """
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name == "keyless" and argv0.exists():
        return shlex.quote(str(argv0.resolve()))
    beside = Path(sys.executable).parent / "keyless"
    if beside.exists():
        return shlex.quote(str(beside))
    found = shutil.which("keyless")
    if found:
        return shlex.quote(str(Path(found).resolve()))
    return f"{shlex.quote(sys.executable)} -m keyless"


def credential_process_line(
    profile: str,
    *,
    role: str | None = None,
    account: str | None = None,
    command: str | None = None,
) -> str:
    """The ``credential_process`` value that answers for ``profile`` (its role fixed, if given)."""
    line = f"{command or keyless_command()} credential-process --profile {shlex.quote(profile)}"
    for option, value in (("--role", role), ("--account", account)):
        if value is not None:
            line += f" {option} {shlex.quote(value)}"
    return line


@dataclass(frozen=True)
class ConfigureResult:
    """What ``keyless configure`` wrote."""

    profile: str
    config_file: Path
    aws_config_file: Path
    credential_process: str

    def as_dict(self) -> dict[str, str]:
        """The ``--json`` document."""
        return {
            "profile": self.profile,
            "config_file": str(self.config_file),
            "aws_config_file": str(self.aws_config_file),
            "credential_process": self.credential_process,
        }


def configure(settings: Settings, *, command: str | None = None) -> ConfigureResult:
    """Save the keyless profile and the matching ``~/.aws/config`` credential_process profile."""
    settings.require_org()
    if settings.credentials_profile == settings.profile:
        raise InputError(
            f"--write-profile must differ from the profile {settings.profile!r}: static "
            "credentials there would shadow credential_process",
            fix="pick another --write-profile name",
        )
    process = credential_process_line(settings.profile, command=command)
    config_file = save_profile(settings)
    values: dict[str, str | None] = {"credential_process": process, **_aws_endpoints(settings)}
    aws_config = aws_config_path()
    update_ini(aws_config, lambda doc: doc.set(config_section(settings.profile), values))
    # Static keys under the credential_process profile's name would win over it.
    credentials = read_ini(aws_credentials_path()).get(settings.profile)
    if credentials and "aws_access_key_id" in credentials:
        raise InputError(
            f"{aws_credentials_path()} holds static keys for profile {settings.profile!r}; "
            "they take precedence over credential_process",
            fix=f"remove [{settings.profile}] from {aws_credentials_path()} "
            "(or configure another profile name)",
        )
    CredentialCache().forget(settings.profile)
    return ConfigureResult(settings.profile, config_file, aws_config, process)


# --- a credential_process profile per role (login --all-roles) ----------------------------


@dataclass(frozen=True)
class RoleProfile:
    """The ``~/.aws/config`` profile ``login --all-roles`` writes for one role."""

    name: str
    pair: RolePair
    region: str
    endpoint_url: str | None


def role_arguments(pair: RolePair) -> tuple[str, str]:
    """The ``--role`` and ``--account`` a role profile's credential_process fixes.

    The account id, not the alias: it names the account whatever the spec calls it.
    """
    return pair.role_name, pair.account_id


def role_cache_key(profile: str, pair: RolePair) -> str:
    """The cache entry a role profile's ``credential-process`` answers from."""
    return role_key(profile, *role_arguments(pair))


def _generated(document: IniDocument, section: str) -> str | None:
    """The keyless profile that wrote ``section`` as a role profile, or None."""
    values = document.get(section) or {}
    return values.get(KEYLESS_MARKER) if "credential_process" in values else None


def check_role_profiles(profile: str, names: list[str], config: IniDocument | None = None) -> None:
    """Refuse names that repeat or that belong to someone else, before anything is written.

    A section keyless did not write for ``profile`` is a person's own profile
    (or another keyless profile's role profile), and static keys under a name
    in the credentials file would take precedence over its credential_process.
    """
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InputError(
            f"the profile name template gives several roles the profile name {repeated[0]!r}",
            fix="name {alias} or {account} in --profile-name-template as well as {role}",
        )
    config_file, credentials_file = aws_config_path(), aws_credentials_path()
    config = config if config is not None else read_ini(config_file)
    credentials = read_ini(credentials_file)
    other = "pick other names with --profile-name-template (e.g. '{profile}-{alias}-{role}')"
    for name in names:
        section = config_section(name)
        if config.get(section) is not None and _generated(config, section) != profile:
            raise InputError(
                f"{config_file} already has [{section}], which keyless did not write for "
                f"profile {profile!r}; keyless will not overwrite it",
                fix=f"rename or remove that profile, or {other}",
            )
        static = credentials.get(name)
        if static is not None and static.get(KEYLESS_MARKER) != profile:
            raise InputError(
                f"{credentials_file} holds [{name}], which would take precedence over the "
                "role profile's credential_process",
                fix=f"remove [{name}] from {credentials_file}, or {other}",
            )


def write_role_profiles(
    settings: Settings, profiles: list[RoleProfile], *, command: str | None = None
) -> None:
    """Write a self-refreshing ``credential_process`` profile per role into ``~/.aws/config``.

    Like ``aws configure sso``: each profile calls ``keyless credential-process``
    with its role fixed, so it refreshes itself, and no static key is written.
    Each carries :data:`KEYLESS_MARKER`, so ``keyless logout`` can remove them;
    role profiles of ``settings.profile`` that name a role no longer taken go.
    Everything else in the file stays as it was.
    """
    names = [item.name for item in profiles]
    wanted = {config_section(name) for name in names}

    def change(document: IniDocument) -> None:
        # Again under the file's lock: a profile written since the first check is kept.
        check_role_profiles(settings.profile, names, document)
        for section in document.section_names():
            if section not in wanted and _generated(document, section) == settings.profile:
                document.remove(section)
        for item in profiles:
            role, account = role_arguments(item.pair)
            values: dict[str, str | None] = {
                "credential_process": credential_process_line(
                    settings.profile, role=role, account=account, command=command
                ),
                "endpoint_url": None,
                "ca_bundle": None,
                **endpoint_settings(item.region, item.endpoint_url, settings.ca_bundle),
                KEYLESS_MARKER: settings.profile,
            }
            document.set(config_section(item.name), values)

    update_ini(aws_config_path(), change)
    # Static keys keyless once wrote under these names would shadow the new profiles.
    path = aws_credentials_path()
    written = read_ini(path)
    stale = [
        name for name in names if (written.get(name) or {}).get(KEYLESS_MARKER) == settings.profile
    ]
    if stale:

        def drop(document: IniDocument) -> None:
            for name in stale:
                if (document.get(name) or {}).get(KEYLESS_MARKER) == settings.profile:
                    document.remove(name)

        update_ini(path, drop)


def remove_role_profiles(profiles: set[str]) -> list[str]:
    """Remove the role profiles keyless wrote for ``profiles``; the names removed."""
    path = aws_config_path()
    doc = read_ini(path)
    doomed = [section for section in doc.section_names() if _generated(doc, section) in profiles]
    if doomed:

        def drop(document: IniDocument) -> None:
            for section in doomed:
                if _generated(document, section) in profiles:
                    document.remove(section)

        update_ini(path, drop)
    return [section.removeprefix("profile ") for section in doomed]


def _aws_endpoints(settings: Settings) -> dict[str, str | None]:
    return endpoint_settings(
        settings.region or "us-east-1", settings.aws_endpoint_url, settings.ca_bundle
    )


def follow_lab_endpoints(settings: Settings) -> None:
    """Point the profile's ``credential_process`` profile in ``~/.aws/config`` at the
    endpoint its connection file names now, for a profile that follows one (``lab_dir``):
    a lab that restarted on another port is found by the AWS CLI too."""
    if not settings.lab_dir:
        return
    section = config_section(settings.profile)
    wanted = _aws_endpoints(settings)

    def change(document: IniDocument) -> None:
        current = document.get(section)
        if current and "credential_process" in current:
            document.set(section, wanted)

    current = read_ini(aws_config_path()).get(section) or {}
    if "credential_process" in current and any(current.get(k) != v for k, v in wanted.items()):
        update_ini(aws_config_path(), change)


# --- credentials for exec, env, console ----------------------------------------------------


def child_environment(
    settings: Settings, credentials: AwsCredentials, environ: dict[str, str]
) -> dict[str, str]:
    """``environ`` without any ``AWS_*`` credential or profile variable, plus fresh ones."""
    return replace_aws_variables(settings, environ, aws_variables(settings, credentials))


def replace_aws_variables(
    settings: Settings, environ: dict[str, str], variables: dict[str, str]
) -> dict[str, str]:
    """``environ`` without any ``AWS_*`` credential or profile variable, plus ``variables``.

    ``AWS_CONFIG_FILE`` and ``AWS_SHARED_CREDENTIALS_FILE`` say where files
    are, not who you are, and are kept; everything else ``AWS_*`` goes, so an
    old key, ``AWS_PROFILE`` or a container credentials URI cannot leak into
    the child.
    """
    if environ.get(EXEC_MARKER):
        raise InputError(
            f"already inside `keyless exec` for profile {environ[EXEC_MARKER]!r}; "
            "nesting would mix two identities",
            fix="exit that shell first, then run keyless exec again",
        )
    keep = {"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"}
    env = {k: v for k, v in environ.items() if not k.startswith("AWS_") or k in keep}
    env.update(variables)
    env[EXEC_MARKER] = settings.profile
    return env


def container_variables(settings: Settings, url: str, token: str) -> dict[str, str]:
    """The ``AWS_*`` variables that send SDKs to a container credentials endpoint
    (``keyless exec --ecs-server``): the endpoint and its token, the region and
    the lab's endpoint, and no key at all."""
    return {
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": url,
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": token,
        **_place_variables(settings),
    }


def aws_variables(settings: Settings, credentials: AwsCredentials) -> dict[str, str]:
    """The ``AWS_*`` variables that carry ``credentials`` (and the lab's endpoint)."""
    return {
        "AWS_ACCESS_KEY_ID": credentials.access_key_id,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
        "AWS_SESSION_TOKEN": credentials.session_token,
        "AWS_CREDENTIAL_EXPIRATION": credentials.expiration_text,
        **_place_variables(settings),
    }


def _place_variables(settings: Settings) -> dict[str, str]:
    """Where the profile's AWS is: the region, and the lab's endpoint and CA."""
    region = settings.region or "us-east-1"
    variables = {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
    }
    if settings.aws_endpoint_url:
        variables["AWS_ENDPOINT_URL"] = settings.aws_endpoint_url
        trusted = ca_bundle_for(settings.aws_endpoint_url, settings.ca_bundle)
        if trusted:
            variables["AWS_CA_BUNDLE"] = trusted
    return variables


def render_env(variables: dict[str, str], fmt: str) -> str:
    """Shell code that sets ``variables`` in ``fmt`` (sh, fish, powershell, dotenv)."""
    lines = []
    for name, value in variables.items():
        if fmt == "sh":
            lines.append(f"export {name}={shlex.quote(value)}")
        elif fmt == "fish":
            escaped = value.replace("\\", "\\\\").replace("'", "\\'")
            lines.append(f"set -gx {name} '{escaped}'")
        elif fmt == "powershell":
            # PowerShell ends a single-quoted string at any of these; doubling escapes each.
            escaped = "".join(ch * 2 if ch in _PS_QUOTES else ch for ch in value)
            lines.append(f"$Env:{name} = '{escaped}'")
        elif fmt == "dotenv":
            lines.append(f"{name}={_dotenv_quote(name, value)}")
        else:
            raise InputError(f"unknown format {fmt!r}", fix=f"use one of: {', '.join(ENV_FORMATS)}")
    return "\n".join(lines) + "\n"


_PS_QUOTES = "'\u2018\u2019\u201a\u201b"


def _dotenv_quote(name: str, value: str) -> str:
    """``value`` quoted so dotenv readers and a shell sourcing the file read it literally.

    Single quotes are literal for sh, docker compose and python-dotenv (which
    only unescapes ``\\\\`` and ``\\'`` there); double quotes serve a value
    with a single quote and nothing a shell or dotenv would expand or unescape.
    Anything else has no spelling they all agree on, and is refused.
    """
    if value.isprintable() and "'" not in value and "\\\\" not in value:
        return f"'{value}'"
    if value.isprintable() and not any(ch in value for ch in '"$`\\'):
        return f'"{value}"'
    raise InputError(
        f"{name} cannot be written safely in dotenv format (it holds both kinds of quote, "
        "'$', '`', backslashes or a line break)",
        fix="use --format sh",
    )


_FEDERATION = {
    "aws": ("https://signin.aws.amazon.com/federation", "https://console.aws.amazon.com/"),
    "aws-us-gov": (
        "https://signin.amazonaws-us-gov.com/federation",
        "https://console.amazonaws-us-gov.com/",
    ),
    "aws-cn": ("https://signin.amazonaws.cn/federation", "https://console.amazonaws.cn/"),
}


def console_url(
    settings: Settings,
    credentials: AwsCredentials,
    *,
    http: Any | None = None,
    destination: str | None = None,
) -> str:
    """A console sign-in URL for ``credentials``.

    Against real AWS: a sign-in token from the federation endpoint of the
    role's partition. Against a custom endpoint (the lab), there is no such
    endpoint: the URL is the IdP's AWS app link, which signs in through the
    lab's own AWS sign-in page.
    """
    if settings.aws_endpoint_url:
        from keyless.adapters.okta import dashboard_link  # httpx: only on this path

        _, app_url = settings.require_org()
        return dashboard_link(app_url)
    partition = partition_of(credentials.role_arn or "")
    if partition not in _FEDERATION:
        # Never hand one partition's credentials to another's sign-in endpoint.
        raise InputError(
            f"keyless knows no console federation endpoint for partition {partition!r}",
            fix="open the console through your partition's own sign-in page",
        )
    federation, console = _FEDERATION[partition]
    session = json.dumps(
        {
            "sessionId": credentials.access_key_id,
            "sessionKey": credentials.secret_access_key,
            "sessionToken": credentials.session_token,
        }
    )
    from keyless.adapters.http import httpx, make_client, unreachable_errors

    # No proxy or CA from the environment (keyless.adapters.http): the query holds the secret.
    client = http or make_client()
    token: object = None
    try:
        # detail=False: httpx's messages may hold the URL, and with it the secret.
        with unreachable_errors(f"the AWS federation endpoint {federation}", detail=False):
            response = client.get(
                federation, params={"Action": "getSigninToken", "Session": session}
            )
        problem = f"HTTP {response.status_code}"
        if response.status_code == 200:
            body = response.json()
            token = body.get("SigninToken") if isinstance(body, dict) else None
    except (httpx.HTTPError, ValueError) as exc:
        # httpx's messages hold the request URL, and with it the secret key and
        # token: name only the kind of failure, and chain nothing.
        problem = type(exc).__name__
    finally:
        if http is None:
            client.close()
    if not isinstance(token, str) or not token:
        raise RemoteError(
            f"the AWS federation endpoint {federation} gave no sign-in token ({problem})",
            fix="check your network; credentials from a role chain cannot open the console",
        )
    query = urllib.parse.urlencode(
        {
            "Action": "login",
            "Issuer": "keyless",
            "Destination": destination or console,
            "SigninToken": token,
        }
    )
    return f"{federation}?{query}"


# --- whoami, logout ------------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileStatus:
    """One keyless profile as ``keyless whoami`` shows it."""

    profile: str
    role_arn: str | None
    account_id: str | None
    account_alias: str | None
    seconds_left: float | None
    okta_session_seconds_left: float | None

    def as_dict(self) -> dict[str, object]:
        """The ``--json`` document."""
        return {
            "profile": self.profile,
            "role_arn": self.role_arn,
            "account_id": self.account_id,
            "account_alias": self.account_alias,
            "seconds_left": None if self.seconds_left is None else int(self.seconds_left),
            "okta_session_seconds_left": (
                None
                if self.okta_session_seconds_left is None
                else int(self.okta_session_seconds_left)
            ),
        }


def whoami(*, clock: Clock = utcnow, secrets: SecretStore | None = None) -> list[ProfileStatus]:
    """Every keyless profile with its cached identity and the time left."""
    secrets = secrets or open_secret_store()
    cache = CredentialCache()
    names = sorted(set(load_profiles()) | set(cache.profiles()))
    now = clock()
    statuses = []
    for name in names:
        cached = cache.load(name)
        # A role profile's entry (`login --all-roles`) shares its profile's Okta session.
        settings = resolve_settings(base_profile(name), environ={})
        session = load_session(secrets, session_key(settings)) if settings.org_url else None
        statuses.append(
            ProfileStatus(
                profile=name,
                role_arn=cached.role_arn if cached else None,
                account_id=cached.account_id if cached else None,
                account_alias=cached.account_alias if cached else None,
                seconds_left=cached.seconds_left(now) if cached else None,
                okta_session_seconds_left=(
                    (session.expires_at - now).total_seconds() if session else None
                ),
            )
        )
    return statuses


@dataclass
class LogoutResult:
    """What ``keyless logout`` forgot."""

    profiles: list[str] = field(default_factory=list)
    okta_sessions: int = 0
    credentials_profiles: list[str] = field(default_factory=list)
    role_profiles: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """The ``--json`` document."""
        return {
            "profiles": self.profiles,
            "okta_sessions_forgotten": self.okta_sessions,
            "credentials_profiles_removed": self.credentials_profiles,
            "role_profiles_removed": self.role_profiles,
        }


def logout(
    profiles: list[Settings],
    *,
    secrets: SecretStore | None = None,
    forget_password: bool = False,
    end_at_okta: bool = True,
) -> LogoutResult:
    """Forget the Okta session, cached credentials and written credentials of ``profiles``."""
    secrets = secrets or open_secret_store()
    cache = CredentialCache()
    result = LogoutResult()
    names = {settings.profile for settings in profiles}
    for settings in profiles:
        result.profiles.append(settings.profile)
        cache.forget(settings.profile)
        key = session_key(settings)
        session = load_session(secrets, key)
        if session is not None:
            if end_at_okta and settings.org_url:
                _end_okta_session(settings, session.id)
            secrets.delete(key)
            result.okta_sessions += 1
        # The kept cookie jar (sid, DT) goes with the session, and so do the device
        # flow's kept OAuth tokens (issue 12).
        secrets.delete(jar_key(settings))
        if settings.org_url and settings.oidc_client_id:
            secrets.delete(tokens_key(settings.org_url, settings.oidc_client_id, settings))
        if forget_password and settings.username:
            secrets.delete(password_key(settings, settings.username))
    # Remove only what keyless wrote: sections marked with KEYLESS_MARKER.
    result.role_profiles = remove_role_profiles(names)
    for key in cache.profiles():
        if key != base_profile(key) and base_profile(key) in names:
            cache.forget(key)
    path = aws_credentials_path()
    doc = read_ini(path)
    doomed = [
        section
        for section in doc.section_names()
        if (doc.get(section) or {}).get(KEYLESS_MARKER) in names
    ]
    if doomed:

        def drop(document: IniDocument) -> None:
            for name in doomed:
                document.remove(name)

        update_ini(path, drop)
        result.credentials_profiles = doomed
    return result


def _end_okta_session(settings: Settings, session_id: str) -> None:
    from keyless.adapters.okta import OktaClient
    from keyless.services.compose import okta_http

    assert settings.org_url is not None
    try:
        http = okta_http(settings, timeout=5.0)
    except OSError:
        return
    with http:
        OktaClient(settings.org_url, http=http).close_session(session_id)
