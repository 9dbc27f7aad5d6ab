"""Product events (POST /api/v1/events): stored once, users made on first sight, traits merged.

Every item of a batch is judged on its own. The valid ones are stored through the ingestion
service (`events_ingest`) with source "product", in one transaction with:
- the users they name by external id, created on first sight (`INSERT ... ON CONFLICT
  (external_id) DO NOTHING RETURNING`), each new one with its `user_created` message
  (`events.product.users`);
- each user's traits, merged (a shallow dict update) with the `user_traits` of the user's new
  events in item order, and each new event's snapshot of them as that event left them
  (`Event.user_traits`); a duplicate merges nothing;
- the new events' `event_stored` messages to analytics, metrics and notifications.

The users are locked (`SELECT ... FOR NO KEY UPDATE`, by id) before their events are looked up, so
concurrent batches of one user merge one after the other.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import structlog
from django.db import transaction

from events.contracts import EventInput, ProductEvent
from events.event_rows import events_stored_keys
from events.exceptions import TooManyEvents
from events.ingestion import IngestOutcome, conflict_messages, events_ingest
from events.product.contact_traits import contact_traits_check
from events.product.users import users_create_and_lock, users_traits_update
from events.validation import InvalidEvent, product_event_parse
from midnite_test.memory import collector_paused

log = structlog.get_logger(__name__)

MAX_PRODUCT_EVENTS = 5_000
PRODUCT_SOURCE = "product"
# Attempts at a batch whose new events another transaction stored first (see _store).
STORE_ATTEMPTS = 3


@dataclass(frozen=True, kw_only=True)
class ProductIngestOutcome:
    accepted: int
    duplicates: int
    rejected: list[dict[str, Any]]


def product_events_ingest(*, items: Sequence[Any], tenant_id: str) -> ProductIngestOutcome:
    """Store the valid new items of a product event batch for `tenant_id`.

    Each item is stored (accepted), a duplicate (its event id is stored with the same
    content: nothing is written, its traits are not merged) or rejected: invalid, or its
    event id is stored with other content. Rejected items are logged with their index and
    field names. Side effects, in one transaction: users created, traits merged, events and
    outbox messages written (see the module's docstring).
    Raises TooManyEvents (nothing stored) for more than MAX_PRODUCT_EVENTS items.
    """
    if len(items) > MAX_PRODUCT_EVENTS:
        raise TooManyEvents(
            f"A batch holds at most {MAX_PRODUCT_EVENTS:,} events; this one has "
            f"{len(items):,}. Split it; nothing was stored.",
            details={"max_events": MAX_PRODUCT_EVENTS, "events": len(items)},
        )
    with collector_paused():
        return _ingest(items, tenant_id)


def _ingest(items: Sequence[Any], tenant_id: str) -> ProductIngestOutcome:
    valid: list[tuple[int, ProductEvent]] = []
    rejected: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        try:
            event = product_event_parse(item)
            contact_traits_check(event.user_traits)
            valid.append((index, event))
        except InvalidEvent as exc:
            rejected.append({"index": index, "errors": exc.errors})
            _log_rejected(tenant_id, index, exc.errors, **_valid_ids(item, exc.errors))
    if not valid:
        return ProductIngestOutcome(accepted=0, duplicates=0, rejected=rejected)
    outcome = _store(tenant_id=tenant_id, events=[event for _, event in valid])
    indexes = [index for index, _ in valid]
    for position, message in conflict_messages(outcome, indexes).items():
        index, event = valid[position]
        errors = {"event_id": [f"{message.removesuffix('.')}; not stored."]}
        rejected.append({"index": index, "errors": errors})
        _log_rejected(tenant_id, index, errors, user_id=event.user_id, event_id=event.event_id)
    return ProductIngestOutcome(
        accepted=len(outcome.stored),
        duplicates=len(outcome.duplicates),
        rejected=sorted(rejected, key=lambda problem: problem["index"]),
    )


def _valid_ids(item: Any, errors: dict) -> dict[str, str]:
    """Return the ids of a rejected item that passed validation, to log."""
    if not isinstance(item, dict):
        return {}
    return {
        name: item[name] for name in ("user_id", "event_id") if name in item and name not in errors
    }


def _log_rejected(
    tenant_id: str,
    index: int,
    errors: dict,
    *,
    user_id: str | None = None,
    event_id: str | None = None,
) -> None:
    """Log a rejected item: its position, the fields at fault and its ids, never values."""
    log.info(
        "product_event.rejected",
        tenant_id=tenant_id,
        index=index,
        fields=sorted(errors),
        user_id=user_id,
        event_id=event_id,
    )


@transaction.atomic(durable=True)
def _store(*, tenant_id: str, events: list[ProductEvent]) -> IngestOutcome:
    """Create and lock the users, then store the events and merge their traits.

    Which events are new decides the traits each one snapshots, so it is found out before
    the insert, under the users' locks. Only another user's event can slip in between (a
    client reusing an event id across users): the insert then stores fewer events than
    found new, and the attempt is rolled back and made again, seeing that event stored.
    """
    users = users_create_and_lock(external_ids={event.user_id for event in events})
    for _ in range(STORE_ATTEMPTS):
        try:
            with transaction.atomic():
                return _store_once(tenant_id, events, users)
        except _StoredMeanwhile:
            continue
    raise RuntimeError(f"Events kept being stored by other transactions {STORE_ATTEMPTS} times")


class _StoredMeanwhile(Exception):
    """Another transaction stored an event of this batch after it was looked up."""


def _store_once(
    tenant_id: str, events: list[ProductEvent], users: dict[str, tuple[int, dict]]
) -> IngestOutcome:
    """Store the events, each new one with its user's traits as it leaves them."""
    inputs = [
        EventInput(
            tenant_id=tenant_id,
            event_id=event.event_id,
            source=PRODUCT_SOURCE,
            event_type=event.event_type,
            occurred_at=event.occurred_at,
            properties=event.properties,
            user_id=users[event.user_id][0],
        )
        for event in events
    ]
    stored = events_stored_keys(keys={event.key for event in inputs})
    new: dict[tuple[str, str], int] = {}
    for index, event in enumerate(inputs):
        if event.key not in stored:
            new.setdefault(event.key, index)
    traits = dict(users.values())
    changed = set()
    for index in new.values():
        pk = inputs[index].user_id
        merged = {**traits[pk], **events[index].user_traits}
        if merged != traits[pk]:
            traits[pk] = merged
            changed.add(pk)
        inputs[index] = replace(inputs[index], user_traits=traits[pk])
    outcome = events_ingest(
        events=inputs,
        properties_json=[event.properties_json for event in events],
    )
    if outcome.stored.keys() != set(new.values()):
        raise _StoredMeanwhile()
    users_traits_update(traits={pk: traits[pk] for pk in changed})
    return outcome
