"""The console in headless Chromium: logging in, and an overview whose numbers are what the
test posted, arriving on the open page through its polling."""

import time

import pytest
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Page, expect

from console.tests.browser import (
    APPEARS_WITHIN_MS,
    LAPTOP,
    PHONE,
    log_in,
    off_the_event_loop,
    reachable_across,
    staff_user_create,
)
from console.tests.story import bucket_store
from midnite_test.tests.browser import scrolls_sideways, words_cut_across_lines
from notifications.sending import notifications_send_due
from outbox.contracts import CONSUMER_METRICS, CONSUMER_NOTIFICATIONS
from outbox.models import OutboxMessage
from outbox.services import outbox_process
from users.models import User

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_anonymous_visitor_is_sent_to_the_login_page(live_server, anonymous_page):
    anonymous_page.goto(f"{live_server.url}/console/overview/")

    expect(anonymous_page).to_have_url(f"{live_server.url}/console/login/?next=/console/overview/")
    expect(anonymous_page.get_by_role("heading", name="Log in")).to_be_visible()


def test_a_staff_user_logs_in_through_the_form_and_lands_on_the_overview(
    live_server, anonymous_page
):
    off_the_event_loop(lambda: staff_user_create("oncall"))

    log_in(anonymous_page, live_server.url, username="oncall", next_path="/console/overview/")

    expect(anonymous_page).to_have_url(f"{live_server.url}/console/overview/")
    expect(anonymous_page.get_by_role("heading", name="Overview")).to_be_visible()


def test_logging_out_from_the_header_lands_on_the_login_page_saying_so(staff_page, live_server):
    staff_page.get_by_role("button", name="Log out").click()

    expect(staff_page).to_have_url(f"{live_server.url}/console/login/")
    expect(staff_page.get_by_role("status")).to_have_text("You have logged out.")
    staff_page.reload()
    expect(staff_page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(staff_page.get_by_text("You have logged out.")).to_have_count(0)


def _story() -> None:
    """Transactions raising 1100 twice and 30 once, product events with a welcome email sent
    and two suppressed; every consumer run, so the buckets and decisions are there."""
    client = Client()
    one, two = (User.objects.create(external_id=f"u_{n}").pk for n in (1, 2))
    t = int(time.time()) - 30
    for body in [
        {"type": "withdraw", "amount": "150.00", "user_id": one, "t": t},
        {"type": "withdraw", "amount": "150.00", "user_id": one, "t": t + 1},
        {"type": "withdraw", "amount": "10.00", "user_id": one, "t": t + 2},
        {"type": "deposit", "amount": "10.00", "user_id": two, "t": t},
    ]:
        assert client.post("/event", body, content_type="application/json").status_code == 200
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    opted_in = {"marketing_opt_in": True, "email": "ada@example.com"}
    products = [
        {"user_id": "u_ada", "event_type": "signup_completed", "user_traits": opted_in},
        {"user_id": "u_ada", "event_type": "signup_completed"},
        {
            "user_id": "u_bob",
            "event_type": "signup_completed",
            "user_traits": {"marketing_opt_in": True},
        },
    ]
    for n, product in enumerate(products):
        product |= {"event_id": f"evt_{n}", "event_timestamp": now, "properties": {}}
    response = client.post("/api/v1/events", products, content_type="application/json")
    assert response.status_code == 202, response.content
    outbox_process(consumer=CONSUMER_METRICS)
    outbox_process(consumer=CONSUMER_NOTIFICATIONS)
    notifications_send_due()


def _count(page: Page, selector: str):
    return page.locator(f"{selector} td.num")


def test_the_overview_shows_what_was_posted_without_a_reload(staff_page, live_server, settings):
    settings.ALLOW_ANONYMOUS = True
    page = staff_page
    expect(page.locator("#alerts-total")).to_have_attribute("data-total", "0")
    page.evaluate("window.sameDocument = true")

    off_the_event_loop(_story)

    expect(page.locator("#alerts-total")).to_have_attribute(
        "data-total", "3", timeout=APPEARS_WITHIN_MS
    )
    expect(_count(page, "#alerts-table tr[data-code='1100']")).to_have_text("2")
    expect(_count(page, "#alerts-table tr[data-code='30']")).to_have_text("1")
    expect(page.locator("#events-total")).to_have_attribute("data-total", "7")
    expect(_count(page, "#events-table tr[data-event-type='withdraw']")).to_have_text("3")
    expect(_count(page, "#events-table tr[data-event-type='signup_completed']")).to_have_text("3")
    expect(page.locator("#notifications-total")).to_have_attribute("data-total", "3")
    welcome = "#notifications-table tr[data-rule='WELCOME_EMAIL']"
    expect(_count(page, f"{welcome}[data-outcome='sent']")).to_have_text("1")
    expect(_count(page, f"{welcome}[data-outcome='suppressed: limit reached']")).to_have_text("1")
    expect(_count(page, f"{welcome}[data-outcome='suppressed: no email address']")).to_have_text(
        "1"
    )
    expect(page.locator("#consumers-table tr[data-consumer='metrics'] td").nth(1)).to_have_text("0")
    expect(page.locator("[data-as-of=events]")).to_contain_text("UTC")
    assert page.evaluate("window.sameDocument") is True


def _minute_bucket_store() -> None:
    """One deposit counted in the current minute's bucket of the default tenant."""
    minute = timezone.now().replace(second=0, microsecond=0)
    bucket_store(tenant="default", size="minute", start=minute, event_type="deposit", count=1)


def test_a_chart_with_nothing_in_the_range_says_so_instead_of_bare_axes(staff_page):
    page = staff_page
    said = {
        "events": "No events in the last hour.",
        "alerts": "No alerts in the last hour.",
        "notifications": "No notifications decided in the last hour.",
    }
    for part, text in said.items():
        expect(page.locator(f"#{part}-card .no-data")).to_have_text(text)
        expect(page.locator(f"#{part}-card .no-data")).to_be_visible()

    off_the_event_loop(_minute_bucket_store)

    expect(page.locator("#events-total")).to_have_attribute(
        "data-total", "1", timeout=APPEARS_WITHIN_MS
    )
    expect(page.locator("#events-card .no-data")).to_be_hidden()
    expect(page.locator("#alerts-card .no-data")).to_be_visible()


def test_the_range_and_tenant_stay_in_the_query_string(staff_page, live_server):
    staff_page.get_by_role("button", name="Last week").click()

    expect(staff_page).to_have_url(f"{live_server.url}/console/overview/?tenant=default&range=week")
    expect(staff_page.locator("#events-title")).to_have_text("Events per hour by type")
    expect(staff_page.get_by_role("button", name="Last week")).to_have_attribute(
        "aria-pressed", "true"
    )


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_the_overview_fits_the_window_across(staff_page, viewport):
    """Nothing runs off to the right: on a phone the cards stack, wide tables scroll inside."""
    staff_page.set_viewport_size(viewport)
    staff_page.reload()

    expect(staff_page.locator("#events-chart")).to_be_visible()
    width = staff_page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"]
    cards = staff_page.locator(".card")
    boxes = [cards.nth(n).bounding_box() for n in range(cards.count())]
    assert all(box["x"] + box["width"] <= viewport["width"] for box in boxes)
    if viewport is PHONE:
        assert len({box["x"] for box in boxes}) == 1  # one column
        # The outbox's consumers table is wider: it scrolls inside its card to its last column.
        last_column = staff_page.locator("#consumers-table tr").first.locator("td").last
        assert reachable_across(staff_page, last_column, width=viewport["width"])


def test_on_a_phone_the_consumers_table_scrolls_in_its_card_its_headings_on_one_line(staff_page):
    """Cut off after "Lag" looked like the end of the table: each heading keeps to one line,
    so the table is as wide as its columns and the card scrolls it sideways."""
    staff_page.set_viewport_size(PHONE)
    staff_page.reload()
    expect(staff_page.locator("#consumers-table tr").first).to_be_visible()

    assert scrolls_sideways(staff_page, "#outbox-card .table-scroll")
    assert words_cut_across_lines(staff_page, "#outbox-card th, #outbox-card td") == []
    heading_lines = staff_page.locator("#outbox-card th").evaluate_all(
        """headings => headings.map(heading => {
            const text = document.createRange();
            text.selectNodeContents(heading);
            return new Set([...text.getClientRects()].map(line => Math.round(line.top))).size;
        })"""
    )
    assert set(heading_lines) == {1}


def test_a_backlog_counted_to_its_cap_reads_at_least(staff_page, monkeypatch):
    monkeypatch.setattr("outbox.selectors.BACKLOG_COUNT_CAP", 2)

    def _story() -> None:
        for subject_id in (1, 2, 3):
            OutboxMessage.objects.create(
                consumer=CONSUMER_METRICS, topic="event_stored", subject_id=subject_id
            )

    off_the_event_loop(_story)
    staff_page.reload()

    backlog = staff_page.locator(f"#consumers-table tr[data-consumer='{CONSUMER_METRICS}'] td")
    expect(backlog.nth(1)).to_have_text("≥ 2")


# The longest tenant id the API takes, without a space to wrap at.
LONG_TENANT = "t" * 128


def _long_tenant_store() -> None:
    minute = timezone.now().replace(second=0, microsecond=0)
    bucket_store(tenant=LONG_TENANT, size="minute", start=minute, event_type="deposit", count=1)


def _inside(inner: dict, outer: dict) -> bool:
    return (
        outer["x"] <= inner["x"]
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"]
        and outer["y"] <= inner["y"]
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"]
    )


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
@pytest.mark.parametrize("shown", ["default", LONG_TENANT], ids=["default", "long"])
def test_a_long_tenant_id_neither_widens_the_page_nor_leaves_its_card(
    staff_page, live_server, viewport, shown
):
    """The picker grew as wide as its longest option (1902 px in a 1280 px window), and the
    unbroken id ran out of each card's description over the next card."""
    off_the_event_loop(_long_tenant_store)
    staff_page.set_viewport_size(viewport)
    staff_page.goto(f"{live_server.url}/console/overview/?tenant={shown}&range=hour")
    expect(staff_page.locator("#events-total")).to_have_attribute(
        "data-total", "0" if shown == "default" else "1"
    )

    assert staff_page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    picker = staff_page.locator("#tenant")
    assert picker.bounding_box()["width"] <= min(viewport["width"], 400)
    expect(picker).to_have_attribute("title", shown)
    expect(picker.locator("option", has_text=LONG_TENANT)).to_have_text(LONG_TENANT)
    for card in ("events", "alerts", "notifications"):
        name = staff_page.locator(f"#{card}-card [data-field=tenant]")
        expect(name).to_have_text(shown)
        card_box = staff_page.locator(f"#{card}-card").bounding_box()
        assert _inside(name.bounding_box(), card_box), card


# Ten event types of 61 characters (64 are allowed): eight charted, the rest as "other".
LONG_EVENT_TYPES = [
    f"{n}_checkout_step_reached_by_a_customer_in_the_new_mobile_flows" for n in range(10)
]


def _long_event_types_store() -> None:
    minute = timezone.now().replace(second=0, microsecond=0)
    for count, event_type in enumerate(LONG_EVENT_TYPES, start=1):
        bucket_store(
            tenant="default", size="minute", start=minute, event_type=event_type, count=count
        )


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_every_series_is_named_in_the_legend_and_the_plot_keeps_its_height(staff_page, viewport):
    """Chart.js's legend, drawn in the canvas, showed 6 of the 9 series (`other` left out)
    and squashed the plot to about 70 px."""
    off_the_event_loop(_long_event_types_store)
    staff_page.set_viewport_size(viewport)
    staff_page.reload()
    expect(staff_page.locator("#events-total")).to_have_attribute("data-total", "55")

    legend = staff_page.locator("#events-card .legend li")
    expect(legend).to_have_count(9)
    shown = LONG_EVENT_TYPES[2:] + ["other"]  # the busiest eight; the two least as other
    assert sorted(legend.evaluate_all("items => items.map(item => item.title)")) == sorted(shown)
    expect(legend.filter(has_text="other")).to_have_count(1)
    card = staff_page.locator("#events-card").bounding_box()
    assert all(_inside(legend.nth(n).bounding_box(), card) for n in range(9))
    plot_height = staff_page.evaluate("Chart.getChart('events-chart').chartArea.height")
    assert plot_height >= 150
    assert staff_page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
