"""A client for the parts of Okta's Classic authentication API a CLI sign-in needs.

Endpoints used (all public, documented by Okta, and served by the lab IdP):

- ``POST /api/v1/authn`` — username and password; answers ``SUCCESS`` with a
  ``sessionToken`` or ``MFA_REQUIRED`` with a ``stateToken`` and the factors.
- ``POST /api/v1/authn/factors/{id}/verify`` — TOTP and SMS codes, Okta Verify
  push (``MFA_CHALLENGE`` with ``factorResult: WAITING``, polled through
  ``_links.next``; the number challenge in ``correctAnswer``).
- ``POST /api/v1/sessions`` — trade the one-time ``sessionToken`` for a
  session (``id`` is the ``sid`` cookie, ``expiresAt`` its end); falls back to
  ``/login/sessionCookieRedirect`` where the org refuses that call.
- ``GET /api/v1/sessions/me`` — is a kept session still alive.
- the AWS app's embed link — with the ``sid`` cookie, the HTML page holding
  the ``SAMLResponse`` form.

Errors become :mod:`keyless.errors` with the Okta error code in the message
and a fix: 401 ``E0000004`` (wrong password), ``LOCKED_OUT``, 403
``E0000068`` (MFA code rejected), 429 (rate limit), TLS and connection
failures. A ``429`` on any of these is waited out (``Retry-After`` or
``X-Rate-Limit-Reset``) up to :data:`~keyless.adapters.ratelimit.SIGNIN_BUDGET`
seconds per call (:mod:`keyless.adapters.ratelimit`).
"""

from __future__ import annotations

import contextlib
import re
import time
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from keyless.adapters.http import DEFAULT_TIMEOUT, httpx, make_client, unreachable_errors
from keyless.adapters.ratelimit import SIGNIN_BUDGET, rate_limit_wait
from keyless.core.okta import (
    AuthnState,
    Factor,
    OktaSession,
    SessionExpiredError,
    StepUpRedirect,
)
from keyless.errors import DeniedError, RemoteError

USER_AGENT = "keyless (Okta authn client)"
_MAX_REDIRECTS = 10


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def make_http_client(
    *, ca_bundle: str | None = None, timeout: float = DEFAULT_TIMEOUT, user_agent: str = USER_AGENT
) -> httpx.Client:
    """An httpx client for an Okta org (:func:`keyless.adapters.http.make_client`'s rules)."""
    return make_client(
        ca_bundle=ca_bundle,
        timeout=timeout,
        user_agent=user_agent,
        headers={"Accept": "application/json"},
    )


class OktaClient:
    """Okta's Classic authentication API for one org, over an httpx client passed in."""

    def __init__(
        self,
        org_url: str,
        *,
        http: httpx.Client,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rate_limit_budget: float = SIGNIN_BUDGET,
        unreachable_fix: str | None = None,
    ) -> None:
        """``unreachable_fix``: what to do when the org does not answer, when the caller
        knows better than "check your network" (a lab's profile: start the lab)."""
        self.org_url = org_url.rstrip("/")
        self._http = http
        self.unreachable_fix = unreachable_fix
        self.clock = clock
        self.sleep = sleep
        # 429s on authn, token and app pages are waited out up to this many seconds per call.
        self.rate_limit_budget = rate_limit_budget
        self.rate_limited = 0
        # Send ``rememberDevice=true`` on factor verification (the profile's
        # remember_device): Okta then skips MFA for this device (its ``DT`` cookie)
        # while the org's policy allows remembered devices.
        self.remember_device = False

    @property
    def cookies(self) -> httpx.Cookies:
        """The Okta session's cookie jar: ``sid``, ``DT`` and whatever Okta sets on the way."""
        return self._http.cookies

    def _use_session(self, session_id: str) -> None:
        # The sid goes into the jar rather than a pinned Cookie header, so cookies
        # Okta sets mid-redirect (DT, JSESSIONID, idx) travel with it (as browsers
        # and gimme-aws-creds' requests session do).
        host = urllib.parse.urlsplit(self.org_url).hostname or ""
        self._http.cookies.set("sid", session_id, domain=host, path="/")

    # --- transport -------------------------------------------------------------

    def _request(
        self,
        method: str,
        url: str,
        *,
        json: dict[str, Any] | None = None,
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        target = (
            url if url.startswith("https://") or url.startswith("http://") else self.org_url + url
        )
        scheme, host = _origin(target)
        if (scheme, host) != _origin(self.org_url):
            # Links come from Okta's JSON (factor verify, push poll): the state
            # token, MFA code and session cookie go to the org's origin only.
            raise RemoteError(
                f"Okta sent a link outside {self.org_url} ({scheme}://{host}); "
                "keyless sent nothing there",
                fix="check the org URL; report this to your Okta administrator",
            )
        waited = 0.0
        while True:
            try:
                with unreachable_errors(
                    f"the Okta org at {self.org_url}",
                    fix=self.unreachable_fix
                    or "check the org URL (`keyless configure --org-url`), your network and VPN",
                ):
                    response = self._http.request(
                        method, target, json=json, data=data, headers=headers
                    )
            except httpx.HTTPError as exc:
                raise RemoteError(
                    f"talking to {self.org_url} failed: {exc}", fix="retry; check the org URL"
                ) from exc
            if response.status_code != 429:
                return response
            # Okta rate-limits sign-in endpoints too; a 429 was not processed, so the
            # same request goes again once the window resets, within the budget.
            wait = rate_limit_wait(response, self.clock())
            if waited + wait > self.rate_limit_budget:
                return response
            self.rate_limited += 1
            self.sleep(wait)
            waited += wait

    def request(
        self,
        method: str,
        url: str,
        *,
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One request to the org, with the same origin check and transport errors
        (keyless.adapters.okta_oauth uses it for the OAuth endpoints)."""
        return self._request(method, url, data=data, headers=headers)

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError as exc:
            raise RemoteError(
                f"{self.org_url} answered {response.status_code} with something that is not "
                "JSON: is this an Okta org?",
                fix="check the org URL (e.g. https://acme.okta.com)",
            ) from exc
        if not isinstance(body, dict):
            raise RemoteError(f"{self.org_url} answered unexpected JSON", fix="check the org URL")
        return body

    def _raise_for_error(self, response: httpx.Response, *, what: str) -> None:
        if response.status_code < 400:
            return
        body: dict[str, Any] = {}
        try:
            parsed = response.json()
            body = parsed if isinstance(parsed, dict) else {}
        except ValueError:
            pass
        code = str(body.get("errorCode") or "")
        summary = str(body.get("errorSummary") or response.reason_phrase)
        if response.status_code == 429:
            raise RemoteError(
                f"Okta rate-limited {what} ({code or 429}: {summary}) beyond the "
                f"{self.rate_limit_budget:.0f} s keyless waits",
                fix="retry after the reset time Okta gave (X-Rate-Limit-Reset); if it keeps "
                "happening, ask your Okta admin about the org's authentication rate limits",
            )
        if code == "E0000004":
            raise DeniedError(
                f"Okta refused the username or password ({code}: {summary})",
                fix="check the username and password; repeated failures lock the account",
            )
        if code in ("E0000068", "E0000069"):
            raise DeniedError(
                f"Okta rejected the MFA code ({code}: {summary})",
                fix="use a fresh code (each code works once); check the device's clock",
            )
        if code == "E0000011" or code == "E0000007":
            raise SessionExpiredError(summary)
        if response.status_code >= 500:
            raise RemoteError(
                f"Okta failed during {what} ({response.status_code} {code}: {summary})",
                fix="retry in a moment; check Okta's status page",
            )
        raise DeniedError(
            f"Okta refused {what} ({response.status_code} {code}: {summary})",
            fix="check the org URL and your account in Okta's web page",
        )

    # --- authentication --------------------------------------------------------

    def _state(self, body: dict[str, Any]) -> AuthnState:
        embedded = body.get("_embedded") or {}
        factors = []
        for raw in embedded.get("factors") or []:
            href = ((raw.get("_links") or {}).get("verify") or {}).get("href")
            if raw.get("id") and href:
                factors.append(
                    Factor(
                        id=str(raw["id"]),
                        factor_type=str(raw.get("factorType", "")),
                        provider=str(raw.get("provider", "")),
                        verify_url=str(href),
                        profile=dict(raw.get("profile") or {}),
                    )
                )
        factor = embedded.get("factor") or {}
        challenge = (factor.get("_embedded") or {}).get("challenge") or {}
        links = body.get("_links") or {}
        poll = links.get("poll") or links.get("next") or {}
        if isinstance(poll, list):
            poll = poll[0] if poll else {}
        user = embedded.get("user") or {}
        login = (user.get("profile") or {}).get("login")
        answer = challenge.get("correctAnswer")
        return AuthnState(
            status=str(body.get("status", "")),
            state_token=body.get("stateToken"),
            session_token=body.get("sessionToken"),
            factors=tuple(factors),
            factor_result=body.get("factorResult"),
            poll_url=poll.get("href") if body.get("status") == "MFA_CHALLENGE" else None,
            correct_answer=None if answer is None else str(answer),
            login=str(login) if login else None,
            next_url=(links.get("next") or {}).get("href")
            if body.get("status") == "SUCCESS"
            else None,
        )

    def authn(self, username: str, password: str) -> AuthnState:
        """Start a transaction with a username and password."""
        response = self._request(
            "POST", "/api/v1/authn", json={"username": username, "password": password}
        )
        self._raise_for_error(response, what="the sign-in")
        return self._check_status(self._state(self._json(response)), username)

    def resume(self, state_token: str) -> AuthnState:
        """``POST /api/v1/authn {stateToken}``: the state of a transaction Okta started,
        e.g. an app's step-up. :class:`SessionExpiredError` when Okta does not know it
        (``401 E0000011``, also Identity Engine's answer to its own ``stateHandle``)."""
        response = self._request("POST", "/api/v1/authn", json={"stateToken": state_token})
        self._raise_for_error(response, what="the step-up")
        return self._check_status(self._state(self._json(response)), None)

    def verify(self, factor: Factor, state_token: str, pass_code: str | None = None) -> AuthnState:
        """Verify ``factor``: with a code (TOTP/SMS) or without (push, or send the SMS)."""
        payload: dict[str, Any] = {"stateToken": state_token}
        if pass_code is not None:
            payload["passCode"] = pass_code
        url = factor.verify_url
        if self.remember_device:
            # Authentication API: POST /api/v1/authn/factors/{id}/verify?rememberDevice=true
            url += ("&" if "?" in url else "?") + "rememberDevice=true"
        response = self._request("POST", url, json=payload)
        self._raise_for_error(response, what=f"the {factor.describe()}")
        return self._check_status(self._state(self._json(response)), None)

    def poll(self, poll_url: str, state_token: str) -> AuthnState:
        """Poll a push challenge once."""
        response = self._request("POST", poll_url, json={"stateToken": state_token})
        self._raise_for_error(response, what="the push check")
        return self._check_status(self._state(self._json(response)), None)

    def _check_status(self, state: AuthnState, username: str | None) -> AuthnState:
        who = username or state.login or "the user"
        if state.status == "LOCKED_OUT":
            raise DeniedError(
                f"Okta has locked out {who} (LOCKED_OUT)",
                fix="ask your Okta administrator to unlock the account, or use Okta's "
                "self-service unlock; then sign in again",
            )
        if state.status in ("PASSWORD_EXPIRED", "PASSWORD_RESET"):
            raise DeniedError(
                f"the Okta password of {who} has expired ({state.status})",
                fix="change it on your Okta sign-in page, then run `keyless login` again",
            )
        if state.status in ("MFA_ENROLL", "MFA_ENROLL_ACTIVATE"):
            raise DeniedError(
                f"{who} has no MFA factor enrolled yet ({state.status})",
                fix="enrol a factor on your Okta sign-in page, then run `keyless login` again",
            )
        return state

    # --- sessions --------------------------------------------------------------

    def create_session(self, session_token: str) -> OktaSession:
        """Trade a one-time ``sessionToken`` for a session."""
        response = self._request("POST", "/api/v1/sessions", json={"sessionToken": session_token})
        if response.status_code in (401, 403, 404, 405):
            # Some orgs only allow this call with an API token; the browser route works everywhere.
            return self._session_by_redirect(session_token)
        self._raise_for_error(response, what="creating the Okta session")
        body = self._json(response)
        expires = _parse_time(body.get("expiresAt"))
        if not body.get("id") or expires is None:
            raise RemoteError(
                f"{self.org_url} answered a session without id or expiresAt",
                fix="check the org URL",
            )
        return OktaSession(id=str(body["id"]), expires_at=expires, login=body.get("login"))

    def _session_by_redirect(self, session_token: str) -> OktaSession:
        query = urllib.parse.urlencode({"token": session_token, "redirectUrl": self.org_url + "/"})
        response = self._request("GET", f"/login/sessionCookieRedirect?{query}")
        sid = response.cookies.get("sid")
        if not sid:
            self._raise_for_error(response, what="creating the Okta session")
            raise RemoteError(
                f"{self.org_url} set no session cookie after sign-in", fix="check the org URL"
            )
        session = self.get_session(sid)
        if session is None:
            raise RemoteError(f"{self.org_url} does not know the session it just made", fix="retry")
        return session

    def get_session(self, session_id: str) -> OktaSession | None:
        """The session behind ``session_id`` if it is still alive, else None."""
        self._use_session(session_id)
        return self._session_answer(
            self._request("GET", "/api/v1/sessions/me"), session_id, what="checking"
        )

    def refresh_session(self, session_id: str) -> OktaSession | None:
        """Extend the session (``POST /api/v1/sessions/me/lifecycle/refresh``), as a
        browser's activity does; None when it has already ended."""
        self._use_session(session_id)
        return self._session_answer(
            self._request("POST", "/api/v1/sessions/me/lifecycle/refresh"),
            session_id,
            what="refreshing",
        )

    def _session_answer(
        self, response: httpx.Response, session_id: str, *, what: str
    ) -> OktaSession | None:
        if response.status_code in (401, 403, 404):
            return None
        try:
            self._raise_for_error(response, what=f"{what} the Okta session")
        except SessionExpiredError:
            return None
        body = self._json(response)
        expires = _parse_time(body.get("expiresAt"))
        if body.get("status", "ACTIVE") != "ACTIVE" or expires is None:
            return None
        return OktaSession(id=session_id, expires_at=expires, login=body.get("login"))

    def close_session(self, session_id: str) -> None:
        """End the session at Okta (best effort: logout also forgets it locally)."""
        with contextlib.suppress(RemoteError):
            self._use_session(session_id)
            self._request("DELETE", "/api/v1/sessions/me")

    # --- the org and the person's apps --------------------------------------------

    def organization(self) -> dict[str, Any]:
        """``GET /.well-known/okta-organization``: the org's id and engine, asked without
        signing in. Okta documents the answer (Org API, "Retrieve the Well-Known Org
        Metadata"): ``id``, ``pipeline`` (``v1`` Classic, ``idx`` Identity Engine),
        ``_links.organization.href``, ``settings``. RemoteError when the URL does not
        answer as an Okta org does.
        """
        response = self._request("GET", "/.well-known/okta-organization")
        not_okta = RemoteError(
            f"{self.org_url} does not answer as an Okta org "
            f"(/.well-known/okta-organization: {response.status_code})",
            fix="use your org's sign-in address, e.g. https://acme.okta.com "
            "(not the -admin one, not an app's link)",
        )
        if response.status_code != 200:
            raise not_okta
        try:
            body = response.json()
        except ValueError:
            raise not_okta from None
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("id"), str)
            or body.get("pipeline") not in ("v1", "idx")
        ):
            raise not_okta
        return body

    def app_links(self, session_id: str) -> list[dict[str, Any]]:
        """``GET /api/v1/users/me/appLinks`` with the session: the apps assigned to the
        person signed in (as gimme-aws-creds lists them to find the AWS apps)."""
        self._use_session(session_id)
        response = self._request("GET", "/api/v1/users/me/appLinks")
        self._raise_for_error(response, what="listing your Okta apps")
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, list):
            raise RemoteError(
                f"{self.org_url} answered the app list with something that is not a list",
                fix="check the org URL",
            )
        return [link for link in body if isinstance(link, dict)]

    # --- the AWS app -----------------------------------------------------------

    def app_page(self, app_url: str, session_id: str) -> str:
        """The HTML the AWS app answers for this session (normally the SAMLResponse form).

        Follows redirects only within the org's origin. Raises
        :class:`SessionExpiredError` when Okta answers its sign-in page instead, and
        :class:`StepUpRedirect` when the app redirects to a step-up transaction.
        """
        origin = _origin(self.org_url)
        url = app_url
        self._use_session(session_id)
        for _ in range(_MAX_REDIRECTS):
            if _origin(url) != origin:
                raise DeniedError(
                    f"the AWS app link {app_url} redirected to {url}, outside {self.org_url}",
                    fix="check the app URL (`keyless configure --app-url`): it must be the "
                    "org's AWS app embed link",
                )
            response = self._request("GET", url, headers={"Accept": "text/html"})
            if response.is_redirect:
                location = response.headers.get("location", "")
                url = urllib.parse.urljoin(url, location)
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
                state_token = (query.get("stateToken") or [None])[0]
                if state_token and _origin(url) == origin:
                    # The app's step-up as a redirect (/login/step-up/redirect?stateToken=,
                    # or the sign-in widget's verify page with it): the session is alive,
                    # the app wants a factor for this transaction.
                    raise StepUpRedirect(state_token)
                if _is_login_url(url):
                    raise SessionExpiredError("redirected to the sign-in page")
                continue
            if response.status_code == 401 or (
                response.status_code == 403 and looks_like_sign_in_page(response.text)
            ):
                raise SessionExpiredError(f"{response.status_code} from the app")
            if response.status_code == 404:
                raise DeniedError(
                    f"the AWS app link {app_url} does not exist at {self.org_url} (404)",
                    fix="copy the app's embed link from the Okta dashboard into "
                    "`keyless configure --app-url`",
                )
            if response.status_code >= 500:
                raise RemoteError(
                    f"Okta failed to open the AWS app ({response.status_code})", fix="retry"
                )
            return response.text
        raise RemoteError(
            f"the AWS app link {app_url} redirects in a loop", fix="check the app URL"
        )


def dashboard_link(app_url: str) -> str:
    """The AWS app link as Okta's dashboard tile opens it (``fromHome=true``).

    Against real Okta this is the same sign-on as the plain app link. Against the
    lab it is the link a browser can finish offline: the lab IdP's page then posts
    the SAML response to the lab's own stand-in for ``signin.aws.amazon.com``.
    """
    separator = "&" if "?" in app_url else "?"
    return f"{app_url}{separator}fromHome=true"


def _origin(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _is_login_url(url: str) -> bool:
    path = urllib.parse.urlsplit(url).path
    return path.startswith(("/login/login.htm", "/login/default", "/signin")) or path == "/login"


_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_STATE_TOKEN = re.compile(r"""stateToken\s*[=:]\s*['"]([^'"]+)['"]""")


def page_title(page: str) -> str:
    """The ``<title>`` of an HTML page, for error messages."""
    match = _TITLE.search(page)
    return " ".join(match.group(1).split()) if match else ""


def looks_like_sign_in_page(page: str) -> bool:
    """True when ``page`` is Okta's sign-in page (the session was not accepted)."""
    lowered = page.lower()
    return 'type="password"' in lowered or "okta-sign-in" in lowered


def step_up_state_token(page: str) -> str | None:
    """The ``stateToken`` of an app-level step-up MFA page, if ``page`` is one."""
    if "step-up" not in page and "stepUp" not in page:
        return None
    match = _STATE_TOKEN.search(page)
    return match.group(1) if match else None
