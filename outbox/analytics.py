"""Turn analytics messages into ClickHouse `event_log` rows.

A message carries either an AnalyticsRecord as its payload (`AnalyticsRecord.as_message`) or
the id of a stored row, which the app that owns the row turns into records through a loader
it registers at start-up (`outbox.services.analytics_loader_register`); the outbox imports no
domain app.
"""

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from django.conf import settings

from outbox.contracts import AnalyticsRecord
from outbox.exceptions import PoisonMessage

# Bumped when the meaning of a row changes; ReplacingMergeTree keeps the highest version.
METADATA_VERSION = 1

Loader = Callable[[Sequence[int]], dict[int, AnalyticsRecord]]
# topic -> loader, filled by the apps that own the rows (outbox.services.analytics_loader_register).
LOADERS: dict[str, Loader] = {}


def event_log_rows(messages: Iterable[tuple[int, str, int | None, Any]]) -> list[tuple]:
    """Return the event_log rows of `(id, topic, subject_id, payload)` messages, in order.

    Raises PoisonMessage naming the first message that cannot become a row.
    """
    messages = list(messages)
    by_topic: dict[str, list[int]] = defaultdict(list)
    for _, topic, subject_id, payload in messages:
        if payload is None:
            by_topic[topic].append(subject_id)
    loaded = {topic: _load(topic, ids) for topic, ids in by_topic.items()}
    environment = settings.ENVIRONMENT
    rows = []
    for message_id, topic, subject_id, payload in messages:
        try:
            record = (
                _record_from_payload(payload) if payload is not None else loaded[topic][subject_id]
            )
            rows.append(_row(record, environment))
        except (KeyError, TypeError, ValueError) as exc:
            raise PoisonMessage(f"message {message_id} ({topic}): {type(exc).__name__}: {exc}")
    return rows


def _load(topic: str, ids: Sequence[int]) -> dict[int, AnalyticsRecord]:
    loader = LOADERS.get(topic)
    return loader(ids) if loader else {}


def _record_from_payload(payload: dict[str, Any]) -> AnalyticsRecord:
    occurred_at = datetime.fromisoformat(payload["occurred_at"])
    if occurred_at.tzinfo is None:
        raise ValueError(f"occurred_at {payload['occurred_at']!r} has no timezone")
    return AnalyticsRecord(
        key=payload["key"],
        event_type=payload["event_type"],
        occurred_at=occurred_at,
        tenant_id=payload["tenant_id"],
        user_id=payload["user_id"],
        context=payload["context"],
    )


def _row(record: AnalyticsRecord, environment: str) -> tuple:
    return (
        record.event_log_id,
        record.event_type,
        record.occurred_at,
        environment,
        json.dumps(record.context, sort_keys=True, separators=(",", ":")),
        METADATA_VERSION,
        record.tenant_id,
        record.user_id,
    )
