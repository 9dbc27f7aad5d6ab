"""What deciding a batch costs on PostgreSQL, where the workers run, whatever its size: a fixed
number of statements and no model object per decision (Django's constructors and bulk_create
were most of a batch's time). SQLite (`make run`) takes bulk_create's way."""

from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

from django.db import connection, transaction
from django.db.models.signals import post_init
from django.test.utils import CaptureQueriesContext

from events.models import Event
from notifications.evaluation import notification_events_evaluate
from notifications.models import Decision, Notification
from notifications.tests.conftest import product_event
from users.models import User

START = datetime(2025, 10, 30, 12, 0, tzinfo=timezone.utc)
# Each kind triggers every rule of its type; the welcome email is scheduled for opted-in users.
KINDS = (
    ("signup_completed", {}),
    ("link_bank_success", {}),
    ("payment_failed", {"failure_reason": "INSUFFICIENT_FUNDS", "amount": "42.00"}),
    ("payment_failed", {"failure_reason": "CARD_DECLINED", "attempt_number": 3}),
)


def _events(count: int) -> list[Event]:
    """Store `count` events, of every kind in turn, over count / 4 users."""
    users = User.objects.bulk_create(
        User(external_id=f"u_cost_{count}_{n}", email=f"u{count}_{n}@example.com")
        for n in range(count // 4)
    )
    return [
        product_event(
            users[n % len(users)],
            KINDS[n % len(KINDS)][0],
            START + timedelta(seconds=n),
            KINDS[n % len(KINDS)][1],
            traits={"marketing_opt_in": True},
        )
        for n in range(count)
    ]


@contextmanager
def _constructed(*models: type) -> list:
    """Collect every instance of `models` constructed inside the block."""
    made: list = []

    def receiver(sender, instance, **kwargs):
        if sender in models:
            made.append(instance)

    post_init.connect(receiver, weak=False)
    try:
        yield made
    finally:
        post_init.disconnect(receiver)


def _decided(events: list[Event]) -> tuple[int, list[str]]:
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        decided = notification_events_evaluate(event_ids=[event.pk for event in events])
    return decided, [query["sql"] for query in queries.captured_queries]


def test_a_batch_builds_no_notification_or_decision_objects(db):
    events = _events(40)
    with _constructed(Notification, Decision) as made:
        decided, _ = _decided(events)
    assert decided == Notification.objects.count() == Decision.objects.count() > 40
    assert made == []


def test_the_statements_of_a_batch_do_not_grow_with_it(db):
    small, large = (_decided(_events(size))[1] for size in (4, 40))
    assert len(small) == len(large)
