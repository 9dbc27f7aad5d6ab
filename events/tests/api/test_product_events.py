"""POST /api/v1/events: product events, users made on first sight, traits merged, stored once."""

from datetime import UTC, datetime

import pytest
from structlog.testing import capture_logs

from api_keys.services import api_key_create
from events.models import Event
from midnite_test.tests.concurrently import client_with_key, post_all_at_once
from outbox.contracts import CONSUMER_ANALYTICS, CONSUMER_METRICS, CONSUMER_NOTIFICATIONS
from outbox.models import OutboxMessage
from outbox.selectors import outbox_backlog
from outbox.services import outbox_process
from users.models import User

URL = "/api/v1/events"


def _item(n: int = 0, **changes) -> dict:
    return {
        "user_id": "u_12345",
        "event_type": "payment_failed",
        "event_timestamp": f"2025-10-31T19:30:{n:02d}Z",
        "properties": {"failure_reason": "INSUFFICIENT_FUNDS", "attempt_number": n},
        **changes,
    }


@pytest.fixture
def send(api_client):
    def post(body, **query):
        path = URL if not query else f"{URL}?" + "&".join(f"{k}={v}" for k, v in query.items())
        return api_client.post(path, body, format="json")

    return post


def _nothing_stored() -> bool:
    return not (Event.objects.exists() or User.objects.exists() or OutboxMessage.objects.exists())


def test_valid_items_are_stored_as_product_events_and_answered_202(send):
    response = send([_item(0), _item(1, user_id="u_2", properties={})])

    assert response.status_code == 202
    assert response.json() == {"accepted": 2, "duplicates": 0, "rejected": []}
    event = Event.objects.get(user__external_id="u_12345")
    assert (event.tenant_id, event.source, event.event_type) == (
        "default",
        "product",
        "payment_failed",
    )
    assert event.occurred_at == datetime(2025, 10, 31, 19, 30, tzinfo=UTC)
    assert event.properties == {"failure_reason": "INSUFFICIENT_FUNDS", "attempt_number": 0}
    assert event.amount is None


def test_an_empty_array_accepts_nothing(send):
    response = send([])

    assert response.status_code == 202
    assert response.json() == {"accepted": 0, "duplicates": 0, "rejected": []}
    assert _nothing_stored()


@pytest.mark.parametrize("body", [{"events": [_item()]}, "events", 42, None, True])
def test_a_body_that_is_not_an_array_is_400_and_stores_nothing(send, body):
    response = send(body)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_payload"
    assert "JSON array" in response.json()["details"]["non_field_errors"][0]
    assert _nothing_stored()


@pytest.mark.parametrize("raw", [b"[{", b"", b'[{"user_id": "a", "user_id": "b"}]'])
def test_a_body_that_is_not_json_is_400_and_stores_nothing(api_client, raw):
    response = api_client.post(URL, raw, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_payload"
    assert _nothing_stored()


def test_more_than_5000_items_is_413_and_stores_nothing(send):
    response = send([_item(n % 60, user_id=f"u_{n}") for n in range(5_001)])

    assert response.status_code == 413
    assert response.json()["error"] == "too_many_events"
    assert response.json()["details"] == {"max_events": 5_000, "events": 5_001}
    assert _nothing_stored()


def test_5000_items_are_stored_in_one_request(send):
    items = [_item(n % 60, user_id=f"u_{n % 700}", event_id=f"e_{n}") for n in range(5_000)]

    response = send(items)

    assert response.json() == {"accepted": 5_000, "duplicates": 0, "rejected": []}
    assert Event.objects.count() == 5_000
    assert User.objects.count() == 700


BAD_ITEMS = [
    ("not an object", ["u_1"], "non_field_errors"),
    ("no user_id", {"event_type": "x", "event_timestamp": "2025-10-31T19:30:00Z"}, "user_id"),
    ("blank user_id", _item(user_id="  "), "user_id"),
    ("numeric user_id", _item(user_id=12345), "user_id"),
    ("long user_id", _item(user_id="u" * 129), "user_id"),
    ("NUL in user_id", _item(user_id="u_\x00"), "user_id"),
    ("long event_type", _item(event_type="t" * 65), "event_type"),
    ("empty event_type", _item(event_type=""), "event_type"),
    ("no timezone", _item(event_timestamp="2025-10-31T19:30:00"), "event_timestamp"),
    ("not a time", _item(event_timestamp="yesterday"), "event_timestamp"),
    ("properties not an object", _item(properties=[1]), "properties"),
    ("NUL in properties", _item(properties={"a": "\x00"}), "properties"),
    ("user_traits not an object", _item(user_traits="vip"), "user_traits"),
    ("email trait not an email", _item(user_traits={"email": "not an email"}), "user_traits"),
    ("email trait a number", _item(user_traits={"email": 5}), "user_traits"),
    ("email trait a list", _item(user_traits={"email": ["ada@example.com"]}), "user_traits"),
    ("phone trait not a number", _item(user_traits={"phone": "call me"}), "user_traits"),
    ("phone trait a JSON number", _item(user_traits={"phone": 447700900123}), "user_traits"),
    # An opt-out the notifications did not see (they honour JSON true): stored, and emailed.
    ("unsubscribed trait a string", _item(user_traits={"unsubscribed": "true"}), "user_traits"),
    ("unsubscribed trait a number", _item(user_traits={"unsubscribed": 1}), "user_traits"),
    ("long event_id", _item(event_id="e" * 129), "event_id"),
    ("reserved event_id", _item(event_id="txn:1:2"), "event_id"),
    ("unknown field", _item(timestamp="2025-10-31T19:30:00Z"), "timestamp"),
]


@pytest.mark.parametrize(
    "bad, field", [(b, f) for _, b, f in BAD_ITEMS], ids=[i for i, *_ in BAD_ITEMS]
)
def test_an_invalid_item_is_rejected_naming_its_field_and_never_blocks_valid_ones(send, bad, field):
    body = send([_item(0), bad, _item(2)]).json()

    assert (body["accepted"], body["duplicates"]) == (2, 0)
    assert [problem["index"] for problem in body["rejected"]] == [1]
    assert list(body["rejected"][0]["errors"]) == [field]
    assert Event.objects.count() == 2


@pytest.mark.parametrize("value", [True, False, None])
def test_an_unsubscribed_trait_of_true_false_or_null_is_stored(send, value):
    body = send([_item(0, user_traits={"unsubscribed": value})]).json()

    assert body["accepted"] == 1
    assert User.objects.get().traits["unsubscribed"] is value


def test_a_bad_email_trait_is_named_and_merges_nothing_into_the_user(send):
    send([_item(0, user_traits={"email": "ada@example.com", "phone": "+447700900123"})])

    body = send([_item(1, user_traits={"email": "not an email", "marketing_opt_in": True})]).json()

    assert body["rejected"] == [
        {
            "index": 0,
            "errors": {
                "user_traits": [
                    "The `email` trait must be an email address (a string), such as "
                    "ada@example.com, or null."
                ]
            },
        }
    ]
    user = User.objects.get(external_id="u_12345")
    assert user.traits == {"email": "ada@example.com", "phone": "+447700900123"}
    assert Event.objects.count() == 1


def test_a_null_contact_trait_clears_it(send):
    send([_item(0, user_traits={"email": "ada@example.com", "phone": "+447700900123"})])

    body = send([_item(1, user_traits={"email": None, "phone": None})]).json()

    assert body["accepted"] == 1
    assert User.objects.get(external_id="u_12345").traits == {"email": None, "phone": None}


def test_each_item_s_errors_are_all_named(send):
    body = send([{"user_id": "", "event_timestamp": "2025-10-31", "x": 1}]).json()

    assert body["rejected"][0]["errors"] == {
        "user_id": ["This field may not be blank."],
        "event_type": ["This field is required."],
        "event_timestamp": ["The timestamp must carry a timezone, such as Z or +01:00."],
        "x": ["Unknown field."],
    }


def test_a_rejected_item_is_logged_with_its_ids_and_fields_never_values(send):
    card = "4111 1111 1111 1111"

    with capture_logs() as logs:
        send([_item(0), _item(1, event_id="e_1", properties=[{"card": card}], user_traits=card)])

    [entry] = [entry for entry in logs if entry["event"] == "product_event.rejected"]
    assert entry == {
        "event": "product_event.rejected",
        "log_level": "info",
        "tenant_id": "default",
        "index": 1,
        "fields": ["properties", "user_traits"],
        "user_id": "u_12345",
        "event_id": "e_1",
    }


def test_a_user_is_created_on_first_sight_with_its_traits_and_announced_once(send):
    send([_item(0, user_traits={"plan": "free"})])
    send([_item(1), _item(2, user_id="u_2")])

    user = User.objects.get(external_id="u_12345")
    assert user.traits == {"plan": "free"}
    assert User.objects.count() == 2
    created = OutboxMessage.objects.filter(topic="user_created")
    assert sorted(created.values_list("consumer", "payload__user_id")) == sorted(
        [
            (CONSUMER_ANALYTICS, user.pk),
            (CONSUMER_ANALYTICS, User.objects.get(external_id="u_2").pk),
        ]
    )


def test_traits_merge_in_item_order_and_each_event_keeps_the_traits_it_left(send):
    User.objects.create(external_id="u_12345", traits={"country": "GB", "plan": "free"})

    send(
        [
            _item(0, user_traits={"plan": "gold", "vip": False}),
            _item(1, user_traits={"vip": True}),
            _item(2, user_id="u_2", user_traits={"plan": "none"}),
            _item(3),
            _item(4, user_traits={"country": "FR"}),
        ]
    )

    assert User.objects.get(external_id="u_12345").traits == {
        "country": "FR",
        "plan": "gold",
        "vip": True,
    }
    snapshots = Event.objects.filter(user__external_id="u_12345").order_by("occurred_at")
    assert list(snapshots.values_list("user_traits", flat=True)) == [
        {"country": "GB", "plan": "gold", "vip": False},
        {"country": "GB", "plan": "gold", "vip": True},
        {"country": "GB", "plan": "gold", "vip": True},
        {"country": "FR", "plan": "gold", "vip": True},
    ]
    assert Event.objects.get(user__external_id="u_2").user_traits == {"plan": "none"}


def test_an_event_id_sent_again_is_a_duplicate_that_merges_nothing(send):
    send([_item(0, event_id="evt_1", user_traits={"plan": "free"})])

    response = send([_item(0, event_id="evt_1", user_traits={"plan": "gold"})])

    assert response.json() == {"accepted": 0, "duplicates": 1, "rejected": []}
    assert User.objects.get().traits == {"plan": "free"}
    assert Event.objects.get().user_traits == {"plan": "free"}


def test_an_item_without_event_id_sent_again_is_a_duplicate_by_its_content(send):
    item = _item(0, user_traits={"plan": "free"})
    first = send([item]).json()
    reordered = dict(reversed(list(item.items())))
    other_zone = {**item, "event_timestamp": "2025-10-31T20:30:00+01:00", "event_id": None}

    again = send([reordered, other_zone]).json()

    assert first["accepted"] == 1
    assert again == {"accepted": 0, "duplicates": 2, "rejected": []}
    assert Event.objects.get().event_id.startswith("h:")


def test_items_differing_in_content_without_event_id_are_two_events(send):
    body = send([_item(0), _item(0, properties={"failure_reason": "EXPIRED_CARD"})]).json()

    assert body["accepted"] == 2
    assert len(set(Event.objects.values_list("event_id", flat=True))) == 2


def test_the_same_item_twice_in_one_batch_is_stored_once(send):
    body = send([_item(0, user_traits={"n": 1}), _item(0, user_traits={"n": 1})]).json()

    assert (body["accepted"], body["duplicates"]) == (1, 1)
    assert Event.objects.count() == 1


def test_an_event_id_twice_in_one_batch_with_other_content_names_the_item_stored(send):
    body = send([_item(0, event_id="evt_1"), _item(1, event_id="evt_1")]).json()

    assert (body["accepted"], body["duplicates"]) == (1, 0)
    assert body["rejected"] == [
        {
            "index": 1,
            "errors": {
                "event_id": [
                    "Item 0 of this request was stored with this event id and other content; "
                    "not stored."
                ]
            },
        }
    ]


def test_an_event_id_stored_with_other_content_is_rejected_and_merges_nothing(send):
    send([_item(0, event_id="evt_1")])

    body = send([_item(1, event_id="evt_1", user_traits={"plan": "gold"})]).json()

    assert (body["accepted"], body["duplicates"]) == (0, 0)
    assert body["rejected"] == [
        {
            "index": 0,
            "errors": {
                "event_id": [
                    "This tenant already has an event with this id and other content; "
                    "not stored."
                ]
            },
        }
    ]
    assert User.objects.get().traits == {}
    assert Event.objects.get().occurred_at.second == 0


def test_each_new_event_reaches_analytics_metrics_and_notifications_once(send):
    send([_item(0)])
    send([_item(0), _item(1)])

    # Listed before the notifications have ever claimed: a worker broken from the start shows.
    waiting = {backlog.consumer: backlog.unshipped for backlog in outbox_backlog()}
    users_created = OutboxMessage.objects.filter(topic="user_created").count()
    notified = outbox_process(consumer=CONSUMER_NOTIFICATIONS).messages
    assert waiting[CONSUMER_ANALYTICS] - users_created == 2
    assert (waiting[CONSUMER_METRICS], waiting[CONSUMER_NOTIFICATIONS]) == (2, 2)
    assert notified == 2
    assert not OutboxMessage.objects.filter(topic="event_stored").exists()


def test_a_key_limited_to_one_tenant_stores_its_events_there(db):
    acme = client_with_key(api_key_create(name="acme", tenants=["acme"]).plaintext)

    assert acme.post(URL, [_item(0)], format="json").status_code == 202

    assert Event.objects.get().tenant_id == "acme"


def test_a_tenant_the_key_may_not_act_on_is_403_and_stores_nothing(db):
    acme = client_with_key(api_key_create(name="acme", tenants=["acme"]).plaintext)

    response = acme.post(f"{URL}?tenant_id=globex", [_item(0)], format="json")

    assert response.status_code == 403
    assert response.json()["error"] == "tenant_forbidden"
    assert _nothing_stored()


def test_a_key_limited_to_several_tenants_names_one(db):
    both = client_with_key(api_key_create(name="both", tenants=["acme", "globex"]).plaintext)

    unnamed = both.post(URL, [_item(0)], format="json")
    named = both.post(f"{URL}?tenant_id=globex", [_item(0)], format="json")

    assert unnamed.status_code == 403
    assert named.status_code == 202
    assert Event.objects.get().tenant_id == "globex"


def test_a_tenant_named_twice_is_400_and_stores_nothing(db):
    """One of the two was picked silently: a batch could be stored for the wrong tenant."""
    both = client_with_key(api_key_create(name="both", tenants=["acme", "globex"]).plaintext)

    response = both.post(f"{URL}?tenant_id=acme&tenant_id=globex", [_item(0)], format="json")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_query"
    assert response.json()["details"] == {"tenant_id": ["Sent 2 times; send it once."]}
    assert _nothing_stored()


def test_an_unknown_query_parameter_is_400(send):
    response = send([_item(0)], tenant="acme")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_query"


def test_tenants_store_the_same_item_each_once(send):
    send([_item(0)], tenant_id="acme")
    send([_item(0)], tenant_id="globex")
    again = send([_item(0)], tenant_id="acme").json()

    assert again["duplicates"] == 1
    assert sorted(Event.objects.values_list("tenant_id", flat=True)) == ["acme", "globex"]


def test_without_a_key_the_default_tenant_is_used_when_anonymous_is_allowed(db, client, settings):
    settings.ALLOW_ANONYMOUS = True

    response = client.post(URL, [_item(0)], content_type="application/json")

    assert response.status_code == 202
    assert Event.objects.get().tenant_id == "default"


def test_without_a_key_it_is_401_when_anonymous_is_not_allowed(db, client, settings):
    settings.ALLOW_ANONYMOUS = False

    response = client.post(URL, [_item(0)], content_type="application/json")

    assert response.status_code == 401
    assert _nothing_stored()


THREADS = 8


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_of_a_new_user_create_it_once_and_merge_every_trait(api_key):
    bodies = [[_item(n, user_id="u_new", user_traits={f"t{n}": n})] for n in range(THREADS)]

    responses = post_all_at_once(URL, bodies, api_key=api_key)

    assert [r.status_code for r in responses] == [202] * THREADS
    assert [r.json()["accepted"] for r in responses] == [1] * THREADS
    user = User.objects.get(external_id="u_new")
    assert user.traits == {f"t{n}": n for n in range(THREADS)}
    assert OutboxMessage.objects.filter(topic="user_created").count() == 1
    assert Event.objects.filter(user=user).count() == THREADS


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_naming_the_same_new_users_create_each_once(api_key):
    """Batches listing the same new users in either order all succeed; each is made once."""
    forward = [_item(0, user_id=f"u_{n}") for n in range(20)]
    bodies = [forward if n % 2 else forward[::-1] for n in range(THREADS)]

    responses = post_all_at_once(URL, bodies, api_key=api_key)

    assert [r.status_code for r in responses] == [202] * THREADS
    assert sum(r.json()["accepted"] for r in responses) == 20
    assert sum(r.json()["duplicates"] for r in responses) == 20 * (THREADS - 1)
    assert User.objects.count() == 20
    assert OutboxMessage.objects.filter(topic="user_created").count() == 20
