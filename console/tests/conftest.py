"""Fixtures of the console's browser tests (helpers in console.tests.browser)."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from console.tests.browser import (
    LAPTOP,
    BrowserErrors,
    chromium,
    log_in,
    off_the_event_loop,
    staff_user_create,
)


@pytest.fixture
def browser_errors() -> Iterator[BrowserErrors]:
    """The console and script errors of the test's pages: none, or the test fails."""
    errors = BrowserErrors()
    yield errors
    assert errors.messages == []


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def anonymous_page(browser, browser_errors) -> Page:
    """A laptop-sized page nobody is logged in on, its errors watched."""
    return browser_errors.watch(browser.new_context(viewport=LAPTOP).new_page())


@pytest.fixture
def staff_page(live_server, transactional_db, anonymous_page) -> Page:
    """A page on which the staff user `oncall` has logged in through the console's form."""
    off_the_event_loop(lambda: staff_user_create("oncall"))
    log_in(anonymous_page, live_server.url, username="oncall")
    return anonymous_page
