"""What the console's browser tests share: Debian's chromium driven by Playwright against
pytest-django's live server, a staff user logged in through the console's form, and every
console message and script error collected, so each test can assert there were none.

Playwright's sync API runs an asyncio loop in the test's thread, where Django refuses database
calls: store rows through `off_the_event_loop`.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from midnite_test.tests.browser import CHROMIUM, LAPTOP, PHONE, off_the_event_loop  # noqa: F401

# Generous for a shared machine: the pages poll every few seconds.
APPEARS_WITHIN_MS = 20_000
STAFF_PASSWORD = "s3cret-console-pass"


def staff_user_create(username: str, *, permissions: tuple[str, ...] = ()):
    """An active staff user with the console's test password and `permissions`
    ("app_label.codename" each)."""
    user = get_user_model().objects.create_user(username, password=STAFF_PASSWORD, is_staff=True)
    for permission in permissions:
        app_label, codename = permission.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


@dataclass
class BrowserErrors:
    """Every console error and uncaught script error of the pages it watches."""

    messages: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> Page:
        page.on(
            "console",
            lambda message: (
                self.messages.append(f"console: {message.text}")
                if message.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda error: self.messages.append(f"page: {error}"))
        return page


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield browser
        finally:
            browser.close()


def log_in(page: Page, base_url: str, *, username: str, next_path: str = "/console/") -> None:
    """Log in through the console's form, as a person would, and wait to land on `next_path`."""
    page.goto(f"{base_url}/console/login/?next={next_path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def reachable_across(page: Page, target: Locator, *, width: int) -> bool:
    """Whether `target`, in a table wider than the window, is reached by scrolling its
    `.table-scroll` wrapper sideways: once scrolled into view it lies within `width`, and the
    page itself has not scrolled sideways (nothing of it is off-screen to the right)."""
    target.scroll_into_view_if_needed()
    box = target.bounding_box()
    wrapper_scrolled = target.evaluate("node => node.closest('.table-scroll').scrollLeft > 0")
    page_scrolled = page.evaluate("window.scrollX") != 0
    return (
        wrapper_scrolled
        and not page_scrolled
        and 0 <= box["x"]
        and box["x"] + box["width"] <= width
    )
