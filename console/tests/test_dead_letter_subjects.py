"""What each dead letter is about, in the dead letters' JSON: the stored event it names (tenant,
event id, type, and its user with a link to the People page), a subject no longer stored, or
nothing for a payload; read in one query per kind of subject, however long the page."""

import pytest
from django.test import Client
from django.utils import timezone

from console.dead_letters import PAGE_SIZE
from console.tests.story import event_store
from console.tests.test_dead_letters import LIST, ops_client  # noqa: F401 - a fixture
from events.analytics import TOPIC_EVENT_STORED
from events.log import EVENT_LOG, PRODUCT_EVENT_LOG
from notifications.tests.audit.staff import staff_create
from outbox.contracts import CONSUMER_METRICS, CONSUMER_NOTIFICATIONS
from outbox.models import OutboxCursor, OutboxMessage
from users.analytics import TOPIC_USER_CREATED
from users.models import User

pytestmark = pytest.mark.django_db


def dead_letter_about(subject_id: int | None, *, stream: str, topic: str, payload=None) -> int:
    """A dead letter of `stream`, which has claimed it (a stream with dead letters has a cursor)."""
    OutboxCursor.objects.get_or_create(consumer=stream, defaults={"xid": 0, "id": 0})
    return OutboxMessage.objects.create(
        consumer=stream,
        topic=topic,
        subject_id=subject_id,
        payload=payload,
        attempts=1,
        last_error="KeyError: 'amount'",
        dead_lettered_at=timezone.now(),
    ).pk


def letters(client) -> dict[int, dict]:
    return {letter["id"]: letter for letter in client.get(LIST).json()["dead_letters"]}


def test_a_dead_letter_of_a_stored_event_names_it_and_links_its_user(ops_client):  # noqa: F811
    maria = User.objects.create(external_id="u_maria", email="maria@example.com")
    event = event_store(tenant="acme", user=maria, event_type="withdraw")
    dead = dead_letter_about(
        event.pk, stream=EVENT_LOG.stream(CONSUMER_METRICS), topic=TOPIC_EVENT_STORED
    )

    about = letters(ops_client)[dead]["about"]

    assert about == {
        "kind": "event",
        "stored": True,
        "tenant_id": "acme",
        "event_id": event.event_id,
        "event_type": "withdraw",
        "user": {
            "id": maria.pk,
            "external_id": "u_maria",
            "email": "maria@example.com",
            "url": f"/console/people/?q={maria.pk}&user={maria.pk}",
        },
    }
    auditor = Client()
    auditor.force_login(staff_create("auditor"))
    assert auditor.get(about["user"]["url"]).context["shown"] == maria


def test_an_event_without_a_user_is_named_with_no_user(ops_client):  # noqa: F811
    event = event_store(tenant="acme", user=None)
    dead = dead_letter_about(
        event.pk, stream=PRODUCT_EVENT_LOG.stream(CONSUMER_NOTIFICATIONS), topic=TOPIC_EVENT_STORED
    )

    about = letters(ops_client)[dead]["about"]

    assert (about["event_id"], about["user"]) == (event.event_id, None)


def test_an_event_no_longer_stored_is_said_to_be_so(ops_client):  # noqa: F811
    dead = dead_letter_about(
        987654, stream=EVENT_LOG.stream(CONSUMER_METRICS), topic=TOPIC_EVENT_STORED
    )

    about = letters(ops_client)[dead]["about"]

    assert about == {"kind": "event", "stored": False}


def test_a_payload_message_is_about_nothing_stored(ops_client):  # noqa: F811
    dead = dead_letter_about(
        None, stream="analytics", topic=TOPIC_USER_CREATED, payload={"key": "user:1"}
    )

    letter = letters(ops_client)[dead]

    assert (letter["subject_id"], letter["about"]) == (None, None)


def test_a_page_of_event_dead_letters_reads_the_events_in_one_query(
    ops_client, django_assert_max_num_queries  # noqa: F811
):
    users = [User.objects.create(external_id=f"u_{n}") for n in range(5)]
    for n in range(PAGE_SIZE):
        event = event_store(tenant="acme", user=users[n % len(users)])
        stream = EVENT_LOG.stream(CONSUMER_METRICS) if n % 2 else "analytics"
        dead_letter_about(event.pk, stream=stream, topic=TOPIC_EVENT_STORED)
        dead_letter_about(n + 10**9, stream=stream, topic=TOPIC_EVENT_STORED)
        dead_letter_about(None, stream="analytics", topic=TOPIC_USER_CREATED, payload={})

    # The session, the user, the consumers' cursors, one page of messages, and its events
    # with their users.
    with django_assert_max_num_queries(5):
        body = ops_client.get(LIST).json()

    kinds = [(letter["about"] or {}).get("stored") for letter in body["dead_letters"]]
    assert {True, False, None} <= set(kinds)
