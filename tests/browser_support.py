"""Chromium for the browser tests: Debian's package, driven by Playwright, kept off the network."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from peers import debian_program, peer_module

CHROMIUM = Path("/usr/bin/chromium")

# Headless, and none of Chromium's own traffic (updates, sync, field trials): the tests
# visit loopback and local files only.
_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def chromium() -> Iterator[Any]:
    """A Playwright browser on Debian's Chromium (the test fails, naming the install step,
    without either)."""
    executable = debian_program(str(CHROMIUM), "chromium")
    sync_api = peer_module("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def lab_page(**context_options: Any) -> Iterator[Any]:
    """A page for the lab's sites (``context_options`` as Playwright's ``new_context``).

    The lab CA is not in Chromium's store, so certificate errors are ignored; only the
    lab's loopback hosts are visited.
    """
    with chromium() as browser:
        context = browser.new_context(ignore_https_errors=True, **context_options)
        try:
            yield context.new_page()
        finally:
            context.close()
