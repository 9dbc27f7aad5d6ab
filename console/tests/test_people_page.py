"""The people page in headless Chromium: a user found by external id shows their alert and
their notification's decision, each with its rules version, and what is new appears live."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from console.tests.browser import APPEARS_WITHIN_MS, PHONE, off_the_event_loop
from console.tests.ops_browser import console_page
from console.tests.test_people import T0, alert_store, nudge_store
from midnite_test.tests.browser import words_cut_across_lines
from notifications.tests.audit.staff import staff_create
from users.models import User

REASON = "skipped INSUFFICIENT_FUNDS_EMAIL: already scheduled or sent 1 of 1 today"
HASHED = "h:" + "9d4c2e7a" * 8
LONG_REASON = (
    "skipped INSUFFICIENT_FUNDS_EMAIL: already scheduled or sent 1 of 1 today (2025-10-31, UTC)"
)


@pytest.fixture
def maria(transactional_db) -> User:
    """A user with an alert (alert rules v2) and a suppressed nudge (notification rules v3)."""
    user = User.objects.create(external_id=HASHED, email="maria@example.com")
    alert_store(user, code=1100, at=T0, rules_version=2)
    nudge_store(user, at=T0 + timedelta(minutes=1), reason=REASON, rules_version=3)
    return user


@pytest.fixture
def ops(transactional_db):
    return staff_create("oncall")


def test_a_user_found_by_external_id_shows_their_alert_and_notification(live_server, ops, maria):
    with console_page(live_server, ops, "/console/people/") as page:
        page.get_by_label("User id, external id or email").fill(HASHED)
        page.get_by_role("button", name="Find").click()

        alert = page.locator("#timeline tr.entry-alert")
        nudge = page.locator("#timeline tr.entry-notification")
        expect(alert).to_contain_text("alert 1100")
        expect(alert).to_contain_text("v2")
        expect(nudge.locator(".badge.status-suppressed")).to_have_text("suppressed")
        expect(nudge).to_contain_text(REASON)
        expect(nudge).to_contain_text("v3")
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        expect(page.locator("#audit-link")).to_have_attribute("href", f"/audit/{HASHED}")

        page.locator("#audit-link").click()
        expect(page).to_have_url(f"{live_server.url}/audit/{HASHED}")
        expect(page.locator("#decisions")).to_contain_text(REASON)


def test_a_new_alert_appears_on_the_open_timeline(live_server, ops, maria):
    with console_page(live_server, ops, "/console/people/?q=maria@example.com") as page:
        expect(page.locator("#timeline tr.entry-alert")).to_have_count(1)
        page.evaluate("window.sameDocument = true")

        off_the_event_loop(lambda: alert_store(maria, code=300, at=T0 + timedelta(minutes=5)))

        newest = page.locator("#timeline tr").first
        expect(newest).to_contain_text("alert 300", timeout=APPEARS_WITHIN_MS)
        assert page.evaluate("window.sameDocument") is True


def test_the_timeline_reads_on_a_phone(live_server, ops, maria):
    path = f"/console/people/?q={maria.pk}"
    with console_page(live_server, ops, path, viewport=PHONE) as page:
        expect(page.locator("#timeline tr.entry-notification")).to_contain_text(REASON)
        width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]


@pytest.fixture
def ada(transactional_db) -> User:
    """A product user whose events have hashed ids, with a long-named notification each."""
    user = User.objects.create(external_id="u_ada")
    for minute in range(3):
        nudge = nudge_store(user, at=T0 + timedelta(minutes=minute), reason=LONG_REASON)
        event = nudge.trigger_event
        event.event_id = "h:" + f"{minute:x}" * 64
        event.save()
        nudge.notification_type = "INSUFFICIENT_FUNDS_EMAIL"
        nudge.save()
    return user


def test_no_word_of_the_timeline_is_cut_across_lines_at_1280_px(live_server, ops, ada):
    with console_page(live_server, ops, f"/console/people/?q={ada.pk}") as page:
        expect(page.locator("#timeline tr.entry-notification")).to_have_count(3)

        assert words_cut_across_lines(page, "#timeline td") == []
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
