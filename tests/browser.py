"""The one set of Chromium fixtures for page tests (Playwright driving Debian's chromium).

``site`` serves the whole app (``build_app``) over real HTTP on 127.0.0.1; ``browser`` is one
headless Chromium per test module; ``page`` is a fresh context (no cookies) for each test.
Registered for every test through ``pytest_plugins`` in ``tests/conftest.py``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from qianbao.platform.runtime import Platform
from tests.factories import LOGIN_PASSWORD
from tests.http_server import serving

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def site(sqlite_platform: Platform) -> Iterator[str]:
    """The base URL of the whole app served on the SQLite platform."""
    with serving(sqlite_platform) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()


def wallet_login(page: Any, base: str, phone: str, path: str = "/wallet") -> None:
    """Open ``path`` and sign in on the wallet login form it shows."""
    page.goto(base + path)
    page.fill("#phone", phone)
    page.fill("#password", LOGIN_PASSWORD)
    page.click("#login")
