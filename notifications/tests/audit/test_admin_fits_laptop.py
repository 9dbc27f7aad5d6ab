"""The admin's lists in headless Chromium: long rows keep the last column on a laptop."""

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from playwright.sync_api import ConsoleMessage, expect, sync_playwright

from django.utils import timezone
from notifications.tests.audit.story import decision_store, event_store
from notifications.tests.audit.test_audit_page import CHROMIUM, LAPTOP
from outbox.models import OutboxMessage
from users.models import User


def _error_of_the_page(message: ConsoleMessage) -> list[str]:
    """Return a console error as a list of one, but not the browser's own favicon request,
    which the admin's pages leave to a 404."""
    if message.type != "error" or message.location["url"].endswith("/favicon.ico"):
        return []
    return [message.text]


@pytest.fixture
def long_rows(transactional_db) -> None:
    """Notifications, their events and dead-lettered outbox messages whose ids, types, rules,
    reasons and errors are as long as real ones get."""
    user = User.objects.create(external_id="h:" + "5e0c7d21" * 8)
    OutboxMessage.objects.create(
        consumer="notifications",
        topic="event_ingested",
        subject_id=2**40,
        attempts=5,
        last_error="ClickHouseRejected:" + "Code.241.MEMORY_LIMIT_EXCEEDED" * 4,
        dead_lettered_at=timezone.now(),
    )
    for number in range(3):
        event = event_store(user=user, event_type="payment_failed_after_every_retry_was_exhausted")
        decision_store(
            event=event,
            rule=f"insufficient_funds_email_reminder_after_every_retry_{number}",
            notification_type=f"INSUFFICIENT_FUNDS_EMAIL_REMINDER_AFTER_EVERY_RETRY_{number}",
            status="failed",
            reason="failed after 5 attempt(s): SMS webhook answered 503: "
            + "upstream_connect_error_or_disconnect/reset " * 4,
        )


@pytest.fixture
def superuser_session(transactional_db) -> str:
    """The session cookie of a superuser logged in to the admin."""
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("admin"))
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.mark.parametrize(
    "path, last_column",
    [
        ("/admin/notifications/notification/", "Created at"),
        ("/admin/events/event/", "Rules"),
        ("/admin/outbox/outboxmessage/", "State"),
    ],
)
def test_the_admins_lists_show_their_last_column_within_a_laptops_width(
    live_server, superuser_session, long_rows, path, last_column
):
    """Before: the user's and the type's long words pushed "Created at" out of the
    notifications list."""
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        context = browser.new_context(viewport=LAPTOP)
        context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": superuser_session,
                    "url": live_server.url,
                }
            ]
        )
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: errors.extend(_error_of_the_page(message)))
        page.goto(f"{live_server.url}{path}")

        expect(page.locator("#result_list tbody tr").first).to_be_visible()
        heading = page.locator("#result_list thead th").last
        expect(heading).to_have_text(last_column, ignore_case=True)
        expect(heading).to_be_in_viewport(ratio=1)
        page_width = page.evaluate("document.documentElement.scrollWidth")
        browser.close()
    assert page_width <= LAPTOP["width"]
    assert errors == []
