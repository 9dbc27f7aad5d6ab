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


# The words of the cells `selector` finds (split at spaces, hyphens and slashes, where a line may
# break) that a line break cuts in two: "signup_completed" shown as "sign up_c omple ted".
_WORDS_CUT_ACROSS_LINES = """selector => {
    const cut = [];
    for (const cell of document.querySelectorAll(selector)) {
        const texts = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
        for (let text = texts.nextNode(); text; text = texts.nextNode()) {
            for (const word of text.data.matchAll(/[^\\s\\-\\/]+/g)) {
                const range = document.createRange();
                range.setStart(text, word.index);
                range.setEnd(text, word.index + word[0].length);
                const lines = new Set(
                    [...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top))
                );
                if (lines.size > 1) cut.push(word[0]);
            }
        }
    }
    return cut;
}"""


def words_cut_across_lines(page, selector: str) -> list[str]:
    """The words in the cells `selector` finds on the Playwright `page` that wrap mid-word."""
    return page.evaluate(_WORDS_CUT_ACROSS_LINES, selector)


def scrolls_sideways(page, selector: str) -> bool:
    """Whether the element `selector` finds is wider inside than it shows (so it scrolls
    sideways), while the page itself is no wider than its window."""
    return page.evaluate(
        """selector => {
            const box = document.querySelector(selector);
            const page = document.documentElement;
            return box.scrollWidth > box.clientWidth && page.scrollWidth <= window.innerWidth;
        }""",
        selector,
    )
