"""Chromium on a console page, logged in, failing the test on any script or console error.

Written for the dead letters and people pages before a shared `console/tests/browser.py`
landed; fold it into that module when it does.
"""

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from django.conf import settings
from django.db import connection
from django.test import Client
from playwright.sync_api import ConsoleMessage, Page, sync_playwright

from notifications.tests.audit.test_audit_page import CHROMIUM, LAPTOP

PHONE = {"width": 390, "height": 844}
# The pages poll every 5 s: what changes shows within two polls.
APPEARS_WITHIN_MS = 12_000


def off_the_event_loop(work: Callable[[], object]) -> object:
    """Run `work` in a thread of its own and return its result.

    Playwright's sync API keeps an asyncio loop running in the test's thread, and Django
    refuses database calls there (SynchronousOnlyOperation).
    """

    def run() -> object:
        try:
            return work()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def _session_of(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@contextmanager
def console_page(live_server, user, path: str, *, viewport: dict = LAPTOP) -> Iterator[Page]:
    """Yield a page showing `path` to `user`; fail when it logged an error or threw."""
    errors: list[str] = []

    def console_error(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"{message.text} ({message.location.get('url')})")

    session = off_the_event_loop(lambda: _session_of(user))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        context = browser.new_context(viewport=viewport)
        context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
        )
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", console_error)
        page.goto(f"{live_server.url}{path}")
        yield page
        browser.close()
    assert errors == []
