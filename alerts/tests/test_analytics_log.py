"""Alerts reach analytics with their event: rows of the event log, rendered or built alike.

PostgreSQL only (not in the SQLite API pass): SQLite renders nothing.
"""

from decimal import Decimal

import pytest

from alerts.models import Alert
from events.log import EVENT_LOG
from midnite_test.tests.analytics_rows import AWKWARD, batch_claimed, rendered_and_built
from outbox.contracts import CONSUMER_ANALYTICS

BUILT = "event_log_built_from_the_log"


@pytest.mark.django_db
def test_the_rendered_rows_of_events_and_their_alerts_are_the_rows_built_in_python(
    event_log, users, store_event
):
    alerted = store_event(
        event_id="txn:1:1",
        user=users[0],
        amount=Decimal("150.10"),
        properties={"note": AWKWARD, "nested": {"list": [1, None, 2.5, True]}},
    )
    Alert.objects.bulk_create(
        [Alert(event=alerted, code=code, rules_version=1) for code in (1100, 300, 30)]
    )
    store_event(tenant_id="tenant_2", event_id=f"odd:{AWKWARD}", event_type="signup", source="")
    batch = batch_claimed(EVENT_LOG.stream(CONSUMER_ANALYTICS))

    assert batch.size == 2

    stored, built = rendered_and_built(batch, built_table=BUILT)

    assert [row[1] for row in stored].count("alert_raised") == 3
    assert len(stored) == 5 and stored == built
