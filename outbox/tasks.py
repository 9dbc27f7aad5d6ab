"""Celery tasks of the outbox: thin wrappers that call one service each."""

import structlog
from celery import shared_task

from outbox.contracts import CONSUMER_ANALYTICS
from outbox.worker_channel import wakeup_started

log = structlog.get_logger(__name__)


@shared_task(name="outbox.outbox_relay", ignore_result=True, acks_late=True)
def outbox_relay_task(consumer: str = CONSUMER_ANALYTICS) -> None:
    """Process one consumer: the tick's task per consumer before `outbox.outbox_tick`, kept so
    that a message an older beat queued still runs."""
    from django.conf import settings

    from outbox.services import outbox_process

    outbox_process(consumer=consumer, max_seconds=settings.OUTBOX_RELAY_MAX_SECONDS)


@shared_task(name="outbox.outbox_tick", ignore_result=True, acks_late=True)
def outbox_tick_task() -> None:
    """Process every consumer of the event logs in turn: the worker schedule's tick, one task for
    them all (queued by an older beat, it still runs)."""
    from django.conf import settings

    from outbox.services import outbox_tick

    outbox_tick(max_seconds=settings.OUTBOX_RELAY_MAX_SECONDS)


@shared_task(name="outbox.outbox_wakeup", ignore_result=True, acks_late=True)
def outbox_wakeup_task(consumer: str) -> None:
    """Process one consumer because a commit asked: clear its pending mark first.

    Cleared before looking for work, so a commit from now on sends the next wake-up
    (outbox.worker_channel); the sweep's task leaves the mark to the wake-up that holds it.
    """
    from django.conf import settings

    from outbox.services import outbox_process

    wakeup_started(consumer)
    outbox_process(consumer=consumer, max_seconds=settings.OUTBOX_RELAY_MAX_SECONDS)


@shared_task(name="outbox.outbox_process_many", ignore_result=True, acks_late=True)
def outbox_process_many_task(consumers: list[str]) -> None:
    """Fan the on-commit wake-up, one message for them all, out to one task per consumer.

    The web process pays for one message; the consumers then run side by side on any free
    worker processes, so a long ClickHouse relay never holds the notifications back.
    """
    for consumer in consumers:
        outbox_wakeup_task.apply_async(args=(consumer,))


@shared_task(name="outbox.outbox_shipped_purge", ignore_result=True, acks_late=True)
def outbox_shipped_purge_task() -> None:
    from outbox.services import outbox_shipped_purge

    outbox_shipped_purge()


@shared_task(name="outbox.clickhouse_heartbeat_record", ignore_result=True)
def clickhouse_heartbeat_record_task() -> None:
    from outbox.services import clickhouse_heartbeat_record

    clickhouse_heartbeat_record()


@shared_task(name="outbox.clickhouse_query_readonly", ignore_result=False)
def clickhouse_query_readonly_task(query: str) -> dict:
    """Run a read-only query in the process that holds the embedded store.

    A query ClickHouse refuses is the operator's mistake, not the worker's failure: it is
    answered as `{"error": ...}` and logged as one warning, without a traceback.
    """
    from outbox.exceptions import ClickHouseRejected
    from outbox.selectors import clickhouse_query_readonly, clickhouse_value_text

    try:
        columns, rows = clickhouse_query_readonly(query)
    except ClickHouseRejected as exc:
        log.warning("clickhouse.query_refused", error=str(exc))
        return {"error": str(exc)}
    return {
        "columns": columns,
        "rows": [[clickhouse_value_text(value) for value in row] for row in rows],
    }
