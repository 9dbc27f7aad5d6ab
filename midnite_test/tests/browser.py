"""What every browser test shares: Debian's chromium, the window sizes the pages are laid out
for, and a way to touch the database from a test that drives Playwright.

Playwright's sync API keeps an asyncio loop running in the test's thread, and Django refuses
database calls there (SynchronousOnlyOperation): store and read rows through
`off_the_event_loop`.
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from django.db import connection

CHROMIUM = "/usr/bin/chromium"
# The narrowest screen the pages are laid out for (a laptop's), and a phone's.
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

T = TypeVar("T")


def off_the_event_loop(store: Callable[[], T]) -> T:
    """Run `store` in a thread of its own (with its own connection) and return its result."""

    def run() -> T:
        try:
            return store()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()
