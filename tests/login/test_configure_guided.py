"""A guided real-org set-up (issue 24, item 9): `keyless configure` on a terminal.

Typed at in a real pseudo-terminal against the lab IdP over HTTPS: a URL that
is not an Okta org is refused and asked again, the org's URL given without
`https://` is accepted once `/.well-known/okta-organization` answers, and an
empty app link signs in and finds the AWS app among the person's app links;
the `keyless login` that follows asks nothing (the session was kept). The URL
rule and the app-link filter are units; without a terminal, flags work as before.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

import pytest

from keyless.errors import InputError
from keyless.services.login.guided import AwsApp, aws_apps, check_app_link, guide
from keyless.services.login.profiles import normalize_org_url
from login_support import KEYLESS, LabUser, Terminal, keyless


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("acme.okta.com", "https://acme.okta.com"),
        ("  acme.okta.com/ ", "https://acme.okta.com"),
        ("https://acme.okta.com/", "https://acme.okta.com"),
        ("acme.oktapreview.com:8443", "https://acme.oktapreview.com:8443"),
        ("http://acme.okta.com", "http://acme.okta.com"),  # kept, for the check to refuse
        ("", ""),
    ],
)
def test_org_urls_as_people_type_them(typed: str, kept: str) -> None:
    assert normalize_org_url(typed) == kept


def _config() -> dict[str, Any]:
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "keyless" / "config.toml"
    return tomllib.loads(path.read_text())


def test_configure_with_flags_and_no_terminal_accepts_an_org_without_https() -> None:
    result = keyless(
        "configure",
        "--profile",
        "flags",
        "--org-url",
        "acme.okta.com",
        "--app-url",
        "https://acme.okta.com/home/amazon_aws/0oa1b2c3/272",
        "--username",
        "alice@acme.example",
    )
    assert result.returncode == 0, result.stderr
    assert _config()["profiles"]["flags"]["org_url"] == "https://acme.okta.com"


def test_the_aws_apps_are_the_amazon_aws_links() -> None:
    links = [
        {"appName": "salesforce", "label": "CRM", "linkUrl": "https://o/home/salesforce/1/2"},
        {
            "appName": "amazon_aws",
            "label": "AWS prod",
            "linkUrl": "https://o/home/amazon_aws/0oa1/272",
            "appInstanceId": "0oa1",
        },
        {"appName": "amazon_aws", "label": "no link"},
    ]
    assert aws_apps(links) == [AwsApp("AWS prod", "https://o/home/amazon_aws/0oa1/272", "0oa1")]


def test_an_app_link_must_be_on_the_org() -> None:
    org = "https://acme.okta.com"
    assert check_app_link(org, f" {org}/home/amazon_aws/0oa1/272 ") == (
        f"{org}/home/amazon_aws/0oa1/272"
    )
    with pytest.raises(InputError):
        check_app_link(org, "https://evil.example/home/amazon_aws/0oa1/272")


class ScriptedPrompter:
    """Answers in order; records what it was told and offered (for the choice among apps)."""

    interactive = True

    def __init__(self, answers: list[str], choice: int = 0) -> None:
        self.answers = answers
        self.choice = choice
        self.told: list[str] = []
        self.offered: list[str] = []

    def notify(self, message: str) -> None:
        self.told.append(message)

    def ask(self, label: str, *, secret: bool = False, flag: str | None = None) -> str:
        return self.answers.pop(0)

    def choose(self, title: str, options: list[str], *, flag: str | None = None) -> int:
        self.offered = options
        return self.choice

    def missing_input(self, what: str, *, flag: str | None = None) -> Any:
        raise AssertionError(what)


def test_several_aws_apps_are_offered_as_a_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    from keyless.services.login import guided

    apps = [
        AwsApp("AWS prod", "https://acme.okta.com/home/amazon_aws/0oa1/272", "0oa1"),
        AwsApp("AWS sandbox", "https://acme.okta.com/home/amazon_aws/0oa2/272", "0oa2"),
    ]
    monkeypatch.setattr(guided, "discover_aws_apps", lambda settings, prompter: apps)
    prompter = ScriptedPrompter([""], choice=1)
    flags: dict[str, Any] = {"org_url": "https://acme.okta.com", "username": "a@acme.example"}
    guide(prompter, "choice", flags)
    assert prompter.offered == [f"{a.label} ({a.link})" for a in apps]
    assert flags["app_url"] == apps[1].link


def test_guided_configure_in_a_terminal_against_the_lab(
    provisioned_lab: Any, make_user: Any
) -> None:
    user: LabUser = make_user()
    lab = provisioned_lab
    idp_port = lab.idp_url.rsplit(":", 1)[1]
    aws_host = lab.aws_endpoint_url.split("://", 1)[1]
    terminal = Terminal(
        [
            KEYLESS,
            "configure",
            "--profile",
            "guided",
            "--ca-bundle",
            str(lab.ca_bundle),
            "--aws-endpoint-url",
            lab.aws_endpoint_url,
            "--mfa-factor",
            "totp",
        ]
    )
    try:
        # Not an Okta org (the lab's AWS endpoint answers, but not as Okta does): asked again.
        terminal.expect("Okta org URL (e.g. acme.okta.com): ")
        terminal.type(aws_host + "\r")
        terminal.expect("does not answer as an Okta org")
        # The org as people type it, without https://.
        terminal.expect("Okta org URL (e.g. acme.okta.com): ")
        terminal.type(f"127.0.0.1:{idp_port}\r")
        terminal.expect(f"https://127.0.0.1:{idp_port}: Okta org ")
        terminal.expect("(Classic Engine)")
        terminal.expect("Okta username: ")
        terminal.type("\r")
        terminal.expect("an answer is needed")
        terminal.expect("Okta username: ")
        terminal.type(user.login + "\r")
        terminal.expect("AWS app link (Enter: find it among your Okta apps, after signing in): ")
        terminal.type("https://elsewhere.example/home/amazon_aws/0oa1/272\r")
        terminal.expect("is not a link on")
        terminal.expect("after signing in): ")
        terminal.type("\r")
        terminal.expect(f"Okta password for {user.login}: ")
        terminal.type(user.password + "\r")
        terminal.expect("Code from Google Authenticator")
        terminal.type(user.totp() + "\r")
        terminal.expect(f"AWS app: Amazon Web Services ({lab.app_url})")
        terminal.expect("next: keyless login --profile guided")
        assert terminal.finish() == 0, terminal.output
    finally:
        terminal.close()
    profile = _config()["profiles"]["guided"]
    assert profile["org_url"] == lab.idp_url
    assert profile["app_url"] == lab.app_url
    assert profile["username"] == user.login
    # The sign-in's session was kept: login, with no terminal, asks nothing.
    login = keyless("login", "--profile", "guided", "--no-write", "--json")
    assert login.returncode == 0, login.stderr
    document = json.loads(login.stdout)
    assert document["okta_session_reused"] is True
    assert [r["role_arn"].rsplit("/", 1)[-1] for r in document["roles"]] == ["Developer"]
