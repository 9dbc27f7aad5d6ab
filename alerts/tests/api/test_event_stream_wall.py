"""POST /event's alert stream is its own: events stored any other way, by any tenant, never
move its latest `t` nor count in its alert history."""

import pytest

from api_keys.services import api_key_create
from midnite_test.tests.concurrently import client_with_key


@pytest.fixture
def acme(db):
    """A client whose key acts on tenant "acme" only."""
    return client_with_key(api_key_create(name="acme", tenants=["acme"]).plaintext)


def _acme_event(acme, n: int, event_type: str, timestamp: str):
    body = {
        "event_id": f"acme_{n}",
        "tenant_id": "acme",
        "source": "ledger",
        "event_type": event_type,
        "timestamp": timestamp,
        "user_id": 1,
        "amount": "10.00",
    }
    response = acme.post("/events", body, format="json")
    assert response.status_code == 201, response.json()


def test_another_tenants_deposit_dated_2100_leaves_post_event_in_order(acme, post_event):
    _acme_event(acme, 1, "deposit", "2100-01-01T00:00:00Z")

    response = post_event("deposit", "5.00", 1_700_000_000)

    assert response.status_code == 200, response.json()
    assert post_event("deposit", "5.00", 1_700_000_001).status_code == 200


def test_another_tenants_withdraws_do_not_raise_30_on_a_transaction(acme, post_event):
    _acme_event(acme, 1, "withdraw", "2023-11-14T22:13:10Z")
    _acme_event(acme, 2, "withdraw", "2023-11-14T22:13:11Z")

    response = post_event("withdraw", "5.00", 1_700_000_000)

    assert response.status_code == 200, response.json()
    assert response.json()["alert_codes"] == []


def test_another_tenants_deposits_do_not_count_towards_123(acme, post_event):
    _acme_event(acme, 1, "deposit", "2023-11-14T22:13:10Z")

    response = post_event("deposit", "195.00", 1_700_000_000)

    assert response.json()["alert_codes"] == []


def test_the_streams_own_withdraws_still_raise_30(codes_for):
    codes = codes_for([("withdraw", "1", 1), ("withdraw", "1", 2), ("withdraw", "1", 3)])

    assert codes[2] == [30]


def test_a_deposit_from_another_source_of_the_default_tenant_is_not_a_transaction(
    api_client, post_event
):
    body = {
        "event_id": "web_1",
        "tenant_id": "default",
        "source": "web",
        "event_type": "deposit",
        "timestamp": "2100-01-01T00:00:00Z",
        "user_id": 1,
        "amount": "10.00",
    }
    assert api_client.post("/events", body, format="json").status_code == 201

    assert post_event("deposit", "5.00", 1_700_000_000).status_code == 200
