"""The admin lists events with their alert codes."""

import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from alerts.services import transaction_ingest
from alerts.tests.api.test_event_rules_versions import LOWER_THRESHOLD
from rule_sets.models import KIND_ALERTS
from events.models import Event


@pytest.fixture
def admin_client(client, db):
    admin = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(admin)
    return client


def test_event_list_shows_alert_codes(admin_client, users):
    transaction_ingest(user_id=1, event_type="withdraw", amount=Decimal("150"), t=1)

    response = admin_client.get("/admin/events/event/")

    assert response.status_code == 200
    assert b"1100" in response.content


def test_event_list_shows_the_version_of_the_alert_rules_that_raised_them(
    admin_client, users, active_rules
):
    transaction_ingest(user_id=1, event_type="withdraw", amount=Decimal("150"), t=1)
    lowered = active_rules(KIND_ALERTS, LOWER_THRESHOLD)
    transaction_ingest(user_id=1, event_type="withdraw", amount=Decimal("60"), t=2)
    transaction_ingest(user_id=1, event_type="deposit", amount=Decimal("5"), t=3)

    response = admin_client.get("/admin/events/event/")

    cells = re.findall(r'<td class="field-alert_rules_version">([^<]*)</td>', response.text)
    assert cells == ["-", str(lowered), "1"]  # newest first


def test_events_are_read_only_in_the_admin(admin_client, users):
    transaction_ingest(user_id=1, event_type="deposit", amount=Decimal("5"), t=1)
    event_id = Event.objects.get().pk

    delete = admin_client.post(f"/admin/events/event/{event_id}/delete/", {"post": "yes"})

    assert admin_client.get("/admin/events/event/add/").status_code == 403
    assert delete.status_code == 403
    assert admin_client.get(f"/admin/events/event/{event_id}/change/").status_code == 200
    assert Event.objects.count() == 1
