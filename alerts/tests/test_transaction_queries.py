"""POST /event's transaction asks the database the same number of questions, whatever the
user's history (was in events/tests/test_history.py)."""

from datetime import timedelta
from decimal import Decimal

import pytest

from alerts.engine import alert_rules_seen
from alerts.services import transaction_ingest
from events.models import Event
from events.tests.test_history import EPOCH
from rule_sets.active import rule_set_active
from rule_sets.models import KIND_ALERTS


@pytest.mark.parametrize("history_size", [10, 1000])
def test_queries_per_transaction_do_not_grow_with_history(
    users, django_assert_num_queries, history_size
):
    Event.objects.bulk_create(
        Event(
            event_id=f"h{i}",
            user_id=1,
            event_type="deposit" if i % 2 else "withdraw",
            occurred_at=EPOCH + timedelta(seconds=i),
            amount=Decimal("1"),
        )
        for i in range(history_size)
    )
    t = int((EPOCH + timedelta(days=1)).timestamp())
    # The process plans with the active version, as after its first event under it.
    active = rule_set_active(KIND_ALERTS)
    alert_rules_seen((active.version, active.sha256))

    # Lock the user (reading the active version of the rules), price sorts out, insert the
    # event, last 3 deposits, the 30 s sum; the test's transaction turns the service's
    # transaction into a savepoint and its release.
    with django_assert_num_queries(7):
        transaction_ingest(user_id=1, event_type="deposit", amount=Decimal("5"), t=t)
