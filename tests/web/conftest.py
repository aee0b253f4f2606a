"""Fixtures of the browser tests: one Chromium per session, one live server with the demo
clinic per test module and database (its clock frozen at ``FROZEN_NOW``, a weekday with
visits booked), a fresh browser context (cookies) per test.

Every test fails if a page requested anything from a host other than the live server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from scheduler.migrate import upgrade
from tests.conftest import dispose_database, fresh_database_url
from tests.live import running_server
from tests.web.browser import CHROMIUM, CHROMIUM_ARGS, FROZEN_NOW, Site, seed_demo_clinic
from tests.web.frozen_app import APP as FROZEN_APP


@pytest.fixture
def browser(app: FastAPI) -> Iterator[TestClient]:
    """An in-process client that keeps cookies like a browser (https: the session cookie is
    Secure outside development) and shows redirects instead of following them."""
    with TestClient(
        app, base_url="https://testserver", raise_server_exceptions=False, follow_redirects=False
    ) as client:
        yield client


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def site_database(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = fresh_database_url(backend, tmp_path_factory.mktemp(f"web-{backend}"), "web")
    upgrade(url)
    yield url
    dispose_database(url)


@pytest.fixture(scope="module")
def site(site_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    logins = seed_demo_clinic(site_database)
    log = Path(tmp_path_factory.mktemp("web-log")) / "server.log"
    with running_server(
        site_database, log_file=log, app=FROZEN_APP, SCHEDULER_TEST_NOW=FROZEN_NOW.isoformat()
    ) as base_url:
        yield Site(base_url=base_url, database_url=site_database, logins=logins)


@pytest.fixture
def context(chromium: Browser) -> Iterator[BrowserContext]:
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    yield context
    context.close()
    elsewhere = [
        u for u in requested if urlsplit(u).hostname != "127.0.0.1" and not u.startswith("data:")
    ]
    assert not elsewhere, f"pages requested other hosts: {elsewhere}"


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()
