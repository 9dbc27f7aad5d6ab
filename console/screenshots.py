"""`make screenshots`: the console's pages as pictures, for the README (docs/console-*.png).

Builds a throwaway service under var/screenshots/ (SQLite and embedded ClickHouse, made fresh
on every run), tells it a story through its own API (users; transactions, some raising alerts;
product events whose notifications are sent or suppressed; a dead letter), runs every outbox
consumer in this process, serves the site from a thread and photographs each console page
that exists in a 1280x800 window (the whole page) in Debian's chromium, logged in through
the login form.

    .venv/bin/python -m console.screenshots [--out docs] [--size 390x844]
"""

import argparse
import os
import random
import shutil
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var" / "screenshots"
# Not pages to show: where they lead, or what a page polls.
NOT_PAGES = {"home", "login", "logout"}
# What a page is shown with: the people page finds one of the story's app users.
PAGE_QUERIES = {"people": "?q=app_001"}
STAFF, PASSWORD = "oncall", "console-screenshots"


def _environment() -> None:
    """A throwaway service: whatever the shell says, never a real database or broker."""
    shutil.rmtree(VAR_DIR, ignore_errors=True)
    VAR_DIR.mkdir(parents=True)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="midnite_test.settings",
        VAR_DIR=str(VAR_DIR),
        DATABASE_URL=f"sqlite:///{VAR_DIR / 'console.sqlite3'}",
        ALLOW_ANONYMOUS="true",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        NOTIFICATION_CONSOLE_DELIVERY="true",
        LOG_LEVEL="WARNING",
    )
    for name in ("CELERY_BROKER_URL", "CLICKHOUSE_URL", "CACHE_URL", "SENTRY_DSN"):
        os.environ.pop(name, None)


def _transactions(client, rng: random.Random, now: datetime) -> None:
    """Forty customers' deposits and withdraws over the last hour, in time order per user."""
    from users.models import User

    start = int(now.timestamp()) - 58 * 60
    for n in range(40):
        user = User.objects.create(external_id=f"cust_{n:03}", email=f"cust{n}@example.com")
        t = start + rng.randrange(0, 600)
        for _ in range(rng.randrange(3, 9)):
            kind = rng.choice(["deposit", "deposit", "withdraw"])
            amount = rng.choice(["12.00", "25.00", "60.00", "90.00", "140.00"])
            body = {"type": kind, "amount": amount, "user_id": user.pk, "t": t}
            client.post("/event", body, content_type="application/json")
            t += rng.randrange(60, 480)
            if t > now.timestamp():
                break


def _product_events(client, rng: random.Random, now: datetime) -> None:
    """Sign-ups, bank links and failed payments of sixty app users over the last hour."""
    events = []
    for n in range(60):
        traits = {"marketing_opt_in": rng.random() < 0.8}
        if rng.random() < 0.75:
            traits["email"] = f"user{n}@example.com"
        if rng.random() < 0.5:
            traits["phone"] = f"+4477009{n:05}"
        if rng.random() < 0.1:
            traits["unsubscribed"] = True
        at = now - timedelta(minutes=rng.randrange(5, 58))
        user = f"app_{n:03}"
        events.append((at, user, "signup_completed", {}, traits))
        if rng.random() < 0.2:  # signed up twice: the welcome email is sent once
            events.append((at + timedelta(minutes=1), user, "signup_completed", {}, {}))
        if rng.random() < 0.6:
            events.append((at + timedelta(minutes=3), user, "link_bank_success", {}, {}))
        if rng.random() < 0.3:
            reason = rng.choice(["INSUFFICIENT_FUNDS", "CARD_DECLINED"])
            properties = {"failure_reason": reason, "attempt_number": rng.randrange(1, 5)}
            properties |= {"amount": "42.00", "currency": "GBP"}
            events.append((at + timedelta(minutes=4), user, "payment_failed", properties, {}))
    items = [
        {
            "event_id": f"app_evt_{index}",
            "user_id": user,
            "event_type": event_type,
            "event_timestamp": at.isoformat().replace("+00:00", "Z"),
            "properties": properties,
            "user_traits": traits,
        }
        for index, (at, user, event_type, properties, traits) in enumerate(sorted(events))
    ]
    response = client.post("/api/v1/events", items, content_type="application/json")
    assert response.status_code == 202, response.content


def _seed() -> None:
    """The story, then every consumer run, a heartbeat and one dead letter."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    from events.models import Event
    from notifications.sending import notifications_send_due
    from outbox.contracts import CONSUMER_ANALYTICS, CONSUMER_METRICS, CONSUMER_NOTIFICATIONS
    from outbox.models import OutboxMessage
    from outbox.services import clickhouse_heartbeat_record, outbox_process

    call_command("migrate", verbosity=0)
    call_command("clickhouse_migrate", verbosity=0)
    get_user_model().objects.create_superuser(STAFF, password=PASSWORD)
    client, rng, now = Client(), random.Random(19), timezone.now()
    _transactions(client, rng, now)
    _product_events(client, rng, now)
    for consumer in (CONSUMER_METRICS, CONSUMER_NOTIFICATIONS, CONSUMER_ANALYTICS):
        outbox_process(consumer=consumer)
    notifications_send_due()
    clickhouse_heartbeat_record()
    event = Event.objects.filter(event_type="payment_failed").first()
    OutboxMessage.objects.create(
        consumer=CONSUMER_NOTIFICATIONS,
        topic="event_stored",
        subject_id=event.pk if event else 1,
        attempts=5,
        last_error="TemplateError: INSUFFICIENT_FUNDS_EMAIL: {{amount}} is not a number",
        dead_lettered_at=now,
    )


def _serve() -> str:
    """Serve the site (and its static files) from a thread; return its address."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = ThreadedWSGIServer(("127.0.0.1", 0), QuietHandler, allow_reuse_address=True)
    server.set_app(StaticFilesHandler(WSGIHandler()))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


def console_pages() -> list[tuple[str, str]]:
    """Each console page that takes no argument, and its picture's name: `console-<name>.png`
    (the URL's name, `_` as `-`). Its JSON endpoints (`api/...`) are no pages."""
    from django.urls import URLPattern

    from console.urls import urlpatterns

    return [
        (
            f"/console/{pattern.pattern}{PAGE_QUERIES.get(pattern.name, '')}",
            f"console-{pattern.name.replace('_', '-')}.png",
        )
        for pattern in urlpatterns
        if isinstance(pattern, URLPattern)
        and pattern.name not in NOT_PAGES
        and not str(pattern.pattern).startswith("api/")
        and "<" not in str(pattern.pattern)
    ]


def _shoot(base_url: str, out: Path, viewport: dict) -> list[Path]:
    from playwright.sync_api import expect, sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    written, errors = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
        page = browser.new_page(viewport=viewport)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{base_url}/console/login/?next=/console/overview/")
        page.get_by_label("Username").fill(STAFF)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("button", name="Log out")).to_be_visible()
        for path, name in console_pages():
            page.goto(f"{base_url}{path}")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=out / name, full_page=True)
            written.append(out / name)
        browser.close()
    if errors:
        raise SystemExit(f"script errors on the console's pages: {errors}")
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=BASE_DIR / "docs")
    parser.add_argument("--size", default="1280x800", help="the window, WIDTHxHEIGHT")
    args = parser.parse_args()
    width, height = (int(n) for n in args.size.split("x"))
    _environment()
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    started = datetime.now(UTC)
    _seed()
    base_url = _serve()
    for path in _shoot(base_url, args.out, {"width": width, "height": height}):
        print(path)
    print(f"in {(datetime.now(UTC) - started).total_seconds():.0f} s")


if __name__ == "__main__":
    main()
