"""POST /event under real concurrency: threads against the database's own locks.

On PostgreSQL the user's row lock serialises a user's transactions; on SQLite every
transaction takes the write lock when it begins. Both passes of `make test` run these.
"""

import random

import pytest

from events.models import Event
from midnite_test.tests.concurrently import client_with_key, post_all_at_once

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 12


def _sequential_codes(transactions: list[dict], *, user_id: int, api_key: str) -> list[list[int]]:
    client = client_with_key(api_key)
    codes = []
    for body in transactions:
        response = client.post("/event", {**body, "user_id": user_id}, format="json")
        assert response.status_code == 200, response.json()
        codes.append(response.json()["alert_codes"])
    return codes


def test_the_same_request_sent_at_once_stores_one_event(users, api_key):
    body = {"type": "withdraw", "amount": "150.00", "user_id": 1, "t": 7}

    responses = post_all_at_once("/event", [body] * THREADS, api_key=api_key)

    assert {r.status_code for r in responses} == {200}
    assert {tuple(r.json()["alert_codes"]) for r in responses} == {(1100,)}
    assert Event.objects.count() == 1


def test_concurrent_requests_for_one_user_match_a_sequential_run(users, api_key):
    """Whatever subset is accepted gets the codes of sending it alone, in t order."""
    rng = random.Random(1234)
    bodies = [
        {
            "type": rng.choice(["deposit", "withdraw"]),
            "amount": str(rng.choice([20, 60, 90, 110, 150])),
            "user_id": 1,
            "t": t,
        }
        for t in range(1, THREADS * 2 + 1, 2)
    ]

    responses = post_all_at_once("/event", bodies, api_key=api_key)

    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 400}, statuses
    assert all(
        r.json()["error"] == "timestamp_out_of_order" for r in responses if r.status_code == 400
    )
    accepted = sorted(
        (
            (body, r.json()["alert_codes"])
            for body, r in zip(bodies, responses)
            if r.status_code == 200
        ),
        key=lambda pair: pair[0]["t"],
    )
    assert accepted
    stored = list(
        Event.objects.filter(user_id=1).order_by("occurred_at").values_list("event_id", flat=True)
    )
    assert stored == [f"txn:1:{body['t']}" for body, _ in accepted]
    expected = _sequential_codes([body for body, _ in accepted], user_id=2, api_key=api_key)
    assert [codes for _, codes in accepted] == expected


def test_concurrent_requests_for_different_users_all_succeed(users, api_key):
    bodies = [
        {"type": "deposit", "amount": "150.00", "user_id": user.pk, "t": 1} for user in users
    ] + [{"type": "deposit", "amount": "60.00", "user_id": user.pk, "t": 2} for user in users]
    first = post_all_at_once("/event", bodies[:4], api_key=api_key)
    second = post_all_at_once("/event", bodies[4:], api_key=api_key)

    assert {r.status_code for r in first + second} == {200}
    assert {tuple(r.json()["alert_codes"]) for r in second} == {(123,)}
