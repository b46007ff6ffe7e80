"""Unit tests of the login adapters and services that need no lab: files, locks, secrets,
profiles, the assertion reader and the credential_process hot path."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from keyless.adapters.credential_cache import CredentialCache
from keyless.adapters.credentials_file import IniDocument, read_ini, update_ini
from keyless.adapters.locks import FileLock
from keyless.adapters.secrets import FileSecretStore, keyring_may_exist, open_secret_store
from keyless.core.credentials import AwsCredentials
from keyless.errors import EXIT_LOGIN_REQUIRED, EXIT_OK, ConfigError, InputError
from keyless.saml.model import RolePair
from keyless.services.login.access import child_environment, render_env
from keyless.services.login.assertion import read_unverified_assertion
from keyless.services.login.profiles import Settings, resolve_settings, save_profile
from keyless.services.login.roles import SpecHints, select_roles
from keyless.services.login.wiring import CachedProvider
from keyless_lab.saml.build import build_response
from keyless_lab.saml.keys import SigningKey

PYTHON = sys.executable

EXISTING = textwrap.dedent(
    """\
    # my credentials, keep this comment
    [default]
    aws_access_key_id = AKIAEXAMPLE
    aws_secret_access_key = secret ; not a comment for botocore

    ; another comment
    [work]
    aws_access_key_id = AKIAWORK
    s3 =
      max_concurrent_requests = 20
    """
)


def test_ini_round_trip_is_byte_identical() -> None:
    assert IniDocument.parse(EXISTING).render() == EXISTING


def test_ini_set_changes_only_what_it_names() -> None:
    doc = IniDocument.parse(EXISTING)
    doc.set("work", {"aws_access_key_id": "AKIANEW", "region": "eu-west-1"})
    doc.set("fresh", {"aws_access_key_id": "AKIAFRESH"})
    text = doc.render()
    assert "# my credentials, keep this comment" in text
    assert "; another comment" in text
    assert "aws_access_key_id = AKIANEW" in text
    assert "max_concurrent_requests = 20" in text
    assert text.endswith("[fresh]\naws_access_key_id = AKIAFRESH\n")
    again = IniDocument.parse(text)
    assert again.get("work") == {"aws_access_key_id": "AKIANEW", "s3": "", "region": "eu-west-1"}
    assert again.get("default") == IniDocument.parse(EXISTING).get("default")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("[default]\naws_access_key_id = A\nthis is not ini\n", 3),
        ("aws_access_key_id = A\n[default]\n", 1),
        ("[default]\n[other\n", 2),
        ("[a]\nx = 1\n[a]\ny = 2\n", 3),
        ("[a]\n  indented = 1\n", 2),
    ],
)
def test_corrupt_file_is_reported_with_line_and_left_untouched(
    tmp_path: Path, text: str, line: int
) -> None:
    path = tmp_path / "credentials"
    path.write_text(text)
    before = path.read_bytes()
    with pytest.raises(ConfigError) as caught:
        update_ini(path, lambda doc: doc.set("new", {"k": "v"}))
    assert f"{path}:{line}:" in caught.value.message
    assert path.read_bytes() == before


def test_update_writes_0600_and_follows_symlinks(tmp_path: Path) -> None:
    target = tmp_path / "dotfiles" / "credentials"
    target.parent.mkdir()
    target.write_text(EXISTING)
    link = tmp_path / "credentials"
    link.symlink_to(target)
    update_ini(link, lambda doc: doc.set("new", {"k": "v"}))
    assert link.is_symlink()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert read_ini(target).get("new") == {"k": "v"}
    assert not [p for p in target.parent.iterdir() if p.name.endswith(".tmp")]


def test_parallel_processes_writing_different_sections_keep_all(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    path.write_text(EXISTING)
    script = (
        "import sys; from pathlib import Path; from keyless.adapters.credentials_file import "
        "update_ini; update_ini(Path(sys.argv[1]), lambda d: d.set(sys.argv[2], "
        "{'aws_access_key_id': sys.argv[2]}))"
    )
    procs = [subprocess.Popen([PYTHON, "-c", script, str(path), f"p{i}"]) for i in range(20)]
    assert [proc.wait() for proc in procs] == [0] * 20
    doc = read_ini(path)
    assert {f"p{i}" for i in range(20)} <= set(doc.section_names())
    assert "# my credentials, keep this comment" in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_lock_excludes_a_second_holder(tmp_path: Path) -> None:
    with FileLock(tmp_path / "x.lock"), pytest.raises(ConfigError, match="held"):
        FileLock(tmp_path / "x.lock", timeout=0.05).acquire()
    with FileLock(tmp_path / "x.lock", timeout=0.05):
        pass


def test_secrets_fall_back_to_0600_files_without_a_keyring(tmp_path: Path) -> None:
    store = open_secret_store()  # the test environment disables keyring
    assert isinstance(store, FileSecretStore)
    store.set("okta-session|https://x|bob", "sid-value")
    assert store.get("okta-session|https://x|bob") == "sid-value"
    files = list(store.directory.iterdir())
    assert [stat.S_IMODE(f.stat().st_mode) for f in files] == [0o600]
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700
    store.delete("okta-session|https://x|bob")
    assert store.get("okta-session|https://x|bob") is None


@pytest.mark.parametrize(
    ("environ", "platform", "expected"),
    [
        ({}, "linux", False),
        ({"DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/user/1000/bus"}, "linux", True),
        ({"PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring"}, "linux", True),
        ({}, "darwin", True),
        ({}, "win32", True),
    ],
)
def test_keyring_is_only_probed_where_one_can_exist(
    environ: dict[str, str], platform: str, expected: bool, tmp_path: Path
) -> None:
    environ = {"HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path / "run"), **environ}
    assert keyring_may_exist(environ, platform) is expected


def test_a_server_without_a_keyring_never_imports_keyring(tmp_path: Path) -> None:
    """keyring's backend probe cost a sign-in about 0.4 s on a server that has no keyring."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("PYTHON_KEYRING_BACKEND", "DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR")
    }
    check = (
        "import sys; from keyless.adapters.secrets import open_secret_store;"
        "print(type(open_secret_store()).__name__, 'keyring' in sys.modules)"
    )
    probe = subprocess.run(
        [PYTHON, "-c", check], capture_output=True, text=True, check=True, env=env
    )
    assert probe.stdout.split() == ["FileSecretStore", "False"]


def test_precedence_flags_over_env_over_file(monkeypatch: pytest.MonkeyPatch) -> None:
    save_profile(
        Settings(
            profile="dev",
            org_url="https://file.example",
            app_url="https://a.example/x",
            username="file-user",
            role="FileRole",
            duration=1800,
        )
    )
    monkeypatch.setenv("KEYLESS_USERNAME", "env-user")
    monkeypatch.setenv("KEYLESS_ROLE", "EnvRole")
    settings = resolve_settings("dev", {"role": "FlagRole"})
    assert (settings.org_url, settings.username, settings.role, settings.duration) == (
        "https://file.example",
        "env-user",
        "FlagRole",
        1800,
    )
    with pytest.raises(InputError, match="mfa_factor"):
        resolve_settings("dev", {"mfa_factor": "carrier-pigeon"})


@pytest.mark.parametrize("command", ["env", "credential-process"])
def test_unknown_profile_names_the_config_file_and_the_known_profiles(command: str) -> None:
    """Regression: a typo in --profile said "profile 'dve' has no org_url and no app_url",
    neither naming the file it looked in nor the profiles that do exist."""
    save_profile(Settings(profile="dev", org_url="https://o.example", app_url="https://a.example"))
    result = subprocess.run(
        [str(Path(PYTHON).parent / "keyless"), command, "--profile", "dve"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        check=False,
    )
    assert result.returncode == 2
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "keyless" / "config.toml"
    assert f"no keyless profile 'dve' in {config}" in result.stderr
    assert "pass --profile with one of: dev" in result.stderr
    assert result.stdout == ""


def test_half_configured_profile_names_what_is_missing() -> None:
    save_profile(Settings(profile="half", org_url="https://o.example"))
    with pytest.raises(ConfigError, match=r"profile 'half' in .*config\.toml has no app_url"):
        resolve_settings("half").require_org()


KEY = SigningKey.generate("test idp")
DEV = RolePair(
    "arn:aws:iam::333333333333:role/Developer", "arn:aws:iam::333333333333:saml-provider/Okta"
)
PROD = RolePair(
    "arn:aws:iam::222222222222:role/ReadOnly", "arn:aws:iam::222222222222:saml-provider/Okta"
)


def _page(provider_first: bool) -> str:
    from keyless_lab.saml.build import encode_response

    xml = build_response(
        key=KEY,
        issuer="http://www.okta.com/exk1",
        subject="bob@acme.example",
        roles=[DEV, PROD],
        session_name="bob@acme.example",
        now=datetime.now(UTC),
        session_duration=7200,
        provider_first=provider_first,
    )
    value = encode_response(xml).replace("+", "&#x2b;").replace("=", "&#x3d;")
    return (
        '<html><body><form id="appForm" method="POST" '
        'action="https://us-west-2.signin.aws.amazon.com/saml">'
        f'<input name="SAMLResponse" type="hidden" value="{value}"/></form></body></html>'
    )


@pytest.mark.parametrize("provider_first", [True, False])
def test_roles_are_read_in_either_order(provider_first: bool) -> None:
    encoded, unverified = read_unverified_assertion(_page(provider_first))
    assert unverified.roles == (DEV, PROD)
    assert unverified.session_duration == 7200
    assert unverified.signin_url == "https://us-west-2.signin.aws.amazon.com/saml"
    assert encoded


def test_hostile_assertion_is_refused() -> None:
    import base64

    evil = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "y">]>'
        b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&x;</samlp:Response>'
    )
    page = f'<form><input name="SAMLResponse" value="{base64.b64encode(evil).decode()}"></form>'
    with pytest.raises(Exception, match="safe XML parser"):
        read_unverified_assertion(page)


def test_role_selection_by_alias_and_missing_role() -> None:
    hints = SpecHints(aliases={"333333333333": "acme-dev", "222222222222": "acme-prod"})
    from keyless.adapters.terminal import NonInteractivePrompter

    prompter = NonInteractivePrompter(mode="login", profile="p")

    def select(role: str | None, account: str | None) -> RolePair:
        choice = select_roles(
            (DEV, PROD), role=role, account=account, hints=hints, prompter=prompter, profile="p"
        )
        assert not choice.picked
        return choice.pair

    assert select(None, "acme-dev") == DEV
    with pytest.raises(InputError, match="acme-prod"):
        select("Admin", None)
    # Regression: an unknown account was reported as "no role matching 'nosuch'".
    with pytest.raises(InputError, match="offers no account 'nosuch';"):
        select(None, "nosuch")
    with pytest.raises(InputError, match="offers no role 'Admin' in account 'acme-dev';"):
        select("Admin", "acme-dev")
    # Regression: "Select a role (...) is needed and there is no terminal to ask".
    with pytest.raises(InputError, match="no terminal to ask for input: Select a role") as info:
        select(None, None)
    # Issue 24: the way out names the command that makes the choice stick.
    assert info.value.fix is not None
    assert "`keyless configure --profile p --role ROLE --account ACCOUNT`" in info.value.fix
    assert info.value.fix.endswith("; or pass --role and --account")


def _creds(minutes: int) -> AwsCredentials:
    return AwsCredentials(
        access_key_id="ASIAEXAMPLEKEY1234",
        secret_access_key="s3cr3t",
        session_token="token",
        expiration=datetime.now(UTC) + timedelta(minutes=minutes),
        role_arn=DEV.role_arn,
        account_id="333333333333",
        account_alias="acme-dev",
    )


def _run_process(profile: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "keyless.credential_process", "--profile", profile],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        check=False,
        **kwargs,
    )


def test_hot_path_answers_from_cache_without_heavy_imports() -> None:
    CredentialCache().store("fast", _creds(60))
    assert stat.S_IMODE(CredentialCache().path("fast").stat().st_mode) == 0o600
    result = _run_process("fast")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["Version"] == 1
    assert document["AccessKeyId"] == "ASIAEXAMPLEKEY1234"
    assert document["Expiration"].endswith("Z")
    check = (
        "import sys; from keyless.credential_process import main; main(['--profile','fast']);"
        "heavy={'boto3','botocore','typer','rich','pydantic','httpx','click','lxml','keyring',"
        "'json','datetime','pathlib'};"
        "sys.stderr.write(repr(sorted(heavy & {m.split('.')[0] for m in sys.modules})))"
    )
    probe = subprocess.run([PYTHON, "-c", check], capture_output=True, text=True, check=True)
    assert probe.stderr == "[]"


def test_cached_answer_through_the_console_script_imports_only_the_cache_reader() -> None:
    """The whole of keyless that ``keyless credential-process`` loads to answer from its
    cache; not :mod:`keyless.errors` (a third of what keyless added to Python's start),
    nor ``__future__``."""
    CredentialCache().store("fastest", _creds(60))
    probe = (
        "import atexit, sys; "
        "atexit.register(lambda: sys.stderr.write(' '.join(sorted(sys.modules)))); "
        "sys.argv = ['keyless', 'credential-process', '--profile', 'fastest']; "
        "from keyless.cli.main import run; run()"
    )
    result = subprocess.run([PYTHON, "-c", probe], capture_output=True, text=True, check=False)
    assert result.returncode == os.EX_OK == EXIT_OK, result.stderr
    assert json.loads(result.stdout)["AccessKeyId"] == "ASIAEXAMPLEKEY1234"
    assert {name for name in result.stderr.split() if name.startswith("keyless")} == {
        "keyless",
        "keyless.cli",
        "keyless.cli.main",
        "keyless.credential_process",
        "keyless.adapters",
        "keyless.adapters.cache_file",
        "keyless.core",
        "keyless.core.paths",
    }
    # Importing __future__ (for annotations) cost more than any of these modules.
    assert "__future__" not in result.stderr.split()


def test_stale_cache_without_terminal_names_the_login_command() -> None:
    save_profile(
        Settings(
            profile="stale",
            org_url="https://127.0.0.1:9",
            app_url="https://127.0.0.1:9/home/amazon_aws/0oa1/272",
            username="bob@acme.example",
        )
    )
    CredentialCache().store("stale", _creds(2))  # < 5 minutes left: must refresh
    result = _run_process("stale")
    assert result.returncode == EXIT_LOGIN_REQUIRED
    assert "keyless login --profile stale" in result.stderr
    assert result.stdout == ""


class _StaleTogether(CredentialCache):
    """A cache whose first read in each thread waits until every thread has read it stale."""

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=30)
        self.seen = threading.local()

    def load(self, profile: str) -> AwsCredentials | None:
        first = not getattr(self.seen, "read", False)
        self.seen.read = True
        cached = super().load(profile)
        if first:
            self.barrier.wait()  # all threads found the cache stale before any refreshes
        return cached


class _BlockingProvider:
    """A sign-in that lasts until every caller is inside it, or one second.

    Under the lock only one caller can be inside, so the second never comes
    and the sign-in ends at the second. Without the lock (a no-op lock), every
    thread that found the cache stale comes in at once, and the count shows it.
    """

    def __init__(self, parties: int) -> None:
        self.parties = parties
        self.calls = 0
        self.inside = threading.Condition()

    def retrieve(self) -> AwsCredentials:
        with self.inside:
            self.calls += 1
            self.inside.notify_all()
            self.inside.wait_for(lambda: self.calls >= self.parties, timeout=1.0)
        return _creds(60)


def test_cached_provider_refreshes_once_under_the_lock() -> None:
    """Bug: this test passed 3 times in 50 with the lock replaced by a no-op; the barrier
    and the blocking provider make every such run fail (ten sign-ins instead of one)."""
    parties = 10
    CredentialCache().store("shared", _creds(1))  # stale: < 5 minutes left
    cache = _StaleTogether(parties)
    provider = _BlockingProvider(parties)
    results: list[AwsCredentials] = []
    errors: list[BaseException] = []

    def refresh() -> None:
        try:
            results.append(CachedProvider(provider, profile="shared", cache=cache).retrieve())
        except BaseException as error:  # surfaced below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=refresh) for _ in range(parties)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert provider.calls == 1
    assert len(results) == parties
    assert {item.access_key_id for item in results} == {_creds(60).access_key_id}


def test_exec_environment_replaces_aws_variables_and_refuses_nesting() -> None:
    settings = Settings(profile="dev")
    env = child_environment(
        settings,
        _creds(60),
        {
            "AWS_ACCESS_KEY_ID": "AKIAOLD",
            "AWS_PROFILE": "other",
            "PATH": "/bin",
            "AWS_CONFIG_FILE": "/x/config",
        },
    )
    assert env["AWS_ACCESS_KEY_ID"] == "ASIAEXAMPLEKEY1234"
    assert "AWS_PROFILE" not in env
    assert env["AWS_CONFIG_FILE"] == "/x/config"
    assert env["KEYLESS_EXEC_PROFILE"] == "dev"
    with pytest.raises(InputError, match="already inside"):
        child_environment(settings, _creds(60), env)


def test_env_formats_quote_values() -> None:
    variables = {"AWS_SESSION_TOKEN": "a'b c"}
    assert render_env(variables, "sh") == "export AWS_SESSION_TOKEN='a'\"'\"'b c'\n"
    assert render_env(variables, "fish") == "set -gx AWS_SESSION_TOKEN 'a\\'b c'\n"
    assert render_env(variables, "powershell") == "$Env:AWS_SESSION_TOKEN = 'a''b c'\n"
    assert render_env(variables, "dotenv") == 'AWS_SESSION_TOKEN="a\'b c"\n'
    assert os.environ.get("KEYLESS_EXEC_PROFILE") is None
