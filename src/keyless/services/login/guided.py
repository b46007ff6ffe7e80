"""``keyless configure`` on a terminal: each answer checked as it is typed, asked again when wrong.

- the Okta org URL: ``https://`` added when left out (``acme.okta.com``), then
  ``GET /.well-known/okta-organization`` must answer as an Okta org does (its id
  and engine, no sign-in needed);
- the username: not empty;
- the AWS app: a link typed must be on the org; left empty, keyless signs in
  (password, MFA; the session is kept, so the next ``keyless login`` asks
  nothing) and reads the person's apps, ``GET /api/v1/users/me/appLinks``,
  keeping those whose ``appName`` is ``amazon_aws`` — how gimme-aws-creds finds
  the AWS apps — and offers a choice when there are several.

Flags given on the command line are taken as they are, as without a terminal.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from keyless.adapters.okta import OktaClient
from keyless.core.ports import Prompter, SecretStore
from keyless.errors import InputError, KeylessError
from keyless.services import compose
from keyless.services.login.okta_session import load_session, session_key, store_session
from keyless.services.login.okta_signin import LoginInputs, OktaSignIn
from keyless.services.login.profiles import Settings, normalize_org_url, resolve_settings

T = TypeVar("T")

# Wrong answers in a row before configure gives up (a closed terminal answers "" forever).
MAX_TRIES = 5
AWS_APP_NAME = "amazon_aws"  # the AWS Account Federation app's appName in Okta


@dataclass(frozen=True)
class OktaOrg:
    """What an org's ``/.well-known/okta-organization`` says about it."""

    url: str
    id: str
    pipeline: str

    @property
    def engine(self) -> str:
        """The engine's name as Okta's admin console shows it."""
        return "Identity Engine" if self.pipeline == "idx" else "Classic Engine"


@dataclass(frozen=True)
class AwsApp:
    """One AWS Account Federation app assigned to the person."""

    label: str
    link: str
    app_id: str


def aws_apps(links: list[dict[str, Any]]) -> list[AwsApp]:
    """The AWS apps among a person's app links (``appName == "amazon_aws"``)."""
    return [
        AwsApp(
            label=str(link.get("label") or link.get("appInstanceId") or "AWS"),
            link=str(link["linkUrl"]),
            app_id=str(link.get("appInstanceId") or ""),
        )
        for link in links
        if link.get("appName") == AWS_APP_NAME and isinstance(link.get("linkUrl"), str)
    ]


@contextmanager
def _okta(settings: Settings, org_url: str) -> Iterator[OktaClient]:
    with compose.okta_http(settings) as http:
        yield OktaClient(org_url, http=http)


def check_org(settings: Settings, answer: str) -> OktaOrg:
    """``answer`` as an org URL (https:// added), if it answers as an Okta org."""
    url = normalize_org_url(answer)
    if not url:
        raise InputError("an org URL is needed", fix="type it as in your browser: acme.okta.com")
    if not url.startswith("https://"):
        raise InputError(f"{url} is not HTTPS", fix="Okta is only reachable over HTTPS")
    with _okta(settings, url) as okta:
        body = okta.organization()
    return OktaOrg(url=url, id=str(body["id"]), pipeline=str(body["pipeline"]))


def check_app_link(org_url: str, answer: str) -> str:
    """A typed AWS app link, if it is a link on ``org_url``."""
    link = answer.strip()
    if not link.startswith(org_url + "/"):
        raise InputError(
            f"{link!r} is not a link on {org_url}",
            fix="copy the AWS app's embed link (General > App Embed Link), or press Enter "
            "to find it from your apps",
        )
    return link


def discover_aws_apps(
    settings: Settings,
    prompter: Prompter,
    *,
    secrets: SecretStore | None = None,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> list[AwsApp]:
    """Sign in as ``settings.username`` (or reuse the kept session) and list their AWS apps.

    The new session is kept as ``keyless login`` keeps it, so the login that
    follows configure asks nothing.
    """
    org_url = settings.org_url or ""
    secrets = secrets if secrets is not None else compose.secret_store()
    key = session_key(settings)
    with _okta(settings, org_url) as okta:
        kept = load_session(secrets, key)
        if kept is not None:
            try:
                return aws_apps(okta.app_links(kept.id))
            except KeylessError:
                secrets.delete(key)  # gone at Okta: sign in again below
        signin = OktaSignIn(
            settings,
            okta,
            prompter,
            secrets,
            LoginInputs(),
            poll_interval=1.0,
            sleep=sleep,
            monotonic=monotonic,
        )
        session = signin.run()
        store_session(secrets, key, session)
        return aws_apps(okta.app_links(session.id))


def ask_until_valid(prompter: Prompter, label: str, check: Callable[[str], T]) -> T:
    """Ask for ``label`` until ``check`` accepts the answer (it raises KeylessError
    saying what is wrong); give up after :data:`MAX_TRIES` wrong answers."""
    for _ in range(MAX_TRIES):
        answer = prompter.ask(label)
        try:
            return check(answer)
        except KeylessError as error:
            prompter.notify(f"  {error.message}" + (f" ({error.fix})" if error.fix else ""))
    raise InputError(
        f"no valid answer for {label!r} after {MAX_TRIES} tries",
        fix="run `keyless configure` again, or pass the value as a flag",
    )


def _nonempty(answer: str) -> str:
    if not answer.strip():
        raise InputError("an answer is needed")
    return answer.strip()


def guide(prompter: Prompter, profile: str, flags: dict[str, Any]) -> None:
    """Fill in ``flags``' org URL, username and app link when neither the command line
    nor the profile has them, checking each answer as it comes."""

    def settings() -> Settings:
        return resolve_settings(profile, {k: v for k, v in flags.items() if v is not None})

    current = settings()
    if not current.org_url:
        org = ask_until_valid(
            prompter,
            "Okta org URL (e.g. acme.okta.com)",
            lambda answer: check_org(current, answer),
        )
        prompter.notify(f"  {org.url}: Okta org {org.id} ({org.engine})")
        flags["org_url"] = org.url
        current = settings()
    if not current.username:
        flags["username"] = ask_until_valid(prompter, "Okta username", _nonempty)
        current = settings()
    if current.app_url:
        return
    org_url = current.org_url or ""
    link = ask_until_valid(
        prompter,
        "AWS app link (Enter: find it among your Okta apps, after signing in)",
        lambda answer: check_app_link(org_url, answer) if answer.strip() else "",
    )
    if not link:
        link = _pick_app(prompter, discover_aws_apps(current, prompter))
        if not link:
            link = ask_until_valid(
                prompter, "AWS app link", lambda answer: check_app_link(org_url, answer)
            )
    flags["app_url"] = link


def _pick_app(prompter: Prompter, apps: list[AwsApp]) -> str:
    """The one app's link, the person's choice among several, or "" when there is none."""
    if not apps:
        prompter.notify(
            "  no AWS app is assigned to you in Okta (ask your Okta admin), "
            "or paste the app's embed link"
        )
        return ""
    if len(apps) == 1:
        prompter.notify(f"  AWS app: {apps[0].label} ({apps[0].link})")
        return apps[0].link
    index = prompter.choose(
        "Which AWS app?", [f"{app.label} ({app.link})" for app in apps], flag="--app-url"
    )
    return apps[index].link
