import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count

import pytest
from django.db import transaction

from events.models import Event
from notifications.evaluation import notification_events_evaluate
from notifications.models import Notification
from users.models import User

_ids = count(1)


@pytest.fixture
def app_user(db):
    """A product user `u_1` who has opted in to marketing, with an email address."""
    return User.objects.create(
        external_id="u_1", email="u1@example.com", traits={"marketing_opt_in": True}
    )


def product_event(
    user: User,
    event_type: str,
    at: datetime,
    properties: dict | None = None,
    traits: dict | None = None,
) -> Event:
    """Store a product event for `user` as ingestion does, merging `traits` into the user."""
    if traits:
        user.traits = {**user.traits, **traits}
        user.save(update_fields=["traits"])
    return Event.objects.create(
        event_id=f"test-{next(_ids)}",
        user=user,
        event_type=event_type,
        source="product",
        occurred_at=at,
        properties=properties or {},
        user_traits=user.traits,
    )


def evaluate(*events: Event) -> dict[str, Notification]:
    """Evaluate `events` as the notifications consumer does; return their decisions by rule."""
    with transaction.atomic():
        notification_events_evaluate(event_ids=[event.pk for event in events])
    return {
        f"{notification.rule}@{notification.trigger_event.event_id}": notification
        for notification in Notification.objects.filter(trigger_event__in=events)
    }


def decision(event: Event, rule: str) -> Notification:
    return Notification.objects.get(trigger_event=event, rule=rule)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict


@dataclass
class WebhookServer:
    """A loopback HTTP server that answers each POST with the next of `answers`.

    An answer is (status, body); the last one repeats. Status None holds the request until the
    test ends (or sets `release`), so the client times out; `holding` is set once one is held.
    Every answer waits `delay_seconds` first: a slow provider.
    """

    url: str
    answers: list[tuple[int | None, str]] = field(default_factory=lambda: [(200, "ok")])
    received: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    holding: threading.Event = field(default_factory=threading.Event)
    # Set once the first request has arrived.
    arrived: threading.Event = field(default_factory=threading.Event)
    delay_seconds: float = 0.0

    def keys(self) -> list[str]:
        """Return the idempotency key of each request received, in order."""
        return [request.body["idempotency_key"] for request in self.received]


@pytest.fixture
def webhook():
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    state = WebhookServer(url=f"http://127.0.0.1:{server.server_address[1]}/hook")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append(Received(self.path, dict(self.headers), json.loads(raw)))
            state.arrived.set()
            status, text = state.answers.pop(0) if len(state.answers) > 1 else state.answers[0]
            if status is None:
                state.holding.set()
                state.release.wait(timeout=30)
                return
            time.sleep(state.delay_seconds)  # the slow provider the test asks for
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(text.encode())

        def log_message(self, format, *args) -> None:
            pass

    server.RequestHandlerClass = Handler
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()
