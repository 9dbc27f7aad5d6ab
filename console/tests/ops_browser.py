"""A console page shown to a given user, for the people and dead letters pages' tests.

Built on console.tests.browser: the user is logged in by session cookie rather than the form,
so the tests can pick users with or without a permission and any viewport.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.test import Client
from playwright.sync_api import Page

from console.tests.browser import LAPTOP, BrowserErrors, chromium, off_the_event_loop


def _session_of(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@contextmanager
def console_page(live_server, user, path: str, *, viewport: dict = LAPTOP) -> Iterator[Page]:
    """Yield a page showing `path` to `user`; fail when it logged an error or threw."""
    errors = BrowserErrors()
    session = off_the_event_loop(lambda: _session_of(user))
    with chromium() as browser:
        context = browser.new_context(viewport=viewport)
        context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
        )
        page = errors.watch(context.new_page())
        page.goto(f"{live_server.url}{path}")
        yield page
    assert errors.messages == []
