"""The dead letters' JSON and re-queueing: listed newest first in pages, re-queued only by
staff with the outbox admin's permission, with a CSRF token."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from console.dead_letters import PAGE_SIZE
from outbox.models import OutboxMessage

pytestmark = pytest.mark.django_db

LIST = "/console/api/dead-letters/"
REQUEUE = "/console/api/dead-letters/requeue/"


def dead_letter_store(number: int = 1, *, error: str = "ClickHouseRejected: poison") -> int:
    """Store a message the relay gave up on; return its id."""
    return OutboxMessage.objects.create(
        consumer="analytics",
        topic="event",
        subject_id=number,
        attempts=5,
        last_error=error,
        dead_lettered_at=timezone.now(),
    ).pk


def staff(django_user_model, *, may_requeue: bool, name: str = "ops"):
    user = django_user_model.objects.create_user(name, is_staff=True)
    if may_requeue:
        user.user_permissions.add(Permission.objects.get(codename="change_outboxmessage"))
    return user


@pytest.fixture
def ops_client(client, django_user_model):
    client.force_login(staff(django_user_model, may_requeue=True))
    return client


def test_the_list_holds_dead_letters_only_newest_first_with_their_error(ops_client):
    OutboxMessage.objects.create(consumer="analytics", topic="event", subject_id=9)
    older = dead_letter_store(1, error="first")
    newer = dead_letter_store(2, error="second")

    body = ops_client.get(LIST).json()

    assert [(d["id"], d["error"]) for d in body["dead_letters"]] == [
        (newer, "second"),
        (older, "first"),
    ]
    assert body["dead_letters"][0]["attempts"] == 5
    assert body["next_before"] is None


def test_the_list_pages_by_id(ops_client):
    ids = [dead_letter_store(n) for n in range(PAGE_SIZE + 2)]

    first = ops_client.get(LIST).json()
    second = ops_client.get(LIST, {"before": first["next_before"]}).json()

    assert [d["id"] for d in first["dead_letters"]] == ids[::-1][:PAGE_SIZE]
    assert [d["id"] for d in second["dead_letters"]] == ids[1::-1]
    assert second["next_before"] is None


def test_a_page_of_the_list_is_four_queries_however_many_dead_letters(
    ops_client, django_assert_max_num_queries
):
    for n in range(PAGE_SIZE * 2):
        dead_letter_store(n)

    # The session, the user, the consumers' cursors and one page of messages.
    with django_assert_max_num_queries(4):
        ops_client.get(LIST)


def test_a_cursor_that_is_not_an_id_is_a_400(ops_client):
    response = ops_client.get(LIST, {"before": "1 or 1=1"})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_query"


def test_staff_with_the_permission_re_queue_what_they_selected(client, django_user_model):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff(django_user_model, may_requeue=True))
    chosen, other = dead_letter_store(1), dead_letter_store(2)
    token = client.get("/console/dead-letters/").context["csrf_token"]

    response = client.post(REQUEUE, {"ids": [chosen]}, HTTP_X_CSRFTOKEN=str(token))

    assert response.json() == {"requeued": 1}
    assert [d["id"] for d in client.get(LIST).json()["dead_letters"]] == [other]
    assert OutboxMessage.objects.get(pk=chosen).attempts == 0


def test_a_re_queue_without_the_csrf_token_is_refused(django_user_model):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff(django_user_model, may_requeue=True))
    dead = dead_letter_store()

    response = client.post(REQUEUE, {"ids": [dead]})

    assert response.status_code == 403
    assert OutboxMessage.objects.get(pk=dead).dead_lettered_at is not None


def test_staff_without_the_permission_get_a_403_and_nothing_is_re_queued(client, django_user_model):
    client.force_login(staff(django_user_model, may_requeue=False))
    dead = dead_letter_store()

    page = client.get("/console/dead-letters/")
    response = client.post(REQUEUE, {"ids": [dead]})

    assert page.context["can_requeue"] is False
    assert response.status_code == 403
    assert response.json()["error"] == "permission_denied"
    assert OutboxMessage.objects.get(pk=dead).dead_lettered_at is not None


@pytest.mark.parametrize("ids", [[], ["x"], ["1", "-2"], ["9" * 30]])
def test_ids_that_are_missing_or_not_ids_are_a_400(ops_client, ids):
    response = ops_client.post(REQUEUE, {"ids": ids})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_ids"


def test_ids_sent_as_json_are_a_415_naming_the_form_types_taken(ops_client):
    dead = dead_letter_store()

    response = ops_client.post(REQUEUE, {"ids": [dead]}, content_type="application/json")

    assert response.status_code == 415
    assert response.json() == {
        "error": "unsupported_media_type",
        "message": (
            "Send the ids as form fields `ids` (application/x-www-form-urlencoded or "
            "multipart/form-data), not application/json."
        ),
        "details": {
            "content_type": "application/json",
            "accepted": ["application/x-www-form-urlencoded", "multipart/form-data"],
        },
    }
    assert OutboxMessage.objects.get(pk=dead).dead_lettered_at is not None


def test_ids_sent_urlencoded_as_the_page_sends_them_are_re_queued(ops_client):
    dead = dead_letter_store()

    response = ops_client.post(
        REQUEUE, f"ids={dead}", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 200
    assert response.json() == {"requeued": 1}


def test_an_anonymous_visitor_is_sent_to_the_login_page(client):
    response = client.get("/console/dead-letters/")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/login/")
