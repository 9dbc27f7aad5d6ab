"""The admin's outbox messages: dead letters found by state, re-queued by an action, read-only."""

import pytest
from django.utils import timezone

from midnite_test.tests.admin_staff import offered_actions, staff_client
from outbox.models import OutboxBatch, OutboxMessage

LIST_URL = "/admin/outbox/outboxmessage/"


@pytest.fixture
def messages(db, publish):
    """One message each: waiting, shipped and dead-lettered, by name."""
    publish(3)
    waiting, shipped, dead = OutboxMessage.objects.order_by("id")
    OutboxBatch.objects.create(
        consumer="analytics",
        first_xid=shipped.xid,
        first_id=shipped.pk,
        last_xid=shipped.xid,
        last_id=shipped.pk,
        size=1,
        oldest_at=shipped.created_at,
        shipped_at=timezone.now(),
    )
    OutboxMessage.objects.filter(pk=dead.pk).update(
        dead_lettered_at=timezone.now(),
        attempts=3,
        last_error="ClickHouseRejected: the poison of message 3",
    )
    return {"waiting": waiting.pk, "shipped": shipped.pk, "dead": dead.pk}


def _listed(response) -> list[int]:
    return sorted(message.pk for message in response.context["cl"].result_list)


def test_the_dead_state_filter_lists_only_dead_letters_with_their_last_error(
    admin_client, messages
):
    response = admin_client.get(LIST_URL, {"state": "dead"})

    assert response.status_code == 200
    assert _listed(response) == [messages["dead"]]
    assert "dead-lettered: ClickHouseRejected: the poison of message 3" in response.text


@pytest.mark.parametrize("state", ["waiting", "shipped"])
def test_the_other_state_filters_list_only_their_messages(admin_client, messages, state):
    parameter = {"waiting": "unshipped", "shipped": "shipped"}[state]

    response = admin_client.get(LIST_URL, {"state": parameter})

    assert _listed(response) == [messages[state]]


def test_the_unfiltered_list_shows_every_message(admin_client, messages):
    response = admin_client.get(LIST_URL)

    assert _listed(response) == sorted(messages.values())


def test_the_retry_action_requeues_the_selected_dead_letters(admin_client, messages):
    response = admin_client.post(
        LIST_URL,
        {
            "action": "retry",
            "index": 0,
            "_selected_action": [messages["dead"], messages["waiting"]],
        },
        follow=True,
    )

    assert response.status_code == 200
    assert "Re-queued 1 messages." in response.text
    requeued = OutboxMessage.objects.get(pk=messages["dead"])
    assert requeued.dead_lettered_at is None and requeued.attempts == 0
    assert requeued.last_error == "ClickHouseRejected: the poison of message 3"
    assert _listed(admin_client.get(LIST_URL, {"state": "dead"})) == []
    assert messages["dead"] in _listed(admin_client.get(LIST_URL, {"state": "unshipped"}))


def test_the_retry_action_leaves_unselected_dead_letters_dead(admin_client, messages, publish):
    publish(1)
    other = OutboxMessage.objects.latest("id")
    OutboxMessage.objects.filter(pk=other.pk).update(dead_lettered_at=timezone.now())

    admin_client.post(
        LIST_URL, {"action": "retry", "index": 0, "_selected_action": [messages["dead"]]}
    )

    assert list(
        OutboxMessage.objects.filter(dead_lettered_at__isnull=False).values_list("pk", flat=True)
    ) == [other.pk]


def test_adding_a_message_is_forbidden(admin_client, messages):
    response = admin_client.get(f"{LIST_URL}add/")

    assert response.status_code == 403


def test_changing_a_message_is_forbidden(admin_client, messages):
    url = f"{LIST_URL}{messages['waiting']}/change/"

    response = admin_client.post(url, {"consumer": "other", "topic": "changed"})

    assert response.status_code == 403
    message = OutboxMessage.objects.get(pk=messages["waiting"])
    assert (message.consumer, message.topic) == ("analytics", "test")


def test_staff_who_may_only_view_messages_cannot_requeue_dead_letters(
    client, django_user_model, messages
):
    viewer = staff_client(client, django_user_model, "outbox", "view_outboxmessage")

    listing = viewer.get(LIST_URL)
    viewer.post(LIST_URL, {"action": "retry", "index": 0, "_selected_action": [messages["dead"]]})

    assert listing.status_code == 200
    assert "retry" not in offered_actions(listing)
    assert OutboxMessage.objects.get(pk=messages["dead"]).dead_lettered_at is not None


def test_staff_with_the_change_permission_requeue_dead_letters(client, django_user_model, messages):
    changer = staff_client(
        client, django_user_model, "outbox", "view_outboxmessage", "change_outboxmessage"
    )

    changer.post(LIST_URL, {"action": "retry", "index": 0, "_selected_action": [messages["dead"]]})

    assert OutboxMessage.objects.get(pk=messages["dead"]).dead_lettered_at is None
