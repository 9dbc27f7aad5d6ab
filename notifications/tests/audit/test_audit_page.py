"""The audit page in headless Chromium: what is stored appears on an open page, as text.

Debian's chromium (`make test` installs it) driven by Playwright against the live server. The
page polls its JSON every second; each test waits with Playwright's `expect`, never a sleep.
"""

import re
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Page, expect, sync_playwright

from midnite_test.tests.browser import (
    CHROMIUM,
    LAPTOP,
    PHONE,
    off_the_event_loop,
    scrolls_sideways,
    words_cut_across_lines,
)
from notifications.tests.audit.staff import staff_create
from notifications.tests.audit.story import decision_store, event_store
from outbox.contracts import CONSUMER_NOTIFICATIONS
from outbox.services import outbox_process
from users.models import User

# Generous for a shared CI machine: the page polls every second.
APPEARS_WITHIN_MS = 5_000


@pytest.fixture
def ada(transactional_db) -> User:
    """A user with one past event, committed so the live server sees it."""
    user = User.objects.create(external_id="u_ada", traits={"plan": "pro"})
    event_store(user=user, event_type="signup_completed")
    return user


@pytest.fixture
def staff_session(transactional_db) -> str:
    """The session cookie of a staff member logged in to the admin."""
    client = Client()
    client.force_login(staff_create("oncall"))
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.fixture
def audit_page(live_server, staff_session, ada) -> Iterator[Page]:
    """Chromium, logged in as staff, showing /audit/u_ada; fails the test on a script or
    console error."""
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        context = browser.new_context(
            viewport=LAPTOP, permissions=["clipboard-read", "clipboard-write"]
        )
        context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": staff_session, "url": live_server.url}]
        )
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.goto(f"{live_server.url}/audit/u_ada")
        expect(page.locator("#recent-events")).to_contain_text("signup_completed")
        # Gone if the page reloads: what appears later came through polling.
        page.evaluate("window.sameDocument = true")
        yield page
        assert page.evaluate("window.sameDocument") is True
        browser.close()
    assert errors == []


def test_a_new_event_and_its_decision_appear_on_the_open_page(audit_page, settings):
    """An event sent to the API and decided by the worker shows up without a reload."""
    settings.ALLOW_ANONYMOUS = True
    payment = {
        "user_id": "u_ada",
        "event_type": "payment_failed",
        "event_timestamp": "2025-10-31T19:30:00Z",
        "properties": {"failure_reason": "CARD_DECLINED", "attempt_number": 1},
    }

    def send_and_decide() -> None:
        response = Client().post("/api/v1/events", [payment], content_type="application/json")
        assert response.status_code == 202
        outbox_process(consumer=CONSUMER_NOTIFICATIONS)

    off_the_event_loop(send_and_decide)

    expect(audit_page.locator("#recent-events")).to_contain_text(
        "payment_failed", timeout=APPEARS_WITHIN_MS
    )
    reason = "properties.attempt_number is 1, not GTE 3"
    decision = audit_page.locator("#decisions tr", has_text=reason)
    expect(decision).to_be_visible(timeout=APPEARS_WITHIN_MS)
    expect(decision.locator(".status")).to_have_text("not matched")
    expect(decision).to_contain_text("v1")  # the version of the rules that decided it


def test_markup_in_a_new_event_shows_as_text_and_never_runs(audit_page, ada):
    script = "<script>window.injected = 1</script>"
    image = '<img src="x" onerror="window.injected = 2">'

    off_the_event_loop(lambda: event_store(user=ada, event_type=image, properties={"note": script}))

    expect(audit_page.locator("#recent-events")).to_contain_text(script, timeout=APPEARS_WITHIN_MS)
    expect(audit_page.locator("#recent-events")).to_contain_text(image)
    assert audit_page.locator("#recent-events img").count() == 0
    assert audit_page.evaluate("window.injected") is None


def test_a_payloads_numbers_show_as_the_api_accepts_them_without_an_exponent(audit_page, ada):
    properties = {"tiny": 1e-07, "large": 1.2345678901234568e36, "tenth": 0.1}

    off_the_event_loop(lambda: event_store(user=ada, event_type="numbers", properties=properties))

    events = audit_page.locator("#recent-events")
    expect(events).to_contain_text('"tiny": 0.0000001', timeout=APPEARS_WITHIN_MS)
    expect(events).to_contain_text('"large": 1234567890123456800000000000000000000')
    expect(events).to_contain_text('"tenth": 0.1')


def test_long_ids_and_errors_wrap_within_a_laptops_width(audit_page, ada):
    """Ids, rule names and providers' errors are long words; the tables stay on the screen."""
    error = "SMS webhook answered 503: " + "upstream_connect_error_or_disconnect/reset" * 3
    event_id = "evt_" + "0123456789abcdef" * 6

    def store() -> None:
        event = event_store(
            user=ada,
            event_type="payment_failed_after_every_retry_was_exhausted",
            properties={"merchant_url": "https://merchant.example/" + "x" * 120},
        )
        event.event_id = event_id
        event.save(update_fields=["event_id"])
        decision_store(
            event=event,
            rule="insufficient_funds_email_reminder_after_retries",
            notification_type="INSUFFICIENT_FUNDS_EMAIL_REMINDER_AFTER_RETRIES",
            status="failed",
            reason=f"failed after 5 attempt(s): {error}",
        )

    off_the_event_loop(store)

    expect(audit_page.locator("#notification-history")).to_contain_text(
        event_id, timeout=APPEARS_WITHIN_MS
    )
    expect(audit_page.locator("#decisions")).to_contain_text(error)
    page_width, screen_width = audit_page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert page_width <= screen_width == LAPTOP["width"]


def test_on_a_phone_the_tables_scroll_inside_their_sections_and_no_word_is_cut(audit_page, ada):
    def store() -> None:
        event = event_store(user=ada, event_type="payment_failed")
        decision_store(
            event=event,
            rule="insufficient_funds_email",
            notification_type="INSUFFICIENT_FUNDS_EMAIL",
            status="suppressed",
            reason="skipped INSUFFICIENT_FUNDS_EMAIL: already scheduled or sent 1 of 1 today",
        )

    off_the_event_loop(store)
    audit_page.set_viewport_size(PHONE)

    expect(audit_page.locator("#decisions")).to_contain_text(
        "INSUFFICIENT_FUNDS_EMAIL", timeout=APPEARS_WITHIN_MS
    )
    expect(audit_page.locator("#recent-events")).to_contain_text("payment_failed")
    for table in ("#decisions", "#recent-events"):
        assert scrolls_sideways(audit_page, f"section:has({table}) .table-scroll"), table
    assert words_cut_across_lines(audit_page, "th, td") == []


def test_the_page_says_when_it_was_updated_in_utc(audit_page):
    expect(audit_page.locator("#live-status")).to_have_text(
        re.compile(r"live, updated [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} UTC"),
        timeout=APPEARS_WITHIN_MS,
    )


def test_content_hash_ids_stay_within_a_laptops_width_and_can_be_copied(audit_page, ada):
    """An `h:<sha256>` id is shown cut short on one line, whole in its title and its text,
    with a button that copies it; the tables stay on the screen."""
    hashed = "h:" + "3f2a9c1b" * 8

    def store() -> None:
        for number in range(3):
            event = event_store(user=ada, event_type="payment_failed")
            event.event_id = f"{hashed[:-1]}{number}"
            event.save(update_fields=["event_id"])
            decision_store(event=event, rule=f"rule_{number}", status="suppressed", reason="ok")

    off_the_event_loop(store)

    history = audit_page.locator("#notification-history")
    expect(history).to_contain_text(f"{hashed[:-1]}2", timeout=APPEARS_WITHIN_MS)
    page_width = audit_page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= LAPTOP["width"]
    expect(history.locator(f'[title="{hashed[:-1]}2"]')).to_be_visible()
    copy = history.locator("tr", has_text=f"{hashed[:-1]}2").get_by_role("button", name="Copy")
    copy.click()
    expect(copy).to_have_text("copied")
    assert audit_page.evaluate("navigator.clipboard.readText()") == f"{hashed[:-1]}2"


def test_on_a_phone_recent_events_scroll_in_a_captioned_wrapper_words_whole(audit_page, ada):
    """A failed payment's properties were cut mid-word ("failure_re/ason", "INSUFFICIE/NT_FUNDS")
    in rows up to 750 px tall, and the whole section scrolled sideways, its heading with it:
    the table scrolls in a wrapper of its own under a caption, as on the console's pages."""
    properties = {
        "failure_reason": "INSUFFICIENT_FUNDS",
        "amount": "125.40",
        "currency": "EUR",
        "payment_method": "card_visa_debit",
        "merchant_url": "https://merchant.example/" + "x" * 120,
    }
    off_the_event_loop(
        lambda: event_store(user=ada, event_type="payment_failed", properties=properties)
    )
    audit_page.set_viewport_size(PHONE)
    events = audit_page.locator("#recent-events")
    expect(events).to_contain_text("INSUFFICIENT_FUNDS", timeout=APPEARS_WITHIN_MS)

    section = "section:has(#recent-events)"
    cut = words_cut_across_lines(audit_page, "#recent-events td:not(:has(pre)), #recent-events pre")
    assert [word for word in cut if "x" * 120 not in word] == []  # only what alone is too wide
    assert scrolls_sideways(audit_page, f"{section} .table-scroll")
    assert audit_page.evaluate(
        "s => { const e = document.querySelector(s); return e.scrollWidth <= e.clientWidth }",
        section,
    )
    expect(audit_page.locator(f"{section} .scroll-hint")).to_have_text(
        "Scroll sideways for more columns →"
    )
    heights = events.locator("tr").evaluate_all("rows => rows.map(r => r.offsetHeight)")
    assert max(heights) <= 260
    heading = audit_page.get_by_role("heading", name="Recent events")
    before = heading.bounding_box()["x"]
    audit_page.locator(f"{section} .table-scroll").evaluate("box => { box.scrollLeft = 400 }")
    assert heading.bounding_box()["x"] == before
