"""Regression tests from the security review of the login side: each names the bug it pins.

No lab needed: files, locks, the hot path, env rendering, the console URL and
the Okta client against an in-process transport that plays a hostile server.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from keyless.adapters import cache_file as hot
from keyless.adapters.credential_cache import CredentialCache
from keyless.adapters.credentials_file import IniDocument, read_ini, update_ini
from keyless.adapters.locks import FileLock
from keyless.adapters.okta import OktaClient
from keyless.adapters.secrets import FileSecretStore
from keyless.core.credentials import AwsCredentials
from keyless.core.okta import OktaSession
from keyless.errors import ConfigError, InputError, KeylessError, RemoteError
from keyless.services.login import access
from keyless.services.login.access import console_url, render_env
from keyless.services.login.okta_signin import LoginInputs
from keyless.services.login.profiles import Settings, resolve_settings

ACCESS_KEY = "ASIAEXAMPLEKEY1234"
SECRET_KEY = "wJalrXUtnFEMIsecretKEYdoNOTprint"
SESSION_TOKEN = "FwoGZXIvYXdzEXAMPLEsessionTOKENdoNOTprint"
NOBODY = 65534
# A skip, not a failure: only root can give a file to another user, and `make test` runs as
# whoever calls it. The refusals themselves do not depend on who runs keyless.
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")


def _creds(minutes: int = 60) -> AwsCredentials:
    return AwsCredentials(
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        session_token=SESSION_TOKEN,
        expiration=datetime.now(UTC) + timedelta(minutes=minutes),
        role_arn="arn:aws:iam::333333333333:role/Developer",
        account_id="333333333333",
    )


def _hot(profile: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keyless.credential_process", "--profile", profile],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        check=False,
    )


# --- secrets in output -----------------------------------------------------------------


def test_console_error_does_not_print_the_secret_key_from_the_federation_url() -> None:
    """Bug: a 4xx from the federation endpoint put httpx's error text, which holds the
    whole GET URL with Session={sessionKey, sessionToken}, into the message and the
    --verbose cause chain: the secret key and token went to stderr and CI logs."""
    client = httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(400)))
    with pytest.raises(RemoteError) as caught:
        console_url(Settings(profile="p"), _creds(), http=client)
    shown = [caught.value.message, caught.value.fix or ""]
    cause: BaseException | None = caught.value.__cause__
    while cause is not None:
        shown.append(str(cause))
        cause = cause.__cause__
    text = "\n".join(shown)
    assert "400" in caught.value.message
    for secret in (SECRET_KEY, SESSION_TOKEN, ACCESS_KEY):
        assert secret not in text
    assert "sessionKey" not in text


def test_console_client_ignores_proxy_and_ca_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bug: the federation call used httpx's default trust_env=True, so HTTPS_PROXY and
    SSL_CERT_FILE from the environment decided where credentials went and which CA was
    trusted, unlike the Okta client that trusts only what it is given."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(5)
    seen: list[bytes] = []

    def accept() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            data = conn.recv(1024)
            if data:  # the empty wake-up connection below sends nothing
                seen.append(data)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    # The federation endpoint moved to a loopback port that refuses connections (bound,
    # never listening): the test reaches no network, and a direct connection fails at
    # once, while a client that obeyed HTTPS_PROXY would reach the listener above.
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    federation = f"https://127.0.0.1:{closed.getsockname()[1]}/federation"
    monkeypatch.setitem(access._FEDERATION, "aws", (federation, "https://127.0.0.1/console"))
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("ALL_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    try:
        with pytest.raises(RemoteError):
            console_url(Settings(profile="p"), _creds())
    finally:
        # Wake the accepting thread (nothing came) instead of waiting out its timeout.
        with contextlib.suppress(OSError):
            socket.create_connection(listener.getsockname(), timeout=5).close()
        thread.join(timeout=5)
        listener.close()
        closed.close()
    assert seen == []


def test_repr_of_credentials_session_and_inputs_hides_secrets() -> None:
    """Bug: the dataclass reprs of AwsCredentials, OktaSession and LoginInputs printed the
    secret key, session token, Okta session id, password and MFA code, in any traceback,
    log line or assertion message that showed one."""
    text = " ".join(
        [
            repr(_creds()),
            repr(OktaSession(id="102sidSECRETsid", expires_at=datetime.now(UTC))),
            repr(LoginInputs(password="hunter2-Password", mfa_code="123456")),
        ]
    )
    for secret in (SECRET_KEY, SESSION_TOKEN, ACCESS_KEY, "102sidSECRETsid", "hunter2-Password"):
        assert secret not in text
    assert "123456" not in text
    assert "ASIA****1234" in text


# --- cache, secrets and lock files planted by someone else ------------------------------


def test_hot_path_does_not_answer_from_a_symlinked_cache_file(tmp_path: Path) -> None:
    """Bug: the hot path opened the cache file following symlinks, so whoever could
    write in the cache directory could point one profile's cache at any file (another
    profile's credentials, or their own) and have it served as this profile's."""
    CredentialCache().store("other", _creds())
    link = Path(hot.cache_file("victim"))
    link.symlink_to(hot.cache_file("other"))
    result = _hot("victim")
    assert result.stdout == ""
    assert ACCESS_KEY not in result.stdout


@needs_root
def test_hot_path_ignores_a_cache_file_owned_by_another_user() -> None:
    """Bug: a cache file planted by another user (a shared or pre-created
    $XDG_CACHE_HOME) was served as this user's credentials: their keys, their account,
    so this user's `aws s3 cp` uploads went to the attacker's bucket."""
    CredentialCache().store("planted", _creds())
    os.chown(hot.cache_file("planted"), NOBODY, NOBODY)
    result = _hot("planted")
    assert ACCESS_KEY not in result.stdout
    assert CredentialCache().load("planted") is None


def test_hot_path_ignores_a_cache_file_others_can_write() -> None:
    """Bug: a group- or world-writable cache file was trusted; keyless writes 0600 only."""
    CredentialCache().store("loose", _creds())
    os.chmod(hot.cache_file("loose"), 0o666)  # noqa: S103 - the loose mode is the attack
    assert ACCESS_KEY not in _hot("loose").stdout


@needs_root
def test_cache_refuses_a_directory_owned_by_another_user() -> None:
    """Bug: `mkdir(exist_ok=True)` accepted a cache directory another user had made, who
    could then swap or plant files in it; keyless must refuse it and say so."""
    directory = Path(hot.cache_dir())
    directory.mkdir(parents=True)
    os.chown(directory, NOBODY, NOBODY)
    with pytest.raises(ConfigError, match="owned by"):
        CredentialCache().store("p", _creds())
    assert list(directory.iterdir()) == []


def test_cache_tightens_its_own_loose_directory() -> None:
    """Bug: an existing cache directory of ours with mode 0777 was used as it was, letting
    other users plant or delete credential files in it."""
    directory = Path(hot.cache_dir())
    directory.mkdir(parents=True)
    os.chmod(directory, 0o777)  # noqa: S103 - the loose mode is the attack
    CredentialCache().store("p", _creds())
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


@needs_root
def test_file_secret_store_refuses_files_and_directories_of_another_user(
    tmp_path: Path,
) -> None:
    """Bug: a planted Okta session file was read as ours (signing this user in as someone
    else), and secrets were written into a directory another user owned."""
    store = FileSecretStore(tmp_path / "secrets")
    store.set("okta-session|x", "kept")
    os.chown(store._path("okta-session|x"), NOBODY, NOBODY)
    assert store.get("okta-session|x") is None
    theirs = FileSecretStore(tmp_path / "theirs")
    theirs.directory.mkdir()
    os.chown(theirs.directory, NOBODY, NOBODY)
    with pytest.raises(ConfigError, match="owned by"):
        theirs.set("okta-password|x", "hunter2")


def test_file_secret_store_does_not_follow_a_symlinked_secret(tmp_path: Path) -> None:
    """Bug: a symlink at a secret's path was followed on read."""
    store = FileSecretStore(tmp_path / "secrets")
    store.set("real", "value")
    store._path("okta-session|x").symlink_to(store._path("real"))
    assert store.get("okta-session|x") is None


def test_lock_does_not_follow_a_symlink_at_the_lock_path(tmp_path: Path) -> None:
    """Bug: FileLock opened its path with O_CREAT following symlinks, so a symlink planted
    at `credentials.lock` made keyless create (or open) any file the link named."""
    target = tmp_path / "elsewhere" / "created-by-keyless"
    target.parent.mkdir()
    lock = tmp_path / "credentials.lock"
    lock.symlink_to(target)
    with pytest.raises(ConfigError, match="symbolic link"), FileLock(lock, timeout=1):
        pass
    assert not target.exists()


# --- INI injection ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("x]\n[default", {"aws_access_key_id": "AKIA"}),
        ("a]b", {"region": "us-east-1"}),
        ("ok", {"region": "us-east-1\naws_access_key_id = AKIAEVIL"}),
        ("ok", {"region\n[evil]\nkey": "v"}),
        ("ok", {"region": "us-east-1\r[evil]"}),
    ],
)
def test_ini_set_refuses_names_and_values_that_would_add_lines(
    tmp_path: Path, name: str, values: dict[str, str | None]
) -> None:
    """Bug: IniDocument.set wrote section names, keys and values verbatim, so a newline or
    a ']' added sections and keys (e.g. a [default] profile with other keys) or left a file
    that keyless itself then refused as corrupt."""
    path = tmp_path / "credentials"
    path.write_text("[default]\nregion = eu-west-1\n")
    with pytest.raises(InputError):
        update_ini(path, lambda doc: doc.set(name, values))
    assert path.read_text() == "[default]\nregion = eu-west-1\n"
    assert read_ini(path).section_names() == ["default"]
    doc = IniDocument()
    with pytest.raises(InputError):
        doc.set(name, values)


@pytest.mark.parametrize(
    "flags",
    [
        {"write_profile": "x]\n[default"},
        {"region": "us-east-1\ncredential_process = sh -c evil"},
        {"aws_endpoint_url": "https://x\n[default]"},
    ],
)
def test_settings_refuse_control_characters_before_anything_is_written(
    flags: dict[str, str],
) -> None:
    """Bug: profile names and settings with newlines passed validation and reached the INI
    writer (or config.toml) — bad input must fail first, with nothing on disk changed."""
    with pytest.raises(InputError):
        resolve_settings("dev", flags)
    with pytest.raises(InputError):
        resolve_settings("dev\n[default]", {})


# --- env output -------------------------------------------------------------------------

HOSTILE = ["$(touch PWNED)", "`touch PWNED`", "a'b", 'a"b', "x\ntouch PWNED", "${HOME}"]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("fmt", ["sh", "dotenv"])
def test_env_output_sourced_by_sh_runs_nothing(tmp_path: Path, fmt: str, value: str) -> None:
    """Bug: `--format dotenv` wrote JSON strings, which a shell sourcing the file (set -a;
    . ./.env) expands: a value holding $(...) or backticks ran commands. Each value must
    come back literally or be refused."""
    try:
        text = render_env({"AWS_SESSION_TOKEN": value}, fmt)
    except InputError:
        assert fmt == "dotenv"
        return
    script = tmp_path / "env.sh"
    script.write_text(text)
    result = subprocess.run(
        ["dash", "-c", f'set -a; . {script}; printf %s "$AWS_SESSION_TOKEN"'],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    assert not (tmp_path / "PWNED").exists()
    assert result.stdout == value


def test_env_powershell_doubles_every_single_quote_character() -> None:
    """Bug: PowerShell ends a single-quoted string at U+2018..U+201B as well as at "'";
    only "'" was doubled, so a value with a typographic quote could break out."""
    rendered = render_env({"A": "x\u2019; Remove-Item -Recurse ~ ;\u2018"}, "powershell")
    assert rendered == "$Env:A = 'x\u2019\u2019; Remove-Item -Recurse ~ ;\u2018\u2018'\n"


# --- the Okta client --------------------------------------------------------------------


def _okta_with(links_to: str, sent: list[str]) -> OktaClient:
    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        return httpx.Response(
            200,
            json={
                "status": "MFA_REQUIRED",
                "stateToken": "state-token",
                "_embedded": {
                    "factors": [
                        {
                            "id": "f1",
                            "factorType": "token:software:totp",
                            "provider": "GOOGLE",
                            "_links": {"verify": {"href": links_to}},
                        }
                    ]
                },
            },
        )

    return OktaClient(
        "https://acme.okta.example", http=httpx.Client(transport=httpx.MockTransport(handler))
    )


@pytest.mark.parametrize(
    "link",
    [
        "https://evil.example/api/v1/authn/factors/f1/verify",
        "http://acme.okta.example/api/v1/authn/factors/f1/verify",
        "https://acme.okta.example.evil.example/api/v1/authn/factors/f1/verify",
        ".evil.example/api/v1/authn/factors/f1/verify",
        "@evil.example/api/v1/authn/factors/f1/verify",
    ],
)
def test_okta_does_not_send_state_token_and_code_outside_the_org(link: str) -> None:
    """Bug: factor verify and push poll links from Okta's JSON were requested wherever they
    pointed, so a link to another host, or plain http, got the state token and the MFA code."""
    sent: list[str] = []
    okta = _okta_with(link, sent)
    state = okta.authn("bob@acme.example", "pw")
    with pytest.raises(KeylessError, match="outside"):
        okta.verify(state.factors[0], "state-token", "123456")
    with pytest.raises(KeylessError, match="outside"):
        okta.poll(link, "state-token")
    assert sent == ["https://acme.okta.example/api/v1/authn"]


def test_cache_round_trip_still_answers_for_its_own_profile() -> None:
    """The hardened hot path still answers from a cache keyless wrote (0600, ours)."""
    CredentialCache().store("mine", _creds())
    result = _hot("mine")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["AccessKeyId"] == ACCESS_KEY


def test_cache_and_secret_file_names_of_distinct_profiles_never_collide(tmp_path: Path) -> None:
    """Bug: names were escaped as %-and-hex of the code point, of varying width, so
    'x\u2026' (%2026) and 'x 26' (%20 then 26) shared one cache file: one profile was
    answered with the other's credentials (another role, another account), and two
    Okta users shared one kept-session file."""
    assert hot.cache_file("x\u2026") != hot.cache_file("x 26")
    CredentialCache().store("x\u2026", _creds())
    assert CredentialCache().load("x 26") is None
    assert set(CredentialCache().profiles()) == {"x\u2026"}
    store = FileSecretStore(tmp_path / "secrets")
    store.set("okta-session|https://o|x\u2026", "theirs")
    assert store.get("okta-session|https://o|x 26") is None
