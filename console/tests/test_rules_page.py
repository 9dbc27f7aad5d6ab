"""The Rules page in headless Chromium: a candidate from paste to backtest to activation, all
through the rule-lifecycle API, and the next POST /event answered under it; then rolled back.

Debian's chromium driven by Playwright against the live server, on a transactional database:
the backtest worker (a thread sweeping the backtests as the worker schedule's
`backtests_run_pending` does) must see what the page's requests committed. Each test waits with
Playwright's `expect`, never a sleep, and fails on any console error but the API's answers it
provokes on purpose.
"""

import hashlib
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.conf import settings
from django.db import connection
from playwright.sync_api import Page, expect, sync_playwright

from events.models import Event
from console.tests.browser import reachable_across
from midnite_test.tests.browser import CHROMIUM, LAPTOP, PHONE, off_the_event_loop
from rule_sets.backtests import rule_set_backtests_run_pending
from rule_sets.models import KIND_ALERTS, RuleSetVersion
from rule_sets.selectors import rule_set_active_get
from rule_sets.services import rule_set_version_activate, rule_set_version_get_or_create
from rule_sets.tests.conftest import LOWER_THRESHOLD

PASSWORD = "s3cret-pass"
# Generous for a shared machine: the backtest's progress is polled every half second.
APPEARS_WITHIN_MS = 15_000
WITHDRAWALS = ["40", "60", "75", "100", "150"]
CHANGE_PERMISSION = "change_rulesetversion"

# The browser's requests and the backtest worker see only what the test committed.
committed = pytest.mark.django_db(transaction=True)


def _staff(username: str, *, may_change: bool):
    staff = get_user_model().objects.create_user(username, password=PASSWORD, is_staff=True)
    if may_change:
        staff.user_permissions.add(
            Permission.objects.get(codename=CHANGE_PERMISSION, content_type__app_label="rule_sets")
        )
    return staff


def _risk_lead_and_a_draft() -> None:
    """The staff user `risk-lead`, who may change the rules, and v2 of the alerts, a draft."""
    _staff("risk-lead", may_change=True)
    rule_set_version_get_or_create(kind=KIND_ALERTS, source=LOWER_THRESHOLD, created_by="risk")


def _post_event(live_server, api_key: str, *, amount: str, t: int) -> dict:
    response = requests.post(
        f"{live_server.url}/event",
        json={"type": "withdraw", "amount": amount, "user_id": 1, "t": t},
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def stored_withdrawals(live_server, api_key, users) -> int:
    """Withdrawals posted to /event within the last hour, none raising 1100 but the one over
    100; return the start of the next minute's `t`."""
    now = int(time.time())
    start = now - 3600
    for minute, amount in enumerate(WITHDRAWALS):
        codes = _post_event(live_server, api_key, amount=amount, t=start + 60 * minute)
        assert (1100 in codes["alert_codes"]) == (amount == "150")
    return start + 60 * len(WITHDRAWALS)


@pytest.fixture
def backtest_worker(transactional_db, settings, tmp_path) -> Iterator[None]:
    """A worker that sweeps the backtests, as the worker schedule's `backtests_run_pending`.

    The request's own wake-up finds no worker on the socket and is dropped, as when a broker
    loses it: the sweep is what runs the backtest.
    """
    settings.EMBEDDED_WORKER_SOCKET = str(tmp_path / "no-worker.sock")
    stop = threading.Event()

    def sweep() -> None:
        try:
            while not stop.wait(0.1):
                rule_set_backtests_run_pending()
        finally:
            connection.close()

    worker = threading.Thread(target=sweep, name="backtest-sweep")
    worker.start()
    yield
    stop.set()
    worker.join(timeout=30)
    assert not worker.is_alive()


@contextmanager
def _console(
    live_server,
    username: str,
    *,
    expected_failures: set[str],
    active: int = 1,
    viewport: dict[str, int] = LAPTOP,
) -> Iterator[Page]:
    """Chromium logged in to the console as `username`, on the alerts' Rules page, once it
    lists version `active` as the active one.

    Fails on a page error, or a console error other than Chromium's note of an API answer in
    `expected_failures` (URLs the test provokes a 4xx from).
    """
    errors: list[str] = []

    def console_error(message) -> None:
        provoked = message.text.startswith("Failed to load resource") and (
            message.location.get("url") in expected_failures
        )
        if message.type == "error" and not provoked:
            errors.append(message.text)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_context(viewport=viewport).new_page()
        page.on("console", console_error)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{live_server.url}/console/rules/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page).to_have_url(f"{live_server.url}/console/rules/alerts/")
        expect(page.locator(f"#versions tr[data-version='{active}']")).to_contain_text("active")
        yield page
        browser.close()
    assert errors == []


@committed
def test_a_candidate_goes_from_paste_to_backtest_to_activation_and_judges_the_next_event(
    live_server, api_key, stored_withdrawals, backtest_worker
):
    off_the_event_loop(lambda: _staff("risk-lead", may_change=True))
    versions_url = f"{live_server.url}/api/v1/rules/alerts/versions"

    with _console(live_server, "risk-lead", expected_failures={versions_url}) as page:
        # A broken candidate: refused, the error shown at its rule, field and line.
        page.fill("#candidate-source", LOWER_THRESHOLD.replace("value: 50\n", "value: fifty\n"))
        page.click("#candidate-submit")
        errors = page.locator("#candidate-errors")
        expect(errors).to_contain_text("must be a number")
        expect(errors.locator("dd[data-field=rule]")).to_have_text("rules[0] (code 1100)")
        expect(errors.locator("dd[data-field=field]")).to_have_text("condition.value")
        expect(errors.locator("dd[data-field=line]")).to_have_text("14")
        assert (
            off_the_event_loop(lambda: RuleSetVersion.objects.filter(kind=KIND_ALERTS).count()) == 1
        )

        # The good one: stored as v2, a draft, and chosen for the backtest.
        page.fill("#candidate-source", LOWER_THRESHOLD)
        page.fill("#candidate-note", "withdrawals over 50")
        page.click("#candidate-submit")
        expect(page.locator("#candidate-status")).to_contain_text("Stored as v2")
        expect(errors).to_be_hidden()
        expect(page.locator("#versions tr[data-version='2']")).to_contain_text("draft")
        expect(page.locator("#backtest-version")).to_have_value("2")

        # Its diff from v1: the threshold's line removed and added.
        page.select_option("#diff-from", "1")
        page.select_option("#diff-to", "2")
        page.click("#diff-form button")
        expect(page.locator("#diff .diff-del")).to_have_text("-      value: 100\n")
        expect(page.locator("#diff .diff-add")).to_have_text("+      value: 50\n")

        # The backtest, over the default window: 1100 adds the withdrawals in (50, 100].
        page.click("#backtest-submit")
        expect(page.locator("#backtest-status")).to_contain_text("Done", timeout=APPEARS_WITHIN_MS)
        assert page.eval_on_selector("#backtest-progress", "bar => bar.value") == 1
        added = off_the_event_loop(
            lambda: Event.objects.filter(
                event_type="withdraw", amount__gt=50, amount__lte=100
            ).count()
        )
        assert added == 3
        row = page.locator("#backtest-rules tr[data-rule='1100']")
        expect(row.locator("td[data-col=added]")).to_have_text(str(added))
        expect(row.locator("td[data-col=removed]")).to_have_text("0")
        expect(page.locator("#backtest-samples tbody tr")).to_have_count(added)
        expect(page.locator("#backtest-samples")).to_contain_text("amount gt 50 holds")

        # Activation, behind a confirmation showing what changes; cancelling changes nothing.
        page.click("button[data-activate='2']")
        dialog = page.locator("#activate-dialog")
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text("v2 replaces v1")
        expect(dialog.locator(".diff-add")).to_have_text("+      value: 50\n")
        expect(dialog.locator("#activate-backtest")).to_contain_text(f"1100 +{added} −0")
        page.click("#activate-cancel")
        expect(dialog).to_be_hidden()
        expect(page.locator("#versions tr[data-version='2']")).to_contain_text("draft")
        page.click("button[data-activate='2']")
        page.click("#activate-confirm")
        expect(page.locator("#versions tr[data-version='2'] .status")).to_have_text("active")
        expect(page.locator("#page-message")).to_have_text("v2 of the alerts rules is active.")
        expect(page.locator("#versions tr[data-version='2']")).to_contain_text("risk-lead")

        answer = _post_event(live_server, api_key, amount="75", t=stored_withdrawals)
        assert 1100 in answer["alert_codes"]

        # The rollback: v1 again, and a withdrawal of 75 raises no 1100 any more.
        page.click("button[data-activate='1']")
        expect(dialog).to_contain_text("Roll the alerts rules back to v1?")
        expect(dialog.locator(".diff-del")).to_have_text("-      value: 50\n")
        page.click("#activate-confirm")
        expect(page.locator("#versions tr[data-version='1'] .status")).to_have_text("active")
        answer = _post_event(live_server, api_key, amount="75", t=stored_withdrawals + 60)
        assert 1100 not in answer["alert_codes"]


@committed
def test_a_staff_user_without_the_permission_reads_the_rules_and_cannot_activate(live_server):
    def store() -> None:
        _staff("on-call", may_change=False)
        rule_set_version_get_or_create(kind=KIND_ALERTS, source=LOWER_THRESHOLD, created_by="risk")

    off_the_event_loop(store)
    activate_url = f"{live_server.url}/api/v1/rules/alerts/versions/2/activate"

    with _console(live_server, "on-call", expected_failures={activate_url}) as page:
        expect(page.locator("#read-only")).to_contain_text("rule_sets.change_rulesetversion")
        activate = page.locator("button[data-activate='2']")
        expect(activate).to_be_disabled()
        expect(activate).to_have_attribute(
            "title", "Needs the permission rule_sets.change_rulesetversion"
        )
        expect(page.locator("#candidate-submit")).to_be_disabled()
        expect(page.locator("#backtest-submit")).to_be_disabled()
        # Reading still works: v2's source.
        page.click("#versions tr[data-version='2'] button:has-text('Source')")
        expect(page.locator("#source")).to_contain_text("value: 50")

        forced = page.evaluate(
            """async (url) => {
                const csrf = document.getElementById("rules-page").dataset.csrf;
                const response = await fetch(url, {
                    method: "POST", credentials: "same-origin", body: "{}",
                    headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
                });
                return [response.status, (await response.json()).error];
            }""",
            activate_url,
        )

    assert forced == [403, "permission_denied"]
    active = off_the_event_loop(
        lambda: RuleSetVersion.objects.get(kind=KIND_ALERTS, status="active").version
    )
    assert active == 1


@committed
def test_a_backtest_no_worker_has_taken_says_it_waits_for_one(live_server, settings, tmp_path):
    """With no worker running, "Running ...: 0%" read as a replay under way, for ever."""
    settings.EMBEDDED_WORKER_SOCKET = str(tmp_path / "no-worker.sock")  # the wake-up is dropped
    off_the_event_loop(_risk_lead_and_a_draft)

    with _console(live_server, "risk-lead", expected_failures=set()) as page:
        expect(page.locator("#backtest-version")).to_have_value("2")
        page.click("#backtest-submit")
        expect(page.locator("#backtest-status")).to_contain_text(
            "Waiting for a worker to run v2 against v1"
        )
        expect(page.locator("#backtest-status")).to_contain_text("no worker has taken it yet")


@committed
def test_a_candidate_some_version_already_has_is_named_as_that_version_and_not_stored(
    live_server,
):
    off_the_event_loop(_risk_lead_and_a_draft)
    status = "#candidate-status"

    with _console(live_server, "risk-lead", expected_failures=set()) as page:
        # The active version's source, as "Start from the active version" fills it in.
        page.click("#candidate-from-active")
        expect(page.locator("#candidate-source")).to_have_value(
            settings.ALERT_RULES_PATH.read_text()
        )
        page.fill("#candidate-note", "the same again")
        page.click("#candidate-submit")
        expect(page.locator(status)).to_have_text(
            "This content is already v1 (active): nothing was stored."
        )
        expect(page.locator("#backtest-version")).to_have_value("1")

        # The draft's source: that draft, v2.
        page.fill("#candidate-source", LOWER_THRESHOLD)
        page.click("#candidate-submit")
        expect(page.locator(status)).to_have_text(
            "This content is already v2 (draft): nothing was stored."
        )
        expect(page.locator("#backtest-version")).to_have_value("2")
        expect(page.locator("#versions tbody tr")).to_have_count(2)

    assert off_the_event_loop(lambda: RuleSetVersion.objects.filter(kind=KIND_ALERTS).count()) == 2


@committed
def test_the_versions_of_every_page_of_the_change_log_are_listed_the_oldest_active(live_server):
    """Beyond a page of versions (100), the active v1 is on the change log's last page."""
    drafts = 249

    def store() -> None:
        _staff("on-call", may_change=False)
        rule_set_active_get(KIND_ALERTS)  # v1, the default file, active
        sources = [f"{LOWER_THRESHOLD}# draft {n}\n" for n in range(2, drafts + 2)]
        RuleSetVersion.objects.bulk_create(
            RuleSetVersion(
                kind=KIND_ALERTS,
                version=n,
                source=source,
                sha256=hashlib.sha256(source.encode()).hexdigest(),
                created_by="risk",
            )
            for n, source in enumerate(sources, start=2)
        )

    off_the_event_loop(store)

    # _console waits for v1's row, active.
    with _console(live_server, "on-call", expected_failures=set()) as page:
        rows = page.locator("#versions tbody tr")
        expect(rows).to_have_count(drafts + 1)
        expect(rows.first).to_have_attribute("data-version", str(drafts + 1))
        expect(rows.last).to_have_attribute("data-version", "1")
        expect(page.locator("#versions .status-active")).to_have_count(1)
        expect(page.locator("#source-caption")).to_have_text("alerts v1 (active)")
        expect(page.locator("#diff-from")).to_have_value("1")
        expect(page.locator("#diff-from option")).to_have_count(drafts + 1)


@committed
def test_a_long_unbroken_note_wraps_and_leaves_the_actions_in_view(live_server):
    """A note of 500 characters without a space made the versions table 4,898 px wide: the
    Activate button of every version sat 3,700 px to the right of the card."""

    def store() -> None:
        _staff("risk-lead", may_change=True)
        rule_set_version_get_or_create(
            kind=KIND_ALERTS, source=LOWER_THRESHOLD, note="é" * 500, created_by="risk"
        )

    off_the_event_loop(store)

    with _console(live_server, "risk-lead", expected_failures=set()) as page:
        activate = page.locator('#versions [data-activate="2"]')
        expect(activate).to_be_visible()
        table = page.locator("#versions").bounding_box()
        card = page.locator("#versions").locator("xpath=ancestor::section[1]").bounding_box()
        assert table["width"] <= card["width"]
        assert activate.bounding_box()["x"] + activate.bounding_box()["width"] <= LAPTOP["width"]
        assert page.locator("#candidate-note").get_attribute("maxlength") == "500"


@pytest.mark.django_db
def test_the_rules_page_opens_on_the_first_kind_and_knows_no_other(client):
    client.force_login(_staff("on-call", may_change=False))

    assert client.get("/console/rules/").headers["Location"] == "/console/rules/alerts/"
    assert client.get("/console/rules/notifications/").status_code == 200
    assert client.get("/console/rules/fraud/").status_code == 404


@pytest.mark.django_db
def test_an_anonymous_visitor_of_the_rules_page_is_sent_to_the_login_page(client):
    response = client.get("/console/rules/alerts/")

    assert response.headers["Location"].startswith("/console/login/?next=/console/rules/alerts/")


@pytest.mark.django_db
@pytest.mark.parametrize("may_change", [True, False])
def test_the_page_says_whether_its_user_may_change_the_rules(client, may_change):
    client.force_login(_staff("ops", may_change=may_change))

    page = client.get("/console/rules/alerts/").content.decode()

    assert f'data-can-change="{str(may_change).lower()}"' in page
    assert ('id="read-only"' in page) is not may_change


def _diff_shown(page: Page) -> list[str]:
    """The version names of the diff box's file lines ("alerts v1", "alerts v2")."""
    return [line.strip()[4:] for line in page.locator("#diff .diff-file").all_inner_texts()]


@committed
def test_the_source_and_the_diff_follow_the_active_version_after_activation_and_on_each_poll(
    live_server,
):
    off_the_event_loop(_risk_lead_and_a_draft)
    caption = "#source-caption"

    with _console(live_server, "risk-lead", expected_failures=set()) as page:
        expect(page.locator(caption)).to_have_text("alerts v1 (active)")
        expect(page.locator("#diff .diff-add")).to_have_text("+      value: 50\n")

        # Activated here: the Source card shows v2, and the diff v1 (the one it replaced) to v2.
        page.click("button[data-activate='2']")
        page.click("#activate-confirm")
        expect(page.locator(caption)).to_have_text("alerts v2 (active)")
        expect(page.locator("#source")).to_contain_text("value: 50")
        expect(page.locator("#diff-from option:checked")).to_have_text("v1 (retired)")
        expect(page.locator("#diff-to option:checked")).to_have_text("v2 (active)")
        assert _diff_shown(page) == ["alerts v1", "alerts v2"]

        # Rolled back here: v1 again, and the diff from it to the newest, v2.
        page.click("button[data-activate='1']")
        page.click("#activate-confirm")
        expect(page.locator(caption)).to_have_text("alerts v1 (active)")
        expect(page.locator("#source")).to_contain_text("value: 100")
        expect(page.locator("#diff-from option:checked")).to_have_text("v1 (active)")
        expect(page.locator("#diff-to option:checked")).to_have_text("v2 (retired)")
        assert _diff_shown(page) == ["alerts v1", "alerts v2"]

        # Activated elsewhere: the next poll brings the page in step.
        off_the_event_loop(
            lambda: rule_set_version_activate(kind=KIND_ALERTS, version=2, activated_by="other")
        )
        expect(page.locator(caption)).to_have_text("alerts v2 (active)", timeout=APPEARS_WITHIN_MS)
        expect(page.locator("#source")).to_contain_text("value: 50")
        expect(page.locator("#diff-from option:checked")).to_have_text("v1 (retired)")
        expect(page.locator("#diff-to option:checked")).to_have_text("v2 (active)")
        assert _diff_shown(page) == ["alerts v1", "alerts v2"]


# Counts, in the page, the version lists it has read (their lengths), once the page's own code
# has done with each: the test knows when an answer it held back has landed.
VERSION_LISTS_READ = """
window.versionListsRead = [];
const read = Response.prototype.json;
Response.prototype.json = async function () {
  const body = await read.call(this);
  if (body && Array.isArray(body.versions)) {
    setTimeout(() => window.versionListsRead.push(body.versions.length), 0);
  }
  return body;
};
"""


@committed
def test_a_poll_answered_after_the_refresh_that_followed_storing_does_not_undo_it(live_server):
    """The 5 s poll asked before a candidate is stored, and answered (slowly) after the refresh
    that followed storing it: the page keeps the newer answer, with the new version."""
    off_the_event_loop(lambda: _staff("risk-lead", may_change=True))
    versions_url = f"{live_server.url}/api/v1/rules/alerts/versions"
    held = []

    def hold_the_first_poll(route) -> None:
        if route.request.method == "GET" and not held:
            held.append(route)  # answered below, once the newer refresh has drawn
        else:
            route.continue_()

    with _console(live_server, "risk-lead", expected_failures=set()) as page:
        page.add_init_script(VERSION_LISTS_READ)
        page.reload()
        expect(page.locator("#versions tr[data-version='1']")).to_contain_text("active")
        stale = page.request.get(versions_url).text()  # v1 alone, as the held poll would read
        page.route(versions_url, hold_the_first_poll)
        with page.expect_request(versions_url, timeout=APPEARS_WITHIN_MS):
            pass  # the next poll, held

        page.fill("#candidate-source", LOWER_THRESHOLD)
        page.click("#candidate-submit")
        expect(page.locator("#candidate-status")).to_contain_text("Stored as v2")
        expect(page.locator("#versions tr[data-version='2']")).to_contain_text("draft")
        page.evaluate("window.versionListsRead = []")
        [poll] = held
        poll.fulfill(status=200, content_type="application/json", body=stale)
        page.wait_for_function("window.versionListsRead.includes(1)")

        # At once, before the next poll could draw v2 again.
        assert page.locator("#versions tbody tr").count() == 2
        assert page.locator("#versions tr[data-version='2']").count() == 1


@committed
def test_a_retired_version_newer_than_the_active_one_is_activated_not_rolled_back_to(
    live_server,
):
    """v3 was active, then the rules were rolled back to v2: v3 is retired but newer."""

    def store() -> None:
        _staff("risk-lead", may_change=True)
        for source in (LOWER_THRESHOLD, f"{LOWER_THRESHOLD}# the third\n"):
            rule_set_version_get_or_create(kind=KIND_ALERTS, source=source, created_by="risk")
        for version in (3, 2):
            rule_set_version_activate(kind=KIND_ALERTS, version=version, activated_by="risk")

    off_the_event_loop(store)

    with _console(live_server, "risk-lead", expected_failures=set(), active=2) as page:
        expect(page.locator("#versions tr[data-version='3'] .status")).to_have_text("retired")
        expect(page.locator("button[data-activate='3']")).to_have_text("Activate")
        expect(page.locator("button[data-activate='1']")).to_have_text("Roll back")

        page.click("button[data-activate='3']")
        dialog = page.locator("#activate-dialog")
        expect(dialog.locator("#activate-title")).to_have_text("Activate v3 of the alerts rules?")
        expect(dialog.locator("#activate-confirm")).to_have_text("Activate")
        page.click("#activate-cancel")

        page.click("button[data-activate='1']")
        expect(dialog.locator("#activate-title")).to_have_text("Roll the alerts rules back to v1?")
        expect(dialog.locator("#activate-confirm")).to_have_text("Roll back")


@committed
def test_on_a_phone_the_versions_table_scrolls_inside_its_card_to_the_activate_button(
    live_server,
):
    off_the_event_loop(_risk_lead_and_a_draft)

    with _console(live_server, "risk-lead", expected_failures=set(), viewport=PHONE) as page:
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        activate = page.locator("button[data-activate='2']")
        assert reachable_across(page, activate, width=PHONE["width"])
        activate.click()
        expect(page.locator("#activate-dialog")).to_be_visible()


@committed
def test_a_wide_table_says_it_scrolls_only_while_it_overflows_its_card(live_server):
    """The versions table fits a laptop's card; on a phone it scrolls, and a caption says so."""
    off_the_event_loop(_risk_lead_and_a_draft)
    hint = ".card:has(#versions) .scroll-hint"

    with _console(live_server, "risk-lead", expected_failures=set()) as page:
        expect(page.locator("#versions tr[data-version='2']")).to_contain_text("draft")
        expect(page.locator(hint)).to_be_hidden()

        page.set_viewport_size(PHONE)
        expect(page.locator(hint)).to_be_visible()
        expect(page.locator(hint)).to_have_text("Scroll sideways for more columns →")

        page.set_viewport_size(LAPTOP)
        expect(page.locator(hint)).to_be_hidden()


# Counts, in the page, the versions' sources it has read (their numbers), once the page's own
# code has done with each: the test knows when a source it held back has landed.
SOURCES_READ = """
window.sourcesRead = [];
const read = Response.prototype.json;
Response.prototype.json = async function () {
  const body = await read.call(this);
  if (body && typeof body.source === "string") {
    setTimeout(() => window.sourcesRead.push(body.version), 0);
  }
  return body;
};
"""


@committed
def test_a_diff_whose_source_comes_after_a_newer_diff_was_shown_does_not_replace_it(
    live_server,
):
    """v1 to v2 asked first, v2's source held back; v1 to v3 asked next, drawn at once (both
    sources read already). v2's source then lands: the newer diff stays."""

    def store() -> None:
        _risk_lead_and_a_draft()
        rule_set_version_get_or_create(
            kind=KIND_ALERTS, source=f"{LOWER_THRESHOLD}# the third\n", created_by="risk"
        )

    off_the_event_loop(store)
    held = []

    def hold(route) -> None:
        held.append(route)  # answered below, once the newer diff is drawn

    with _console(live_server, "risk-lead", expected_failures=set()) as page:
        page.add_init_script(SOURCES_READ)
        page.reload()
        expect(page.locator("#versions tr[data-version='3']")).to_contain_text("draft")
        expect(page.locator("#diff .diff-file").first).to_have_text("--- alerts v1\n")
        assert _diff_shown(page) == ["alerts v1", "alerts v3"]  # v1 and v3 read
        page.route(f"{live_server.url}/api/v1/rules/alerts/versions/2", hold)

        page.select_option("#diff-to", "2")
        with page.expect_request(f"{live_server.url}/api/v1/rules/alerts/versions/2"):
            page.click("#diff-form button[type=submit]")
        page.select_option("#diff-to", "3")
        page.click("#diff-form button[type=submit]")
        expect(page.locator("#diff .diff-file").last).to_have_text("+++ alerts v3\n")
        [source] = held
        source.continue_()
        page.wait_for_function("window.sourcesRead.includes(2)")

        assert _diff_shown(page) == ["alerts v1", "alerts v3"]


@committed
def test_the_backtest_window_is_typed_in_utc_24_hour_and_checked_by_the_server(
    live_server, settings, tmp_path
):
    """Chromium's datetime-local showed "mm/dd/yyyy, --:--:-- --", a US 12-hour clock, on a
    console where every time is UTC: text inputs say the form the API takes, and the API says
    what is wrong with a time, at its field."""
    settings.EMBEDDED_WORKER_SOCKET = str(tmp_path / "no-worker.sock")  # the wake-up is dropped
    off_the_event_loop(_risk_lead_and_a_draft)
    backtests = f"{live_server.url}/api/v1/rules/alerts/versions/2/backtests"

    with _console(live_server, "risk-lead", expected_failures={backtests}) as page:
        for name in ("from", "to"):
            field = page.locator(f"#backtest-{name}")
            expect(field).to_have_attribute("type", "text")
            expect(field).to_have_attribute(
                "placeholder", re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\dZ$")
            )
            expect(page.get_by_label(f"{name.capitalize()} (UTC, 24-hour)")).to_have_count(1)
        expect(page.locator("#backtest-version")).to_have_value("2")

        page.fill("#backtest-from", "2026-11-30T14:00")
        page.click("#backtest-submit")
        expect(page.locator("#backtest-status")).to_contain_text(
            "from: The timestamp must carry a timezone, such as Z or +01:00."
        )

        page.fill("#backtest-from", "2026-11-30T14:00Z")
        page.fill("#backtest-to", "2026-12-01T09:30Z")
        with page.expect_request(lambda request: request.url == backtests) as sent:
            page.click("#backtest-submit")
        assert sent.value.post_data_json == {"from": "2026-11-30T14:00Z", "to": "2026-12-01T09:30Z"}
        expect(page.locator("#backtest-status")).to_contain_text("Waiting for a worker")
