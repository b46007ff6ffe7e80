"""The Okta session's cookie jar, kept between runs in the secret store.

Okta recognises a device by its ``DT`` cookie (a remembered device skips MFA
while the org's policy allows it) and a session by ``sid``; along the way it
sets others (``JSESSIONID``, ``idx``…). keyless keeps every cookie the org
set, for the org's host only, in the secret store (the keyring, or 0600
files) under one key per org and user, and puts them back into the HTTP
client's jar at the next run. Expired cookies are dropped on the way in and
out; nothing here is ever printed.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from http.cookiejar import Cookie

from keyless.adapters.http import httpx
from keyless.core.ports import SecretStore


def cookie_key(org_url: str, who: str) -> str:
    """The secret-store key of the cookie jar for one org and user (or profile)."""
    return f"okta-cookies|{org_url.rstrip('/')}|{who}"


def _host(org_url: str) -> str:
    return (urllib.parse.urlsplit(org_url).hostname or "").lower()


def _ours(cookie: Cookie, host: str) -> bool:
    domain = cookie.domain.lstrip(".").lower()
    return domain == host or host.endswith("." + domain)


def restore(secrets: SecretStore, key: str, jar: httpx.Cookies, org_url: str) -> int:
    """Put the kept cookies of ``org_url`` into ``jar``; how many were put back."""
    raw = secrets.get(key)
    if not raw:
        return 0
    try:
        kept = json.loads(raw)
    except ValueError:
        secrets.delete(key)
        return 0
    host, now, count = _host(org_url), time.time(), 0
    for item in kept if isinstance(kept, list) else []:
        if not isinstance(item, dict):
            continue
        name, value, domain = item.get("name"), item.get("value"), item.get("domain")
        expires = item.get("expires")
        if not (isinstance(name, str) and isinstance(value, str) and isinstance(domain, str)):
            continue
        if isinstance(expires, int | float) and expires <= now:
            continue
        if domain.lstrip(".").lower() != host and not host.endswith("." + domain.lstrip(".")):
            continue  # a cookie for another site never reaches this org, nor the reverse
        jar.set(name, value, domain=domain, path=str(item.get("path") or "/"))
        count += 1
    return count


def keep(secrets: SecretStore, key: str, jar: httpx.Cookies, org_url: str) -> int:
    """Store the jar's live cookies of ``org_url``; how many were kept."""
    host, now = _host(org_url), time.time()
    kept = [
        {
            "name": cookie.name,
            "value": cookie.value,
            "domain": cookie.domain,
            "path": cookie.path,
            "expires": cookie.expires,
        }
        for cookie in jar.jar
        if cookie.value is not None
        and _ours(cookie, host)
        and (cookie.expires is None or cookie.expires > now)
    ]
    if kept:
        secrets.set(key, json.dumps(kept))
    else:
        secrets.delete(key)
    return len(kept)
