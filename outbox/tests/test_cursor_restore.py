"""The claim cursor survives a restore or a move to another PostgreSQL cluster.

Such a move keeps the rows but not the transaction ids: the new cluster gives out lower ones,
so the messages written since lie behind the cursor. Claims stop loudly until the cursor is
rebased, then everything ships once.
"""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from structlog.testing import capture_logs

from outbox.contracts import CONSUMER_ANALYTICS
from outbox.models import OutboxBatch, OutboxCursor, OutboxMessage
from outbox.relay import outbox_relay
from outbox.services import outbox_shipped_purge

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def restored(publish):
    """What a restore from another cluster leaves: 3 messages shipped there, 2 committed there
    but not claimed yet, and the cursor between them, all at transaction ids this server has
    not given out yet."""
    publish(3)
    publish(2)
    ids = sorted(OutboxMessage.objects.values_list("id", flat=True))
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()::text::bigint + 1000000")
        (old,) = cursor.fetchone()
    OutboxMessage.objects.filter(id__in=ids[:3]).update(xid=old)
    OutboxMessage.objects.filter(id__in=ids[3:]).update(xid=old + 1)
    OutboxBatch.objects.create(
        consumer=CONSUMER_ANALYTICS,
        first_xid=old,
        first_id=ids[0],
        last_xid=old,
        last_id=ids[2],
        size=3,
        oldest_at=timezone.now(),
        attempts=1,
        shipped_at=timezone.now() - timedelta(hours=2),
    )
    OutboxCursor.objects.create(consumer=CONSUMER_ANALYTICS, xid=old, id=ids[2])
    return old


def test_a_cursor_ahead_of_the_server_stops_claims_loudly(
    event_log, publish, restored, settings, api_client
):
    """Before: claims found nothing for ever, and nothing said so."""
    settings.OUTBOX_RETENTION_SECONDS = 3600
    publish(2)  # written since the restore: lower transaction ids than the cursor's

    with capture_logs() as logs:
        assert outbox_relay().messages == 0

    [ahead] = [entry for entry in logs if entry["event"] == "outbox.cursor_ahead"]
    assert ahead["consumer"] == CONSUMER_ANALYTICS and ahead["cursor_xid"] == restored
    from outbox.selectors import outbox_cursors_ahead  # the status /healthz/status shows

    [stalled] = outbox_cursors_ahead()
    assert (stalled.consumer, stalled.cursor_xid) == (CONSUMER_ANALYTICS, restored)
    assert stalled.server_next_xid < restored
    status = api_client.get("/healthz/status").json()
    assert status["status"] == "degraded" and "outbox" in status["failed"]
    assert "rebase-cursor" in status["checks"]["outbox"]
    [shown] = status["outbox_cursors_ahead"]
    assert (shown["consumer"], shown["cursor_xid"]) == (CONSUMER_ANALYTICS, restored)
    # Read afresh: other clients of the server may have taken transaction ids since.
    assert stalled.server_next_xid <= shown["server_next_xid"] < restored
    assert outbox_shipped_purge() == 0, "a stalled consumer's shipped ranges are left alone"
    assert event_log.count() == 0


def test_rebasing_the_cursor_ships_what_was_left_and_what_came_since_once(
    event_log, publish, restored, capsys, settings
):
    from outbox.selectors import outbox_cursors_ahead

    settings.OUTBOX_RETENTION_SECONDS = 3600
    publish(2)

    call_command("outbox", "rebase-cursor")
    shipped = outbox_relay()

    assert "analytics: cursor rebased, 5 messages of the old cluster" in capsys.readouterr().out
    assert outbox_cursors_ahead() == []
    assert shipped.messages == 4, "the 2 left unclaimed there and the 2 written since"
    assert event_log.count() == 4
    assert event_log.keys_seen_more_than_once() == []
    publish(1)
    assert outbox_relay().messages == 1
    assert outbox_shipped_purge() == 3, "the old cluster's shipped batch, past retention"
