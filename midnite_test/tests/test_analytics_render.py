"""PostgreSQL renders a batch as the rows the relay would build in Python, or not at all."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import transaction

from alerts.analytics import TOPIC_ALERT_RAISED, alert_record
from events.analytics import TOPIC_EVENT_STORED
from midnite_test.tests.analytics_rows import AWKWARD, batch_claimed, rendered_and_built
from outbox.analytics_copy import batch_render
from outbox.contracts import CONSUMER_ANALYTICS, AnalyticsRecord, Message
from outbox.models import OutboxMessage
from outbox.services import outbox_publish, outbox_publish_subjects

pytestmark = pytest.mark.django_db

BUILT = "event_log_built"


def _publish(messages: list[Message]) -> None:
    with transaction.atomic():
        outbox_publish(messages=messages, consumers=[CONSUMER_ANALYTICS])


def test_the_rendered_rows_are_the_rows_built_in_python(event_log, users, store_event):
    events = [
        store_event(
            event_id="txn:1:1",
            user=users[0],
            amount=Decimal("150.10"),
            properties={"note": AWKWARD, "nested": {"list": [1, None, 2.5, True]}},
        ),
        store_event(
            tenant_id="tenant_2", event_id=f"odd:{AWKWARD}", event_type="signup", source=""
        ),
        # Seven seconds and a microsecond after the epoch: a time with few digits.
        store_event(event_id="txn:1:7", occurred_at=datetime(1970, 1, 1, 0, 0, 7, 1, tzinfo=UTC)),
    ]
    with transaction.atomic():
        outbox_publish_subjects(
            topic=TOPIC_EVENT_STORED,
            subject_ids=[event.pk for event in events],
            consumers=[CONSUMER_ANALYTICS],
        )
    _publish(
        [
            alert_record(event=events[0], code=1100).as_message(topic=TOPIC_ALERT_RAISED),
            AnalyticsRecord(
                key="anonymous:1",
                event_type="page_viewed",
                occurred_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
                tenant_id="default",
                user_id=None,
                context={"path": AWKWARD},
            ).as_message(topic="page_viewed"),
        ]
    )
    batch = batch_claimed(CONSUMER_ANALYTICS)

    published = OutboxMessage.objects.filter(consumer=CONSUMER_ANALYTICS).count()
    assert published == 9 == batch.size  # and the user_created messages of the fixture's users

    stored, built = rendered_and_built(batch, built_table=BUILT)

    assert len(stored) == published and stored == built


@pytest.mark.parametrize(
    "payload_change",
    [
        pytest.param({"event_type": None}, id="a field missing"),
        pytest.param({"user_id": 2**70}, id="a user id no Int64 holds"),
        pytest.param({"user_id": "seven"}, id="a user id that is not a number"),
        pytest.param({"occurred_at": "2025-10-31T19:30:00"}, id="a time without a zone"),
        pytest.param({"occurred_at": "yesterday"}, id="not a time"),
    ],
)
def test_a_payload_the_sql_cannot_vouch_for_is_left_to_python(event_log, payload_change):
    message = _payload_message()
    payload = {**message.payload, **payload_change}
    _publish([message, Message(topic=message.topic, payload=payload)])

    assert batch_render(batch_claimed(CONSUMER_ANALYTICS)) is None


def test_a_subject_without_its_row_is_left_to_python(event_log, users, store_event):
    stored = store_event(event_id="txn:2:1", user=users[0])
    with transaction.atomic():
        outbox_publish_subjects(
            topic=TOPIC_EVENT_STORED,
            subject_ids=[stored.pk, stored.pk + 1_000_000],
            consumers=[CONSUMER_ANALYTICS],
        )

    assert batch_render(batch_claimed(CONSUMER_ANALYTICS)) is None


def test_a_topic_with_no_sql_source_is_left_to_python(event_log):
    _publish([Message(topic="loaded_in_python_only", subject_id=1)])

    assert batch_render(batch_claimed(CONSUMER_ANALYTICS)) is None


def test_the_dead_lettered_messages_of_a_range_are_not_rendered(event_log):
    _publish([_payload_message(n) for n in range(3)])
    batch = batch_claimed(CONSUMER_ANALYTICS)
    OutboxMessage.objects.filter(pk=OutboxMessage.objects.order_by("id")[1].pk).update(
        dead_lettered_at=datetime.now(tz=UTC)
    )
    batch.size = 2  # as batch_failure_record leaves a range once a message is parked

    rendered = batch_render(batch)

    assert rendered is not None and rendered.tsv.count(b"\n") == 2


def _payload_message(n: int = 0) -> Message:
    return AnalyticsRecord(
        key=f"test:{n}",
        event_type="test_happened",
        occurred_at=datetime(2025, 10, 31, 19, 30, n, tzinfo=UTC),
        tenant_id="tenant_1",
        user_id=n,
        context={"n": n},
    ).as_message(topic="test")
