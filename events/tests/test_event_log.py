"""The event table is the log: a consumer reads every event once, in commit order.

PostgreSQL only (not in the SQLite API pass): SQLite has one writer at a time, so no
transaction can stay open while another commits.
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from events.contracts import EventInput
from events.ingestion import events_insert_new
from events.log import EVENT_LOG
from events.models import Event
from outbox.batches import batch_claim
from outbox.consumers import HANDLERS
from outbox.logs import CONSUMER_STREAMS, STREAMS
from outbox.models import OutboxCursor
from outbox.services import outbox_consumer_register, outbox_cursors_rebase, outbox_process

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class _Session:
    """A database session of its own, in a thread of its own, whose transaction spans calls."""

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1)
        self._atomic: Any = None

    def run(self, work: Callable[[], Any]) -> Any:
        return self._thread.submit(work).result(timeout=30)

    def begin(self) -> None:
        def enter() -> None:
            self._atomic = transaction.atomic()
            self._atomic.__enter__()

        self.run(enter)

    def commit(self) -> None:
        self.run(lambda: self._atomic.__exit__(None, None, None))

    def close(self) -> None:
        self.run(connections.close_all)
        self._thread.shutdown()


def _store(n: int) -> int:
    event = EventInput(
        tenant_id="tenant_1",
        event_id=f"late_{n}",
        source="web",
        event_type="purchase",
        occurred_at=T0 + timedelta(seconds=n),
    )
    [pk] = events_insert_new(events=[event], received_at=timezone.now()).values()
    return pk


def _take_transaction_id() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()")


@pytest.fixture
def recorded():
    """A consumer of the event log that records the events its handler is given, in order."""
    seen: list[int] = []
    outbox_consumer_register(
        consumer="recorder",
        handler=lambda messages: seen.extend(id for id, _, _, _ in messages),
        logs=[EVENT_LOG],
    )
    yield seen
    HANDLERS.pop("recorder")
    CONSUMER_STREAMS.pop("recorder")
    STREAMS.pop(EVENT_LOG.stream("recorder"))


@pytest.mark.django_db(transaction=True)
def test_an_event_that_commits_late_with_a_lower_id_is_read_once_after_it_commits(recorded):
    early, late = _Session(), _Session()
    try:
        # `early` has the older transaction id, `late` the lower event id: (xid, id) order and
        # id order disagree, and `late` commits last.
        early.begin()
        early.run(_take_transaction_id)
        late.begin()
        lower = late.run(lambda: _store(1))
        higher = early.run(lambda: _store(2))
        assert lower < higher

        outbox_process(consumer="recorder")
        seen_while_both_open = list(recorded)
        early.commit()
        outbox_process(consumer="recorder")
        seen_while_late_open = list(recorded)
        late.commit()
        outbox_process(consumer="recorder")
    finally:
        early.close()
        late.close()

    assert seen_while_both_open == []
    assert seen_while_late_open == [higher], "the committed event, behind the open transaction"
    assert recorded == [higher, lower], "the late event read after it committed, once"
    assert outbox_process(consumer="recorder").messages == 0


@pytest.mark.django_db(transaction=True)
def test_a_restored_event_log_resumes_after_its_cursor_is_rebased(recorded):
    """A restore keeps the events but not their transaction ids: the new cluster's are lower."""
    old = [_store_committed(n) for n in range(3)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()::text::bigint + 1000000")
        (restored_xid,) = cursor.fetchone()
    Event.objects.filter(pk__in=old).update(xid=restored_xid)
    stream = EVENT_LOG.stream("recorder")
    OutboxCursor.objects.create(consumer=stream, xid=restored_xid, id=old[1])
    since = _store_committed(3)

    stalled = outbox_process(consumer="recorder").messages
    [rebased] = outbox_cursors_rebase()
    outbox_process(consumer="recorder")

    assert stalled == 0, "claims stop while the cursor is ahead of the server"
    assert rebased.consumer == stream and rebased.messages == 3
    assert recorded == [old[2], since], "the rest of the old cluster's, then what came since"


def _store_committed(n: int) -> int:
    with transaction.atomic():
        return _store(n)


def test_storing_events_asks_no_worker_to_wake_their_consumers_read_them_on_their_tick(
    db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as after_commit:
        _store(1)

    assert after_commit == []


@pytest.mark.django_db(transaction=True)
def test_a_claim_with_nothing_after_its_cursor_costs_one_statement(recorded):
    stream = EVENT_LOG.stream("recorder")
    _store_committed(1)
    outbox_process(consumer="recorder")

    with CaptureQueriesContext(connection) as statements:
        claimed = batch_claim(stream, size=100)

    assert claimed is None
    assert len(statements) == 1, [statement["sql"] for statement in statements]
