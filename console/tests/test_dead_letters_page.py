"""The dead letters page in headless Chromium: listed with their error, re-queued after a
confirmation by staff with the permission, and not by staff without it."""

import pytest
from playwright.sync_api import expect

from console.tests.browser import APPEARS_WITHIN_MS, LAPTOP, PHONE, off_the_event_loop
from console.tests.ops_browser import console_page
from console.tests.story import event_store
from console.tests.test_dead_letter_subjects import dead_letter_about
from console.tests.test_dead_letters import dead_letter_store, staff
from events.analytics import TOPIC_EVENT_STORED
from events.log import EVENT_LOG
from outbox.contracts import CONSUMER_METRICS
from outbox.models import OutboxMessage
from users.models import User

POISON = "ClickHouseRejected: Cannot parse input: expected '\"' before: 'x' " + "ab" * 40


@pytest.fixture
def dead(transactional_db) -> int:
    return dead_letter_store(7, error=POISON)


def test_a_dead_letter_is_re_queued_and_leaves_the_list(
    live_server, django_user_model, dead, tmp_path
):
    ops = staff(django_user_model, may_requeue=True)
    other = dead_letter_store(8)
    with console_page(live_server, ops, "/console/dead-letters/") as page:
        row = page.locator(f'#dead-letters tr[data-id="{dead}"]')
        expect(row).to_contain_text(POISON)
        expect(row).to_contain_text("analytics")
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280

        row.get_by_role("checkbox").check()
        page.get_by_role("button", name="Re-queue 1 selected").click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_contain_text("Re-queue 1 message?")
        dialog.get_by_role("button", name="Re-queue").click()

        expect(page.locator("#requeue-result")).to_have_text("Re-queued 1 message.")
        expect(row).to_have_count(0)
        expect(page.locator(f'#dead-letters tr[data-id="{other}"]')).to_be_visible()
    assert off_the_event_loop(lambda: OutboxMessage.objects.get(pk=dead).dead_lettered_at) is None


def test_a_dead_letter_re_queued_elsewhere_leaves_the_open_page(
    live_server, django_user_model, dead
):
    ops = staff(django_user_model, may_requeue=True)
    with console_page(live_server, ops, "/console/dead-letters/") as page:
        row = page.locator(f'#dead-letters tr[data-id="{dead}"]')
        expect(row).to_be_visible()

        off_the_event_loop(
            lambda: OutboxMessage.objects.filter(pk=dead).update(dead_lettered_at=None)
        )

        expect(row).to_have_count(0, timeout=APPEARS_WITHIN_MS)


def test_staff_without_the_permission_see_no_way_to_re_queue(live_server, django_user_model, dead):
    viewer = staff(django_user_model, may_requeue=False)
    with console_page(live_server, viewer, "/console/dead-letters/", viewport=PHONE) as page:
        row = page.locator(f'#dead-letters tr[data-id="{dead}"]')
        expect(row).to_contain_text(POISON)

        expect(row.get_by_role("checkbox")).to_have_count(0)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        expect(page.get_by_role("button", name="Re-queue selected")).to_be_disabled()
        expect(page.locator("main")).to_contain_text("outbox.change_outboxmessage")
        token = page.locator("#requeue-form input[name=csrfmiddlewaretoken]").input_value()
        forced = page.request.post(
            f"{live_server.url}/console/api/dead-letters/requeue/",
            form={"ids": str(dead)},
            headers={"X-CSRFToken": token},
        )
        assert forced.status == 403
    assert off_the_event_loop(lambda: OutboxMessage.objects.get(pk=dead).dead_lettered_at)


def test_older_and_newer_page_through_the_dead_letters(live_server, django_user_model, dead):
    """51 dead letters: the oldest, `dead`, is alone on the second page of 50."""
    viewer = staff(django_user_model, may_requeue=False)
    for number in range(50):
        dead_letter_store(number)
    with console_page(live_server, viewer, "/console/dead-letters/") as page:
        rows, oldest = page.locator("#dead-letters tr"), page.locator(f'tr[data-id="{dead}"]')
        older, newer = page.get_by_role("button", name="Older"), page.get_by_role(
            "button", name="Newer"
        )
        expect(rows).to_have_count(50)
        expect(newer).to_be_disabled()

        older.click()

        expect(oldest).to_be_visible()
        expect(rows).to_have_count(1)
        expect(older).to_be_disabled()
        newer.click()
        expect(rows).to_have_count(50)
        expect(oldest).to_have_count(0)


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_a_dead_letter_of_an_event_names_it_and_links_its_user_fitting_the_width(
    live_server, django_user_model, transactional_db, viewport
):
    long_email = "a.very.long.address.of.someone." * 3 + "x@example.com"
    user = User.objects.create(external_id="u_long", email=long_email)
    event = event_store(tenant="acme-tenant-" + "t" * 40, user=user, event_type="withdraw")
    stream = EVENT_LOG.stream(CONSUMER_METRICS)
    dead = dead_letter_about(event.pk, stream=stream, topic=TOPIC_EVENT_STORED)
    gone = dead_letter_about(10**9, stream=stream, topic=TOPIC_EVENT_STORED)
    viewer = staff(django_user_model, may_requeue=True)
    with console_page(live_server, viewer, "/console/dead-letters/", viewport=viewport) as page:
        subject = page.locator(f'#dead-letters tr[data-id="{dead}"] td[data-label="subject"]')
        expect(subject).to_contain_text(f"event {event.pk}")
        expect(subject).to_contain_text(f"{event.tenant_id} · {event.event_id} · withdraw")
        link = subject.get_by_role("link", name=long_email)
        expect(link).to_have_attribute("href", f"/console/people/?q={user.pk}&user={user.pk}")
        gone_row = page.locator(f'#dead-letters tr[data-id="{gone}"]')
        expect(gone_row).to_contain_text("no longer stored")
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
